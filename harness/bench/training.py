"""`harness bench STUDY`: is training compute-bound? One process, one model, four measurements, each
of the training loop's own step (train.train_step: forward, backward, update, per-step monitors):

(a) compute: the step on views already augmented and on the device, again and again;
(b) pipeline: the harness's own data pipeline (harness.data: index the in-memory images, augment
    the batch on the device) feeding the step;
(c) monitors: the std monitor per step and the kNN evaluation at the configured cadence, per epoch;
(d) reference: the official SimSiam way (reference.py: per-image torchvision transforms in
    DataLoader workers) feeding the step.

The measurements alternate in rounds (a, b, d, c, a, b, d, c, ...) so that a change in the load of
a shared machine hits each of them alike; the ratios come from the totals over the rounds, and the
spread of the per-round ratios shows the noise. Each timed stretch of (a), (b) and (d) is the same
number of steps, preceded by one untimed batch: the reference's DataLoader starts its workers
afresh each round (as each epoch does in the official code) and that start-up is not counted, which
favors the reference.

Beside the wall clock, the CPU time of each mode: this process's, plus for the reference the CPU
its workers spend per batch (the per-image transforms, timed in this process on one thread, as a
worker runs them). It is the work each way of training costs, and it moves far less than the wall
clock when other jobs share the machine (unless torch has more threads than there are free cores:
OpenMP's spin-waiting then inflates it; compare at --set runtime.threads=1).
"""

from __future__ import annotations

import itertools
import os
import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset, default_collate

from harness.bench.clock import Seconds, Stopwatch, total
from harness.bench.monitors import MonitorCost, time_monitors
from harness.bench.reference import reference_batches, reference_loader
from harness.bench.workload import Workload

MODES = {"compute": "(a) compute only", "pipeline": "(b) harness pipeline", "reference": "(d) reference pipeline"}


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
    times: dict[str, list[Seconds]] = field(default_factory=lambda: {mode: [] for mode in MODES})  # per round
    monitors: list[list[MonitorCost]] = field(default_factory=list)  # per round
    # Per batch with no training step to wait for. The reference's CPU is its workers' (the
    # per-image transforms), not this process's.
    data_only: dict[str, Seconds] = field(default_factory=dict)

    def _rounds(self, round_: int | None) -> slice:
        return slice(None) if round_ is None else slice(round_, round_ + 1)

    def per_step(self, mode: str, round_: int | None = None) -> Seconds:
        times = self.times[mode][self._rounds(round_)]
        seconds = total(times) / (self.steps * len(times))
        if mode == "reference":
            seconds += Seconds(0.0, self.data_only["reference"].cpu)
        return seconds

    def images_per_second(self, mode: str) -> float:
        return self.batch_size / self.per_step(mode).wall

    def ratio(self, a: str, b: str, round_: int | None = None, kind: str = "wall") -> float:
        """Throughput of mode a over that of mode b."""
        return getattr(self.per_step(b, round_), kind) / getattr(self.per_step(a, round_), kind)

    def monitor_seconds(self, name: str, round_: int | None = None) -> Seconds:
        """One evaluation (or step) of a monitor, averaged over the rounds."""
        costs = [m.seconds for r in self.monitors[self._rounds(round_)] for m in r if m.name == name]
        return total(costs) / len(costs)

    def epoch_seconds(self, round_: int | None = None) -> Seconds:
        """An epoch's training steps through the pipeline (b), the per-step monitors included."""
        return self.per_step("pipeline", round_) * self.steps_per_epoch

    def monitor_share(self, round_: int | None = None, kind: str = "wall") -> float:
        """Monitors per epoch / epoch time, where the epoch is its training steps (b) plus the
        epoch-level monitors (kNN); the per-step ones (std) are inside the steps already."""
        per_epoch = {m: getattr(self.monitor_seconds(m.name, round_), kind) * m.per_epoch for m in self.monitors[0]}
        epoch_level = sum(v for m, v in per_epoch.items() if not m.per_step)
        return sum(per_epoch.values()) / (getattr(self.epoch_seconds(round_), kind) + epoch_level)


def _timed(stream: Iterator, steps: int, step: Callable, device: torch.device) -> Seconds:
    """`steps` iterations of (train on the batch, take the next one), after one untimed batch."""
    views = next(stream)
    with Stopwatch(device) as clock:
        for _ in range(steps):
            step(views)
            views = next(stream)
    return clock.elapsed


def _data_only(stream: Iterator, steps: int, device: torch.device) -> Seconds:
    """Per batch of a stream of batches with no training step to wait for."""
    next(stream)
    with Stopwatch(device) as clock:
        for _ in range(steps):
            next(stream)
    return clock.elapsed / steps


