"""The report benchmark: build a synthetic results tree (default 1,000 runs x 800 epochs, with some
runs failed, diverged, partial and missing) and time regenerating its report.

    python -m harness.bench.report                      # 1,000 runs x 800 epochs in a temp folder
    python -m harness.bench.report --runs 40 --epochs 20 --keep /tmp/bench

The study is SimSiam-shaped: 5 variants x 8 batch sizes x seeds, a pivot table over batch size,
six claims (among them a trend over batch size and a kNN-dip instability read from the curves) and
three figures (curves by variant, kNN curves by batch size, a log2 sweep). Only the report is
timed, split into reading the study file and writing the report; building the tree is not.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.columns import DEFAULT_KNN_COLUMN, EPOCH_SECONDS, is_result, knn
from harness.config import DEFAULT_KNN

VARIANTS = {
    "baseline": {"predictor.lr": "cosine"},  # SimSiam Table 1's (a); the recipe's is constant
    "constant_lr": {"predictor.lr": "constant"},
    "fixed_predictor": {"predictor.kind": "fixed"},
    "no_predictor": {"predictor.kind": "none"},
    "no_stop_gradient": {"method.stop_gradient": False},
}
BATCH_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]


def study_yaml(runs: int, epochs: int) -> str:
    seeds = max(1, math.ceil(runs / (len(VARIANTS) * len(BATCH_SIZES))))
    variants = "\n".join(f"  {name}: {json.dumps(v)}" for name, v in VARIANTS.items())
    return f"""\
name: report_bench
title: "Report benchmark: {runs} runs x {epochs} epochs"
description: Synthetic results, written by harness.bench.report.
base: {{optim.epochs: {epochs}, monitor.every_epochs: 1}}
variants:
{variants}
grid: {{optim.batch_size: {BATCH_SIZES}}}
seeds: {list(range(seeds))}
report:
  paper: simsiam.table2_batch_size
  rows: variant
  columns: optim.batch_size
  claims:
    - {{kind: no_collapse, run: baseline, where: {{optim.batch_size: 256}}, text: "baseline keeps its spread"}}
    - {{kind: collapse, run: no_stop_gradient, where: {{optim.batch_size: 256}}, text: "collapse without stop-gradient"}}
    - {{kind: not_converge, run: fixed_predictor, baseline: baseline, where: {{optim.batch_size: 256}}, text: "a fixed predictor does not converge"}}
    - {{kind: ordering, better: constant_lr, worse: baseline, where: {{optim.batch_size: 256}}, text: "constant lr at least as good"}}
    - {{kind: trend, run: baseline, axis: optim.batch_size, values: [256, 512, 1024, 2048, 4096], direction: decreasing, tolerance: 0.01, text: "kNN falls at large batch"}}
    - {{kind: instability, run: baseline, where: {{optim.batch_size: 4096}}, dip_above: 0.05, text: "kNN dips at batch 4096"}}
  figures:
    - {{kind: curves, hue: variant, where: {{optim.batch_size: 256}}}}
    - {{kind: curves, hue: optim.batch_size, metrics: [{DEFAULT_KNN_COLUMN}], where: {{variant: baseline}}}}
    - {{kind: sweep, x: optim.batch_size, xscale: log2}}
