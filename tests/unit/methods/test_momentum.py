"""EMA targets: the cosine schedule, the update, and BYOL's tau = 0 and tau = 1 (Table 5a)."""

import math

import torch

from harness.methods.factory import build_method
from harness.methods.losses import regression_loss
from harness.methods.momentum import ema_update, momentum_at
from harness.optim import build_optimizer

from configs import config, train_steps, views


def byol(**method):
    torch.manual_seed(0)
    return build_method(config(method={"name": "byol", **method}), 1)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_cosine_schedule_against_its_formula():
    K = 1000
    for base in (0.99, 0.996, 0.9):
        for k in (0, 1, 250, 500, 999, 1000):
            expected = 1 - (1 - base) * (math.cos(math.pi * k / K) + 1) / 2
            assert math.isclose(momentum_at(base, k, K, "cosine"), expected, rel_tol=0, abs_tol=1e-15)
        assert momentum_at(base, 0, K, "cosine") == base  # starts at tau_base
        assert math.isclose(momentum_at(base, K // 2, K, "cosine"), (1 + base) / 2)  # halfway to 1
        assert momentum_at(base, K, K, "cosine") == 1.0  # ends at 1
        assert momentum_at(base, 123, K, "constant") == base


def test_ema_update_is_tau_target_plus_one_minus_tau_online():
    torch.manual_seed(0)
    target, online = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    t0, o0 = params(target), params(online)
    ema_update([target], [online], 0.9)
    for t, a, b in zip(target.parameters(), t0, o0):
        assert torch.allclose(t, 0.9 * a + 0.1 * b, rtol=0, atol=1e-6)
    assert all(torch.equal(o, b) for o, b in zip(online.parameters(), o0))  # the online net is untouched


def test_target_is_not_optimized_and_starts_as_the_online_network():
    m = byol()
    opt = build_optimizer(m, m.config.optim)
    optimized = {id(p) for g in opt.param_groups for p in g["params"]}
    target = list(m.target_encoder.parameters()) + list(m.target_projector.parameters())
    assert not optimized & {id(p) for p in target}
    online = list(m.encoder.parameters()) + list(m.projector.parameters())
    assert all(torch.equal(a, b) for a, b in zip(target, online))


def test_tau_one_keeps_the_random_target_fixed():
    m = byol(tau_base=1.0)
    before = params(m.target_encoder) + params(m.target_projector)
    online_before = params(m.encoder)
    train_steps(m, 3)
    after = params(m.target_encoder) + params(m.target_projector)
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert not all(torch.equal(a, b) for a, b in zip(online_before, params(m.encoder)))  # online did learn


def test_tau_zero_makes_the_target_the_stop_gradient_of_the_online_network():
    m = byol(tau_base=0.0, tau_schedule="constant")
    train_steps(m, 2)
    online = params(m.encoder) + params(m.projector)
    target = params(m.target_encoder) + params(m.target_projector)
    assert all(torch.equal(a, b) for a, b in zip(online, target))  # copied exactly after each step
    # So the loss is SimSiam-like: the online projection of the other view, detached.
    m.train()
    v = views()
    z = [m.projector(m.encoder(x)) for x in v]
    p = [m.predictor(zi) for zi in z]
    expected = regression_loss(p[0], z[1].detach()) + regression_loss(p[1], z[0].detach())
    assert torch.allclose(m(v).loss, expected, rtol=0, atol=1e-6)


def test_byol_after_step_applies_the_scheduled_tau():
    m = byol(tau_base=0.9)
    opt = build_optimizer(m, m.config.optim)
    opt.zero_grad()
    m(views()).loss.backward()
    opt.step()
    t0, o0 = params(m.target_encoder), params(m.encoder)
    m.after_step(30, 100)
    tau = 1 - 0.1 * (math.cos(math.pi * 30 / 100) + 1) / 2
    for t, a, b in zip(m.target_encoder.parameters(), t0, o0):
        assert torch.allclose(t, tau * a + (1 - tau) * b, rtol=0, atol=1e-6)


def test_mocov3_momentum_encoder_follows_its_schedule():
    torch.manual_seed(0)
    m = build_method(config(method={"name": "mocov3", "momentum": 0.99}), 1)
    opt = build_optimizer(m, m.config.optim)
    opt.zero_grad()
    m(views()).loss.backward()
    opt.step()
    k0, q0 = params(m.momentum_encoder), params(m.encoder)
    m.after_step(9, 100)  # the update before iteration 10
    mom = 1 - 0.01 * (math.cos(math.pi * 10 / 100) + 1) / 2
    for k, a, b in zip(m.momentum_encoder.parameters(), k0, q0):
        assert torch.allclose(k, mom * a + (1 - mom) * b, rtol=0, atol=1e-6)
