"""The small ViT backbone, MoCo v3's frozen patch projection, and the first/last-layer gradient norm."""

import pytest
import torch
import torch.nn as nn

from harness.gradnorm import first_and_last_layers, grad_norm
from harness.methods import build_method

from test_methods import config, train_steps, views

VIT = {"name": "vit", "vit": {"patch_size": 4, "dim": 8, "depth": 2, "heads": 2}}


def mocov3(frozen: bool):
    torch.manual_seed(0)
    vit = {**VIT, "vit": {**VIT["vit"], "frozen_patch_projection": frozen}}
    return build_method(config(method={"name": "mocov3"}, backbone=vit, optim={"name": "adamw", "weight_decay": 0.1}), 1)


def test_vit_features_for_small_single_channel_images():
    m = mocov3(False)
    assert m.encoder.conv_proj.in_channels == 1 and m.encoder.conv_proj.stride == (4, 4)
    assert m.encoder(views()[0]).shape == (8, 8)  # [batch, dim]: the class token


def test_frozen_patch_projection_keeps_its_weights_bitwise_and_gets_no_gradient():
    m = mocov3(True)
    before = {k: v.clone() for k, v in m.encoder.conv_proj.state_dict().items()}
    opt = train_steps(m, 3, total_steps=10)
    assert all(p.grad is None and not p.requires_grad for p in m.encoder.conv_proj.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.encoder.conv_proj.state_dict().items())
    optimized = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not optimized & {id(p) for p in m.encoder.conv_proj.parameters()}  # so no weight decay either


def test_learned_patch_projection_does_learn():
    m = mocov3(False)
    before = m.encoder.conv_proj.weight.detach().clone()
    train_steps(m, 3, total_steps=10)
    assert not torch.equal(before, m.encoder.conv_proj.weight)


def test_first_and_last_layer_of_the_vit_and_their_gradient_norms():
    m = mocov3(False)
    first, last = first_and_last_layers(m.encoder)
    assert first is m.encoder.conv_proj
    assert last is m.encoder.encoder.layers[-1].mlp[-2]  # the last block's second MLP linear
    m(views()).loss.backward()
    expected = torch.cat([first.weight.grad.flatten(), first.bias.grad.flatten()]).norm().item()
    assert grad_norm(first) == pytest.approx(expected, rel=1e-6)
    assert grad_norm(last) > 0
    frozen = mocov3(True)
    frozen(views()).loss.backward()
    assert grad_norm(frozen.encoder.conv_proj) is None  # frozen: nothing to measure


def test_first_layer_of_the_small_cnn():
    m = build_method(config(), 1)
    first, last = first_and_last_layers(m.encoder)
    assert isinstance(first, nn.Conv2d) and first.in_channels == 1
    assert isinstance(last, nn.Conv2d) and last is not first


def test_image_size_must_be_a_multiple_of_the_patch_size():
    with pytest.raises(ValueError, match="not a multiple of the ViT's patch_size"):
        config(backbone={**VIT, "vit": {**VIT["vit"], "patch_size": 3}})
