"""harness/nets/simclr_resnet.py: SimCLR v2's width multiplier and selective kernels (its Table 1), and
the two switches as RunConfig takes them (backbone.width_multiplier, backbone.selective_kernels)."""

import pytest
import torch
import torch.nn as nn
import torchvision
from timm.layers import SelectiveKernel

from harness.config import Backbone, RunConfig
from harness.nets.backbones import build_encoder
from harness.nets.simclr_resnet import simclr_resnet
from harness.plan import load_study

from commandline import refused, study
from conftest import STUDIES


def encoder(image_size=224, **backbone) -> tuple[nn.Module, int]:
    """The encoder of 3-channel images a run builds, on the meta device (no memory, no init) where
    only its structure is asked for."""
    with torch.device("meta"):
        return build_encoder(Backbone(**backbone), 3, image_size)


def millions(net: nn.Module) -> float:
    return sum(p.numel() for p in net.parameters()) / 1e6


# SimCLR v2 Table 1's parameter counts (the encoder, without a classifier), in millions as printed.
# This build has tf2/resnet.py's layers and shapes; the paper rounds to 1M, so +- 0.5M. R152 3x+SK: its
# SK attention at stage 3 is 64 wide for tf2's 48 (timm rounds to a multiple of 32: 36 blocks x
# (768 x 16 x 3 + 32) = 1.33M more), so 795M + 1.33M, +- 0.5M.
@pytest.mark.parametrize("backbone, paper, extra", [
    ({"name": "resnet50"}, 24, 0),
    ({"name": "resnet50", "width_multiplier": 2}, 94, 0),
    ({"name": "resnet50", "selective_kernels": True}, 35, 0),
    ({"name": "resnet50", "width_multiplier": 2, "selective_kernels": True}, 140, 0),
    ({"name": "torchvision:resnet101", "selective_kernels": True}, 65, 0),
    ({"name": "torchvision:resnet152", "width_multiplier": 3, "selective_kernels": True}, 795, 1.33),
])
def test_parameter_counts_are_simclr_v2_table_1_s(backbone, paper, extra):
    net, _ = encoder(**backbone)
    assert abs(millions(net) - paper - extra) <= 0.5


@pytest.mark.parametrize("name, dim", [("resnet50", 2048), ("resnet18_cifar", 512), ("torchvision:resnet34", 512)])
def test_the_width_multiplier_multiplies_every_channel(name, dim):
    """R50-2x has 4096-d features (torchvision's wide_resnet50_2 stays 2048-d); the stem is 64w."""
    for w in (1, 2, 3):
        net, features = encoder(name=name, width_multiplier=w)
        assert features == dim * w
        first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
        assert first.out_channels == 64 * w


def test_the_small_cnn_s_width_multiplier_multiplies_its_width():
    assert encoder(16, name="small_cnn", width=8, width_multiplier=3)[1] == 4 * 8 * 3
    assert millions(encoder(16, name="small_cnn", width=8, width_multiplier=2)[0]) == \
        millions(encoder(16, name="small_cnn", width=16)[0])


@pytest.mark.parametrize("backbone, convs", [
    ({"name": "resnet50"}, 16),  # each bottleneck's 3x3
    ({"name": "resnet18_cifar"}, 8),  # each basic block's first 3x3
    ({"name": "torchvision:resnet34", "cifar_stem": True}, 16),
    ({"name": "small_cnn", "width": 8}, 2),  # the two strided convs, not the stem
])
def test_selective_kernels_replace_the_3x3_convs(backbone, convs):
    plain, _ = encoder(32, **backbone)
    sk, _ = encoder(32, **backbone, selective_kernels=True)
    assert not any(isinstance(m, SelectiveKernel) for m in plain.modules())
    assert sum(isinstance(m, SelectiveKernel) for m in sk.modules()) == convs
    assert millions(sk) > millions(plain)


