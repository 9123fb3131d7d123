"""harness export: a done run's encoder as its model's own state_dict, loaded strictly into a fresh
torchvision / timm / harness model that then gives the harness encoder's features."""

import pytest
import torch
import torch.nn as nn
import torchvision

from harness import checkpoint, store
from harness.cli import main
from harness.export import export
from harness.methods.factory import build_method
from harness.optim import build_optimizer
from harness.run_id import SCHEMA_VERSION

from support.commandline import refused
from support.configs import config

SIZE = 8  # px: every backbone here takes it


def trained(cfg, channels: int):
    """cfg's method after one optimizer step (weights and BN statistics no fresh model has)."""
    torch.manual_seed(1)
    method = build_method(cfg, channels)
    optimizer = build_optimizer(method, cfg.optim)
    size = cfg.data.image_size
    method([torch.randn(8, channels, size, size) for _ in range(2)]).loss.backward()
    optimizer.step()
    return method


def run_folder(tmp_path, cfg, method, status="done", with_checkpoint=True):
    """A run's folder as training leaves it: config.yaml, curves, the checkpoint, summary.json last."""
    folder = tmp_path / "results" / "s" / "run0"
    store.write_yaml(folder / store.CONFIG, {"run_id": "run0", "schema": SCHEMA_VERSION, "labels": {},
                                             "config": cfg.model_dump(mode="json")})
    store.write_curves(folder / store.CURVES, [{"epoch": 1, "step": 1, "loss": 0.5}])
    if with_checkpoint:
        checkpoint.save(folder / store.CHECKPOINT, {"model": method.state_dict(), "epoch": 1})
    if status:
        store.write_json(folder / store.SUMMARY, {"status": status})
    return folder


def assert_same_features(model: nn.Module, method, channels: int) -> None:
    size = method.config.data.image_size
    images = torch.randn(4, channels, size, size)
    with torch.no_grad():
        ours, theirs = method.encoder.eval()(images), model.eval()(images)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() <= 1e-6


def loaded(lines: list[str]) -> nn.Module:
    """The model that export's printed lines build and load (strict=True)."""
    scope = {}
    exec("\n".join(lines), scope)  # noqa: S102 - the lines the user is told to run
    return scope["model"]


def test_a_torchvision_resnet18_loads_strictly_into_torchvision_and_gives_the_encoder_features(tmp_path, capsys):
    cfg = config(backbone={"name": "torchvision:resnet18"}, data={"dataset": "digits", "image_size": SIZE})
    method = trained(cfg, channels=3)
    to = tmp_path / "backbone.pt"
    assert main(["export", str(run_folder(tmp_path, cfg, method)), "--to", str(to)]) == 0
    # As the README shows: torchvision's own model, its classifier removed, loaded strictly.
    model = torchvision.models.resnet18()
    model.fc = nn.Identity()
    model.load_state_dict(torch.load(to), strict=True)
    assert_same_features(model, method, 3)
    # The lines the command prints do the same.
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {to}")
    assert out[1:] == ["    " + line for line in ["import torch", "import torch.nn as nn", "import torchvision",
                                                  "model = torchvision.models.resnet18()",
                                                  "model.fc = nn.Identity()  # the classifier: the encoder has none",
                                                  f"model.load_state_dict(torch.load({str(to)!r}), strict=True)"]]
    assert_same_features(loaded([line.strip() for line in out[1:]]), method, 3)


