"""Gradient accumulation: one optimizer step's gradients from k micro-batches of batch_size / k.

Each micro-batch's loss is scaled by 1/k and back-propagated at once (freeing its activations), so the
summed gradients are those of the mean loss over the whole batch for any loss that is a mean over
samples, at the memory cost of one micro-batch. What does not carry over: BatchNorm computes its
statistics per micro-batch, and a contrastive loss (SimCLR, MoCo v3, BYOL's beta term) draws its
negatives from the micro-batch only (from every rank's micro-batch with several ranks). Both change
the result, not just its cost; summary.json says so.

Under DDP the gradients are all-reduced once, after the last micro-batch: the others run inside
DDP's no_sync, which leaves their gradients in place to be summed into the last one's all-reduce.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from harness.data.pipeline import Batch
from harness.methods.base import StepOutput

CAVEAT = (
    "gradients accumulated over {k} micro-batches of {micro}: BatchNorm statistics (and a contrastive "
    "loss's negatives) come from each micro-batch of {micro}, not from the batch of {batch}"
)


def micro_batches(views: list[torch.Tensor], steps: int) -> list[Batch]:
    """`views` in `steps` equal micro-batches, each with its images' indices when the batch has them."""
    indices = getattr(views, "indices", None)  # a plain list of views (harness bench's) has none
    index_chunks = indices.chunk(steps) if indices is not None else [None] * steps
    return [Batch(list(chunk), i) for chunk, i in zip(zip(*(v.chunk(steps) for v in views)), index_chunks)]


def accumulate_gradients(model: nn.Module, views: list[torch.Tensor], steps: int) -> StepOutput:
    """Forward and backward over `steps` equal micro-batches of `views`, through `model`: the method,
    or DDP around it. Returns the mean loss (detached) and the embeddings of every micro-batch, in
    batch order."""
    ddp = isinstance(model, DistributedDataParallel)
    losses, embeddings, pre_bn = [], [], []
    for i, chunk in enumerate(micro_batches(views, steps)):
        with model.no_sync() if ddp and i < steps - 1 else contextlib.nullcontext():
            out = model(chunk)
            (out.loss / steps).backward()
        losses.append(out.loss.detach())
        embeddings.append(out.embedding.detach())
        pre_bn.append(out.embedding_pre_bn.detach())
    return StepOutput(loss=torch.stack(losses).mean(), embedding=torch.cat(embeddings),
                      embedding_pre_bn=torch.cat(pre_bn))
