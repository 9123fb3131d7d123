"""The losses of BYOL, SimCLR and MoCo v3 against direct, loop-by-loop computations."""

import math

import torch
import torch.nn.functional as F

from harness.methods.losses import byol_contrastive_term, info_nce, nt_xent, regression_loss


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def batch(n=5, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


def test_regression_loss_is_two_minus_two_cos():
    p, z = batch()
    direct = sum(2 - 2 * cos(p[i], z[i]) for i in range(len(p))) / len(p)
    assert math.isclose(regression_loss(p, z).item(), direct, rel_tol=1e-12)
    assert regression_loss(p, 3 * p).item() < 1e-12  # scale-free, 0 when aligned


def test_nt_xent_against_a_direct_computation():
    z1, z2 = batch()
    n, t = len(z1), 0.3
    views = list(z1) + list(z2)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        denominator = sum(math.exp(cos(views[i], views[k]) / t) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(cos(views[i], views[positive]) / t) / denominator)
    assert math.isclose(nt_xent(z1, z2, t).item(), total / (2 * n), rel_tol=1e-10)


def test_info_nce_against_a_direct_computation_with_the_2t_scale():
    q, k = batch()
    n = len(q)
    for t in (0.2, 1.0):
        ce = sum(
            -math.log(math.exp(cos(q[i], k[i]) / t) / sum(math.exp(cos(q[i], k[j]) / t) for j in range(n)))
            for i in range(n)
        ) / n
        assert math.isclose(info_nce(q, k, t).item(), 2 * t * ce, rel_tol=1e-10)
    # Unscaled, it is the plain cross-entropy over the batch's keys.
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.2
    assert math.isclose(info_nce(q, k, 0.2).item(), 0.4 * F.cross_entropy(logits, torch.arange(n)).item(), rel_tol=1e-12)


def test_byol_contrastive_term_against_a_direct_computation():
    q, t_same = batch(seed=1)
    _, t_other = batch(seed=2)
    n, a = len(q), 0.5
    total = 0.0
    for i in range(n):
        s = sum(math.exp(cos(q[i], t_same[j]) / a) for j in range(n) if j != i)
        s += sum(math.exp(cos(q[i], t_other[j]) / a) for j in range(n))
        total += 2 * a * math.log(s)
    assert math.isclose(byol_contrastive_term(q, t_same, t_other, a).item(), total / n, rel_tol=1e-10)
