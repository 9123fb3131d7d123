"""`harness export`: a finished run's pretrained backbone as the named model's own state_dict, for
use downstream without the harness's module names.

The run's checkpoint.pt holds the whole method (its `model`: encoder.*, projector.*, predictor.*,
target networks) and the optimizer; the file written holds the encoder's weights alone, under the
names of the model the encoder is: torchvision's or timm's model for a registry backbone
(torchvision:<name>, timm:<name>), torchvision's ResNet for the built-in resnet18, resnet50 and
resnet18_cifar, the harness's own module for small_cnn and vit. The encoder has no classifier, so the
model it loads into has its classifier replaced by an identity (timm: num_classes=0), and its first
convolution made for the run's channel count (1 for the digits) or SimSiam's CIFAR stem, as training
built it. `recipe` writes those few lines of Python: they load the file with strict=True.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn as nn
from pydantic import ValidationError

from harness import checkpoint, migrate, store
from harness.config import Backbone, Data
from harness.errors import SpecError

ENCODER = "encoder."  # the encoder's prefix in a method's state_dict (methods/base.py)
# The built-in ResNets are torchvision's (nets/backbones.py); resnet18_cifar with SimSiam's CIFAR stem.
TORCHVISION_RESNETS = {"resnet18": "resnet18", "resnet50": "resnet50", "resnet18_cifar": "resnet18"}


def export(run_dir: Path, to: Path) -> list[str]:
    """Write the encoder of the finished run in `run_dir` to `to`; returns the recipe that loads it.
    Refused in one line (SpecError), nothing written, for a folder that is not a done run with its
    checkpoint."""
    run_dir, to = Path(run_dir), Path(to)
    backbone, image_size = _recorded_backbone(run_dir)
    state = store.run_state(run_dir)
    if state != store.RunState.DONE:
        raise SpecError(f"{run_dir}: the run is {state}, not done; only a finished run's weights are exported")
    path = run_dir / store.CHECKPOINT
    if not path.is_file():
        raise SpecError(f"{run_dir}: the run has no {store.CHECKPOINT} to export")
    try:
        model = checkpoint.load(path)["model"]
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise SpecError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    weights = {k.removeprefix(ENCODER): v for k, v in model.items() if k.startswith(ENCODER)}
    if not weights:
        raise SpecError(f"{path}: its model has no {ENCODER}* weights")
    if to.is_dir():
        raise SpecError(f"--to {to}: is a folder; name the file to write")
    sink = io.BytesIO()
    torch.save(weights, sink)
    store.atomic_write_bytes(to, sink.getvalue())
    return recipe(backbone, in_channels(weights), image_size, to)


def _recorded_backbone(run_dir: Path) -> tuple[Backbone, int]:
    """The backbone section and image size the run's config.yaml records (its method need not import)."""
    found = migrate.recorded(run_dir) if run_dir.is_dir() else None
    if found is None:
        raise SpecError(f"{run_dir}: not a run folder (no readable {store.CONFIG})")
    config, _ = found
    try:
        backbone, data = Backbone.model_validate(config.get("backbone", {})), Data.model_validate(config.get("data", {}))
    except ValidationError as err:
        raise SpecError(f"{run_dir / store.CONFIG}: its backbone or data section does not validate "
                        f"({err.errors()[0]['msg']})") from None
    return backbone, data.image_size


def in_channels(weights: dict[str, torch.Tensor]) -> int:
    """The image channels the encoder takes: the input width of its first convolution (every backbone's
    first 4-D weight: a ResNet's conv1, small_cnn's 0, a ViT's patch projection)."""
    return next(w.shape[1] for w in weights.values() if w.ndim == 4)


