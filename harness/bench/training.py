"""`harness bench STUDY`: is training compute-bound? One process, one model, four measurements:

(a) compute: forward + backward + optimizer step on views already augmented and on the device;
(b) pipeline: the harness's own data pipeline (harness.data: index the in-memory images, augment
    the batch on the device) feeding the same step, with the training loop's per-step bookkeeping;
(c) monitors: the std monitor per step and the kNN evaluation at the configured cadence, per epoch;
(d) reference: the official SimSiam way (reference.py: per-image torchvision transforms in
    DataLoader workers) feeding the same step.

The measurements alternate in rounds (a, b, d, c, a, b, d, c, ...) so that a change in the load of
a shared machine hits each of them alike; the ratios come from the totals over the rounds, and the
spread of the per-round ratios shows the noise. Each timed stretch of (a), (b) and (d) is the same
number of steps, preceded by one untimed batch: the reference's DataLoader starts its workers
afresh each round (as each epoch does in the official code) and that start-up is not counted, which
favors the reference.
"""

from __future__ import annotations

import itertools
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from harness import accel
from harness.bench.monitors import STEP_MONITORS, MonitorCost, time_monitors
from harness.bench.reference import reference_batches, reference_loader
from harness.bench.workload import Workload, sync


@dataclass
class TrainingBench:
    label: str
    device: str
    threads: int
    batch_size: int
    n_views: int
    image_size: int
    channels: int
    backbone: str
    dataset: str
    synthetic: bool
    train_size: int
    steps_per_epoch: int
    workers: int
    steps: int  # timed steps per mode and round
    rounds: int
    switches: dict[str, object]
    seconds: dict[str, list[float]] = field(default_factory=dict)  # mode -> seconds, per round
    data_only: dict[str, float] = field(default_factory=dict)  # images/s with no training step
    monitors: list[list[MonitorCost]] = field(default_factory=list)  # per round

    def images_per_second(self, mode: str) -> float:
        return self.batch_size * self.steps * self.rounds / sum(self.seconds[mode])

    def ratio(self, a: str, b: str, round_: int | None = None) -> float:
        """Throughput of mode a over that of mode b (over all rounds, or in one)."""
        pick = slice(None) if round_ is None else slice(round_, round_ + 1)
        return sum(self.seconds[b][pick]) / sum(self.seconds[a][pick])

    def epoch_seconds(self, round_: int | None = None) -> float:
        """An epoch's training steps through the pipeline (b), the std monitor included."""
        pick = slice(None) if round_ is None else slice(round_, round_ + 1)
        times = self.seconds["pipeline"][pick]
        return sum(times) / (self.steps * len(times)) * self.steps_per_epoch

    def monitor_seconds(self, name: str, round_: int | None = None) -> float:
        """One evaluation (or step) of a monitor, averaged over the rounds."""
        pick = slice(None) if round_ is None else slice(round_, round_ + 1)
        costs = [m.seconds for r in self.monitors[pick] for m in r if m.name == name]
        return sum(costs) / len(costs)

    def monitor_share(self, round_: int | None = None) -> float:
        """Monitors per epoch / epoch time. The std monitor runs inside the pipeline's steps, so
        it is in epoch_seconds already; the epoch-level ones (kNN) come on top."""
        per_epoch = {m.name: self.monitor_seconds(m.name, round_) * m.per_epoch for m in self.monitors[0]}
        step_level = sum(v for name, v in per_epoch.items() if name in STEP_MONITORS)
        epoch_level = sum(per_epoch.values()) - step_level
        return (step_level + epoch_level) / (self.epoch_seconds(round_) + epoch_level)


def _timed(stream: Iterator, steps: int, step: Callable, device: torch.device) -> float:
    """Seconds for `steps` iterations of (train on the batch, take the next one), after one
    untimed batch."""
    views = next(stream)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(views)
        views = next(stream)
    sync(device)
    return time.perf_counter() - start


def _data_only(stream: Iterator, steps: int, batch_size: int, device: torch.device) -> float:
    """Images/s of a stream of batches with no training step to wait for."""
    next(stream)
    start = time.perf_counter()
    for _ in range(steps):
        next(stream)
    sync(device)
    return batch_size * steps / (time.perf_counter() - start)


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({platform.machine()}, {os.cpu_count()} cores)"


