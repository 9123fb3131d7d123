"""What the training loop's monitors cost per epoch, at the run's configured cadence (train.py's).

Each timer measures one monitor as train.train runs it and says how often an epoch runs it. A new
monitor (a gradient norm) adds its timer to MONITORS.

A kNN evaluation and the linear probe embed both splits; on a slow device and a big dataset (CIFAR
on a CPU) that is minutes, so the embedding is timed on the first `cap` images of each split and
scaled linearly to the whole split (a forward pass per image: linear by construction), and what
follows runs at the full size on random features (its cost does not depend on the values): the kNN
search in full, the probe's training for a few epochs, scaled to its `probe.epochs` (each epoch
costs the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness import accel
from harness.config import RunConfig
from harness.monitor import embed, knn_accuracies, output_std
from harness.probe import extract, fit_linear, labeled_subset
from harness.train import due, knn_due

from harness.bench.clock import Seconds, Stopwatch
from harness.bench.workload import Workload


@dataclass(frozen=True)
class MonitorCost:
    name: str
    seconds: Seconds  # one evaluation, or one step for a per-step monitor (scaled to the full splits)
    per_epoch: float  # evaluations (or steps) per epoch, averaged over the run
    per_step: bool  # runs inside every training step (so its time is in the pipeline's steps already)
    how: str  # what was timed


def knn_evaluations_per_epoch(config: RunConfig, steps_per_epoch: int = 0) -> float:
    """The kNN evaluations of a run (train.knn_due's epochs, init when knn_at_init, and every
    monitor.knn_every_steps steps of its epochs x steps_per_epoch), per epoch."""
    epochs = config.optim.epochs
    evaluations = sum(knn_due(config, e) for e in range(1, epochs + 1)) + config.monitor.knn_at_init
    if config.monitor.knn_every_steps:
        evaluations += sum(due(config.monitor.knn_every_steps, s) for s in range(epochs * steps_per_epoch))
    return evaluations / epochs


def time_output_std(w: Workload, cap: int, repeats: int = 20) -> MonitorCost:
    """The std monitor, on an embedding batch of the training step's shape."""
    with torch.no_grad(), accel.autocast(w.config.runtime):
        views = next(w.batches())
        z = w.method(accel.to_memory_format(views, w.config.runtime)).embedding
    output_std(z)  # warm-up
    with Stopwatch(w.device) as clock:
        for _ in range(repeats):
            output_std(z)
    how = "every step, on the step's own embedding"
    return MonitorCost("output std", clock.elapsed / repeats, w.data.steps_per_epoch(), True, how)


def _first(batches: Iterator, cap: int) -> Iterator:
    """Whole batches from `batches` until at least `cap` images have gone by."""
    seen = 0
    for images, labels in batches:
        if seen >= cap:
            return
        seen += len(images)
        yield images, labels


def _split_features(w: Workload, cap: int, featurize: Callable, unit: bool) -> tuple[dict, Seconds, str]:
    """Both splits' features as `featurize(batches) -> (features, labels)` computes them, timed on at
    most `cap` images per split and scaled to the whole split. When a subset was embedded, what
    follows runs on full-size random stand-ins of the features' width (unit-norm if `unit`)."""
    sizes = {split: w.split_size(split) for split in ("train", "test")}
    features, measured, seconds = {}, {}, Seconds()
    for split, size in sizes.items():
        with Stopwatch(w.device) as clock, accel.autocast(w.config.runtime):
            features[split] = featurize(_first(w.data.eval_batches(split), cap))
        measured[split] = len(features[split][0])
        seconds += clock.elapsed * (size / measured[split])
    how = f"{sizes['train']} + {sizes['test']} images"
    if measured != sizes:
        g = torch.Generator(device=w.device).manual_seed(0)
        dim, classes = features["train"][0].shape[1], w.data.num_classes
        for split, size in sizes.items():
            x = torch.randn(size, dim, device=w.device, generator=g)
            features[split] = (F.normalize(x, dim=1) if unit else x,
                               torch.randint(0, classes, (size,), device=w.device, generator=g))
        how += f" (timed on {measured['train']} + {measured['test']}, scaled)"
    return features, seconds, how


def time_knn(w: Workload, cap: int) -> MonitorCost:
    """train.evaluate_knn: embed the train split (the bank) and the test split, then every kNN
    protocol in one chunked pass."""
    config, encoder = w.config, w.method.encoder
    features, seconds, images = _split_features(w, cap, lambda batches: embed(encoder, batches), unit=True)
    with Stopwatch(w.device) as clock:
        knn_accuracies(*features["train"], *features["test"], config.monitor.knn, w.data.num_classes)
    seconds += clock.elapsed
    how = f"embeds {images}, searches {len(config.monitor.knn)} protocols"
    return MonitorCost("kNN", seconds, knn_evaluations_per_epoch(config, w.data.steps_per_epoch()), False, how)


def time_linear_probe(w: Workload, cap: int, epochs: int = 5) -> MonitorCost:
    """probe.linear_probe, once per run after the last epoch: features of both splits, then a linear
    classifier trained for `probe.epochs` (timed on at most `epochs` of them, scaled)."""
    config, probe = w.config, w.config.probe
    if not probe.enabled:
        return MonitorCost("linear probe", Seconds(), 0.0, False, "off (probe.enabled: false)")
    if probe.mode != "linear":  # fine-tuning trains a network: not timed here
        return MonitorCost("linear probe", Seconds(), 0.0, False, f"off (probe.mode: {probe.mode})")
    features, seconds, images = _split_features(
        w, cap, lambda batches: extract(w.method, batches, probe.layer), unit=False)
    (train_x, train_y), timed = features["train"], min(epochs, probe.epochs)
    keep = labeled_subset(train_y, probe.label_fraction)
    with Stopwatch(w.device) as clock, torch.enable_grad():
        fit_linear(train_x[keep], train_y[keep], *features["test"], w.data.num_classes,
                   probe.model_copy(update={"epochs": timed}), config.seed)
    seconds += clock.elapsed * (probe.epochs / timed)
    how = f"once per run: features of {images}, {probe.epochs} epochs of SGD (timed on {timed}, scaled)"
    return MonitorCost("linear probe", seconds, 1 / config.optim.epochs, False, how)


MONITORS: tuple[Callable[[Workload, int], MonitorCost], ...] = (time_output_std, time_knn, time_linear_probe)


def time_monitors(w: Workload, cap: int) -> list[MonitorCost]:
    return [timer(w, cap) for timer in MONITORS]
