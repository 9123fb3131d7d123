"""SimSiam Sec. 5.2's two tests of the hypothesis: the k-step alternation (method.eta_every: a
snapshot of the network computes eta for k steps) and the moving-average eta per image
(method.eta_momentum: a cache of eta_x, updated by the batch's images only, saved in checkpoints)."""

import copy

import pandas as pd
import pytest
import torch

from harness import checkpoint, store
from harness.columns import EPOCH_SECONDS
from harness.config import RunConfig
from harness.data.pipeline import Batch, epoch_generator
from harness.methods.factory import build_method
from harness.optim import build_optimizer
from harness.plan import load_study
from harness.spec import parse_set
from harness.train import train

from conftest import FAST

CONFIG = {
    "backbone": {"name": "small_cnn", "width": 4},
    "projector": {"layers": 2, "hidden_dim": 16, "out_dim": 16},
    "predictor": {"hidden_dim": 4},
    "data": {"dataset": "digits", "image_size": 8},
    "optim": {"batch_size": 8, "epochs": 2},
}


def config(**method) -> RunConfig:
    return RunConfig.model_validate({**CONFIG, "method": {"name": "simsiam", **method}})


def views(seed=0, batch=8, indices=None):
    g = torch.Generator().manual_seed(seed)
    return Batch([torch.randn(batch, 1, 8, 8, generator=g) for _ in range(2)], indices)


def step(m, opt, k, total_steps=20):
    """One SGD step of method m on the views of seed k, then its after-step."""
    opt.zero_grad()
    m(views(k)).loss.backward()
    opt.step()
    m.after_step(k, total_steps)


def snapshot_output(snapshot, v):
    encoder, projector = snapshot
    return [projector(encoder(x)) for x in v]


@pytest.mark.parametrize("bad", [{"eta_every": 0}, {"eta_every": "week"}, {"eta_momentum": 1.0},
                                 {"eta_momentum": -0.1}, {"eta_every": 10, "eta_momentum": 0.8},
                                 {"eta_every": 10, "stop_gradient": False}])
def test_bad_values_name_the_key(bad):
    with pytest.raises(ValueError, match="eta_every|eta_momentum"):
        config(**bad)


def test_one_step_is_simsiam_exactly():
    # eta_every 1 builds no snapshot (the state and run id of SimSiam) and its target is z detached.
    torch.manual_seed(0)
    m = build_method(config(eta_every=1), 1)
    torch.manual_seed(0)
    plain = build_method(RunConfig.model_validate({**CONFIG, "method": {"name": "simsiam"}}), 1)
    assert m.state_dict().keys() == plain.state_dict().keys()
    assert config(eta_every=1).run_id() == plain.config.run_id()
    z, _ = zip(*(m.project(v) for v in views()))
    for target, zi in zip(m.targets(views(), z), z):
        assert torch.equal(target, zi.detach()) and not target.requires_grad
    assert torch.equal(m(views()).loss, plain(views()).loss)


def test_k_step_target_is_the_snapshot_for_k_steps():
    k = 3
    torch.manual_seed(0)
    m = build_method(config(eta_every=k), 1)
    opt = build_optimizer(m, m.config.optim)
    start = copy.deepcopy((m.encoder, m.projector))  # the network at the alternation's start
    # At the start of an alternation the snapshot is the network itself: eta = z detached.
    z, _ = zip(*(m.project(v) for v in views(99)))
    for target, zi in zip(m.targets(views(99), z), z):
        assert torch.allclose(target, zi.detach(), atol=1e-6) and not target.requires_grad
    for i in range(k - 1):
        step(m, opt, i)
    # After k - 1 steps eta is still the start's network's, no longer the current one's.
    z, _ = zip(*(m.project(v) for v in views(99)))
    eta = m.targets(views(99), z)
    for target, expected, zi in zip(eta, snapshot_output(start, views(99)), z):
        assert torch.allclose(target, expected, atol=1e-6)
        assert not torch.allclose(target, zi.detach(), atol=1e-3)
    step(m, opt, k - 1)  # the k-th step ends the alternation: the snapshot becomes the network
    z, _ = zip(*(m.project(v) for v in views(99)))
    for target, zi in zip(m.targets(views(99), z), z):
        assert torch.allclose(target, zi.detach(), atol=1e-6)


