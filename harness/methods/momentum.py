"""Momentum (EMA) targets, shared by BYOL's target network and MoCo v3's momentum encoder (and SimSiam
Sec. 5.2's snapshot, an EMA of rate 0 every k-th step and 1 otherwise): the EMA rate's schedule, the
update, and MomentumTarget, the method that keeps one."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn

from harness.config import RunConfig
from harness.methods.base import Method, encoder_and_projector


def momentum_at(base: float, step: int, total_steps: int, schedule: str) -> float:
    """The EMA rate at step k of K. cosine (BYOL Sec. 3.2, MoCo v3's --moco-m-cos):
    1 - (1 - base) * (cos(pi k / K) + 1) / 2, from `base` at k = 0 up to 1 at k = K; constant: base."""
    if schedule == "constant":
        return base
    return 1 - (1 - base) * (math.cos(math.pi * step / total_steps) + 1) / 2


@torch.no_grad()
def ema_update(targets: list[nn.Module], onlines: list[nn.Module], tau: float) -> None:
    """target <- tau * target + (1 - tau) * online, parameter by parameter. Exact at the ends: tau = 1
    leaves the target as it is, tau = 0 copies the online weights. Buffers (BN running statistics)
    are the target's own: it runs in train mode, on batch statistics, like the online network."""
    for target, online in zip(targets, onlines):
        for t, o in zip(target.parameters(), online.parameters()):
            t.mul_(tau).add_(o, alpha=1 - tau)


class MomentumTarget(Method):
    """A method with an EMA copy of its encoder and projector that the optimizer never sees: BYOL's
    target network, MoCo v3's momentum encoder. The subclass names the two networks (`target_names`:
    its attributes, and so its checkpoints' keys), builds them after its online branch, reads them
    through `target` and moves them after each step with `update_target`."""

    target_names: tuple[str, str]

    def build_target(self, config: RunConfig, in_channels: int, independent: bool = False) -> None:
        """Copies of the online encoder and projector, or (independent) networks of their own init."""
        if independent:
            networks = encoder_and_projector(config, in_channels)
        else:
            networks = (copy.deepcopy(self.encoder), copy.deepcopy(self.projector))
        for name, network in zip(self.target_names, networks):
            setattr(self, name, network.requires_grad_(False))

    @torch.no_grad()
    def target(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each view's projection by the target: never differentiated, its own stop-gradient."""
        encoder, projector = (getattr(self, name) for name in self.target_names)
        return [projector(encoder(v)) for v in views]

    def update_target(self, base: float, step: int, total_steps: int, schedule: str) -> None:
        """The EMA toward the online encoder and projector, at the rate momentum_at(base, step, ...)."""
        targets = [getattr(self, name) for name in self.target_names]
        ema_update(targets, [self.encoder, self.projector], momentum_at(base, step, total_steps, schedule))
