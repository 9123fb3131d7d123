"""The ViT backbone as MoCo v3's vits.py builds it (position embedding, init, heads), the frozen
patch projection, and the first/last-layer gradient norm."""

import math

import pytest
import torch
import torch.nn as nn

from harness.config import ViT
from harness.gradnorm import first_and_last_layers, grad_norm
from harness.methods.factory import build_method
from harness.nets.vit import sincos_2d, vit

from configs import config, train_steps, views

VIT = {"name": "vit", "vit": {"patch_size": 4, "dim": 8, "depth": 2, "heads": 2}}


def mocov3(frozen: bool):
    torch.manual_seed(0)
    vit = {**VIT, "vit": {**VIT["vit"], "frozen_patch_projection": frozen}}
    return build_method(config(method={"name": "mocov3"}, backbone=vit, optim={"name": "adamw", "weight_decay": 0.1}), 1)


def test_vit_features_for_small_single_channel_images():
    m = mocov3(False)
    assert m.encoder.patch_embed.proj.in_channels == 1 and m.encoder.patch_embed.proj.stride == (4, 4)
    x = views()[0]
    assert m.encoder(x).shape == (8, 8)  # [batch, dim]: the class token
    # ... after the final LayerNorm (forward_features ends with it), the input of MoCo v3's projector
    assert torch.equal(m.encoder(x), m.encoder.forward_features(x)[:, 0])


def test_vit_s_has_12_heads_as_moco_v3s_vit_small():
    assert (ViT().dim, ViT().depth, ViT().heads, ViT().patch_size) == (384, 12, 12, 16)
    with pytest.raises(ValueError, match="divisible by 4"):
        ViT(dim=6, heads=2)


def test_position_embedding_is_the_fixed_2d_sin_cos_one():
    torch.manual_seed(0)
    net, _ = vit(ViT(patch_size=4, dim=48, depth=1, heads=3), 1, 16)
    pos = net.pos_embed[0]
    assert not net.pos_embed.requires_grad
    assert torch.equal(pos[0], torch.zeros(48))  # the class token has none
    assert torch.equal(pos[1:], sincos_2d(4, 4, 48))
    # vits.py's layout: sin(x w), cos(x w), sin(y w), cos(y w) with w = 1 / 10000^(i / 12), x the
    # coordinate its meshgrid(grid_w, grid_h) flattens slowest
    x, y, d = 2, 3, 7  # the patch at 4 * x + y, channel d of each quarter
    w = 1 / 10000 ** (d / 12)
    assert pos[1 + 4 * x + y, [d, 12 + d, 24 + d, 36 + d]].tolist() == pytest.approx(
        [math.sin(x * w), math.cos(x * w), math.sin(y * w), math.cos(y * w)], abs=1e-6)


def test_init_as_moco_v3():
    """Patch projection: Xavier uniform as a Linear of C * p * p -> dim (bound sqrt(6 / (C p^2 + dim)),
    std bound / sqrt(3)); Q, K, V each Xavier uniform as a dim x dim matrix; other Linears Xavier
    uniform; biases zero; class token std 1e-6."""
    torch.manual_seed(0)
    net, _ = vit(ViT(patch_size=4, dim=48, depth=2, heads=3), 1, 16)
    proj = net.patch_embed.proj.weight
    bound = math.sqrt(6 / (1 * 16 + 48))
    assert proj.abs().max() <= bound and proj.abs().max() > 0.95 * bound
    assert proj.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)  # 768 draws
    assert torch.equal(net.patch_embed.proj.bias, torch.zeros(48))
    qkv = net.blocks[0].attn.qkv.weight  # [3 * 48, 48]
    assert qkv.abs().max() <= math.sqrt(6 / (48 + 48)) and qkv.abs().max() > 0.95 * math.sqrt(6 / 96)
    fc1 = net.blocks[0].mlp.fc1.weight  # [192, 48]
    assert fc1.abs().max() <= math.sqrt(6 / (48 + 192)) and fc1.abs().max() > 0.95 * math.sqrt(6 / 240)
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in net.modules() if isinstance(m, nn.Linear))
    assert net.cls_token.abs().max() < 1e-5
    # RGB ViT-S/16: the official formula as vits.py writes it, 3 * 16 * 16 + 384
    rgb, _ = vit(ViT(depth=1), 3, 32)
    assert rgb.patch_embed.proj.weight.abs().max() <= math.sqrt(6 / (3 * 256 + 384))


def test_frozen_patch_projection_keeps_its_weights_bitwise_and_gets_no_gradient():
    m = mocov3(True)
    before = {k: v.clone() for k, v in m.encoder.patch_embed.proj.state_dict().items()}
    opt = train_steps(m, 3, total_steps=10)
    assert all(p.grad is None and not p.requires_grad for p in m.encoder.patch_embed.proj.parameters())
    assert all(torch.equal(before[k], v) for k, v in m.encoder.patch_embed.proj.state_dict().items())
    optimized = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not optimized & {id(p) for p in m.encoder.patch_embed.proj.parameters()}  # so no weight decay either


