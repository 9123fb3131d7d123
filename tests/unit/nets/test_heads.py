"""harness/nets/heads.py: the projector and predictor as the config declares them (depth, widths, BN
placement, output bias, SimCLR v2's scale-only output BN)."""

import torch
import torch.nn as nn

from harness.methods.factory import build_method
from harness.optim import build_optimizer

from configs import config, views


def bn_layers(module):
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm1d)]


def test_bn_placement_switches():
    counts = {}
    for bn in ("none", "hidden", "hidden_and_projector_output", "all"):
        m = build_method(config(heads={"bn": bn}), 1)
        counts[bn] = (len(bn_layers(m.projector)), len(bn_layers(m.predictor)))
    # projector has 2 layers: 1 hidden + output; predictor: 1 hidden + output
    assert counts == {"none": (0, 0), "hidden": (1, 1), "hidden_and_projector_output": (2, 1), "all": (2, 2)}
    default = build_method(config(), 1)
    assert bn_layers(default.projector)[-1].affine is False  # the official code's output BN
    assert build_method(config(heads={"output_bn_affine": True}), 1).projector[-1].affine is True
    # A linear followed by BN has no bias; one without BN keeps it.
    linears = [l for l in default.predictor if isinstance(l, nn.Linear)]
    assert linears[0].bias is None and linears[1].bias is not None


def test_projector_depth_and_dims():
    m = build_method(config(projector={"layers": 3, "hidden_dim": 12, "out_dim": 10}), 1)
    dims = [(l.in_features, l.out_features) for l in m.projector if isinstance(l, nn.Linear)]
    assert dims == [(16, 12), (12, 12), (12, 10)]  # small_cnn width 4 -> 16 features
    assert m.embed_dim == 10


def test_output_bias_switch():
    # SimSiam's predictor ends in a biased Linear; BYOL's and MoCo v3's heads have no output bias.
    for bias in (True, False):
        m = build_method(config(heads={"bn": "hidden", "output_bias": bias}), 1)
        assert (m.projector[-1].bias is not None) == bias and (m.predictor[-1].bias is not None) == bias
        assert m.predictor[0].bias is None  # a Linear followed by BN never has one


def test_scale_only_output_bn_as_simclr_v2():
    cfg = config(method={"name": "simclr"}, predictor={"kind": "none"},
                 heads={"output_bn_affine": True, "output_bn_center": False})
    m = build_method(cfg, 1)
    bn = m.projector[-1]
    assert isinstance(bn, nn.BatchNorm1d) and bn.weight.requires_grad and not bn.bias.requires_grad
    optimized = {id(p) for g in build_optimizer(m, cfg.optim).param_groups for p in g["params"]}
    assert id(bn.weight) in optimized and id(bn.bias) not in optimized
    m(views()).loss.backward()
    assert bn.weight.grad is not None and bn.bias.grad is None and torch.equal(bn.bias, torch.zeros(16))
    # The default output BN is SimSiam's affine=False one; affine with center is scale and shift.
    assert build_method(config(heads={"output_bn_affine": True}), 1).projector[-1].bias.requires_grad
