"""LARS's classic momentum against a transcription of SimCLR's own update (google-research/simclr
tf2/lars_optimizer.py; tests/support/official_simclr.py), on the same weights and gradients."""

from __future__ import annotations

import torch

from harness.lars import LARS

from official_simclr import EETA, LarsClassic

MOMENTUM, WD = 0.9, 1e-4


def weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"dense/kernel": torch.randn(6, 5, generator=g, dtype=torch.float64),
            "dense/bias": torch.randn(6, generator=g, dtype=torch.float64),
            "batch_normalization/gamma": torch.rand(6, generator=g, dtype=torch.float64) + 0.5,
            "conv/kernel": torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)}


def test_classic_momentum_is_simclrs_lars_over_a_changing_lr():
    ours = {name: torch.nn.Parameter(w) for name, w in weights().items()}
    official = LarsClassic(weights(), MOMENTUM, WD)
    opt = LARS(list(ours.values()), lr=0.0, momentum=MOMENTUM, weight_decay=WD, trust_coefficient=EETA,
               classic_momentum=True)
    g = torch.Generator().manual_seed(1)
    for lr in (0.5, 1.5, 3.0, 2.0, 0.7):  # a warm-up, then a decay: where the two momenta differ
        grads = {name: torch.randn(w.shape, generator=g, dtype=torch.float64) for name, w in ours.items()}
        for name, p in ours.items():
            p.grad = grads[name].clone()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        official.apply_gradients(grads, lr)
    for name in ours:
        torch.testing.assert_close(ours[name].detach(), official.params[name], rtol=1e-6, atol=1e-6)


def test_the_two_momenta_agree_at_a_constant_lr_and_differ_when_it_changes():
    def run(classic: bool, lrs) -> torch.Tensor:
        w = torch.nn.Parameter(weights()["conv/kernel"])
        opt = LARS([w], lr=0.0, momentum=MOMENTUM, weight_decay=WD, trust_coefficient=EETA, classic_momentum=classic)
        g = torch.Generator().manual_seed(2)
        for lr in lrs:
            w.grad = torch.randn(w.shape, generator=g, dtype=torch.float64)
            opt.param_groups[0]["lr"] = lr
            opt.step()
        return w.detach()

    torch.testing.assert_close(run(True, [1.0] * 4), run(False, [1.0] * 4), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(run(True, [0.5, 1.0, 2.0, 4.0]), run(False, [0.5, 1.0, 2.0, 4.0]), rtol=1e-6)


def test_a_checkpoint_from_before_classic_momentum_resumes_with_the_lr_outside():
    w = torch.nn.Parameter(torch.ones(3, 3))
    state = LARS([w], lr=0.1).state_dict()
    for group in state["param_groups"]:
        del group["classic_momentum"]
    opt = LARS([w], lr=0.1, classic_momentum=True)
    opt.load_state_dict(state)
    assert opt.param_groups[0]["classic_momentum"] is False