"""


def _curves(rng, epochs: int, variant: str, batch: int, upto: int) -> pa.Table:
    e = np.arange(upto + 1)
    collapsed = variant in ("no_predictor", "no_stop_gradient")
    level = 0.1 if collapsed else 0.85 - 0.02 * abs(math.log2(batch / 256)) - (0.3 if variant == "fixed_predictor" else 0)
    accuracy = level - (level - 0.3) * np.exp(-e / max(1, epochs / 10)) + rng.normal(0, 0.01, e.size)
    if batch >= 4096:  # MoCo v3-style dips
        accuracy[e % max(2, epochs // 5) == epochs // 10] -= 0.12
    loss = -0.9 * (1 - np.exp(-e / max(1, epochs / 8))) + (0.5 if variant == "fixed_predictor" else 0)
    std = np.full(e.size, 0.001 if collapsed else 0.06) + rng.normal(0, 0.0005, e.size)
    mask = e > 0
    return pa.table({
        "epoch": pa.array(e, pa.int64()), "step": pa.array(e * 5, pa.int64()),
        "loss": pa.array(np.where(mask, loss, np.nan), from_pandas=True),
        "output_std": pa.array(np.where(mask, std, np.nan), from_pandas=True),
        "output_std_ref": pa.array(np.where(mask, 0.0625, np.nan), from_pandas=True),
        "lr": pa.array(np.where(mask, 0.05, np.nan), from_pandas=True),
        **{knn(p.name): accuracy - 0.01 * i for i, p in enumerate(DEFAULT_KNN)},
        EPOCH_SECONDS: pa.array(np.where(mask, 1.0, np.nan), from_pandas=True),
    })


def build_tree(study, results: Path, seed: int = 0) -> dict[str, int]:
    """Write synthetic results for every planned run: mostly done, every 50th failed, every 71st
    diverged, every 97th partial (a checkpoint and half its curves), every 113th missing."""
    from harness import store
    from harness.store import RunState

    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for i, planned in enumerate(study.runs):
        directory = store.run_dir(results, study.name, planned.run_id)
        epochs = planned.config.optim.epochs
        state = (RunState.NEW if i % 113 == 112 else RunState.PARTIAL if i % 97 == 96 else RunState.FAILED
                 if i % 50 == 49 else RunState.DIVERGED if i % 71 == 70 else RunState.DONE)
        counts[state.reported] = counts.get(state.reported, 0) + 1
        if state == RunState.NEW:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        batch = planned.config.optim.batch_size
        upto = {RunState.PARTIAL: epochs // 2, RunState.DIVERGED: epochs * 3 // 4, RunState.FAILED: 0}.get(state,
                                                                                                        epochs)
        table = _curves(rng, epochs, planned.variant, batch, upto)
        if state != RunState.FAILED:
            pq.write_table(table, directory / store.CURVES)
        if state == RunState.PARTIAL:
            (directory / store.CHECKPOINT).write_bytes(b"")
            continue
        last = {c: table.column(c)[-1].as_py() for c in table.column_names if is_result(c)}
        summary = {"status": state, "run_id": planned.run_id, "labels": planned.labels(), "output_std_ref": 0.0625,
                   "chance": 0.1, "epochs_completed": upto, "final": last, "wall_seconds": float(upto),
                   "finished_at": "2026-01-01T00:00:00+00:00", "code_revision": "synthetic"}
        if state == RunState.FAILED:
            summary = {"status": state, "run_id": planned.run_id, "labels": planned.labels(),
                       "error": "RuntimeError('synthetic failure')"}
            (directory / store.ERROR).write_text("Traceback ...\nRuntimeError: synthetic failure\n")
        if state == RunState.DIVERGED:
            summary["diverged_at"] = {"epoch": upto + 1, "step": (upto + 1) * 5}
        (directory / store.SUMMARY).write_text(json.dumps(summary))
    return counts


def bench(root: Path, runs: int, epochs: int) -> dict:
    from harness.report import write_report
    from harness.plan import load_study

    root.mkdir(parents=True, exist_ok=True)
    study_file = root / "report_bench.yaml"
    study_file.write_text(study_yaml(runs, epochs))
    study = load_study(study_file)
    t0 = time.perf_counter()
    counts = build_tree(study, root / "results")
    built = time.perf_counter() - t0

    t0 = time.perf_counter()
    study = load_study(study_file)
    t1 = time.perf_counter()
    paths = write_report(study, root / "results", root / "reports")
    t2 = time.perf_counter()
    return {"runs": len(study.runs), "epochs": epochs, "states": counts, "build_s": built,
            "load_study_s": t1 - t0, "write_report_s": t2 - t1, "total_s": t2 - t0, "paths": paths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="at least this many runs (default 1000)")
    parser.add_argument("--epochs", type=int, default=800)
    parser.add_argument("--keep", type=Path, default=None, help="build the tree here and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        result = bench(args.keep, args.runs, args.epochs)
    else:
        with tempfile.TemporaryDirectory(prefix="harness-report-bench-") as tmp:
            result = bench(Path(tmp), args.runs, args.epochs)
    states = ", ".join(f"{n} {s}" for s, n in sorted(result["states"].items()))
    print(f"report over {result['runs']} runs x {result['epochs']} epochs ({states}); tree built in "
          f"{result['build_s']:.1f} s (not timed)")
    print(f"  read study file + expand runs: {result['load_study_s']:.2f} s")
    print(f"  write report (read Parquet, tables, claims, figures, Markdown, HTML, index): {result['write_report_s']:.2f} s")
    print(f"  total: {result['total_s']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
