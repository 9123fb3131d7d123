"""The one training loop, for every method, in stages (the shape of DINO's main_dino.py):

    set_up           determinism and device; data; networks; optimizer and per-step lr schedule
    restart          the model, optimizer and curve rows of the run's checkpoint, if it has one
    train_one_epoch  each batch through train_step (the update and its per-step monitors), then the
                     epoch's monitors: one row of curves.parquet (and rows of steps.parquet)
    write            curves and steps every epoch (and to runtime.loggers), the checkpoint every
                     runtime.checkpoint_every
    finish           summary.json last: it marks the run (the pretraining) finished; its evaluations
                     are stages after it (harness/stages.py), reading its last checkpoint

A non-finite loss ends the run as `diverged`. `harness bench` times set_up's run and train_step
themselves (harness/bench/workload.py), never a copy of them.

Randomness comes only from the seed: model init from `seed`, and each epoch's shuffle and
augmentation from (seed, epoch) inside the data pipeline. So a run resumed at epoch e in a new
process replays exactly what an uninterrupted run does, and its curves come out equal.

With several processes (a multi-task SLURM job, harness/distributed.py) each rank trains on its share
of every global batch under DDP, and rank 0 alone evaluates and writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from harness import accel, checkpoint, columns, distributed, store
from harness.accumulation import CAVEAT, accumulate_gradients
from harness.config import RunConfig
from harness.data import build_data
from harness.data.pipeline import DataPipeline
from harness.gradnorm import first_and_last_layers, grad_norm
from harness.interrupted import Interrupted  # noqa: F401 - raised here, and where the launcher imports it
from harness.loggers import Loggers, open_loggers
from harness.methods.base import Method
from harness.methods.factory import build_method, n_views
from harness.monitor import collapse_monitors, effective_rank, embed, knn_accuracies
from harness.optim import build_optimizer, lr_schedule, peak_lr, set_lr
from harness.provenance import code_revision, now, versions
from harness.store import RunState


class Diverged(Exception):
    """The loss of `step` is not finite; nothing was updated."""

    def __init__(self, step: int):
        super().__init__(f"non-finite loss at step {step}")
        self.step = step


@dataclass
class Training:
    """One run ready to train: what set_up builds from its config."""

    config: RunConfig
    dist: distributed.Context  # rank 0 of 1 unless a multi-task SLURM job set up several
    device: torch.device
    data: DataPipeline  # this rank's share of every global batch
    method: Method
    model: nn.Module  # what a step calls: DDP around the method with several ranks, else the method
    optimizer: torch.optim.Optimizer
    schedule: np.ndarray  # the lr of every step
    peak: float  # the schedule's peak: the lr of a fixed-lr parameter group
    layers: tuple[nn.Module, nn.Module]  # the encoder's first and last: the gradient-norm monitor

    @property
    def steps_per_epoch(self) -> int:
        return self.data.steps_per_epoch()


@dataclass
class Step:
    """What train_step measured of one batch."""

    loss: float  # the global batch's
    monitors: dict[str, float]  # the collapse monitors of this rank's batch
    embedding: torch.Tensor  # z, detached: the epoch's effective rank reads its last batch's
    row: dict  # for steps.parquet when monitor.every_steps is due: loss, lr, gradient norms; else {}


def set_up(config: RunConfig, make_data: Callable[..., DataPipeline] = build_data) -> Training:
    """Determinism and device, data, networks, optimizer and schedule. `make_data(config, n_views,
    device)` builds the pipeline (harness bench: random images in a dataset's shape)."""
    dist = distributed.current()
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if config.runtime.threads:
        torch.set_num_threads(config.runtime.threads)
    device = dist.device(config.runtime.device)
    data = make_data(config, n_views(config), device)
    data.shard(dist.rank, dist.world_size)  # with several ranks, each trains on its share of every batch
    method = build_network(config, data, device)
    model = dist.wrap(method, config.optim.sync_bn, device)  # DDP (and SyncBN), or the method itself
    return Training(config, dist, device, data, method, model, build_optimizer(method, config.optim),
                    lr_schedule(config.optim, data.steps_per_epoch()), peak_lr(config.optim),
                    first_and_last_layers(method.encoder))


def build_network(config: RunConfig, data: DataPipeline, device: torch.device) -> Method:
    """The run's method on `device`, as training holds it (a stage loads a checkpoint into it)."""
    method = build_method(config, data.channels)
    method.attach_data(data.train_size())  # a per-image state (SimSiam Sec. 5.2's eta), if it keeps one
    return accel.prepare_model(method.to(device), config.runtime)


def due(every: int, step: int) -> bool:
    """Whether a per-step monitor logged every `every` steps (0: never) runs after step `step`."""
    return bool(every) and (step + 1) % every == 0


def knn_due(config: RunConfig, epoch: int) -> bool:
    """Whether the kNN monitor runs after `epoch`: every monitor.every_epochs, and after the last."""
    return epoch % config.monitor.every_epochs == 0 or epoch == config.optim.epochs


def evaluate_knn(t: Training) -> dict[str, float]:
    with accel.autocast(t.config.runtime):
        bank, bank_labels = embed(t.method.encoder, t.data.eval_batches("train"))
        queries, query_labels = embed(t.method.encoder, t.data.eval_batches("test"))
    accuracies = knn_accuracies(bank, bank_labels, queries, query_labels, t.config.monitor.knn, t.data.num_classes)
    return {columns.knn(name): accuracy for name, accuracy in accuracies.items()}


def train_step(t: Training, views: list[torch.Tensor], step: int) -> Step:
    """One optimizer step at the schedule's lr of `step`: forward and backward over the micro-batches
    (DDP averaging the gradients), then the update and the method's after-step (its EMA target). A
    non-finite loss raises Diverged before anything is updated. With it, the per-step monitors: the
    batch's collapse monitors, and, when monitor.every_steps is due, the gradient norms before the update."""
    config = t.config
    lr = float(t.schedule[step])
    set_lr(t.optimizer, lr, t.peak)
    t.optimizer.zero_grad(set_to_none=True)
    with accel.autocast(config.runtime):  # bf16 autocast when runtime.precision says so
        views = accel.to_memory_format(views, config.runtime)
        out = accumulate_gradients(t.model, views, config.optim.accumulate_steps)
    loss = t.dist.mean(out.loss)  # the global batch's loss, the same on every rank
    if not torch.isfinite(loss):
        raise Diverged(step)
    row = {}
    if due(config.monitor.every_steps, step):
        row = {"loss": loss.item(), "lr": lr, "grad_norm_first": grad_norm(t.layers[0]),
               "grad_norm_last": grad_norm(t.layers[1])}
    t.optimizer.step()
    t.method.after_step(step, len(t.schedule))
    embedding = out.embedding.detach()
    return Step(loss.item(), collapse_monitors(embedding, out.embedding_pre_bn.detach()), embedding, row)


def train_one_epoch(t: Training, epoch: int, step_rows: list[dict]) -> dict:
    """One pass over the training split: every batch through train_step, the per-step rows (keyed by
    the number of steps taken, as curves' `step`) appended to `step_rows`, and the epoch's row of
    curves.parquet returned: the means of the per-step monitors, the effective rank, the lr and, when
    due, the kNN accuracies."""
    started = time.perf_counter()
    config, dist, per_epoch = t.config, t.dist, t.steps_per_epoch
    loss_sum, collapse, n = 0.0, {}, 0
    for i, views in enumerate(t.data.train_batches(epoch)):
        step = (epoch - 1) * per_epoch + i
        s = train_step(t, views, step)
        row = s.row
        if dist.is_main and due(config.monitor.knn_every_steps, step):  # after the update
            row = {**row, **evaluate_knn(t)}
        if row:
            step_rows.append({"epoch": epoch, "step": step + 1, **row})
        loss_sum += s.loss
        for key, value in s.monitors.items():
            collapse[key] = collapse.get(key, 0.0) + value
        n += 1
    row = {
        "epoch": epoch,
        "step": epoch * per_epoch,
        "loss": loss_sum / n,
        **{key: dist.mean_float(total / n) for key, total in collapse.items()},
        "output_rank": dist.mean_float(effective_rank(s.embedding)),  # the last batch's: one SVD an epoch
        "output_std_ref": 1 / math.sqrt(t.method.embed_dim),
        "lr": float(t.schedule[epoch * per_epoch - 1]),
    }
    if dist.is_main and knn_due(config, epoch):
        row.update(evaluate_knn(t))
    row[columns.EPOCH_SECONDS] = time.perf_counter() - started
    return row


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
    t = set_up(config)
    rows, step_rows, start, elapsed = restart(t, directory)
    started = time.perf_counter() - elapsed
    summary = new_summary(t, labels)
    # Rank 0 logs; a resumed run's restored rows were logged by the process that trained them. The
    # loggers close however training ends (done, diverged, interrupted, failed).
    logged = (rows, step_rows) if start > 1 else ([], [])
    with open_loggers(config.runtime.loggers if t.dist.is_main else (), directory, summary["run_id"], labels,
                      config.model_dump(mode="json"), logged) as logs:
        t.method.train()
        for epoch in range(start, config.optim.epochs + 1):
            try:
                rows.append(train_one_epoch(t, epoch, step_rows))
            except Diverged as diverged:  # a result, not an error: the report shows it
                summary.update(status=RunState.DIVERGED, diverged_at={"epoch": epoch, "step": diverged.step})
                break
            # All ranks stop together, after the same epoch; only rank 0 writes.
            stop = t.dist.any(should_stop is not None and should_stop()) and epoch < config.optim.epochs
            if t.dist.is_main:
                due_checkpoint = stop or epoch % config.runtime.checkpoint_every == 0 or epoch == config.optim.epochs
                write(t, directory, rows, step_rows, started, logs, with_checkpoint=due_checkpoint)
                if on_epoch:
                    on_epoch(rows[-1])
            if stop:
                raise Interrupted(epoch)
        return finish(t, directory, summary, rows, step_rows, started, logs)


def restart(t: Training, directory: Path) -> tuple[list[dict], list[dict], int, float]:
    """(curve rows, step rows, first epoch to train, seconds trained) from the run's checkpoint, its
    model and optimizer loaded; without one, epoch 0's row (the random network's kNN) when asked."""
    state = checkpoint.load_latest(directory)
    if state is None:
        at_init = t.config.monitor.knn_at_init and t.dist.is_main
        return ([{"epoch": 0, "step": 0, **evaluate_knn(t)}] if at_init else []), [], 1, 0.0
    t.method.load_state_dict(state["model"])
    try:
        t.optimizer.load_state_dict(state["optimizer"])
    except ValueError as e:  # e.g. written before the encoder and projector had their own groups
        raise RuntimeError(f"{directory}: its checkpoint's optimizer groups are not this harness's ({e}); "
                           f"remove the folder to train the run anew") from None
    return state["curves"], state.get("steps", []), state["epoch"] + 1, state["elapsed"]


def new_summary(t: Training, labels: dict | None) -> dict:
    """The summary's fields known before training; finish adds the results."""
    config, share = t.config, t.data.share()
    summary = {
        "status": RunState.DONE,
        "run_id": config.run_id(),
        "labels": labels or {},
        "embed_dim": t.method.embed_dim,
        "output_std_ref": 1 / math.sqrt(t.method.embed_dim),
        "chance": 1 / t.data.num_classes,
        "steps_per_epoch": t.steps_per_epoch,
        "world_size": t.dist.world_size,
        "global_batch": t.dist.sum_int(share.stop - share.start),  # what the ranks' shares add up to
        "versions": versions(),
        "code_revision": code_revision(),
    }
    accumulate = config.optim.accumulate_steps
    if accumulate > 1:
        batch = config.optim.batch_size
        summary["notes"] = [CAVEAT.format(k=accumulate, micro=batch // accumulate, batch=batch)]
    return summary


def write(t: Training, directory: Path, rows: list[dict], step_rows: list[dict], started: float, logs: Loggers,
          with_checkpoint: bool) -> None:
    """The epoch's files: curves (and steps), their new rows to the loggers, and the checkpoint when asked."""
    store.write_curves(directory / store.CURVES, rows)
    if step_rows:
        store.write_curves(directory / store.STEPS, step_rows)
    logs.log(rows, step_rows)
    if with_checkpoint:
        checkpoint.save(directory / store.CHECKPOINT, {
            "model": t.method.state_dict(),
            "optimizer": t.optimizer.state_dict(),
            "epoch": rows[-1]["epoch"],
            "curves": rows,
            "steps": step_rows,
            "elapsed": time.perf_counter() - started,
        })  # fmt: skip


def finish(t: Training, directory: Path, summary: dict, rows: list[dict], step_rows: list[dict],
           started: float, logs: Loggers) -> dict:
    """The run's last files, summary.json last: it marks the run finished (done or diverged)."""
    if not t.dist.is_main:  # rank 0 writes
        return summary
    if rows:
        store.write_curves(directory / store.CURVES, rows)
    if step_rows:
        store.write_curves(directory / store.STEPS, step_rows)
    logs.log(rows, step_rows)
    trained = [r for r in rows if r["epoch"] > 0]
    final = trained[-1] if trained else {}
    accuracies = sorted({k for r in rows for k in r if columns.is_accuracy(k)})
    summary.update(
        epochs_completed=final.get("epoch", 0),
        final={k: v for k, v in final.items() if columns.is_result(k)},
        best={k: max((r[k] for r in rows if r.get(k) is not None), default=None) for k in accuracies},
        wall_seconds=time.perf_counter() - started,
        finished_at=now(),
    )
    store.write_json(directory / store.SUMMARY, summary)
    return summary
