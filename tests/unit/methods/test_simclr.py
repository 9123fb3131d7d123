"""SimCLR's optimization against a transcription of its official code (tests/support/official_simclr.py:
tf2/objective.py's loss, tf2/lars_optimizer.py's LARS with classic momentum), on the same weights and
batches: the loss's value, its gradient, and a few training steps under a changing lr."""

from __future__ import annotations

import copy

import torch

from harness.methods.factory import build_method
from harness.methods.losses import nt_xent
from harness.optim import build_optimizer, set_lr

from configs import config
from official_simclr import LarsClassic, contrastive_loss, tf_names

TEMPERATURE = 0.5
LRS = (0.3, 0.9, 1.2, 0.6)  # a warm-up, then a decay


def simclr():
    cfg = config(method={"name": "simclr", "temperature": TEMPERATURE}, predictor={"kind": "none"},
                 optim={"name": "lars", "classic_momentum": True, "weight_decay": 1e-4, "momentum": 0.9})
    torch.manual_seed(0)
    return build_method(cfg, 1).double()


def batch(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(8, 1, 8, 8, generator=g, dtype=torch.float64) for _ in range(2)]


def official_loss(model, views) -> torch.Tensor:
    return contrastive_loss(model.project(torch.cat(views))[0], TEMPERATURE)


def test_the_loss_is_the_papers_mean_and_its_gradient_the_codes_sum():
    m = simclr()
    views = batch(0)
    out = m(views)
    z = m.project(torch.cat(views))[0]
    torch.testing.assert_close(out.loss, contrastive_loss(z, TEMPERATURE) / 2, rtol=1e-12, atol=0)  # the curves'
    assert torch.equal(out.loss, nt_xent(*z.chunk(2), TEMPERATURE))
    ours = torch.autograd.grad(out.loss, list(m.parameters()))
    theirs = torch.autograd.grad(official_loss(m, views), list(m.parameters()))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def train(loss_of) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The harness's SimCLR and a copy of it after len(LRS) steps on the same batches: the harness's
    optimizer on loss_of(model, views); the official objective under the official LARS."""
    ours = simclr()
    theirs = copy.deepcopy(ours)
    opt = build_optimizer(ours, ours.config.optim)
    official = LarsClassic({n: p.data for n, p in tf_names(theirs).items()}, momentum=0.9, weight_decay=1e-4)
    for step, lr in enumerate(LRS):
        views = batch(step + 1)
        set_lr(opt, lr, lr)
        opt.zero_grad()
        loss_of(ours, views).backward()
        opt.step()
        theirs.zero_grad()
        official_loss(theirs, views).backward()
        official.apply_gradients({n: p.grad for n, p in tf_names(theirs).items()}, lr)
    return ours, theirs


def test_a_few_steps_equal_the_official_objective_under_its_lars():
    ours, theirs = train(lambda m, views: m(views).loss)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8, msg=name)
    for a, b in zip(ours.buffers(), theirs.buffers()):  # BN's running statistics
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_the_check_sees_the_mean_alone():
    """Trained on NT-Xent's mean (the loss before the fix), the same steps are not the official ones."""
    ours, theirs = train(lambda m, views: nt_xent(*m.project(torch.cat(views))[0].chunk(2), TEMPERATURE))
    assert not all(torch.allclose(a, b, rtol=1e-6, atol=1e-8) for a, b in zip(ours.parameters(), theirs.parameters()))