def recipe(backbone: Backbone, channels: int, image_size: int, file: Path) -> list[str]:
    """Python lines that build the model the exported file loads into, then load it with strict=True."""
    name = backbone.name
    if name == "small_cnn":
        sk = (", selective_kernels=True)" if backbone.selective_kernels
              else ")  # nn.Sequential: conv 0, 3, 6; BatchNorm 1, 4, 7")
        lines = ["import torch", "from harness.nets.backbones import small_cnn",
                 f"model, _ = small_cnn(in_channels={channels}, width={backbone.width * backbone.width_multiplier}{sk}"]
    elif backbone.width_multiplier > 1 or backbone.selective_kernels:
        lines = ["import torch", "from harness.nets.simclr_resnet import simclr_resnet",
                 f"model, _ = simclr_resnet({name!r}, in_channels={channels}, width_multiplier={backbone.width_multiplier}, "
                 f"selective_kernels={backbone.selective_kernels}, cifar_stem={backbone.cifar_stem}, "
                 f"zero_init_residual={backbone.zero_init_residual})  # SimCLR v2's ResNet, on timm's"]
    elif name == "vit":
        lines = ["import torch", "from harness.config import ViT", "from harness.nets.vit import vit",
                 f"model, _ = vit(ViT(**{backbone.vit.model_dump()!r}), in_channels={channels}, "
                 f"image_size={image_size})  # timm's VisionTransformer, num_classes=0"]
    elif name.startswith("timm:"):
        lines = _timm(name.removeprefix("timm:"), channels, image_size, backbone.cifar_stem)
    else:
        model = TORCHVISION_RESNETS.get(name) or name.removeprefix("torchvision:")
        lines = _torchvision(model, channels, backbone.cifar_stem or name == "resnet18_cifar")
    return lines + [f"model.load_state_dict(torch.load({str(file)!r}), strict=True)"]


def _torchvision(model: str, channels: int, cifar_stem: bool) -> list[str]:
    """torchvision's model with its first convolution for `channels` (or the CIFAR stem) and its
    classifier, the last Linear, an identity: as nets/registry.py and nets/backbones.py build it."""
    import torchvision

    with torch.device("meta"):
        fresh = torchvision.models.get_model(model, weights=None)
    build = f"torchvision.models.{model}()" if hasattr(torchvision.models, model) else \
        f"torchvision.models.get_model({model!r})"
    lines = ["import torch", "import torch.nn as nn", "import torchvision", f"model = {build}"]
    conv_name, conv = next((n, m) for n, m in fresh.named_modules() if isinstance(m, nn.Conv2d))
    if cifar_stem:
        lines += _cifar_stem(channels, fresh.conv1.out_channels)
    elif conv.in_channels != channels:
        lines.append(f"{_attribute(conv_name)} = {_conv(conv, channels)}  # the run's images: {channels} channel(s)")
    linear = [n for n, m in fresh.named_modules() if isinstance(m, nn.Linear)][-1]
    return lines + [f"{_attribute(linear)} = nn.Identity()  # the classifier: the encoder has none"]


def _timm(model: str, channels: int, image_size: int, cifar_stem: bool) -> list[str]:
    """timm's model without its classifier (num_classes=0), as nets/registry.py creates it: with the
    run's image size where the model takes one (a ViT), and the CIFAR stem where asked."""
    import timm

    size = f", img_size={image_size}"
    try:
        with torch.device("meta"):
            fresh = timm.create_model(model, pretrained=False, num_classes=0, in_chans=channels, img_size=image_size)
    except TypeError:  # a CNN: any image size
        size = ""
        with torch.device("meta"):
            fresh = timm.create_model(model, pretrained=False, num_classes=0, in_chans=channels)
    lines = ["import torch", *(["import torch.nn as nn"] if cifar_stem else []), "import timm",
             f"model = timm.create_model({model!r}, num_classes=0, in_chans={channels}{size})"]
    return lines + (_cifar_stem(channels, fresh.conv1.out_channels) if cifar_stem else [])


def _cifar_stem(channels: int, out: int) -> list[str]:
    return [f"model.conv1 = nn.Conv2d({channels}, {out}, 3, stride=1, padding=1, bias=False)  # SimSiam's CIFAR stem",
            "model.maxpool = nn.Identity()"]


def _conv(conv: nn.Conv2d, channels: int) -> str:
    """The expression of `conv` made anew for `channels` input channels (nets/registry.py's rule)."""
    extra = "".join(f", {k}={getattr(conv, k)!r}" for k, default in (("dilation", (1, 1)), ("groups", 1))
                    if getattr(conv, k) != default)
    return (f"nn.Conv2d({channels}, {conv.out_channels}, {conv.kernel_size!r}, stride={conv.stride!r}, "
            f"padding={conv.padding!r}{extra}, bias={conv.bias is not None})")


def _attribute(name: str) -> str:
    """A submodule's dotted name as Python: 'features.0.0' -> 'model.features[0][0]'."""
    return "model" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in name.split("."))
