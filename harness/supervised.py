"""The one supervised training loop of the evaluations: fine-tuning (finetune.py), the paper's linear
evaluation (paper_linear.py) and distillation (distill.py) each describe a Supervised job and fit() trains it.

    restart   the network and optimizer of the stage's checkpoint, and the epoch it ended, if any
    epochs    each step at its precomputed lr (one value per step, as train.py's schedule), the loss
              of the batch the job draws for that step; a checkpoint after every epoch; Interrupted
              when should_stop() says so after an epoch

An epoch is `steps_per_epoch` steps of the schedule (the last may be shorter), so that a step count
need not be a whole number of passes (SimCLR's N x epochs // B + 1). A job draws each epoch's batches as
a function of (seed, its steps) alone (labeled_epoch): a stage resumed in a new process replays exactly
what an uninterrupted one does, and on CPU ends with the same weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn as nn

from harness import checkpoint, store
from harness.data.pipeline import epoch_generator
from harness.interrupted import Interrupted


@dataclass
class Supervised:
    network: nn.Module  # what the checkpoint holds: every weight the job trains
    optimizer: torch.optim.Optimizer
    schedule: np.ndarray  # the lr of every step; its length is the step count
    steps_per_epoch: int  # the checkpoint's cadence
    batches: Callable[[range], Iterable]  # the batches of an epoch's steps (labeled_epoch), one a step
    loss: Callable[[Any], torch.Tensor]  # the loss of one of them
    modes: Callable[[], None] = lambda: None  # train/eval modes before each epoch (a frozen encoder stays in eval)

    @property
    def epochs(self) -> int:
        return math.ceil(len(self.schedule) / self.steps_per_epoch)


def cosine(peak: float, steps: int, per: int = 1) -> np.ndarray:
    """peak x (1 + cos(pi x t / T)) / 2 for each step, no warm-up; with `per` > 1, t counts whole
    epochs of `per` steps (main_lincls.py's adjust_learning_rate sets the lr once an epoch)."""
    t = np.arange(steps) // per
    return peak * 0.5 * (1 + np.cos(math.pi * t / math.ceil(steps / per)))


def stream(indices: torch.Tensor, first: int, last: int, seed: int) -> torch.Tensor:
    """Positions [first, last) of the passes over `indices`, each pass in an order drawn from
    (seed, pass), laid end to end (tf.data's repeat: a batch may straddle two passes, as SimCLR's
    run.py reads its data)."""
    n = len(indices)
    orders = [torch.randperm(n, generator=epoch_generator(seed, p)) for p in range(first // n, (last - 1) // n + 1)]
    offset = (first // n) * n
    return indices[torch.cat(orders)[first - offset : last - offset].to(indices.device)]


def labeled_epoch(data, keep: torch.Tensor, batch: int, steps: range, seed: int, salt: int = 0) -> Iterable:
    """The crop-and-flip batches (images, labels) of the train split's samples `keep` for `steps`:
    the stream's next len(steps) x batch samples, in an order and with views drawn from (seed, the
    epoch's first step); `salt` gives another stream (distillation's labeled term)."""
    indices = stream(keep, steps.start * batch, steps.stop * batch, seed * 1_000_003 + salt)
    return data.labeled_batches(indices, batch, epoch_generator(seed * 1_000_003 + salt, steps.start))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def fit(job: Supervised, directory: Path | None = None, should_stop: Callable[[], bool] | None = None) -> None:
    """Train `job` into `directory` (its checkpoint; None: none is written), resuming from it."""
    start = restart(job, directory)
    total, per = len(job.schedule), job.steps_per_epoch
    for epoch in range(start + 1, job.epochs + 1):
        job.modes()
        with torch.enable_grad():
            steps = range((epoch - 1) * per, min(epoch * per, total))
            for step, batch in zip(steps, job.batches(steps), strict=True):
                set_lr(job.optimizer, float(job.schedule[step]))
                loss = job.loss(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {step}")
                job.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                job.optimizer.step()
        if directory is not None:
            checkpoint.save(Path(directory) / store.CHECKPOINT, {
                "model": job.network.state_dict(), "optimizer": job.optimizer.state_dict(), "epoch": epoch,
            })  # fmt: skip
        if should_stop is not None and epoch < job.epochs and should_stop():
            raise Interrupted(epoch)


def restart(job: Supervised, directory: Path | None) -> int:
    """The last epoch of the stage's checkpoint, its network and optimizer loaded; 0 without one."""
    state = checkpoint.load_latest(directory) if directory is not None else None
    if state is None:
        return 0
    job.network.load_state_dict(state["model"])
    job.optimizer.load_state_dict(state["optimizer"])
    return state["epoch"]


@torch.no_grad()
def top1(network: nn.Module, batches) -> float:
    """Top-1 of `network` (in eval mode) on (images, labels) batches."""
    correct = total = 0
    for images, labels in batches:
        correct += (network(images).argmax(1) == labels).sum().item()
        total += len(labels)
    return correct / total
