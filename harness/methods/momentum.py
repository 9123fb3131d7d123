"""Momentum (EMA) targets, shared by BYOL's target network and MoCo v3's momentum encoder."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


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
