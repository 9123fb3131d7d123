"""An independent oracle: the project's losses, EMA update and momentum schedule against lightly's on
the same tensors, and MoCo v3's loss against the formula of its paper (Alg. 1). A disagreement
beyond the stated tolerance is a failure. Tensors are float64, so the tolerances are a few ulps of
summation-order difference, not modelling slack. (The distributed NT-Xent against lightly's
gathered one is in test_distributed.py.)"""

import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.methods.losses import info_nce, nt_xent, regression_loss
from harness.methods.momentum import ema_update, momentum_at
from harness.methods.simsiam import similarity_loss

lightly_loss = pytest.importorskip("lightly.loss")
from lightly.models.utils import update_momentum  # noqa: E402
from lightly.utils.scheduler import cosine_schedule  # noqa: E402

REL = 1e-12  # float64 losses: the same sums in another order


def batches(n=32, d=16, seed=0, k=2):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(k)]


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


def assert_same(ours, theirs, tensors, rel=REL):
    """Loss values to `rel`, gradients to `rel` of their largest entry."""
    assert ours.item() == pytest.approx(theirs.item(), rel=rel)
    for a, b in zip(grads(ours, tensors), grads(theirs, tensors)):
        assert (a - b).abs().max() <= rel * b.abs().max()


def test_simsiam_negative_cosine_against_lightly():
    p, z = batches()
    assert_same(similarity_loss(p, z, "cosine"), lightly_loss.NegativeCosineSimilarity()(p, z), [p, z])


def test_byol_regression_against_lightly():
    # lightly's BYOL trains on NegativeCosineSimilarity; 2 - 2 cos is the same loss, shifted and scaled.
    p, z = batches()
    assert_same(regression_loss(p, z), 2 + 2 * lightly_loss.NegativeCosineSimilarity()(p, z), [p, z])


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_against_lightly(temperature):
    # Both are the paper's mean over the 2N views (the official tf2 code sums the two directions: 2x).
    z1, z2 = batches()
    assert_same(nt_xent(z1, z2, temperature), lightly_loss.NTXentLoss(temperature=temperature)(z1, z2), [z1, z2])


@pytest.mark.parametrize("temperature", [0.2, 1.0])
def test_mocov3_info_nce_against_the_papers_algorithm_1(temperature):
    """MoCo v3 Alg. 1: logits = mm(q, k.t()) / t on l2-normalized q, k; labels = range(N);
    loss = CrossEntropyLoss(logits / t, labels) * 2t (the official code's scale)."""
    q, k = batches()
    q1, k1 = F.normalize(q, dim=1), F.normalize(k, dim=1)
    paper = nn.CrossEntropyLoss()(torch.mm(q1, k1.t()) / temperature, torch.arange(len(q))) * 2 * temperature
    assert_same(info_nce(q, k, temperature), paper, [q, k])


@pytest.mark.parametrize("tau", [0.0, 0.5, 0.99, 0.996, 1.0])
def test_ema_update_against_lightly(tau):
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 4)).double()
    target = copy.deepcopy(online)
    for p in target.parameters():  # a target that differs from the online network
        p.data.normal_()
    ours, theirs = copy.deepcopy(target), copy.deepcopy(target)
    update_momentum(online, theirs, tau)
    ema_update([ours], [online], tau)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        # the same two float operations: to 1 ulp, should a platform fuse them differently (measured: bitwise)
        assert torch.allclose(a, b, rtol=2 ** -52, atol=0)


@pytest.mark.parametrize("base", [0.99, 0.996])
def test_cosine_momentum_schedule_against_lightly(base):
    # lightly's cosine_schedule runs from step 0 to max_steps - 1: ours over K steps is its K + 1.
    total = 100
    for step in range(total + 1):
        ours = momentum_at(base, step, total, "cosine")
        assert ours == pytest.approx(cosine_schedule(step, total + 1, base, 1.0), rel=0, abs=1e-15)
    assert momentum_at(base, 0, total, "cosine") == base and momentum_at(base, total, total, "cosine") == 1.0
    assert math.isclose(momentum_at(base, total // 2, total, "cosine"), (1 + base) / 2, abs_tol=1e-15)
