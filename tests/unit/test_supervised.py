"""The supervised loop of the evaluations (harness/supervised.py)."""

import math

import numpy as np
import pytest
import torch

from harness import store
from harness.interrupted import Interrupted
from harness.supervised import Supervised, cosine, fit, stream


def test_the_stream_reads_every_sample_once_a_pass_and_runs_on_across_passes():
    indices = torch.arange(10) * 3
    first_pass, second_pass = stream(indices, 0, 10, seed=0), stream(indices, 10, 20, seed=0)
    assert sorted(first_pass.tolist()) == sorted(second_pass.tolist()) == indices.tolist()
    assert not torch.equal(first_pass, second_pass)  # each pass its own order
    straddling = stream(indices, 8, 12, seed=0)  # the last 2 of pass 0, the first 2 of pass 1
    assert torch.equal(straddling, torch.cat([first_pass[8:], second_pass[:2]]))
    assert torch.equal(stream(indices, 8, 12, seed=0), straddling) and not torch.equal(stream(indices, 0, 10, 1), first_pass)


def test_the_cosine_per_step_and_per_epoch_are_the_official_formulas():
    per_step = cosine(2.0, 10)
    assert per_step.tolist() == pytest.approx([2.0 * 0.5 * (1 + math.cos(math.pi * s / 10)) for s in range(10)])
    # main_lincls.py adjust_learning_rate: init_lr x 0.5 x (1 + cos(pi x epoch / epochs)), set once an epoch.
    per_epoch = cosine(2.0, 12, per=4)
    assert per_epoch.tolist() == pytest.approx([2.0 * 0.5 * (1 + math.cos(math.pi * (s // 4) / 3)) for s in range(12)])


def job(seed=0):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 3, generator=g), torch.randint(0, 2, (20,), generator=g)
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def batches(steps):
        return [(x[s % 5 * 4 : s % 5 * 4 + 4], y[s % 5 * 4 : s % 5 * 4 + 4]) for s in steps]

    def loss(batch):
        return torch.nn.functional.cross_entropy(net(batch[0]), batch[1])

    return Supervised(net, optimizer, cosine(0.5, 7), 3, batches, loss)


def test_a_checkpoint_every_epoch_and_a_resumed_job_ends_as_one_never_stopped(tmp_path):
    whole = job()
    fit(whole, tmp_path / "whole")
    assert whole.epochs == 3  # 7 steps, 3 an epoch: the last epoch is 1 step
    stopped = job()
    with pytest.raises(Interrupted) as caught:
        fit(stopped, tmp_path / "stopped", should_stop=lambda: True)
    assert caught.value.epoch == 1 and (tmp_path / "stopped" / store.CHECKPOINT).exists()
    resumed = job(seed=5)  # other initial weights: the checkpoint's replace them
    fit(resumed, tmp_path / "stopped", should_stop=lambda: False)
    for a, b in zip(whole.network.parameters(), resumed.network.parameters()):
        assert torch.equal(a, b)


def test_the_last_epoch_is_not_interrupted_and_a_non_finite_loss_stops_the_job():
    asked = []
    fit(job(), None, should_stop=lambda: asked.append(1) and False)
    assert len(asked) == 2  # after epochs 1 and 2: a finished job has nothing to stop
    bad = job()
    bad.loss = lambda batch: torch.tensor(np.nan, requires_grad=True)
    with pytest.raises(FloatingPointError, match="step 0"):
        fit(bad)
