import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.methods.factory import build_method, n_views
from harness.methods.simsiam import similarity_loss
from harness.optim import build_optimizer, peak_lr, set_lr

from configs import config, views


def test_stop_gradient_blocks_the_target_branch():
    # With stop-gradient, the loss's gradient w.r.t. the target z reaches only through the predictor
    # side; we check by comparing encoder gradients with and without it: they must differ.
    grads = {}
    for sg in (True, False):
        torch.manual_seed(0)
        m = build_method(config(method={"stop_gradient": sg}), 1)
        m(views()).loss.backward()
        grads[sg] = torch.cat([p.grad.flatten() for p in m.encoder.parameters()])
    assert not torch.allclose(grads[True], grads[False])


def test_stop_gradient_is_a_detach():
    torch.manual_seed(0)
    m = build_method(config(predictor={"kind": "none"}), 1)
    out = m(views())
    # No predictor and a detached target: the loss still has a gradient (through the online side).
    assert out.loss.requires_grad
    # Without stop-gradient and without predictor, the symmetric loss of identical views is -1 exactly.
    m2 = build_method(config(predictor={"kind": "none"}, method={"stop_gradient": False}), 1)
    m2.eval()
    v = views(1)[0]
    assert torch.isclose(m2([v, v]).loss, torch.tensor(-1.0), atol=1e-5)


def test_fixed_predictor_is_frozen_and_not_optimized():
    m = build_method(config(predictor={"kind": "fixed"}), 1)
    before = [p.clone() for p in m.predictor.parameters()]
    opt = build_optimizer(m, m.config.optim)
    optimized = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not optimized & {id(p) for p in m.predictor.parameters()}
    m(views()).loss.backward()
    opt.step()
    assert all(p.grad is None for p in m.predictor.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, m.predictor.parameters()))


def test_no_predictor_is_identity():
    m = build_method(config(predictor={"kind": "none"}), 1)
    assert isinstance(m.predictor, nn.Identity)
    assert [g["name"] for g in m.param_groups()] == ["encoder", "projector"]


def test_constant_predictor_lr_and_multiplier_read_back_from_the_optimizer():
    cfg = config(predictor={"lr": "constant", "lr_mult": 10.0})
    m = build_method(cfg, 1)
    opt = build_optimizer(m, cfg.optim)
    peak = peak_lr(cfg.optim)
    set_lr(opt, 0.001, peak)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs["encoder"] == lrs["projector"] == 0.001
    assert lrs["predictor"] == peak * 10.0
    cosine = build_optimizer(build_method(config(), 1), cfg.optim)
    set_lr(cosine, 0.001, peak)
    assert {g["name"]: g["lr"] for g in cosine.param_groups}["predictor"] == 0.001


def test_loss_symmetry_variants():
    assert n_views(config()) == 2
    assert n_views(config(method={"loss": "asymmetric"})) == 2
    assert n_views(config(method={"loss": "asymmetric_2x"})) == 4
    torch.manual_seed(0)
    m = build_method(config(), 1)
    m.eval()
    v = views()
    z = [m.projector(m.encoder(x)) for x in v]
    p = [m.predictor(zi) for zi in z]
    expected = (similarity_loss(p[0], z[1], "cosine") + similarity_loss(p[1], z[0], "cosine")) / 2
    assert torch.isclose(m(v).loss, expected)
    m.config = config(method={"loss": "asymmetric"})
    assert torch.isclose(m(v).loss, similarity_loss(p[0], z[1], "cosine"))


def test_cross_entropy_similarity_against_direct_computation():
    p, z = torch.randn(4, 5), torch.randn(4, 5)
    direct = sum(-(F.softmax(z[i], 0) * F.log_softmax(p[i], 0)).sum() for i in range(4)) / 4
    assert torch.isclose(similarity_loss(p, z, "cross_entropy"), direct)
    assert torch.isclose(similarity_loss(p, p, "cosine"), torch.tensor(-1.0))
