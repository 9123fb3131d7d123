"""Wall-clock and CPU time, measured together.

The wall clock is what a run gets, and what the benchmark's ratios are taken on. The CPU time (of
this process, all its threads) is the work done: on a machine shared with other jobs it moves far
less than the wall clock does, so it is printed beside it as a cross-check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


def sync(device: torch.device | None) -> None:
    """Wait for the device's queued work, so that a clock stops when the work is done."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Seconds:
    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Seconds) -> Seconds:
        return Seconds(self.wall + other.wall, self.cpu + other.cpu)

    def __mul__(self, factor: float) -> Seconds:
        return Seconds(self.wall * factor, self.cpu * factor)

    def __truediv__(self, divisor: float) -> Seconds:
        return self * (1 / divisor)


def total(times) -> Seconds:
    return sum(times, Seconds())


class Stopwatch:
    """with Stopwatch(device) as clock: ...; then clock.elapsed (device work included)."""

    def __init__(self, device: torch.device | None = None):
        self.device = device
        self.elapsed = Seconds()

    def __enter__(self) -> Stopwatch:
        sync(self.device)
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        sync(self.device)
        self.elapsed = Seconds(time.perf_counter() - self._wall, time.process_time() - self._cpu)
