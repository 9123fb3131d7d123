"""LARS (You et al., 2017) as BYOL and SimCLR use it: SGD with momentum whose update of each weight
tensor is rescaled by the trust ratio eta * ||w|| / ||g + wd * w||.

Biases and normalization parameters (every tensor with at most one dimension) are excluded from both
weight decay and the trust ratio (BYOL App. C; SimCLR's `exclude_from_weight_decay`), so they follow
plain SGD with momentum. So is every tensor of a parameter group with `adapt: False` (SimCLR's
fine-tuning classifier, `head_supervised`).

Where the lr goes (the two differ only while the lr changes: over a warm-up and cosine, 3e-2 relative):
- by default outside the momentum buffer, as torch.optim.SGD, MoCo v3's and BYOL's LARS:
  v = m v + u, w -= lr v, with u the (adapted) update;
- `classic_momentum`, SimCLR's LARS (google-research/simclr tf2/lars_optimizer.py, its default):
  inside it, v = m v + lr u, w -= v.
"""

from __future__ import annotations

import torch


def excluded(p: torch.Tensor) -> bool:
    """Biases, BN and LayerNorm parameters: no weight decay, no adaptation."""
    return p.ndim <= 1


class LARS(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 0.001, classic_momentum: bool = False):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                        classic_momentum=classic_momentum)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        # A checkpoint written before classic_momentum existed resumes with the lr outside the buffer.
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("classic_momentum", False)

    @staticmethod
    def trust_ratio(p: torch.Tensor, update: torch.Tensor, eta: float) -> torch.Tensor:
        """eta * ||w|| / ||update||, or 1 where either norm is 0 (a fresh zero tensor, no gradient)."""
        w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
        one = torch.ones_like(w_norm)
        return torch.where((w_norm > 0) & (u_norm > 0), eta * w_norm / u_norm, one)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if not excluded(p) and group.get("adapt", True):
                    update = update.add(p, alpha=group["weight_decay"])
                    update = update.mul(self.trust_ratio(p, update, group["trust_coefficient"]))
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                if group["classic_momentum"]:
                    buf.mul_(group["momentum"]).add_(update, alpha=group["lr"])
                    p.sub_(buf)
                else:
                    buf.mul_(group["momentum"]).add_(update)
                    p.add_(buf, alpha=-group["lr"])
        return loss
