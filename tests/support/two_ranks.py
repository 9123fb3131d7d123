"""The 2-rank scenarios of test_distributed.py: each spawned rank imports this module only (not the
test modules and their data loaders), so the spawn stays short.

A BN-free network (a one-block ViT, LayerNorm only; heads without BN), in float64, so that the only
differences between 2 ranks and one process on the whole batch are summation orders."""

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from harness.accumulation import accumulate_gradients
from harness.config import RunConfig
from harness.distributed import Context
from harness.methods import losses
from harness.methods.factory import build_method

CPU = torch.device("cpu")
WORLD, BATCH = 2, 8
SCENARIOS = {  # name: (method section, accumulate_steps)
    "simclr": ({"name": "simclr", "temperature": 0.5}, 1),
    "mocov3": ({"name": "mocov3", "temperature": 0.2}, 1),
    "byol_beta": ({"name": "byol", "beta": 0.5, "temperature": 0.3}, 1),
    "simsiam_accumulated": ({"name": "simsiam"}, 2),  # a per-sample loss: no_sync keeps the update
}


def bn_free_config(method: dict, accumulate: int = 1) -> RunConfig:
    return RunConfig.model_validate({
        "method": method,
        "backbone": {"name": "vit", "vit": {"patch_size": 4, "dim": 8, "depth": 1, "heads": 2}},
        "heads": {"bn": "none"},
        "projector": {"layers": 2, "hidden_dim": 16, "out_dim": 16},
        "predictor": {"kind": "none" if method["name"] == "simclr" else "mlp", "hidden_dim": 8},
        "data": {"dataset": "digits", "image_size": 8},
        "optim": {"batch_size": BATCH, "micro_batch_size": BATCH // accumulate, "sync_bn": False},
    })


def global_views() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(BATCH, 1, 8, 8, generator=g, dtype=torch.float64) for _ in range(2)]


def step(name: str, ctx: Context) -> dict:
    """One forward and backward of a scenario on this rank's share (all of it in one process):
    the global batch's loss and the (DDP-averaged) gradients."""
    method, accumulate = SCENARIOS[name]
    torch.manual_seed(0)
    m = build_method(bn_free_config(method, accumulate), 1).double()
    share = [v.chunk(ctx.world_size)[ctx.rank] for v in global_views()]
    out = accumulate_gradients(ctx.wrap(m, sync_bn=False, device=CPU), share, accumulate)
    grads = {k: p.grad.clone() for k, p in m.named_parameters() if p.requires_grad}
    return {"loss": ctx.mean(out.loss).item(), "grads": grads}


def count_all_reduces(ctx: Context, accumulate: int) -> int:
    """All-reduce calls of one DDP step with `accumulate` micro-batches."""
    torch.manual_seed(0)
    model = ctx.wrap(build_method(bn_free_config({"name": "simsiam"}, accumulate), 1), sync_bn=False, device=CPU)
    calls = []

    def hook(state, bucket):
        calls.append(bucket.index())
        return allreduce_hook(state, bucket)

    model.register_comm_hook(None, hook)
    accumulate_gradients(model, [v.float().chunk(2)[ctx.rank] for v in global_views()], accumulate)
    return len(calls)


def lightly_nt_xent(ctx: Context):
    """Ours against lightly's NTXentLoss(gather_distributed=True) on this rank's embeddings."""
    from lightly.loss import NTXentLoss

    g = torch.Generator().manual_seed(ctx.rank)
    z1, z2 = (torch.randn(4, 16, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    ours = losses.nt_xent(z1, z2, 0.5)
    theirs = NTXentLoss(temperature=0.5, gather_distributed=True)(z1, z2)
    return (ours.item(), theirs.item(), torch.cat(torch.autograd.grad(ours, [z1, z2])),
            torch.cat(torch.autograd.grad(theirs, [z1, z2])))


def rank_worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    ctx = Context(rank, WORLD)
    results = {name: step(name, ctx) for name in SCENARIOS}
    gather = losses.gather
    losses.gather = lambda t: (t, 0)  # the gather removed: each rank's negatives are its own share
    results["no_gather"] = {name: step(name, ctx) for name in ("simclr", "mocov3")}
    losses.gather = gather
    results["all_reduces"] = {k: count_all_reduces(ctx, k) for k in (1, 4)}
    results["lightly"] = lightly_nt_xent(ctx)
    torch.save(results, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()
