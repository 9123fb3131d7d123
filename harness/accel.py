"""The speed switches of a run (RunConfig.runtime): bf16 autocast, channels_last, torch.compile.

All three are off by default and work on the CPU as on a GPU (bf16 autocast and channels_last convs
run on the CPU too, which is how the tests exercise them). What each one costs or buys on a given
machine is for `harness bench --set runtime.<switch>=...` to say.

- precision "bf16": forward passes (training and the kNN monitor's embeddings) run under
  torch.autocast in bfloat16; weights, gradients and the optimizer stay in fp32. No loss scaling is
  needed (bf16 has fp32's exponent range). It changes the numbers, so it is part of the run id.
- channels_last: the model's 4-D weights and the training views in NHWC, the layout cuDNN's and
  oneDNN's fast convolutions want. Same math, other kernels: not part of the run id.
- compile: the method's forward (networks and loss) through torch.compile, in place, so the state
  dict and the checkpoints keep their keys. Not part of the run id; the first steps pay the
  compilation.

Pinned memory and non-blocking copies need no switch: the in-memory datasets are copied to the
device once, and the ImageFolder loader pins its batches whenever the device is a GPU.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harness.config import Runtime
from harness.data.pipeline import Batch


def autocast(runtime: Runtime) -> torch.autocast:
    """The autocast context of the run's precision (a no-op for fp32)."""
    device_type = torch.device(runtime.device).type
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=runtime.precision == "bf16")


def prepare_model(model: nn.Module, runtime: Runtime) -> nn.Module:
    """Applies channels_last and compile to a model already on its device; returns the same module."""
    if runtime.channels_last:
        model.to(memory_format=torch.channels_last)
    if runtime.compile:
        model.compile()
    return model


def to_memory_format(views: list[torch.Tensor], runtime: Runtime) -> list[torch.Tensor]:
    """The training views in the model's memory format."""
    if not runtime.channels_last:
        return views
    return Batch([v.contiguous(memory_format=torch.channels_last) for v in views], getattr(views, "indices", None))