def test_one_epoch_is_the_steps_of_an_epoch():
    torch.manual_seed(0)
    m = build_method(config(eta_every="epoch"), 1)
    m.attach_data(44)  # as the loop's set-up does: 44 images in batches of 8, 5 steps an epoch
    opt = build_optimizer(m, m.config.optim)
    start = [p.clone() for p in m.eta_encoder.parameters()]
    for i in range(4):
        step(m, opt, i, total_steps=10)  # 5 steps an epoch: still the first alternation
    assert all(torch.equal(a, b) for a, b in zip(start, m.eta_encoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(m.encoder.parameters(), m.eta_encoder.parameters()))
    step(m, opt, 4, total_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(m.encoder.parameters(), m.eta_encoder.parameters()))


def test_eta_every_changes_training():
    params = {}
    for k in (1, 3):
        torch.manual_seed(0)
        m = build_method(config(eta_every=k), 1)
        opt = build_optimizer(m, m.config.optim)
        for i in range(3):
            step(m, opt, i)
        params[k] = torch.cat([p.flatten() for p in m.encoder.parameters()])
    assert not torch.allclose(params[1], params[3])


def cached(m, train_size=20):
    m.attach_data(train_size)
    m.eta_cache.normal_(generator=torch.Generator().manual_seed(1))  # a cache mid-training
    return m.eta_cache.clone()


def test_eta_cache_moves_by_the_moving_average_for_the_batch_only():
    torch.manual_seed(0)
    m = build_method(config(eta_momentum=0.8), 1)
    before = cached(m)
    indices = torch.tensor([3, 7, 0, 19, 11, 5, 12, 2])
    v = views(indices=indices)
    with torch.no_grad():
        z = [m.project(x)[0] for x in v]
    m(v)
    # symmetric: each view is the other's T'; the cache keeps the update by the views' mean
    expected = 0.8 * before[indices] + 0.2 * (z[0] + z[1]) / 2
    assert torch.allclose(m.eta_cache[indices], expected, atol=1e-6)
    others = torch.ones(len(before), dtype=torch.bool)
    others[indices] = False
    assert torch.equal(m.eta_cache[others], before[others])
    # asymmetric (one target view): the paper's formula as written
    torch.manual_seed(0)
    a = build_method(config(eta_momentum=0.8, loss="asymmetric"), 1)
    before = cached(a)
    a(v)
    assert torch.allclose(a.eta_cache[indices], 0.8 * before[indices] + 0.2 * z[1], atol=1e-6)


def test_eta_momentum_zero_is_the_current_output():
    # m = 0: eta is F(T'(x)) itself, detached, whatever the cache held: SimSiam's target.
    torch.manual_seed(0)
    m = build_method(config(eta_momentum=0.0), 1)
    cached(m)
    v = views(indices=torch.arange(8))
    z, _ = zip(*(m.project(x) for x in v))
    for target, zi in zip(m.targets(v, z), z):
        assert torch.equal(target, zi.detach())
    torch.manual_seed(0)
    plain = build_method(config(), 1)
    assert torch.equal(m(v).loss, plain(v).loss)


def test_eta_momentum_changes_the_loss_and_needs_indices():
    torch.manual_seed(0)
    m = build_method(config(eta_momentum=0.8), 1)
    cached(m)
    torch.manual_seed(0)
    plain = build_method(config(), 1)
    v = views(indices=torch.arange(8))
    assert not torch.allclose(m(v).loss, plain(v).loss)
    with pytest.raises(ValueError, match="indices"):
        m(views())


def test_the_pipeline_gives_each_batch_its_images_indices(tiny_study):
    from harness.data import build_data

    run = load_study(tiny_study, overrides=parse_set(FAST)).runs[0]
    data = build_data(run.config, 2, torch.device("cpu"))
    batches = list(data.train_batches(1))
    seen = torch.cat([b.indices for b in batches])
    assert len(seen.unique()) == len(seen) == data.steps_per_epoch() * data.batch_size
    assert 0 <= seen.min() and seen.max() < data.train_size()
    # the epoch's shuffle, in order: batch k holds the images at positions [kB, (k+1)B) of it
    order = torch.randperm(data.train_size(), generator=epoch_generator(run.config.seed, 1))
    assert torch.equal(seen, order[: len(seen)])


def test_resume_restores_the_eta_cache(tmp_path):
    study = tmp_path / "moving_average_eta.yaml"
    study.write_text("name: moving_average_eta\ntitle: Sec. 5.2's moving-average eta\n"
                     "base: {method.eta_momentum: 0.8, predictor.kind: none}\n")
    sets = FAST + ["optim.epochs=2", "probe.enabled=false", "monitor.knn_at_init=false"]
    run = load_study(study, overrides=parse_set(sets)).runs[0]
    train(run.config, tmp_path / "full")

    def crash_after_1(row):
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        train(run.config, tmp_path / "crashed", on_epoch=crash_after_1)
    cache = checkpoint.load(tmp_path / "crashed" / store.CHECKPOINT)["model"]["eta_cache"]
    assert cache.abs().sum(dim=1).gt(0).sum() > 0  # epoch 1 wrote eta for its images
    train(run.config, tmp_path / "crashed")
    full = store.read_curves(tmp_path / "full" / store.CURVES).drop(columns=[EPOCH_SECONDS])
    resumed = store.read_curves(tmp_path / "crashed" / store.CURVES).drop(columns=[EPOCH_SECONDS])
    pd.testing.assert_frame_equal(resumed, full)
    assert torch.equal(checkpoint.load(tmp_path / "crashed" / store.CHECKPOINT)["model"]["eta_cache"],
                       checkpoint.load(tmp_path / "full" / store.CHECKPOINT)["model"]["eta_cache"])


def test_an_imagefolder_batch_carries_its_images_indices(tmp_path):
    from harness.data import build_data

    from configs import folder_config, write_tree

    write_tree(tmp_path)
    data = build_data(folder_config(tmp_path), 2, torch.device("cpu"))
    seen = torch.cat([b.indices for b in data.train_batches(1)])
    order = torch.randperm(data.train_size(), generator=epoch_generator(0, 1))
    assert torch.equal(seen, order[: len(seen)])


def test_the_per_image_eta_refuses_several_ranks_by_its_sections_rule(monkeypatch):
    # The preflight asks the same rule of the SLURM options (method.ranks_problem); the node asks it here.
    from harness import distributed

    m = build_method(config(eta_momentum=0.5), 1)
    monkeypatch.setattr(distributed, "current", lambda: distributed.Context(rank=0, world_size=2))
    with pytest.raises(ValueError, match=r"^method.eta_momentum keeps eta per training image in one process: it does "
                                         r"not run with 2 ranks$"):
        m.attach_data(20)
