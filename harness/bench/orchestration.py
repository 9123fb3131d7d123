"""`harness bench --orchestration`: does planning and status keep up with big studies?

In a temporary folder it writes a synthetic study of `runs` runs (4 variants x a 2-axis grid x 2
seeds) and times plan.load_study on it (read, validate, expand, hash every run); then a study of
`finished` runs with a results tree in which every run is finished (config.yaml, curves.parquet
and summary.json, as a run leaves them) and times what `harness status` does: load the study and
read every run's state (status.run_states).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from harness import store
from harness.columns import DEFAULT_KNN_COLUMN
from harness.plan import load_study
from harness.launch.status import run_states

VARIANTS = {
    "baseline": {"predictor.lr": "cosine"},  # SimSiam Table 1's (a); the recipe's is constant
    "no_predictor": {"predictor.kind": "none"},
    "fixed_predictor": {"predictor.kind": "fixed"},
    "constant_predictor_lr": {"predictor.lr": "constant"},
}
SEEDS = [0, 1]


@dataclass
class OrchestrationBench:
    runs: int
    plan_seconds: list[float]  # load_study of the `runs`-run study, per repeat
    finished: int
    status_load_seconds: list[float]  # load_study of the `finished`-run study, per repeat
    status_read_seconds: list[float]  # run_states over its finished results tree, per repeat


def write_study(path: Path, runs: int) -> Path:
    """A study of exactly `runs` runs: the 4 variants x base_lr x weight_decay x 2 seeds."""
    per_variant_seed = runs // (len(VARIANTS) * len(SEEDS))
    if runs < 8 or per_variant_seed * len(VARIANTS) * len(SEEDS) != runs:
        raise ValueError(f"--runs / --finished must be a positive multiple of 8, got {runs}")
    n_lr = max(d for d in range(1, math.isqrt(per_variant_seed) + 1) if per_variant_seed % d == 0)
    n_wd = per_variant_seed // n_lr
    study = {
        "name": f"bench_{runs}",
        "title": f"A synthetic study of {runs} runs",
        "variants": VARIANTS,
        "grid": {
            "optim.base_lr": [round(0.01 * (i + 1), 4) for i in range(n_lr)],
            "optim.weight_decay": [round(1e-5 * (i + 1), 8) for i in range(n_wd)],
        },
        "seeds": SEEDS,
    }
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def write_finished_tree(study, results: Path) -> None:
    """Every run of `study` finished, with the files a run leaves (its curves: 60 epochs)."""
    rows = [{"epoch": e, "step": 5 * e, "loss": -0.5, "output_std": 0.05, DEFAULT_KNN_COLUMN: 0.9} for e in range(61)]
    curves = results / store.CURVES
    results.mkdir(parents=True, exist_ok=True)
    pq.write_table(store.curves_table(rows), curves)
    curves_bytes = curves.read_bytes()
    for planned in study.runs:
        directory = store.run_dir(results, study.name, planned.run_id)
        directory.mkdir(parents=True)
        # Plain writes: the tree is a fixture here; fsync-ing thousands of files would only slow the setup.
        (directory / store.CONFIG).write_text(
            yaml.safe_dump({"run_id": planned.run_id, "labels": planned.labels(),
                            "config": planned.config.model_dump(mode="json")}, sort_keys=False)
        )
        (directory / store.CURVES).write_bytes(curves_bytes)
        summary = {"status": store.RunState.DONE, "run_id": planned.run_id, "labels": planned.labels(),
                   "epochs_completed": 60}
        (directory / store.SUMMARY).write_text(json.dumps(summary))


def _seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_orchestration(runs: int = 10_000, finished: int = 1_000, repeats: int = 3) -> OrchestrationBench:
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        tmp = Path(tmp)
        big = write_study(tmp / "plan.yaml", runs)
        plan = []
        for _ in range(repeats):
            seconds, study = _seconds(lambda: load_study(big))
            assert len(study.runs) == runs
            plan.append(seconds)

        path = write_study(tmp / "status.yaml", finished)
        results = tmp / "results"
        write_finished_tree(load_study(path), results)
        loads, reads = [], []
        for _ in range(repeats):
            seconds, study = _seconds(lambda: load_study(path))
            loads.append(seconds)
            seconds, states = _seconds(lambda: run_states(study, results))
            if {state for _, state in states} != {store.RunState.DONE}:
                raise RuntimeError(f"the finished tree reads as {sorted({s for _, s in states})}, not all done")
            reads.append(seconds)
    return OrchestrationBench(runs, plan, finished, loads, reads)


def format_orchestration(b: OrchestrationBench) -> str:
    def times(values: list[float]) -> str:
        return f"{min(values):.3f} s (of {len(values)} repeats: " + ", ".join(f"{v:.3f}" for v in values) + ")"

    status = [a + b_ for a, b_ in zip(b.status_load_seconds, b.status_read_seconds)]
    return "\n".join([
        "harness bench --orchestration",
        f"plan a {b.runs}-run study (plan.load_study: read, validate, expand, hash): {times(b.plan_seconds)}",
        f"status of {b.finished} finished runs (load_study + status.run_states): {times(status)}",
        f"    load_study {times(b.status_load_seconds)}",
        f"    run_states {times(b.status_read_seconds)}",
    ])  # fmt: skip
