"""The one training loop, for every method.

Stages: determinism and device; data; networks; optimizer and per-step lr schedule; restart from
the checkpoint; the loop (a non-finite loss ends the run as `diverged`); monitors once per epoch
(curves.parquet) and every N steps (steps.parquet); curves and checkpoint written atomically; the
linear probe after the last epoch; the summary last, which marks the run finished.

Randomness comes only from the seed: model init from `seed`, and each epoch's shuffle and
augmentation from (seed, epoch) inside the data pipeline. So a run resumed at epoch e in a new
process replays exactly what an uninterrupted run does, and its curves come out equal.

With several processes (a multi-task SLURM job, harness/distributed.py) each rank trains on its share
of every global batch under DDP, and rank 0 alone evaluates and writes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import torch

from harness import accel, checkpoint, distributed, store
from harness.accumulation import CAVEAT, accumulate_gradients
from harness.config import RunConfig
from harness.data import build_data
from harness.gradnorm import first_and_last_layers, grad_norm
from harness.methods import build_method, n_views
from harness.monitor import collapse_monitors, effective_rank, embed, knn_accuracies
from harness.optim import build_optimizer, lr_schedule, peak_lr, set_lr
from harness.probe import linear_probe
from harness.provenance import code_revision, now, versions
from harness.store import RunState


class Interrupted(BaseException):
    """train() stopped early because `should_stop` asked it to, after writing the checkpoint of
    `epoch`. A BaseException, like KeyboardInterrupt: a request to stop is not a failure of the run."""

    def __init__(self, epoch: int):
        super().__init__(f"stopped on request after epoch {epoch}")
        self.epoch = epoch


def evaluate_knn(method, data, config: RunConfig) -> dict[str, float]:
    with accel.autocast(config.runtime):
        bank, bank_labels = embed(method.encoder, data.eval_batches("train"))
        queries, query_labels = embed(method.encoder, data.eval_batches("test"))
    accuracies = knn_accuracies(bank, bank_labels, queries, query_labels, config.monitor.knn, data.num_classes)
    return {f"knn_top1_{name}": accuracy for name, accuracy in accuracies.items()}


def train(
    config: RunConfig,
    directory: Path,
    labels: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train one run into `directory`, resuming from its checkpoint if there is one.
    Returns the summary (also written to summary.json). `should_stop` is asked after each epoch
    (e.g. SLURM is about to preempt the job); if it says yes, that epoch is checkpointed and
    Interrupted raised."""
    directory = Path(directory)
    dist = distributed.current()  # rank 0 of 1 unless a multi-task SLURM job set up several
    # -- determinism and device
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if config.runtime.threads:
        torch.set_num_threads(config.runtime.threads)
    device = dist.device(config.runtime.device)

    # -- data and networks; with several ranks, each trains on its share of every global batch
    data = build_data(config, n_views(config), device)
    data.shard(dist.rank, dist.world_size)
    method = accel.prepare_model(build_method(config, data.channels).to(device), config.runtime)
    model = dist.wrap(method, config.optim.sync_bn, device)  # DDP, or the method itself

    # -- optimizer and schedule
    optimizer = build_optimizer(method, config.optim)
    steps_per_epoch = data.steps_per_epoch()
    schedule = lr_schedule(config.optim, steps_per_epoch)
    total_steps, peak = len(schedule), peak_lr(config.optim)
    std_ref = 1 / math.sqrt(method.embed_dim)
    accumulate = config.optim.accumulate_steps
    every, knn_every = config.monitor.every_steps, config.monitor.knn_every_steps
    first_layer, last_layer = first_and_last_layers(method.encoder)

    # -- restart: the checkpoint holds the model, the optimizer and the curve rows up to its epoch
    rows: list[dict] = []
    step_rows: list[dict] = []  # steps.parquet: the per-step monitors
    start_epoch, elapsed = 1, 0.0
    state = checkpoint.load_latest(directory)
    if state is not None:
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rows, start_epoch, elapsed = state["curves"], state["epoch"] + 1, state["elapsed"]
        step_rows = state.get("steps", [])
    elif config.monitor.knn_at_init and dist.is_main:
        rows.append({"epoch": 0, "step": 0, **evaluate_knn(method, data, config)})
    started = time.perf_counter() - elapsed

    summary = {
        "status": RunState.DONE,
        "run_id": config.run_id(),
        "labels": labels or {},
        "embed_dim": method.embed_dim,
        "output_std_ref": std_ref,
        "chance": 1 / data.num_classes,
        "steps_per_epoch": steps_per_epoch,
        "world_size": dist.world_size,
        "versions": versions(),
        "code_revision": code_revision(),
    }
    if accumulate > 1:
        batch = config.optim.batch_size
        summary["notes"] = [CAVEAT.format(k=accumulate, micro=batch // accumulate, batch=batch)]

    # -- the loop
    method.train()
    for epoch in range(start_epoch, config.optim.epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum, collapse, n = 0.0, {}, 0
        for i, views in enumerate(data.train_batches(epoch)):
            step = (epoch - 1) * steps_per_epoch + i
            set_lr(optimizer, float(schedule[step]), peak)
            optimizer.zero_grad(set_to_none=True)
            with accel.autocast(config.runtime):  # bf16 autocast when runtime.amp says so
                views = accel.to_memory_format(views, config.runtime)
                out = accumulate_gradients(model, views, accumulate)  # forward and backward (DDP averages)
            loss = dist.mean(out.loss)  # the global batch's loss, the same on every rank
            if epoch == start_epoch and i == 0:  # measured: what the ranks' shares add up to
                summary["global_batch"] = dist.sum_int(len(views[0]))
            if not torch.isfinite(loss):
                summary.update(status=RunState.DIVERGED, diverged_at={"epoch": epoch, "step": step})
                return _finish(directory, summary, rows, started, step_rows, write=dist.is_main)
            # Per-step row, keyed by the number of steps taken (as curves' `step`): this step's loss,
            # lr and gradient norms (before the update), kNN after it.
            step_row = {}
            if every and (step + 1) % every == 0:
                step_row = {"epoch": epoch, "step": step + 1, "loss": loss.item(), "lr": float(schedule[step]),
                            "grad_norm_first": grad_norm(first_layer), "grad_norm_last": grad_norm(last_layer)}
            optimizer.step()
            method.after_step(step, total_steps)
            if dist.is_main and knn_every and (step + 1) % knn_every == 0:
                step_row = {"epoch": epoch, "step": step + 1, **step_row, **evaluate_knn(method, data, config)}
            if step_row:
                step_rows.append(step_row)
            loss_sum += loss.item()
            for key, value in collapse_monitors(out.embedding.detach(), out.embedding_pre_bn.detach()).items():
                collapse[key] = collapse.get(key, 0.0) + value
            n += 1
        rank = effective_rank(out.embedding.detach())  # of the epoch's last batch: an SVD once per epoch

        row = {
            "epoch": epoch,
            "step": epoch * steps_per_epoch,
            "loss": loss_sum / n,
            **{key: dist.mean_float(total / n) for key, total in collapse.items()},
            "output_rank": dist.mean_float(rank),
            "output_std_ref": std_ref,
            "lr": float(schedule[epoch * steps_per_epoch - 1]),
        }
        if dist.is_main and (epoch % config.monitor.every_epochs == 0 or epoch == config.optim.epochs):
            row.update(evaluate_knn(method, data, config))
        row["epoch_seconds"] = time.perf_counter() - epoch_start
        rows.append(row)

        # All ranks stop together, after the same epoch; only rank 0 writes.
        stop = dist.any(should_stop is not None and should_stop()) and epoch < config.optim.epochs
        if not dist.is_main:
            if stop:
                raise Interrupted(epoch)
            continue
        store.write_curves(directory / store.CURVES, rows)
        if step_rows:
            store.write_curves(directory / store.STEPS, step_rows)
        if stop or epoch % config.runtime.checkpoint_every == 0 or epoch == config.optim.epochs:
            checkpoint.save(
                directory / store.CHECKPOINT,
                {
                    "model": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch,
                    "curves": rows,
                    "steps": step_rows,
                    "elapsed": time.perf_counter() - started,
                },
            )
        if on_epoch:
            on_epoch(row)
        if stop:
            raise Interrupted(epoch)
    if not dist.is_main:  # a rank other than 0 in a multi-task run: rank 0 probes and writes
        return summary

    # -- linear probe on the frozen network, into the last curves row (and so the summary)
    if config.probe.enabled and rows and rows[-1]["epoch"] > 0:
        rows[-1]["linear_top1"] = linear_probe(method, data, config.probe, config.seed)
    return _finish(directory, summary, rows, started, step_rows)


def _finish(directory: Path, summary: dict, rows: list[dict], started: float, step_rows=(), write: bool = True) -> dict:
    if not write:  # a rank other than 0 in a multi-task run: rank 0 writes
        return summary
    if rows:
        store.write_curves(directory / store.CURVES, rows)
    if step_rows:
        store.write_curves(directory / store.STEPS, list(step_rows))
    trained = [r for r in rows if r["epoch"] > 0]
    final = trained[-1] if trained else {}
    knn_keys = sorted({k for r in rows for k in r if k.startswith(("knn_top1_", "linear_top1"))})
    summary.update(
        epochs_completed=final.get("epoch", 0),
        final={k: v for k, v in final.items() if k not in ("epoch", "step", "epoch_seconds")},
        best={k: max((r[k] for r in rows if r.get(k) is not None), default=None) for k in knn_keys},
        wall_seconds=time.perf_counter() - started,
        finished_at=now(),
    )
    store.write_json(directory / store.SUMMARY, summary)
    return summary