def test_selective_kernels_make_a_resnet_d():
    """tf2's SK network: a deep stem (3x3 convs of 32w, 32w, 64w) and average-pooled shortcuts."""
    net, _ = encoder(name="resnet50", width_multiplier=2, selective_kernels=True)
    stem = [m for m in net.conv1.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.out_channels) for c in stem] == [((3, 3), 64), ((3, 3), 64), ((3, 3), 128)]
    assert isinstance(net.layer2[0].downsample[0], nn.AvgPool2d)


def test_the_cifar_stem_stays_with_width_and_sk():
    net, dim = build_encoder(Backbone(name="resnet18_cifar", width_multiplier=2, selective_kernels=True), 1, 16)
    assert (net.conv1.kernel_size, net.conv1.stride, net.conv1.out_channels) == ((3, 3), (1, 1), 128)
    assert isinstance(net.maxpool, nn.Identity)
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, dim) == (2, 1024)


def test_at_1x_without_sk_the_timm_build_is_torchvision_s_resnet():
    """What lets a study compare 1x (torchvision's, as before) with 2x or SK (timm's): the same layers
    under the same names and shapes."""
    ours, _ = simclr_resnet("resnet50", 3, 1, False, cifar_stem=False, zero_init_residual=True)
    theirs = torchvision.models.resnet50()
    del theirs.fc
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}


def test_zero_init_residual_reaches_the_timm_build():
    for zero in (True, False):
        net, _ = build_encoder(Backbone(name="resnet18_cifar", width_multiplier=2, zero_init_residual=zero), 1, 16)
        last = [block.bn2.weight for block in net.layer1]
        assert all(torch.equal(w, torch.zeros_like(w) if zero else torch.ones_like(w)) for w in last)


def test_the_defaults_leave_the_run_id_as_it_was():
    base = RunConfig()
    assert RunConfig(backbone={"width_multiplier": 1, "selective_kernels": False}).run_id() == base.run_id()
    assert len({base.run_id(), RunConfig(backbone={"width_multiplier": 2}).run_id(),
                RunConfig(backbone={"selective_kernels": True}).run_id()}) == 3


@pytest.mark.parametrize("body, key", [
    ("base: {backbone.name: vit, backbone.selective_kernels: true}", "backbone.selective_kernels"),
    ("base: {backbone.name: 'timm:resnet50', backbone.width_multiplier: 2}", "backbone.width_multiplier"),
    ("base: {backbone.name: 'torchvision:wide_resnet50_2', backbone.width_multiplier: 2}", "backbone.width_multiplier"),
    ("base: {backbone.width_multiplier: 0}", "backbone.width_multiplier"),
    ("base: {backbone.width_multiplier: 1.5}", "backbone.width_multiplier"),
])
def test_a_switch_on_a_backbone_it_does_not_fit_is_refused_in_one_line(tmp_path, capsys, body, key):
    line = refused(capsys, ["run", str(study(tmp_path, body)), "--dry-run"], tmp_path)
    assert key in line


# ---- studies/simclr_model_size.yaml: Table 1's rows at each preset -----------------------------------
TABLE_1 = {"r50_1x": (1, False), "r50_1x_sk": (1, True), "r50_2x": (2, False), "r152_3x_sk": (3, True)}
DEEPEST = {"tiny": "small_cnn", "cifar10": "torchvision:resnet50", "imagenet": "torchvision:resnet152"}


@pytest.mark.parametrize("preset", ["tiny", "cifar10", "imagenet"])
def test_simclr_model_size_plans_table_1_s_rows_at_each_preset(preset):
    study = load_study(STUDIES / "simclr_model_size.yaml", preset)
    assert len(study.runs) == len(TABLE_1) * 3  # 3 seeds
    for run in study.runs:
        backbone = run.config.backbone
        assert (backbone.width_multiplier, backbone.selective_kernels) == TABLE_1[run.variant]
        shallow = {"tiny": "small_cnn", "cifar10": "resnet18_cifar", "imagenet": "resnet50"}[preset]
        assert backbone.name == (DEEPEST[preset] if run.variant == "r152_3x_sk" else shallow)
        assert backbone.cifar_stem == (preset == "cifar10" and run.variant == "r152_3x_sk")
