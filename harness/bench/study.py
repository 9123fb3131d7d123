"""What a seed of a study costs: its runs trained for real (training, kNN, probe, writes), end to end.

The single-step ratios of training.py say whether a step is compute-bound; a study's wall time is
steps and everything around them. This trains the runs of one seed of the study into a temporary
results folder, as `harness run --jobs N` would, and reports the wall time per run, how it splits
(the epochs' own seconds, as curves.parquet records them, against the rest: start-up, the kNN of the
random network, the linear probe, writes) and the whole study's time at its number of seeds.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import store
from harness.columns import EPOCH_SECONDS
from harness.plan import pretrainings


@dataclass
class RunTime:
    label: str
    wall: float  # seconds, from the run's summary
    epochs: float  # the sum of its epochs' seconds (training steps and the kNN evaluations)


@dataclass
class StudyTime:
    study: str
    preset: str
    seed: int
    jobs: int
    seeds: int  # the study's seeds
    total: float  # wall seconds for the seed's runs, start to finish
    runs: list[RunTime]


def time_study_seed(study, jobs: int | None = None) -> StudyTime:
    """Train the runs of the study's first seed, `jobs` at a time (default: as `harness run`), into
    a temporary folder."""
    from harness.launch.local import default_jobs, run_local

    seed = study.spec.seeds[0]
    runs = pretrainings([r for r in study.runs if r.seed == seed])  # each network once, with its evaluations
    jobs = jobs or default_jobs(runs)
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        started = time.perf_counter()
        run_local(runs, study.name, Path(tmp), jobs=jobs, progress=False)
        total = time.perf_counter() - started
        times = []
        for planned in runs:
            directory = store.run_dir(Path(tmp), study.name, planned.run_id)
            summary = store.read_json(directory / store.SUMMARY) or {}
            curves = store.read_curves(directory / store.CURVES, [EPOCH_SECONDS])
            times.append(RunTime(planned.label, float(summary.get("wall_seconds", float("nan"))),
                                 float(curves[EPOCH_SECONDS].sum())))
    return StudyTime(study.name, study.preset, seed, jobs, len(study.spec.seeds), total, times)


def format_study_time(t: StudyTime) -> str:
    n = len(t.runs)
    lines = [
        f"whole runs: {t.study}, preset {t.preset}, the {n} runs of seed {t.seed}, --jobs {t.jobs}",
        f"  {t.total:.1f} s for the seed ({t.total / n:.1f} s a run); the study's {t.seeds} seeds: "
        f"about {t.total * t.seeds:.0f} s ({t.total * t.seeds / 60:.1f} min)",
    ]
    for r in t.runs:
        lines.append(f"  {r.label:<58} {r.wall:6.1f} s: epochs {r.epochs:5.1f} s, the rest {r.wall - r.epochs:4.1f} s")
    return "\n".join(lines)
