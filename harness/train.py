"""The one training loop, for every method.

Stages: determinism and device; data; networks; optimizer and per-step lr schedule; restart from
the checkpoint; the loop (a non-finite loss ends the run as `diverged`); monitors once per epoch;
curves and checkpoint written atomically; the summary last, which marks the run finished.

Randomness comes only from the seed: model init from `seed`, and each epoch's shuffle and
augmentation from (seed, epoch) inside the data pipeline. So a run resumed at epoch e in a new
process replays exactly what an uninterrupted run does, and its curves come out equal.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from harness import accel, store
from harness.config import RunConfig
from harness.data import build_data
from harness.methods import build_method, n_views
from harness.monitor import embed, knn_accuracies, output_std
from harness.optim import build_optimizer, lr_schedule, peak_lr, set_lr
from harness.provenance import code_revision, versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
) -> dict:
    """Train one run into `directory`, resuming from its checkpoint if there is one.
    Returns the summary (also written to summary.json)."""
    directory = Path(directory)
    # -- determinism and device
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if config.runtime.threads:
        torch.set_num_threads(config.runtime.threads)
    device = torch.device(config.runtime.device)

    # -- data and networks
    data = build_data(config, n_views(config), device)
    method = accel.prepare_model(build_method(config, data.channels).to(device), config.runtime)

    # -- optimizer and schedule
    optimizer = build_optimizer(method, config.optim)
    steps_per_epoch = data.steps_per_epoch()
    schedule = lr_schedule(config.optim, steps_per_epoch)
    total_steps, peak = len(schedule), peak_lr(config.optim)
    std_ref = 1 / math.sqrt(method.embed_dim)

    # -- restart: the checkpoint holds the model, the optimizer and the curve rows up to its epoch
    checkpoint = directory / store.CHECKPOINT
    rows: list[dict] = []
    start_epoch, elapsed = 1, 0.0
    if checkpoint.exists():
        state = store.load_checkpoint(checkpoint)
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rows, start_epoch, elapsed = state["curves"], state["epoch"] + 1, state["elapsed"]
    elif config.monitor.knn_at_init:
        rows.append({"epoch": 0, "step": 0, **evaluate_knn(method, data, config)})
    started = time.perf_counter() - elapsed

    summary = {
        "status": store.DONE,
        "run_id": config.run_id(),
        "labels": labels or {},
        "embed_dim": method.embed_dim,
        "output_std_ref": std_ref,
        "chance": 1 / data.num_classes,
        "steps_per_epoch": steps_per_epoch,
        "versions": versions(),
        "code_revision": code_revision(),
    }

    # -- the loop
    method.train()
    for epoch in range(start_epoch, config.optim.epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum, std_sum, n = 0.0, 0.0, 0
        for i, views in enumerate(data.train_batches(epoch)):
            step = (epoch - 1) * steps_per_epoch + i
            set_lr(optimizer, float(schedule[step]), peak)
            with accel.autocast(config.runtime):
                out = method(accel.to_memory_format(views, config.runtime))
            if not torch.isfinite(out.loss):
                summary.update(status=store.DIVERGED, diverged_at={"epoch": epoch, "step": step})
                return _finish(directory, summary, rows, started)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            method.after_step(step, total_steps)
            loss_sum += out.loss.item()
            std_sum += output_std(out.embedding.detach())
            n += 1

        row = {
            "epoch": epoch,
            "step": epoch * steps_per_epoch,
            "loss": loss_sum / n,
            "output_std": std_sum / n,
            "output_std_ref": std_ref,
            "lr": float(schedule[epoch * steps_per_epoch - 1]),
        }
        if epoch % config.monitor.every_epochs == 0 or epoch == config.optim.epochs:
            row.update(evaluate_knn(method, data, config))
        row["epoch_seconds"] = time.perf_counter() - epoch_start
        rows.append(row)

        store.write_curves(directory / store.CURVES, rows)
        if epoch % config.runtime.checkpoint_every == 0 or epoch == config.optim.epochs:
            store.save_checkpoint(
                checkpoint,
                {
                    "model": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch,
                    "curves": rows,
                    "elapsed": time.perf_counter() - started,
                },
            )
        if on_epoch:
            on_epoch(row)
    return _finish(directory, summary, rows, started)


def _finish(directory: Path, summary: dict, rows: list[dict], started: float) -> dict:
    if rows:
        store.write_curves(directory / store.CURVES, rows)
    trained = [r for r in rows if r["epoch"] > 0]
    final = trained[-1] if trained else {}
    knn_keys = sorted({k for r in rows for k in r if k.startswith("knn_top1_")})
    summary.update(
        epochs_completed=final.get("epoch", 0),
        final={k: v for k, v in final.items() if k not in ("epoch", "step", "epoch_seconds")},
        best={k: max((r[k] for r in rows if r.get(k) is not None), default=None) for k in knn_keys},
        wall_seconds=time.perf_counter() - started,
        finished_at=_now(),
    )
    store.write_json(directory / store.SUMMARY, summary)
    return summary
