"""Backbones by a registry's name: `torchvision:resnet34` (torchvision.models) or
`timm:vit_small_patch16_224` (timm, when installed), randomly initialized, without their classifier.
Before a run is launched, `problem` says whether the registry has the model (cheaply), and
`forward_problem` whether it takes the run's images (a batch through it: the only way to know).

A model becomes an encoder the same way whatever its family: torchvision's classifier (its last
Linear) is replaced by an identity, timm's removed with num_classes=0; the first convolution takes the
images' channel count (1 for the digits). `cifar_stem` gives a ResNet SimSiam's CIFAR stem.
"""

from __future__ import annotations

import difflib
import importlib.util

import torch
import torch.nn as nn

PROBE_BATCH = 2  # images forward_problem sends through a model: BatchNorm in train mode needs 2


def split(name: str) -> tuple[str, str]:
    """'torchvision:resnet34' -> ('torchvision', 'resnet34')."""
    source, _, model = name.partition(":")
    return source, model


def known(source: str) -> list[str]:
    if source == "timm":
        import timm

        return timm.list_models()
    import torchvision

    return torchvision.models.list_models()


def problem(name: str, cifar_stem: bool = False) -> str | None:
    """Why `name` cannot be built (no such registry or model, a CIFAR stem on a model without a
    ResNet's stem), or None. Cheap: the model is built on the meta device, without memory or init."""
    source, model = split(name)
    if source == "timm" and importlib.util.find_spec("timm") is None:
        return f"backbone.name={name!r}: timm is not installed (pip install timm)"
    models = known(source)
    if model not in models:
        close = difflib.get_close_matches(model, models, n=5, cutoff=0.6)
        hint = f" (close: {', '.join(f'{source}:{m}' for m in close)})" if close else ""
        return f"backbone.name={name!r}: {source} has no model {model!r}{hint}"
    if cifar_stem:
        with torch.device("meta"):
            net = _create(source, model, 3, 32)
        if not _has_resnet_stem(net):
            return f"backbone.cifar_stem: {name!r} has no ResNet stem (conv1 and maxpool) to replace"
    return None


def forward_problem(name: str, in_channels: int, image_size: int, cifar_stem: bool = False) -> str | None:
    """Why the model `name` cannot encode the run's images, or None: built as training builds it, it
    takes a batch of PROBE_BATCH blank images (image_size px, in_channels channels) on the CPU, without
    gradient, in train mode as pretraining runs it, and must give [batch, features] (a ViT built for
    224 px refuses 16; googlenet gives its auxiliary outputs in train mode). The global RNG is left as
    it was."""
    size = f"data.image_size={image_size} ({PROBE_BATCH} images of {in_channels} channel(s), {image_size} px, on the CPU)"
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        try:
            net, dim = registry_backbone(name, in_channels, image_size, cifar_stem)
        except Exception as err:  # noqa: BLE001 - the library's complaint, in one line
            return f"backbone.name={name!r} cannot be built for {size}: {_complaint(err)}"
        try:
            out = net.train()(torch.zeros(PROBE_BATCH, in_channels, image_size, image_size))
        except Exception as err:  # noqa: BLE001 - the model's own complaint, in one line
            return f"backbone.name={name!r} cannot take {size}: {_complaint(err)}"
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (PROBE_BATCH, dim):
        got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        return f"backbone.name={name!r} gives {got} for {size}, not features of shape ({PROBE_BATCH}, {dim})"
    return None


def _complaint(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def registry_backbone(name: str, in_channels: int, image_size: int, cifar_stem: bool,
                      zero_init_residual: bool = False) -> tuple[nn.Module, int]:
    """(encoder, feature dim) of the registry's model `name`, randomly initialized; a torchvision
    ResNet with `zero_init_residual` as the built-in ResNets (the four papers' official ResNets)."""
    source, model = split(name)
    net = _create(source, model, in_channels, image_size, zero_init_residual)
    if source == "timm":
        dim = net.num_features
    else:
        dim = _drop_classifier(net)
        _set_in_channels(net, in_channels)
    if cifar_stem:
        if not _has_resnet_stem(net):
            raise ValueError(f"backbone.cifar_stem: {name!r} has no ResNet stem (conv1 and maxpool) to replace")
        net.conv1 = nn.Conv2d(in_channels, net.conv1.out_channels, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    return net, dim


def _create(source: str, model: str, in_channels: int, image_size: int, zero_init_residual: bool = False) -> nn.Module:
    if source == "torchvision":
        import torchvision

        try:  # torchvision's ResNets (resnet*, wide_resnet*, resnext*) take it; other families refuse it
            return torchvision.models.get_model(model, weights=None, zero_init_residual=zero_init_residual)
        except TypeError:
            return torchvision.models.get_model(model, weights=None)
    import timm

    try:  # timm's ViTs are built for an image size; its CNNs take any and refuse the argument
        return timm.create_model(model, pretrained=False, num_classes=0, in_chans=in_channels, img_size=image_size)
    except TypeError:
        return timm.create_model(model, pretrained=False, num_classes=0, in_chans=in_channels)


def _drop_classifier(net: nn.Module) -> int:
    """Replace torchvision's classifier, the model's last Linear (resnet's fc, vit's heads.head,
    convnext's classifier[2], ...), by an identity; its input width is the features'."""
    linears = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(net).__name__} has no Linear classifier to remove")
    name, last = linears[-1]
    _replace(net, name, nn.Identity())
    return last.in_features


def _set_in_channels(net: nn.Module, in_channels: int) -> None:
    """The first convolution, made anew for `in_channels` (torchvision's models take RGB)."""
    name, conv = next((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d))
    if conv.in_channels != in_channels:
        _replace(net, name, nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                      conv.padding, conv.dilation, conv.groups, conv.bias is not None))


def _replace(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent), leaf, module)


def _has_resnet_stem(net: nn.Module) -> bool:
    return isinstance(getattr(net, "conv1", None), nn.Conv2d) and hasattr(net, "maxpool")
