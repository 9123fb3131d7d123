"""A run trained through the command line with torchvision's ResNet-18, exported, loaded strictly into
a fresh torchvision.models.resnet18 as the printed lines build it: the harness encoder's features."""

import torch
import torch.nn as nn
import torchvision

from harness import checkpoint, store
from harness.cli import main
from harness.methods.factory import build_method
from harness.migrate import recorded_config

from commandline import study

ONE_EPOCH = ["optim.epochs=1", "backbone.name=torchvision:resnet18", "projector.hidden_dim=32",
             "projector.out_dim=32", "predictor.hidden_dim=8", "probe.enabled=false"]


def test_a_trained_torchvision_resnet18_exports_into_torchvision_s_own_model(tmp_path, capsys):
    path = study(tmp_path, "variants: {baseline: {}}\nseeds: [0]")
    sets = [arg for item in ONE_EPOCH for arg in ("--set", item)]
    assert main(["run", str(path), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
                 "--quiet", *sets]) == 0
    (run_dir,) = (tmp_path / "results" / "s").iterdir()
    assert main(["export", str(run_dir), "--to", str(tmp_path / "resnet18.pt")]) == 0
    assert "model.conv1 = nn.Conv2d(1, 64, (7, 7), stride=(2, 2), padding=(3, 3), bias=False)" in capsys.readouterr().out

    model = torchvision.models.resnet18()
    model.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)  # the digits have one channel
    model.fc = nn.Identity()
    model.load_state_dict(torch.load(tmp_path / "resnet18.pt"), strict=True)

    config, _ = recorded_config(run_dir)
    method = build_method(config, 1)
    method.load_state_dict(checkpoint.load(run_dir / store.CHECKPOINT)["model"])
    images = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        assert (method.encoder.eval()(images) - model.eval()(images)).abs().max() <= 1e-6
