"""What the training benchmark runs: one run's data, networks and optimizer, built as train.train
builds them, and the training step in two forms (compute only, and as the training loop takes it).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from harness import accel
from harness.config import RunConfig
from harness.data import InMemoryPipeline, build_data
from harness.methods import Method, build_method, n_views
from harness.monitor import output_std
from harness.optim import build_optimizer, lr_schedule, peak_lr, set_lr

from harness.bench.synthetic import synthetic_data


@dataclass
class Workload:
    config: RunConfig
    device: torch.device
    data: InMemoryPipeline
    method: Method
    optimizer: torch.optim.Optimizer
    schedule: np.ndarray
    synthetic: bool
    steps_taken: int = 0

    @property
    def batch_size(self) -> int:
        return self.config.optim.batch_size

    @property
    def n_views(self) -> int:
        return self.data.n_views

    def split_size(self, split: str) -> int:
        return len(self.data.splits[split])

    def compute_step(self, views: list[torch.Tensor]) -> None:
        """Forward, backward and optimizer step on views already on the device."""
        with accel.autocast(self.config.runtime):
            out = self.method(views)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()

    def train_step(self, views: list[torch.Tensor]) -> None:
        """One step as train.train takes it, with its per-step bookkeeping: the lr, the divergence
        check, the loss and the std monitor (keep the two in step)."""
        step = self.steps_taken % len(self.schedule)
        set_lr(self.optimizer, float(self.schedule[step]), peak_lr(self.config.optim))
        with accel.autocast(self.config.runtime):
            out = self.method(accel.to_memory_format(views, self.config.runtime))
        if not torch.isfinite(out.loss):
            raise FloatingPointError(
                f"the loss became non-finite at benchmark step {self.steps_taken}; lower optim.base_lr (--set)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        self.method.after_step(step, len(self.schedule))
        out.loss.item()
        output_std(out.embedding.detach())
        self.steps_taken += 1

    def batches(self) -> Iterator[list[torch.Tensor]]:
        """The harness pipeline's training batches, epoch after epoch."""
        for epoch in itertools.count(1):
            yield from self.data.train_batches(epoch)


def build_workload(config: RunConfig, synthetic: bool = False) -> Workload:
    """Data, networks, optimizer and schedule of one run, as train.train builds them."""
    torch.manual_seed(config.seed)
    if config.runtime.threads:
        torch.set_num_threads(config.runtime.threads)
    device = torch.device(config.runtime.device)
    views = n_views(config)
    data = synthetic_data(config, views, device) if synthetic else build_data(config, views, device)
    if not isinstance(data, InMemoryPipeline):
        raise ValueError(
            f"harness bench measures the in-memory pipelines (digits, cifar10, cifar100), not "
            f"data.dataset={config.data.dataset!r}: its per-image DataLoader is the reference already"
        )
    method = accel.prepare_model(build_method(config, data.channels).to(device), config.runtime)
    optimizer = build_optimizer(method, config.optim)
    schedule = lr_schedule(config.optim, data.steps_per_epoch())
    return Workload(config, device, data, method, optimizer, schedule, synthetic)