def test_learned_patch_projection_does_learn_and_the_position_embedding_does_not():
    m = mocov3(False)
    before = m.encoder.patch_embed.proj.weight.detach().clone()
    position = m.encoder.pos_embed.detach().clone()
    opt = train_steps(m, 3, total_steps=10)
    assert not torch.equal(before, m.encoder.patch_embed.proj.weight)
    assert torch.equal(position, m.encoder.pos_embed)
    assert all(p is not m.encoder.pos_embed for g in opt.param_groups for p in g["params"])


def test_first_and_last_layer_of_the_vit_and_their_gradient_norms():
    m = mocov3(False)
    first, last = first_and_last_layers(m.encoder)
    assert first is m.encoder.patch_embed.proj
    assert last is m.encoder.blocks[-1].mlp.fc2  # the last block's second MLP linear
    m(views()).loss.backward()
    expected = torch.cat([first.weight.grad.flatten(), first.bias.grad.flatten()]).norm().item()
    assert grad_norm(first) == pytest.approx(expected, rel=1e-6)
    assert grad_norm(last) > 0
    frozen = mocov3(True)
    frozen(views()).loss.backward()
    assert grad_norm(frozen.encoder.patch_embed.proj) is None  # frozen: nothing to measure


def test_first_layer_of_the_small_cnn():
    m = build_method(config(), 1)
    first, last = first_and_last_layers(m.encoder)
    assert isinstance(first, nn.Conv2d) and first.in_channels == 1
    assert isinstance(last, nn.Conv2d) and last is not first


# MoCo v3 Sec. 6.2's design switches: position embedding (sin-cos / learned / none) and pooling
# (class token / global average). Each test fails if its switch leaves the network as the default.

def design(pos_embed="sincos", pool="token"):
    torch.manual_seed(0)
    return vit(ViT(patch_size=4, dim=48, depth=2, heads=3, pos_embed=pos_embed, pool=pool), 1, 16)[0].eval()


def shuffled_patches(x, order):
    """x [B, 1, 16, 16] with its 4x4 patches (row-major, 16 of them) put in `order`."""
    patches = x.unfold(2, 4, 4).unfold(3, 4, 4).reshape(x.shape[0], 1, 16, 4, 4)[:, :, order]
    return patches.reshape(x.shape[0], 1, 4, 4, 4, 4).permute(0, 1, 2, 4, 3, 5).reshape(x.shape)


def test_learned_position_embedding_is_a_trained_parameter():
    learned, fixed = design("learned"), design("sincos")
    assert learned.pos_embed.requires_grad and learned.pos_embed.shape == (1, 17, 48)
    assert not torch.allclose(learned.pos_embed[0, 1:], sincos_2d(4, 4, 48))  # timm's random init
    assert not fixed.pos_embed.requires_grad
    torch.manual_seed(0)
    vit_cfg = {**VIT, "vit": {**VIT["vit"], "pos_embed": "learned"}}
    m = build_method(config(method={"name": "mocov3"}, backbone=vit_cfg, optim={"name": "adamw"}), 1)
    before = m.encoder.pos_embed.detach().clone()
    opt = train_steps(m, 2, total_steps=10)
    assert any(p is m.encoder.pos_embed for g in opt.param_groups for p in g["params"])
    assert not torch.equal(before, m.encoder.pos_embed)  # it learns


def test_no_position_embedding_makes_the_class_token_blind_to_patch_order():
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(shuffled_patches(x, torch.arange(16)), x)
    none, fixed = design("none"), design("sincos")
    assert none.pos_embed is None
    with torch.no_grad():
        assert torch.allclose(none(shuffled_patches(x, order)), none(x), atol=1e-5)
        assert not torch.allclose(fixed(shuffled_patches(x, order)), fixed(x), atol=1e-3)


def test_average_pooling_has_no_class_token_and_averages_the_patch_tokens():
    avg, token = design(pool="avg"), design(pool="token")
    assert avg.cls_token is None and token.cls_token is not None
    assert torch.equal(avg.pos_embed[0], sincos_2d(4, 4, 48))  # no class token, no zero row
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tokens = avg.forward_features(x)
        assert tokens.shape == (4, 16, 48)  # the patch tokens only
        # the mean over tokens, then the LayerNorm (timm's fc_norm), not the first token
        assert torch.allclose(avg(x), avg.fc_norm(tokens.mean(1)), atol=1e-6)
        assert not torch.allclose(avg(x), avg.fc_norm(tokens[:, 0]), atol=1e-3)
        assert torch.equal(token(x), token.forward_features(x)[:, 0])
    # The same weights pooled the other way: the outputs differ
    token_as_avg = design(pool="token")
    token_as_avg.global_pool = "avg"
    with torch.no_grad():
        assert not torch.allclose(token_as_avg(x), token(x), atol=1e-3)


def test_the_design_switches_enter_the_run_id_only_when_set():
    from harness.config import RunConfig
    base = RunConfig(backbone={"name": "vit"})
    same = RunConfig(backbone={"name": "vit", "vit": {"pos_embed": "sincos", "pool": "token"}})
    assert same.run_id() == base.run_id()
    ids = {RunConfig(backbone={"name": "vit", "vit": v}).run_id()
           for v in ({"pos_embed": "learned"}, {"pos_embed": "none"}, {"pool": "avg"})}
    assert len(ids | {base.run_id()}) == 4
