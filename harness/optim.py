"""Optimizer and lr schedule. The schedule is precomputed as one lr per step (as DINO does), so the
loop just indexes it, and a resumed run continues on exactly the same values."""

from __future__ import annotations

import math

import numpy as np
import torch

from harness.config import Optim
from harness.lars import LARS
from harness.methods.base import Method


def peak_lr(optim: Optim) -> float:
    """The linear scaling rule (Goyal et al.): base_lr x batch / 256; or SimCLR's square-root rule
    (v2; tf2/model.py): base_lr x sqrt(batch), so 0.075 at 4096 is the linear rule's 0.3. Times the
    scale's lr_multiplier (1 at the papers' scale)."""
    base = optim.base_lr * optim.lr_multiplier
    if optim.lr_scaling == "linear":
        return base * optim.batch_size / 256
    return base * math.sqrt(optim.batch_size)


def lr_schedule(optim: Optim, steps_per_epoch: int) -> np.ndarray:
    """Linear warm-up over `warmup_epochs`, then cosine decay to 0, one value per step.

    Against the official code (FIDELITY 19; the numbers are kept, so existing runs keep theirs):
    - warm-up start: step k of W gets peak * (k + 1) / W, from peak / W up to the peak at its last
      step. MoCo v3 (main_moco.py), SimCLR (tf2/model.py) and BYOL (utils/schedules.py) give
      peak * k / W, from 0: the harness is one step ahead.
    - decay granularity: per step, as MoCo v3, SimCLR and BYOL. SimSiam's main_simsiam.py (which has
      no warm-up code) sets the lr once per epoch, at the epoch's start: the harness's lr falls below
      that staircase within an epoch, by at most peak * pi / (2 * epochs) (1.6% of the peak at 100).
    """
    total, warmup = optim.epochs * steps_per_epoch, optim.warmup_epochs * steps_per_epoch
    peak = peak_lr(optim)
    warm = peak * (np.arange(warmup) + 1) / max(warmup, 1)
    t = np.arange(total - warmup) / max(total - warmup, 1)
    return np.concatenate([warm, peak * 0.5 * (1 + np.cos(math.pi * t))])


def build_optimizer(method: Method, optim: Optim) -> torch.optim.Optimizer:
    groups = []
    for g in method.param_groups():
        params = [p for p in g["params"] if p.requires_grad]
        if params:
            groups.append({**g, "params": params, "lr": peak_lr(optim) * g["lr_mult"]})
    lr, wd = peak_lr(optim), optim.weight_decay
    if optim.name == "lars":
        return LARS(groups, lr=lr, momentum=optim.momentum, weight_decay=wd, trust_coefficient=optim.trust_coefficient,
                    classic_momentum=optim.classic_momentum)
    if optim.name == "adamw":  # MoCo v3: AdamW's default betas, weight decay on every parameter
        return torch.optim.AdamW(groups, lr=lr, weight_decay=wd)
    return torch.optim.SGD(groups, lr=lr, momentum=optim.momentum, weight_decay=wd)


def set_lr(optimizer: torch.optim.Optimizer, lr: float, peak: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = (peak if group["fixed_lr"] else lr) * group["lr_mult"]
