"""What the training benchmark runs: one run as train.set_up builds it, stepped by train.train_step,
the training loop's own step (with its per-step monitors), on the harness pipeline's batches or on
any others (the reference pipeline's, or one batch again and again for the compute alone).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from harness.config import RunConfig
from harness.data import build_data
from harness.data.pipeline import InMemoryPipeline
from harness.train import Diverged, Training, set_up, train_step

from harness.bench.synthetic import synthetic_data

# Named workloads: what `--workload NAME` stands for.
WORKLOADS = {
    # The CIFAR-shaped workload of the performance targets: CIFAR ResNet-18, 32 px, batch 256, on
    # synthetic images (no download needed).
    "cifar": {"preset": "cifar10", "set": ["optim.batch_size=256"], "synthetic": True},
}


class NonFiniteLoss(Exception):
    """The measured run diverged: its loss is NaN or infinite, so its steps time nothing a run does."""

    def __init__(self, step: int):
        super().__init__(f"the loss is not finite at benchmark step {step}, as `harness run` would find it "
                         "(a diverged run): lower optim.base_lr (--set), or fix the method's loss")


@dataclass
class Workload:
    training: Training
    synthetic: bool
    steps_taken: int = 0

    @property
    def config(self) -> RunConfig:
        return self.training.config

    @property
    def device(self) -> torch.device:
        return self.training.device

    @property
    def data(self) -> InMemoryPipeline:
        return self.training.data

    @property
    def method(self):
        return self.training.method

    @property
    def batch_size(self) -> int:
        return self.config.optim.batch_size

    @property
    def n_views(self) -> int:
        return self.data.n_views

    def split_size(self, split: str) -> int:
        return len(self.data.splits[split])

    def step(self, views: list[torch.Tensor]) -> None:
        """train.train_step on these views, at the next step of the run's lr schedule (from its start
        again after the last)."""
        try:
            train_step(self.training, views, self.steps_taken % len(self.training.schedule))
        except Diverged:
            raise NonFiniteLoss(self.steps_taken) from None
        self.steps_taken += 1

    def batches(self) -> Iterator[list[torch.Tensor]]:
        """The harness pipeline's training batches, epoch after epoch."""
        for epoch in itertools.count(1):
            yield from self.data.train_batches(epoch)


def build_workload(config: RunConfig, synthetic: bool = False) -> Workload:
    """One run as train.set_up builds it, on its dataset or (synthetic) random images of its shape."""

    def in_memory(config: RunConfig, views: int, device: torch.device) -> InMemoryPipeline:
        data = synthetic_data(config, views, device) if synthetic else build_data(config, views, device)
        if not isinstance(data, InMemoryPipeline):
            raise ValueError(
                f"harness bench measures the in-memory pipelines (digits, cifar10, cifar100), not "
                f"data.dataset={config.data.dataset!r}: its per-image DataLoader is the reference already"
            )
        return data

    return Workload(set_up(config, in_memory), synthetic)
