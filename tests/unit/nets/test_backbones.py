"""harness/nets/backbones.py: the built-in encoders as the papers initialize them."""

import torch

from harness.methods.factory import build_method

from configs import config


def test_zero_init_residual():
    for zero in (True, False):
        m = build_method(config(backbone={"name": "resnet18_cifar", "zero_init_residual": zero}), 1)
        last_bns = [block.bn2.weight for layer in (m.encoder.layer1, m.encoder.layer4) for block in layer]
        assert all(torch.equal(w, torch.zeros_like(w) if zero else torch.ones_like(w)) for w in last_bns)
