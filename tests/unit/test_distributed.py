"""harness.distributed and the pipelines' sharding: what each rank of a multi-task run trains on, and
that 2 gloo ranks under DDP make the update one process makes on the whole batch (the contrastive
losses' negatives gathered across ranks; accumulation all-reducing once per step).
(The DDP run itself, through a real SLURM job, is in test_slurm.py.)"""

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn

from harness.data import build_data
from harness.distributed import Context

from configs import CPU, digits_config, folder_config, write_tree
from two_ranks import SCENARIOS, WORLD, rank_worker, step


def shares(make_pipeline, world_size: int, epoch: int = 1):
    """Per step, each rank's views, from one pipeline per rank as the ranks of a job build them."""
    ranks = []
    for rank in range(world_size):
        pipe = make_pipeline()
        pipe.shard(rank, world_size)
        ranks.append(list(pipe.train_batches(epoch)))
    return ranks


@pytest.mark.parametrize("world_size", [2, 4])
def test_rank_shares_make_up_the_global_batch(world_size):
    make = lambda: build_data(digits_config(), n_views=2, device=CPU)  # noqa: E731
    whole = list(make().train_batches(1))
    ranks = shares(make, world_size)
    assert all(len(r) == len(whole) for r in ranks)  # every rank takes every step
    for step, views in enumerate(whole):
        for v, view in enumerate(views):
            parts = [ranks[r][step][v] for r in range(world_size)]
            assert all(len(p) == 128 // world_size for p in parts)
            assert torch.equal(torch.cat(parts), view)


def test_imagefolder_rank_shares_make_up_the_global_batch(tmp_path):
    write_tree(tmp_path)
    make = lambda: build_data(folder_config(tmp_path), n_views=2, device=CPU)  # noqa: E731
    whole = list(make().train_batches(0))
    ranks = shares(make, 2, epoch=0)
    for step, views in enumerate(whole):
        for v, view in enumerate(views):
            assert torch.equal(torch.cat([ranks[0][step][v], ranks[1][step][v]]), view)


def test_global_batch_must_split_evenly():
    pipe = build_data(digits_config(), n_views=2, device=CPU)
    with pytest.raises(ValueError, match=r"optim\.batch_size=128 .* 3 tasks"):
        pipe.shard(0, 3)


def test_a_single_process_is_left_alone():
    ctx = Context()
    model = nn.BatchNorm1d(4)
    t = torch.tensor([1.0, float("nan")])
    assert ctx.is_main and not ctx.active
    assert ctx.wrap(model, sync_bn=True, device=CPU) is model
    assert ctx.mean(t) is t and ctx.mean_float(0.5) == 0.5 and ctx.sum_int(7) == 7
    assert ctx.any(True) and not ctx.any(False)
    assert ctx.device("cuda") == torch.device("cuda")


def test_ranks_pick_their_own_gpu():
    assert Context(rank=3, world_size=4, local_rank=1).device("cuda") == torch.device("cuda", 1)
    assert Context(rank=3, world_size=4, local_rank=1).device("cpu") == CPU


def test_sync_bn_on_the_cpu_is_refused():
    with pytest.raises(ValueError, match=r"optim\.sync_bn=false"):
        Context(rank=0, world_size=2).wrap(nn.BatchNorm1d(4), sync_bn=True, device=CPU)


# ---- 2 gloo ranks against one process on the whole batch (scenarios in two_ranks.py) -------------
# In float64 a rank's loss and gradients equal one process's on the whole batch to 1e-10 relative
# (summation order only); without the gather they differ by several percent.

TOL = 1e-10


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Each rank's results of two_ranks.SCENARIOS and checks, from one spawn of 2 gloo processes."""
    tmp = tmp_path_factory.mktemp("ranks")
    mp.spawn(rank_worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD, join=True)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def relative_error(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    diff = torch.cat([(a[k] - b[k]).flatten() for k in a]).norm()
    return (diff / torch.cat([b[k].flatten() for k in b]).norm()).item()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_two_ranks_make_the_update_of_one_process_on_the_whole_batch(two_ranks, name):
    single = step(name, Context())
    for rank in two_ranks:
        assert rank[name]["loss"] == pytest.approx(single["loss"], rel=TOL)
        assert relative_error(rank[name]["grads"], single["grads"]) < TOL


@pytest.mark.parametrize("name", ["simclr", "mocov3"])
def test_without_the_gather_two_ranks_train_on_fewer_negatives(two_ranks, name):
    # The control: the equality above holds because of the gather (measured: ~0.3 relative).
    single = step(name, Context())
    rank = two_ranks[0]["no_gather"][name]
    assert rank["loss"] != pytest.approx(single["loss"], rel=1e-3)
    assert relative_error(rank["grads"], single["grads"]) > 0.01


def test_accumulation_under_ddp_all_reduces_once_per_step(two_ranks):
    counts = two_ranks[0]["all_reduces"]
    assert counts[1] >= 1  # the buckets of one backward
    assert counts[4] == counts[1]  # no_sync on the first 3 of 4 micro-batches: not 4x


def test_distributed_nt_xent_equals_lightlys_gathered_one(two_ranks):
    for ours, theirs, our_grad, their_grad in (rank["lightly"] for rank in two_ranks):
        assert ours == pytest.approx(theirs, rel=1e-12)  # float64
        assert torch.allclose(our_grad, their_grad, rtol=1e-10, atol=1e-14)


def test_sync_batchnorm_keeps_the_relu_of_timm_s_norm_and_act_layers():
    """SK convs (timm's BatchNormAct2d: BN then ReLU in one module) must keep their ReLU under
    optim.sync_bn; torch's converter would leave a bare SyncBatchNorm."""
    from timm.layers import BatchNormAct2d, SyncBatchNormAct

    from harness.distributed import sync_batchnorm
    from harness.nets.backbones import small_cnn

    net, _ = small_cnn(1, 8, selective_kernels=True)
    acts = sum(isinstance(m, BatchNormAct2d) for m in net.modules())
    sync_batchnorm(net)
    synced = [m for m in net.modules() if isinstance(m, SyncBatchNormAct)]
    assert acts and len(synced) == acts and all(isinstance(m.act, nn.ReLU) for m in synced)
    assert not any(type(m) is nn.BatchNorm2d for m in net.modules())  # the plain ones converted too
