import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.config import RunConfig
from harness.methods.factory import build_method, n_views
from harness.methods.simsiam import similarity_loss
from harness.optim import build_optimizer, lr_schedule, peak_lr, set_lr


def config(**sections) -> RunConfig:
    base = {
        "backbone": {"name": "small_cnn", "width": 4},
        "projector": {"layers": 2, "hidden_dim": 16, "out_dim": 16},
        "predictor": {"hidden_dim": 4},
        "data": {"dataset": "digits", "image_size": 8},
        "optim": {"batch_size": 8},
    }
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    return RunConfig.model_validate(base)


def views(n=2, batch=8):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 1, 8, 8, generator=g) for _ in range(n)]



def train_steps(m, n=1, total_steps=100):
    """n optimizer steps of method m on fresh random views, with its per-step update after each."""
    opt = build_optimizer(m, m.config.optim)
    for k in range(n):
        opt.zero_grad()
        m(views()).loss.backward()
        opt.step()
        m.after_step(k, total_steps)
    return opt

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


def test_lr_schedule_warmup_then_cosine():
    cfg = config(optim={"epochs": 10, "warmup_epochs": 2, "base_lr": 0.1, "batch_size": 512})
    s = lr_schedule(cfg.optim, steps_per_epoch=5)
    peak = 0.1 * 512 / 256
    assert len(s) == 50
    assert s[0] == peak / 10 and s[9] == peak  # linear warm-up over 10 steps
    assert s[10] == peak and s[-1] < peak * 0.01  # cosine from the peak towards 0
    assert all(a >= b for a, b in zip(s[10:], s[11:]))


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


def test_zero_init_residual():
    for zero in (True, False):
        m = build_method(config(backbone={"name": "resnet18_cifar", "zero_init_residual": zero}), 1)
        last_bns = [block.bn2.weight for layer in (m.encoder.layer1, m.encoder.layer4) for block in layer]
        assert all(torch.equal(w, torch.zeros_like(w) if zero else torch.ones_like(w)) for w in last_bns)
