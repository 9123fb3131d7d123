"""The gradient norm of an encoder's first and last layer: how MoCo v3 (Fig. 4) saw its instability,
spikes in the first layer's gradient (the ViT's patch projection) a few iterations before the kNN
accuracy dips. A layer is a Conv2d or Linear (the ViT's patch projection is its first)."""

from __future__ import annotations

import torch
import torch.nn as nn


def first_and_last_layers(encoder: nn.Module) -> tuple[nn.Module, nn.Module]:
    layers = [m for m in encoder.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError(f"{type(encoder).__name__} has no Conv2d or Linear layer to monitor")
    return layers[0], layers[-1]


def grad_norm(layer: nn.Module) -> float | None:
    """L2 norm over the layer's gradients (weight and bias), None when it has none (frozen)."""
    grads = [p.grad for p in layer.parameters() if p.grad is not None]
    if not grads:
        return None
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
