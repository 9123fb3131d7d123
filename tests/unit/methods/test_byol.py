"""BYOL's ablation switches: the stop-gradient of a target that is the online network (Table 5b,
App. F.4) and the projector's lr multiplier (Table 22, App. I.1)."""

import pytest
import torch

from harness.methods.factory import build_method
from harness.methods.losses import regression_loss
from harness.optim import build_optimizer, peak_lr

from configs import config, groups, views

NO_TARGET = {"name": "byol", "tau_base": 0.0, "tau_schedule": "constant", "target_init": "copy"}


def byol_without_target(stop_gradient: bool, **method):
    torch.manual_seed(0)  # the same weights for both settings of the switch
    return build_method(config(method={**NO_TARGET, "stop_gradient": stop_gradient, **method}), 1)


def online_gradients(m) -> list[torch.Tensor]:
    m.zero_grad()
    m(views()).loss.backward()
    return [p.grad.clone() for p in [*m.encoder.parameters(), *m.projector.parameters()]]


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_stop_gradient_false_differentiates_the_target_branch(beta):
    detached, flowing = byol_without_target(True, beta=beta), byol_without_target(False, beta=beta)
    # tau 0 with a copied init: the target network is the online one, so both give the same loss...
    assert torch.allclose(detached(views()).loss, flowing(views()).loss)
    # ...and only the gradient tells them apart: the target branch's share.
    g_detached, g_flowing = online_gradients(detached), online_gradients(flowing)
    assert not all(torch.allclose(a, b) for a, b in zip(g_detached, g_flowing))
    # By hand (beta 0): the symmetric loss with the targets detached or not.
    if beta == 0:
        for m, stop, expected in ((detached, True, g_detached), (flowing, False, g_flowing)):
            m.zero_grad()
            z = [m.project(v)[0] for v in views()]
            sum(regression_loss(m.predictor(z[i]), z[j].detach() if stop else z[j])
                for i, j in ((0, 1), (1, 0))).backward()
            by_hand = [p.grad for p in [*m.encoder.parameters(), *m.projector.parameters()]]
            assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(expected, by_hand))


def test_stop_gradient_true_never_reaches_the_target_network():
    m = build_method(config(method={"name": "byol"}), 1)
    m(views()).loss.backward()
    targets = [*m.target_encoder.parameters(), *m.target_projector.parameters()]
    assert all(p.grad is None for p in targets)


def test_projector_lr_mult_scales_the_projector_group_exactly_and_nothing_else():
    base = config(method={"name": "byol"}, optim={"name": "lars"}, predictor={"lr_mult": 10.0})
    _, lrs = groups(base)
    opt, scaled = groups(config(method={"name": "byol"}, optim={"name": "lars"}, predictor={"lr_mult": 10.0},
                                projector={"lr_mult": 5.0}))
    assert scaled == {**lrs, "projector": lrs["projector"] * 5.0}  # BYOL Table 22's mu
    assert scaled["encoder"] == 0.001 and scaled["predictor"] == 0.01
    # the projector's group holds the projector's parameters and only them
    m = build_method(base, 1)
    (projector,) = [g for g in opt.param_groups if g["name"] == "projector"]
    assert [p.shape for p in projector["params"]] == [p.shape for p in m.projector.parameters()]
    # a constant-lr predictor is unaffected, and the projector follows the schedule (times mu)
    cfg = config(method={"name": "byol"}, predictor={"lr": "constant"}, projector={"lr_mult": 2.0})
    _, lrs = groups(cfg, lr=0.004)
    assert lrs == {"encoder": 0.004, "projector": 0.008, "predictor": peak_lr(cfg.optim)}


def test_projector_lr_mult_changes_training():
    steps = []
    for mult in (1.0, 3.0):
        torch.manual_seed(0)
        m = build_method(config(method={"name": "byol"}, projector={"lr_mult": mult}), 1)
        before = {name: p.detach().clone() for name, p in m.named_parameters()}
        opt = build_optimizer(m, m.config.optim)
        m(views()).loss.backward()
        opt.step()
        steps.append({name: p.detach() - before[name] for name, p in m.named_parameters()})
    one, three = steps
    # SGD's first step is lr x (gradient + wd x weight): 3x on the projector, the same elsewhere
    for name in one:
        expected = 3 * one[name] if name.startswith("projector.") else one[name]
        assert torch.allclose(three[name], expected, rtol=1e-3, atol=1e-6), name  # float32 differences


CLOSED_FORM = {"kind": "closed_form", "ridge": 1e-3}


def closed_form_byol(**predictor):
    torch.manual_seed(0)
    return build_method(config(method=NO_TARGET, predictor={**CLOSED_FORM, **predictor}), 1)


def by_hand(m, batch, differentiate_the_solve=False):
    """BYOL's loss with the batch's ridge regression computed here: stacked pairs (z0 -> t1, z1 -> t0)."""
    z = [m.project(v)[0] for v in batch]
    t = [m.target_projector(m.target_encoder(v)).detach() for v in batch]
    x, y = torch.cat([z[0], z[1]]), torch.nn.functional.normalize(torch.cat([t[1], t[0]]), dim=1)
    x = x if differentiate_the_solve else x.detach()
    c = x.T @ x / len(x)
    lam = m.config.predictor.ridge * c.diagonal().sum() / c.shape[0]
    w = torch.linalg.solve(c + lam * torch.eye(c.shape[0]), x.T @ y / len(x))
    return regression_loss(z[0] @ w, t[1]) + regression_loss(z[1] @ w, t[0])


def test_closed_form_predicts_with_the_batch_regression_and_differs_from_the_mlp():
    batch = views(batch=32)
    m = closed_form_byol()
    assert torch.allclose(m(batch).loss, by_hand(m, batch), atol=1e-5)
    torch.manual_seed(0)
    mlp = build_method(config(method=NO_TARGET), 1)
    assert not torch.allclose(mlp(batch).loss, m(batch).loss, atol=1e-3)
    # the solve is the predictor: nothing to train, no optimizer group
    assert not list(m.predictor.parameters())
    assert "predictor" not in [g["name"] for g in m.param_groups()]


def test_closed_form_gradient_flows_through_the_online_projection_not_the_solve():
    batch = views(batch=32)
    m = closed_form_byol()
    online = [*m.encoder.parameters(), *m.projector.parameters()]
    m(batch).loss.backward()
    got = [p.grad.clone() for p in online]
    for through_solve in (False, True):
        m.zero_grad()
        by_hand(m, batch, differentiate_the_solve=through_solve).backward()
        expected = [p.grad for p in online]
        same = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected))
        assert same != through_solve  # equal to W held constant; the solve's own share is left out
    assert all(p.grad is None for p in [*m.target_encoder.parameters(), *m.target_projector.parameters()])


def test_the_ridge_changes_the_closed_form_loss():
    batch = views(batch=32)
    assert not torch.allclose(closed_form_byol(ridge=1e-3)(batch).loss, closed_form_byol(ridge=10.0)(batch).loss)