def _per_image_cpu(dataset: Dataset, batch_size: int, batches: int) -> float:
    """CPU seconds a DataLoader worker spends on one batch: items and collation, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # DataLoader workers run torch on one thread
    try:
        with Stopwatch() as clock:
            for b in range(batches):
                default_collate([dataset[i % len(dataset)] for i in range(b * batch_size, (b + 1) * batch_size)])
    finally:
        torch.set_num_threads(threads)
    return clock.elapsed.cpu / batches


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
    loader = reference_loader(w.data.splits["train"].images, w.data.augment, w.batch_size, w.n_views, workers, device)
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
    )

    # Warm-up (untimed): first calls allocate, pick kernels, and compile when runtime.compile is on.
    say("warm-up")
    fixed = next(w.batches())
    w.step(fixed)
    pipeline = w.batches()
    w.step(next(pipeline))

    for r in range(rounds):
        say(f"round {r + 1}/{rounds}: compute")
        result.times["compute"].append(_timed(itertools.repeat(fixed), steps, w.step, device))
        say(f"round {r + 1}/{rounds}: pipeline")
        result.times["pipeline"].append(_timed(pipeline, steps, w.step, device))
        say(f"round {r + 1}/{rounds}: reference")
        reference = reference_batches(loader, device)
        result.times["reference"].append(_timed(reference, steps, w.step, device))
        reference.close()  # stops its workers: they must not run during the other measurements
        say(f"round {r + 1}/{rounds}: monitors")
        result.monitors.append(time_monitors(w, monitor_images))

    say("data only")
    result.data_only["pipeline"] = _data_only(pipeline, steps, device)
    reference = reference_batches(loader, device)
    wall = _data_only(reference, steps, device).wall
    reference.close()
    result.data_only["reference"] = Seconds(wall, _per_image_cpu(loader.dataset, w.batch_size, steps))
    return result


def profile_pipeline(w: Workload, rows: int = 15) -> str:
    """torch.profiler's table for one batch of the harness pipeline and its training step, the two
    marked as "bench: data" and "bench: step": where a pipeline step's time goes."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if w.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    stream = w.batches()
    w.step(next(stream))  # warm
    with torch.profiler.profile(activities=activities) as prof:
        with torch.profiler.record_function("bench: data"):
            views = next(stream)
        with torch.profiler.record_function("bench: step"):
            w.step(views)
    sort = "self_device_time_total" if w.device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=rows)


def format_training(b: TrainingBench) -> str:
    rounds = range(b.rounds)

    def spread(values: list[float]) -> str:
        return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else "-"

    def ratio_line(name: str, overall: Callable[..., float]) -> str:
        per_round = spread([overall(round_=r) for r in rounds])
        return f"{name:28}{overall():7.3f}{per_round:>15}{overall(kind='cpu'):9.3f}"

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
        f"{'':28}{'images/s':>10}{'s/step':>9}{'CPU s/step':>12}",
    ]
    for mode, name in MODES.items():
        step = b.per_step(mode)
        lines.append(f"{name:28}{b.images_per_second(mode):10.1f}{step.wall:9.3f}{step.cpu:12.3f}")
    for mode, name in (("pipeline", "    harness data only"), ("reference", "    reference data only")):
        batch = b.data_only[mode]
        lines.append(f"{name:28}{b.batch_size / batch.wall:10.1f}{batch.wall:9.3f}{batch.cpu:12.3f}")
    compute_cpu = b.per_step("compute").cpu
    lines += [
        f"    data CPU / compute CPU: harness {b.data_only['pipeline'].cpu / compute_cpu:.4f}, "
        f"reference {b.data_only['reference'].cpu / compute_cpu:.4f} (its workers')",
        "",
        f"(c) monitors per epoch{'':29}{'s':>9}{'CPU s':>9}",
    ]
    for m in b.monitors[0]:
        seconds = b.monitor_seconds(m.name)
        lines.append(f"    {m.name:13}x {m.per_epoch:7.3f}/epoch{'':15}{seconds.wall * m.per_epoch:9.4f}"
                     f"{seconds.cpu * m.per_epoch:9.4f}  ({m.how})")
    epoch = b.epoch_seconds()
    lines += [
        f"    epoch of training steps (b){'':22}{epoch.wall:9.3f}{epoch.cpu:9.3f}",
        "",
        f"{'ratios':28}{'wall':>7}{'per round':>15}{'CPU':>9}",
        ratio_line("pipeline / compute", lambda **kw: b.ratio("pipeline", "compute", **kw)),
        ratio_line("harness / reference", lambda **kw: b.ratio("pipeline", "reference", **kw)),
        ratio_line("monitors / epoch time", b.monitor_share),
    ]
    return "\n".join(lines)