def bench_training(
    w: Workload,
    label: str = "",
    steps: int = 3,
    rounds: int = 3,
    workers: int = 2,
    monitor_images: int = 2048,
    progress: Callable[[str], None] | None = None,
) -> TrainingBench:
    """Measures (a)-(d) on the workload `w`, `rounds` times `steps` timed steps each."""
    say = progress or (lambda _: None)
    config, device = w.config, w.device
    train_images = w.data.splits["train"].images
    loader = reference_loader(train_images, w.data.augment, w.batch_size, w.n_views, workers, device)
    result = TrainingBench(
        label=label,
        device=_describe(device),
        threads=torch.get_num_threads(),
        batch_size=w.batch_size,
        n_views=w.n_views,
        image_size=config.data.image_size,
        channels=w.data.channels,
        backbone=config.backbone.name,
        dataset=config.data.dataset,
        synthetic=w.synthetic,
        train_size=w.split_size("train"),
        steps_per_epoch=w.data.steps_per_epoch(),
        workers=workers,
        steps=steps,
        rounds=rounds,
        switches={k: getattr(config.runtime, k) for k in ("precision", "channels_last", "compile")},
        seconds={"compute": [], "pipeline": [], "reference": []},
    )

    # Warm-up (untimed): first calls allocate, pick kernels, and compile when runtime.compile is on.
    say("warm-up")
    fixed = accel.to_memory_format(next(w.batches()), config.runtime)
    w.compute_step(fixed)
    pipeline = w.batches()
    w.train_step(next(pipeline))

    for r in range(rounds):
        say(f"round {r + 1}/{rounds}: compute")
        result.seconds["compute"].append(_timed(itertools.repeat(fixed), steps, w.compute_step, device))
        say(f"round {r + 1}/{rounds}: pipeline")
        result.seconds["pipeline"].append(_timed(pipeline, steps, w.train_step, device))
        say(f"round {r + 1}/{rounds}: reference")
        reference = reference_batches(loader, device)
        result.seconds["reference"].append(_timed(reference, steps, w.train_step, device))
        reference.close()  # stops its workers: they must not run during the other measurements
        say(f"round {r + 1}/{rounds}: monitors")
        result.monitors.append(time_monitors(w, monitor_images))

    say("data only")
    result.data_only["pipeline"] = _data_only(pipeline, steps, w.batch_size, device)
    reference = reference_batches(loader, device)
    result.data_only["reference"] = _data_only(reference, steps, w.batch_size, device)
    reference.close()
    return result


def format_training(b: TrainingBench) -> str:
    def spread(values: list[float]) -> str:
        return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else ""

    rounds = range(b.rounds)
    data = "synthetic images" if b.synthetic else "images"
    switches = ", ".join(f"{k}={v}" for k, v in b.switches.items())
    lines = [
        f"harness bench: {b.label}",
        f"device {b.device}, {b.threads} threads; batch {b.batch_size} x {b.n_views} views of "
        f"{b.image_size} px x {b.channels} ch; {b.backbone}; {b.dataset}: {b.train_size} train {data}, "
        f"{b.steps_per_epoch} steps/epoch; {switches}",
        f"{b.rounds} rounds x {b.steps} timed steps per mode; reference: {b.workers} DataLoader workers, "
        "per-image torchvision transforms on PIL images",
        "",
        f"{'':28}{'images/s':>10}{'s/step':>9}",
    ]
    names = {"compute": "(a) compute only", "pipeline": "(b) harness pipeline", "reference": "(d) reference pipeline"}
    for mode, name in names.items():
        per_step = sum(b.seconds[mode]) / (b.steps * b.rounds)
        lines.append(f"{name:28}{b.images_per_second(mode):10.1f}{per_step:9.3f}")
    lines += [
        f"{'    harness data only':28}{b.data_only['pipeline']:10.1f}",
        f"{'    reference data only':28}{b.data_only['reference']:10.1f}",
        "",
        "(c) monitors per epoch",
    ]
    for m in b.monitors[0]:
        seconds = b.monitor_seconds(m.name)
        lines.append(f"    {m.name:11}{seconds:9.4f} s x {m.per_epoch:6.3f}/epoch = {seconds * m.per_epoch:8.4f} s  "
                     f"({m.how})")
    lines += [
        f"    epoch of training steps (b): {b.epoch_seconds():.3f} s",
        "",
        f"{'ratios':28}{'all':>7}   per round",
        f"{'pipeline / compute':28}{b.ratio('pipeline', 'compute'):7.3f}   "
        f"{spread([b.ratio('pipeline', 'compute', r) for r in rounds])}",
        f"{'harness / reference':28}{b.ratio('pipeline', 'reference'):7.3f}   "
        f"{spread([b.ratio('pipeline', 'reference', r) for r in rounds])}",
        f"{'monitors / epoch time':28}{b.monitor_share():7.3f}   {spread([b.monitor_share(r) for r in rounds])}",
    ]
    return "\n".join(lines)
