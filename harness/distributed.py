"""Several processes training one run: torch.distributed set up from a SLURM job, DDP, SyncBN, and
the few collective operations the training loop and the losses need.

One task per device. `optim.batch_size` is the global batch: every rank draws the same global batch
and trains on its share of it (data/pipeline.py, `DataPipeline.shard`) and DDP averages the
gradients. The contrastive losses (SimCLR's NT-Xent, MoCo v3's InfoNCE, BYOL's beta term) take
their negatives from the whole global batch through `gather`, as the official code does (MoCo v3's
`concat_all_gather`, SimCLR's cross-replica concat). So each update is the one a single process
would make on the whole batch, exactly for a network without BatchNorm and with `optim.sync_bn` for
one with it (its statistics then come from the global batch too; torch's SyncBatchNorm runs on GPUs
only): tests/unit/test_distributed.py checks it on 2 ranks. Without SyncBN, BatchNorm sees each rank's share.
Rank 0 alone evaluates the kNN monitor, logs, and writes curves, checkpoints and the summary. The
logged loss is the global batch's; the logged output std is the mean of the ranks' stds.

A single process (the local executor, a one-task SLURM job) never sets up a process group: `current()`
is then rank 0 of 1 and every helper below is the identity, so its curves are bitwise those of the
plain loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

# Rank 0 evaluates kNN and writes checkpoints while the others wait in the next collective: give
# it far longer than torch's default before a waiting rank gives up.
COLLECTIVE_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def device(self, name: str) -> torch.device:
        """This rank's device: with several ranks, 'cuda' means the rank's own GPU."""
        device = torch.device(name)
        if self.active and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, method: nn.Module, sync_bn: bool, device: torch.device) -> nn.Module:
        """The module the loop calls forward on: DDP around the method (BatchNorm converted to
        SyncBatchNorm in place if asked), or the method itself in a single process."""
        if not self.active:
            return method
        if sync_bn:
            if device.type != "cuda":
                raise ValueError(
                    f"optim.sync_bn=true needs GPUs (torch's SyncBatchNorm does not run on {device.type}); "
                    "set optim.sync_bn=false for a multi-task CPU run"
                )
            sync_batchnorm(method)
        return DistributedDataParallel(method, device_ids=[device] if device.type == "cuda" else None)

    def _comm_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over ranks, on every rank."""
        if not self.active:
            return tensor
        total = tensor.detach().to(self._comm_device(), copy=True)
        dist.all_reduce(total)
        return (total / self.world_size).to(tensor.device)

    def mean_float(self, value: float) -> float:
        return value if not self.active else self.mean(torch.tensor(value, dtype=torch.float64)).item()

    def sum_int(self, value: int) -> int:
        if not self.active:
            return value
        total = torch.tensor(value, dtype=torch.int64, device=self._comm_device())
        dist.all_reduce(total)
        return int(total.item())

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on some rank: a decision all ranks take together."""
        return self.sum_int(int(flag)) > 0 if self.active else flag


def current() -> Context:
    """The process group this process belongs to, if any (set up by `init_from_slurm`)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def gather(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every rank's `tensor` concatenated along dim 0 in rank order, the same on every rank, and the
    row where this rank's own rows start in it. A single process gets the tensor itself and 0.

    The gradient flows back: each rank's rows receive the sum over ranks of the gradients that reach
    them (a reduce-scatter), as through SimCLR's cross-replica concat (tf2/objective.py). Each rank's
    loss is the mean over its own anchors and DDP averages the weights' gradients over ranks, so the
    update is the gradient of the global batch's mean loss. (torch.distributed.nn's all_gather, which
    does the same, is deprecated in favour of this functional collective.)"""
    ctx = current()
    if not ctx.active:
        return tensor, 0
    return funcol.all_gather_single(tensor, gather_dim=0, group=dist.group.WORLD), ctx.rank * len(tensor)


def init_from_slurm(device: str) -> Context:
    """In a SLURM job with several tasks, join them in one process group (env:// through
    submitit's TorchDistributedEnvironment): gloo on the CPU, NCCL on GPUs. A one-task job stays
    a single process."""
    import submitit

    if submitit.JobEnvironment().num_tasks == 1:
        return Context()
    # The job's GPUs may be any ids: leave CUDA_VISIBLE_DEVICES alone and pick by local rank.
    env = submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    return current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def sync_batchnorm(method: nn.Module) -> None:
    """The method's BatchNorm children replaced in place by SyncBatchNorm: by timm's converter, which
    keeps the activation inside timm's BatchNormAct2d (SK convs, nets/simclr_resnet.py) where torch's
    would put a bare SyncBatchNorm in its place and drop the ReLU; plain BatchNorm it converts as torch's."""
    from timm.layers import convert_sync_batchnorm

    convert_sync_batchnorm(method)

