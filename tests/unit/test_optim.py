"""Optimizers: LARS's trust ratio, the predictor's lr groups, lr scaling, gradient accumulation."""


import pytest
import torch

from harness.config import RunConfig
from harness.lars import LARS
from harness.methods.factory import build_method
from harness.optim import build_optimizer, lr_schedule, peak_lr

from configs import config, groups, views


def test_lars_trust_ratio_on_a_known_case():
    w = torch.tensor([[3.0, 4.0]])  # ||w|| = 5
    g = torch.tensor([[0.6, 0.8]])  # ||g|| = 1
    assert LARS.trust_ratio(w, g, 0.001).item() == pytest.approx(0.005)
    assert LARS.trust_ratio(torch.zeros(1, 2), g, 0.001).item() == 1.0  # a zero weight: plain SGD
    assert LARS.trust_ratio(w, torch.zeros(1, 2), 0.001).item() == 1.0


def test_lars_step_adapts_weights_and_leaves_biases_alone():
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))
    bias = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = LARS([weight, bias], lr=1.0, momentum=0.9, weight_decay=0.1, trust_coefficient=0.001)
    weight.grad, bias.grad = torch.tensor([[0.6, 0.8]]), torch.tensor([0.5, 0.5])
    opt.step()
    # weight: update = g + 0.1 w = [0.9, 1.2] (norm 1.5), trust = 0.001 * 5 / 1.5, so the step is
    # [0.003, 0.004]: its norm is eta * ||w|| whatever the gradient's scale.
    assert torch.allclose(weight.detach(), torch.tensor([[2.997, 3.996]]), atol=1e-6)
    # bias (1-D): no weight decay, no trust ratio, plain SGD with momentum.
    assert torch.allclose(bias.detach(), torch.tensor([0.5, 1.5]), atol=1e-6)
    bias.grad = torch.tensor([0.5, 0.5])
    weight.grad = torch.zeros(1, 2)
    opt.step()
    assert torch.allclose(bias.detach(), torch.tensor([0.5 - 0.95, 1.5 - 0.95]), atol=1e-6)  # buf 0.9*0.5 + 0.5


@pytest.mark.parametrize("method", ["byol", "mocov3", "simsiam"])
def test_predictor_lr_multiplier_and_constant_lr_read_back_from_the_optimizer(method):
    cfg = config(method={"name": method}, optim={"name": "lars"}, predictor={"lr_mult": 10.0})
    opt, lrs = groups(cfg)
    assert isinstance(opt, LARS)
    assert lrs == {"encoder": 0.001, "projector": 0.001, "predictor": 0.01}  # BYOL Table 21's lambda
    cfg = config(method={"name": method}, predictor={"lr": "constant", "lr_mult": 2.0})
    _, lrs = groups(cfg)
    assert lrs == {"encoder": 0.001, "projector": 0.001, "predictor": peak_lr(cfg.optim) * 2.0}


def test_simclr_has_no_predictor_group_and_rejects_one():
    _, lrs = groups(config(method={"name": "simclr"}, predictor={"kind": "none"}))
    assert list(lrs) == ["encoder", "projector"]
    with pytest.raises(ValueError, match="simclr has no predictor"):
        config(method={"name": "simclr"})


def test_linear_and_square_root_lr_scaling():
    assert peak_lr(config(optim={"base_lr": 0.3, "batch_size": 1024}).optim) == pytest.approx(1.2)
    # SimCLR's rule, base x sqrt(batch) (tf2/model.py): its README's 0.075 at 4096 is 0.3 x 4096 / 256.
    assert peak_lr(config(optim={"base_lr": 0.075, "batch_size": 4096, "lr_scaling": "sqrt"}).optim) == pytest.approx(4.8)
    assert peak_lr(config(optim={"base_lr": 0.3, "batch_size": 4096}).optim) == pytest.approx(4.8)
    assert peak_lr(config(optim={"base_lr": 0.3, "batch_size": 1024, "lr_scaling": "sqrt"}).optim) == pytest.approx(9.6)
    # A scale's lr multiplier (tiny: a few hundred steps) multiplies either rule.
    assert peak_lr(config(optim={"base_lr": 0.3, "batch_size": 1024, "lr_multiplier": 4.0}).optim) == pytest.approx(4.8)


def test_adamw_weight_decay_on_every_parameter():
    cfg = config(optim={"name": "adamw", "weight_decay": 0.1})
    opt, _ = groups(cfg)
    assert isinstance(opt, torch.optim.AdamW)
    assert all(g["weight_decay"] == 0.1 for g in opt.param_groups)


def test_batch_must_split_into_the_micro_batches():
    with pytest.raises(ValueError, match=r"micro_batch_size \(4\) does not divide batch_size \(10\)"):
        config(optim={"batch_size": 10, "micro_batch_size": 4})
    with pytest.raises(ValueError, match=r"micro_batch_size \(20\) does not divide"):
        config(optim={"batch_size": 10, "micro_batch_size": 20})
    assert config(optim={"batch_size": 12, "micro_batch_size": 3}).optim.accumulate_steps == 4
    assert config(optim={"batch_size": 12}).optim.accumulate_steps == 1


NO_BN = {
    "backbone": {"name": "vit", "vit": {"patch_size": 4, "dim": 8, "depth": 1, "heads": 2}},
    "heads": {"bn": "none"},
}


def one_step(cfg: RunConfig, v) -> list[torch.Tensor]:
    """The floating-point state (parameters, targets, buffers) after one optimizer step on views v;
    with v None, the state at init."""
    from harness.accumulation import accumulate_gradients

    torch.manual_seed(0)
    m = build_method(cfg, 1)
    if v is not None:
        opt = build_optimizer(m, cfg.optim)
        opt.zero_grad()
        accumulate_gradients(m, v, cfg.optim.accumulate_steps)
        opt.step()
        m.after_step(0, 10)
    return [p.detach().clone() for p in m.state_dict().values() if p.is_floating_point()]


def close(a: list, b: list) -> bool:
    return all(torch.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(a, b))


# Peak lr 0.8: a step moves the weights far beyond the tolerance of the comparison.
LR = {"base_lr": 25.6}


@pytest.mark.parametrize("method", ["simsiam", "byol"])
def test_accumulating_k_micro_batches_equals_one_batch_k_times_larger_without_bn(method):
    v = views(batch=8)
    whole = one_step(config(method={"name": method}, optim=LR, **NO_BN), v)
    micro = one_step(config(method={"name": method}, optim={**LR, "micro_batch_size": 2}, **NO_BN), v)
    assert len(whole) == len(micro)
    assert close(whole, micro)
    assert not close(whole, one_step(config(method={"name": method}, optim=LR, **NO_BN), None))  # it moved


def test_with_batch_norm_micro_batches_change_the_update():
    # The caveat the summary states: BN normalizes each micro-batch with its own statistics.
    v = views(batch=8)
    whole = one_step(config(optim=LR), v)
    micro = one_step(config(optim={**LR, "micro_batch_size": 2}), v)
    assert not close(whole, micro)


def test_lr_schedule_warmup_then_cosine():
    cfg = config(optim={"epochs": 10, "warmup_epochs": 2, "base_lr": 0.1, "batch_size": 512})
    s = lr_schedule(cfg.optim, steps_per_epoch=5)
    peak = 0.1 * 512 / 256
    assert len(s) == 50
    assert s[0] == peak / 10 and s[9] == peak  # linear warm-up over 10 steps
    assert s[10] == peak and s[-1] < peak * 0.01  # cosine from the peak towards 0
    assert all(a >= b for a, b in zip(s[10:], s[11:]))