@pytest.mark.parametrize("backbone", [
    {"name": "resnet18_cifar"},  # torchvision's resnet18 with SimSiam's CIFAR stem, 1 channel
    {"name": "resnet18"},  # 1 channel: conv1 made anew
    {"name": "small_cnn", "width": 4},
    {"name": "small_cnn", "width": 4, "width_multiplier": 2, "selective_kernels": True},  # SimCLR v2's SK
    {"name": "resnet18_cifar", "width_multiplier": 2},  # SimCLR v2's width: timm's ResNet, CIFAR stem
    {"name": "torchvision:resnet18", "selective_kernels": True},  # SK: ResNet-D stem, timm's SK blocks
    {"name": "vit", "vit": {"patch_size": 4, "dim": 16, "depth": 1, "heads": 2}},
    {"name": "torchvision:mobilenet_v3_small"},  # classifier[3], first conv features[0][0]
    {"name": "timm:resnet18", "cifar_stem": True},
    {"name": "timm:vit_tiny_patch16_224"},  # made for the run's image size: one 16 px patch
])
def test_each_backbone_s_printed_lines_load_it_strictly_and_give_the_encoder_features(tmp_path, backbone):
    if backbone["name"].startswith("timm:"):
        pytest.importorskip("timm")
    size = 16 if "patch16" in backbone["name"] else SIZE
    cfg = config(backbone=backbone, data={"dataset": "digits", "image_size": size})
    method = trained(cfg, channels=1)
    lines = export(run_folder(tmp_path, cfg, method), tmp_path / "backbone.pt")
    assert_same_features(loaded(lines), method, 1)


def test_resnet18_cifar_loads_into_torchvision_resnet18_with_the_cifar_stem(tmp_path):
    cfg = config(backbone={"name": "resnet18_cifar"}, data={"dataset": "digits", "image_size": SIZE})
    lines = export(run_folder(tmp_path, cfg, trained(cfg, channels=1)), tmp_path / "b.pt")
    assert lines[3:6] == [
        "model = torchvision.models.resnet18()",
        "model.conv1 = nn.Conv2d(1, 64, 3, stride=1, padding=1, bias=False)  # SimSiam's CIFAR stem",
        "model.maxpool = nn.Identity()",
    ]


def test_the_file_holds_the_encoder_alone(tmp_path):
    cfg = config(data={"dataset": "digits", "image_size": SIZE})
    method = trained(cfg, channels=1)
    export(run_folder(tmp_path, cfg, method), tmp_path / "b.pt")
    assert torch.load(tmp_path / "b.pt").keys() == method.encoder.state_dict().keys()


@pytest.mark.parametrize("status, with_checkpoint, says", [
    (None, True, "the run is partial, not done"),
    ("diverged", True, "the run is diverged, not done"),
    ("failed", False, "the run is failed, not done"),
    ("done", False, "the run has no checkpoint.pt"),
])
def test_a_run_that_is_not_done_or_has_no_checkpoint_is_refused(tmp_path, capsys, status, with_checkpoint, says):
    cfg = config(data={"dataset": "digits", "image_size": SIZE})
    folder = run_folder(tmp_path / "in", cfg, trained(cfg, 1), status=status, with_checkpoint=with_checkpoint)
    line = refused(capsys, ["export", str(folder), "--to", str(tmp_path / "b.pt")], tmp_path)
    assert line == f"harness: error: {folder}: {says}" + ("; only a finished run's weights are exported"
                                                          if "not done" in says else " to export")
    assert not (tmp_path / "b.pt").exists()


def test_a_folder_that_is_not_a_run_and_a_folder_as_the_file_are_refused(tmp_path, capsys):
    line = refused(capsys, ["export", str(tmp_path), "--to", str(tmp_path / "b.pt")], tmp_path)
    assert line == f"harness: error: {tmp_path}: not a run folder (no readable config.yaml)"
    cfg = config(data={"dataset": "digits", "image_size": SIZE})
    folder = run_folder(tmp_path / "in", cfg, trained(cfg, 1))
    line = refused(capsys, ["export", str(folder), "--to", str(tmp_path)], tmp_path)
    assert line == f"harness: error: --to {tmp_path}: is a folder; name the file to write"
    (tmp_path / "a_file").write_text("")
    line = refused(capsys, ["export", str(folder), "--to", str(tmp_path / "a_file" / "b.pt")], tmp_path)
    assert line.startswith(f"harness: error: --to's folder {tmp_path / 'a_file'}") and "not a folder" in line, line
