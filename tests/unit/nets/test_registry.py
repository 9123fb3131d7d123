"""Backbones by a registry's name (torchvision:<model>, timm:<model>): built as encoders, named in
the run id, refused at preflight with the close matches when the registry has no such model."""

import importlib.util

import pytest
import torch

from harness import store
from harness.config import Backbone, RunConfig
from harness.nets import build_encoder, registry
from harness.plan import load_study
from harness.spec import SpecError, parse_set

from commandline import refused, run, study
from conftest import FAST

needs_timm = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm is not installed")


@pytest.mark.parametrize("name, cifar_stem, dim", [
    ("torchvision:resnet34", False, 512),
    ("torchvision:resnet18", True, 512),
    ("torchvision:mobilenet_v3_small", False, 1024),
    pytest.param("timm:resnet18", True, 512, marks=needs_timm),
    pytest.param("timm:vit_tiny_patch16_224", False, 192, marks=needs_timm),  # at 16 px: one patch
])
def test_a_registry_model_is_an_encoder_of_one_channel_images(name, cifar_stem, dim):
    config = RunConfig(backbone={"name": name, "cifar_stem": cifar_stem}, data={"image_size": 16})
    encoder, feat_dim = build_encoder(config.backbone, 1, 16)
    assert feat_dim == dim and encoder(torch.randn(2, 1, 16, 16)).shape == (2, dim)
    if cifar_stem:  # SimSiam's CIFAR stem: 3x3, stride 1, no max-pool
        assert encoder.conv1.kernel_size == (3, 3) and encoder.conv1.stride == (1, 1)
        assert isinstance(encoder.maxpool, torch.nn.Identity)


def test_the_same_seed_builds_the_same_weights():
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        encoder, _ = registry.registry_backbone("torchvision:resnet18", 1, 16, cifar_stem=True)
        weights.append(encoder.conv1.weight.clone())
    assert torch.equal(*weights)


@pytest.mark.parametrize("zero_init_residual", [True, False])
def test_a_registry_resnet_honours_zero_init_residual(zero_init_residual):
    # backbone.zero_init_residual (the papers' ResNet init) applies to torchvision's ResNets by name too:
    # every block's last BN scale starts at 0, or at torchvision's 1.
    config = Backbone(name="torchvision:resnet18", zero_init_residual=zero_init_residual)
    encoder, _ = build_encoder(config, 3, 32)
    scales = [block.bn2.weight for layer in (encoder.layer1, encoder.layer4) for block in layer]
    assert all(bool((s == 0).all()) == zero_init_residual for s in scales)


@pytest.mark.parametrize("name, expected", [
    ("torchvision:resnet43", "torchvision has no model 'resnet43' (close: torchvision:resnet34"),
    pytest.param("timm:vit_smal_patch16_224", "(close: timm:vit_small_patch16_224", marks=needs_timm),
])
def test_an_unknown_model_names_the_close_matches(name, expected):
    assert expected in registry.problem(name)


def test_the_run_id_names_the_backbone_and_its_stem_only_when_set():
    base = RunConfig()
    resnet34 = RunConfig(backbone={"name": "torchvision:resnet34"})
    stem = RunConfig(backbone={"name": "torchvision:resnet34", "cifar_stem": True})
    assert len({base.run_id(), resnet34.run_id(), stem.run_id()}) == 3
    # cifar_stem at its default is not hashed: the ids of runs from before it existed stay.
    assert RunConfig(backbone={"cifar_stem": False}).run_id() == base.run_id()


@pytest.mark.parametrize("value, message", [
    ("resnet34", "backbone.name: Value error, unknown backbone (built in: small_cnn"),
    ("keras:resnet50", "unknown backbone"),
])
def test_a_malformed_name_is_refused_at_planning(tmp_path, value, message):
    path = study(tmp_path, f"base: {{backbone.name: {value}}}")
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        load_study(path)


def test_an_unknown_model_is_refused_at_preflight_in_one_line(tmp_path, capsys):
    path = study(tmp_path, "base: {backbone.name: 'torchvision:resnet43'}")
    line = refused(capsys, ["run", str(path)], tmp_path)
    assert "backbone.name='torchvision:resnet43': torchvision has no model" in line and "resnet34" in line
    path = study(tmp_path, "base: {backbone.name: 'torchvision:vit_b_16', backbone.cifar_stem: true}")
    assert "has no ResNet stem" in refused(capsys, ["run", str(path)], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torchvision:resnet18", pytest.param("timm:resnet10t", marks=needs_timm)])
def test_a_registry_backbone_runs_a_tiny_study(tiny_study, tmp_path, name):
    assert run(tiny_study, tmp_path, "--set", f"backbone.name={name}", "--set", "optim.epochs=1") == 0
    study_ = load_study(tiny_study, overrides=parse_set([*FAST, f"backbone.name={name}", "optim.epochs=1"]))
    for planned in study_.runs:
        assert store.run_state(store.run_dir(tmp_path / "results", study_.name, planned.run_id)) == "done"


# ---- a batch through the model before launch (issue 28) ----------------------------------------------

@pytest.mark.parametrize("name, says", [
    ("torchvision:vit_b_16", "cannot take data.image_size=16 (2 images of 1 channel(s), 16 px, on the CPU): "
                             "AssertionError: Wrong image height! Expected 224 but got 16!"),
    ("torchvision:inception_v3", "cannot take data.image_size=16 (2 images of 1 channel(s), 16 px, on the CPU): "
                                 "RuntimeError: Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3)"),
    # In train mode, as pretraining runs it, googlenet gives its auxiliary outputs besides the features.
    ("torchvision:googlenet", "gives a GoogLeNetOutputs for data.image_size=16 (2 images of 1 channel(s), 16 px, "
                              "on the CPU), not features of shape (2, 1024)"),
    ("torchvision:squeezenet1_0", "cannot be built for data.image_size=16 (2 images of 1 channel(s), 16 px, on the "
                                  "CPU): ValueError: SqueezeNet has no Linear classifier to remove"),
])
def test_a_model_that_cannot_encode_the_images_says_why(name, says):
    assert registry.forward_problem(name, 1, 16).startswith(f"backbone.name={name!r} {says}")  # the model's line, whole


def test_a_model_that_encodes_the_images_passes_and_leaves_the_rng_as_it_was():
    state = torch.get_rng_state()
    assert registry.forward_problem("torchvision:resnet18", 1, 16, cifar_stem=True) is None
    assert registry.forward_problem("torchvision:vit_b_16", 3, 224) is None
    assert torch.equal(torch.get_rng_state(), state)


def test_a_fixed_size_model_at_tiny_is_refused_before_launch_in_one_line(tmp_path, capsys):
    # Issue 28: it passed the preflight, then every run failed at its first forward pass.
    line = refused(capsys, ["run", str(study(tmp_path, "base: {backbone.name: 'torchvision:vit_b_16'}"))], tmp_path)
    assert line == ("harness: error: backbone.name='torchvision:vit_b_16' cannot take data.image_size=16 (2 images "
                    "of 1 channel(s), 16 px, on the CPU): AssertionError: Wrong image height! Expected 224 but got 16!")
