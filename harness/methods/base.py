"""What every method gives the one training loop.

A method is an nn.Module that builds its networks from the RunConfig and turns a list of augmented
views into a loss. The loop never branches on the method: everything method-specific (stop-gradient,
predictor variants, symmetrization, target networks) lives behind this interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class StepOutput:
    loss: torch.Tensor
    embedding: torch.Tensor  # projector output z of the first view: what the std monitor watches


class Method(nn.Module):
    encoder: nn.Module  # the backbone; the kNN monitor and probes read its features
    embed_dim: int  # dimension of `StepOutput.embedding`, for the 1/sqrt(d) reference

    def forward(self, views: list[torch.Tensor]) -> StepOutput:
        raise NotImplementedError

    def param_groups(self) -> list[dict]:
        """Optimizer groups: {"name", "params", "fixed_lr": bool, "lr_mult": float}.
        A fixed_lr group keeps the peak lr instead of following the schedule."""
        raise NotImplementedError

    def after_step(self, step: int, total_steps: int) -> None:
        """Called after each optimizer step (e.g. to update a momentum target)."""
