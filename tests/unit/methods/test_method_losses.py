"""How BYOL, SimCLR and MoCo v3 wire their networks into their losses."""

import torch

from harness.methods.factory import build_method, n_views
from harness.methods.losses import byol_contrastive_term, info_nce, nt_xent, regression_loss

from configs import config, views


def build(**sections):
    torch.manual_seed(0)
    m = build_method(config(**sections), 1)
    m.eval()  # BN on running statistics: the same numbers on every forward
    return m


def test_byol_sums_both_view_orders_against_the_target():
    m = build(method={"name": "byol"})
    v = views()
    z = [m.projector(m.encoder(x)) for x in v]
    t = [m.target_projector(m.target_encoder(x)) for x in v]
    p = [m.predictor(zi) for zi in z]
    expected = regression_loss(p[0], t[1]) + regression_loss(p[1], t[0])  # a sum, as in the paper
    assert torch.allclose(m(v).loss, expected)
    m.config = config(method={"name": "byol", "loss": "asymmetric"})
    assert torch.allclose(m(v).loss, regression_loss(p[0], t[1]))
    m.config = config(method={"name": "byol", "beta": 0.5, "temperature": 0.2})
    with_beta = expected + 0.5 * (byol_contrastive_term(p[0], t[0], t[1], 0.2) + byol_contrastive_term(p[1], t[1], t[0], 0.2))
    assert torch.allclose(m(v).loss, with_beta)


def test_byol_gradient_reaches_only_the_online_network():
    torch.manual_seed(0)
    m = build_method(config(method={"name": "byol"}), 1)
    m(views()).loss.backward()
    assert all(p.grad is None for p in m.target_encoder.parameters())
    assert all(p.grad is not None for p in m.predictor.parameters())


def test_simclr_is_nt_xent_of_the_two_projections():
    m = build(method={"name": "simclr", "temperature": 0.5}, predictor={"kind": "none"})
    v = views()
    z = [m.projector(m.encoder(x)) for x in v]
    assert n_views(m.config) == 2
    assert torch.allclose(m(v).loss, nt_xent(z[0], z[1], 0.5))


def test_simclr_sends_both_views_through_as_one_batch():
    # In train mode BN's statistics come from the batch: the official code's joint batch of 2N
    # (tf2/model.py), not each view's N.
    torch.manual_seed(0)
    m = build_method(config(method={"name": "simclr", "temperature": 0.5}, predictor={"kind": "none"}), 1)
    v = views()
    z1, z2 = m.projector(m.encoder(torch.cat(v))).chunk(2)
    out = m(v)
    assert torch.equal(out.loss, nt_xent(z1, z2, 0.5)) and torch.equal(out.embedding, z1)
    separate = [m.projector(m.encoder(x)) for x in v]
    assert not torch.allclose(out.loss, nt_xent(separate[0], separate[1], 0.5))


def test_byol_target_init_copy_or_independent():
    torch.manual_seed(0)
    copy = build_method(config(method={"name": "byol"}), 1)
    online = torch.cat([p.flatten() for p in copy.encoder.parameters()])
    target = torch.cat([p.flatten() for p in copy.target_encoder.parameters()])
    assert torch.equal(online, target)
    torch.manual_seed(0)
    own = build_method(config(method={"name": "byol", "target_init": "independent"}), 1)
    # The online network is the same draw either way; the target is a draw of its own, frozen.
    assert torch.equal(online, torch.cat([p.flatten() for p in own.encoder.parameters()]))
    own_target = [p for p in own.target_encoder.parameters()] + [p for p in own.target_projector.parameters()]
    assert not torch.equal(target, torch.cat([p.flatten() for p in own.target_encoder.parameters()]))
    assert not any(p.requires_grad for p in own_target)


def test_mocov3_queries_through_the_predictor_keys_from_the_momentum_encoder():
    m = build(method={"name": "mocov3", "temperature": 0.2})
    v = views()
    q = [m.predictor(m.projector(m.encoder(x))) for x in v]
    k = [m.momentum_projector(m.momentum_encoder(x)) for x in v]
    assert torch.allclose(m(v).loss, info_nce(q[0], k[1], 0.2) + info_nce(q[1], k[0], 0.2))
    m.config = config(method={"name": "mocov3", "loss": "asymmetric", "temperature": 0.2})
    assert torch.allclose(m(v).loss, info_nce(q[0], k[1], 0.2))
    no_pred = build(method={"name": "mocov3"}, predictor={"kind": "none"})
    assert isinstance(no_pred.predictor, torch.nn.Identity)


def test_predictor_depth():
    m = build(method={"name": "byol"}, predictor={"layers": 3, "hidden_dim": 6})
    linears = [(l.in_features, l.out_features) for l in m.predictor if isinstance(l, torch.nn.Linear)]
    assert linears == [(16, 6), (6, 6), (6, 16)]
    one = build(method={"name": "byol"}, predictor={"layers": 1})
    assert [(l.in_features, l.out_features) for l in one.predictor if isinstance(l, torch.nn.Linear)] == [(16, 16)]
