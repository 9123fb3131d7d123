"""Results trees as train.py leaves them, written without training, and studies to report on them:
the report's tests and its browser test read them."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness import store
from harness.columns import PROBES
from harness.plan import load_study


def make_study(tmp_path, text: str, name: str = "s"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return load_study(path)


def write_run(results, study, planned, status="done", knn=0.8, std=0.06, loss=-0.8, epochs=4, steps=None, **final):
    """A run directory as train.py leaves it (curves.parquet, summary.json), for any status; an
    evaluation's metric in `final` (linear_top1...) goes to the stage of the run's evaluation, done."""
    evaluation = {k: final.pop(k) for k in list(final) if k in PROBES}
    if evaluation and status == "done":
        stage = store.stage_dir(results, study.name, planned.run_id, planned.evaluation.stage_id)
        stage.mkdir(parents=True, exist_ok=True)
        (stage / store.SUMMARY).write_text(json.dumps({"status": "done", "metrics": evaluation}))
    directory = store.run_dir(results, study.name, planned.run_id)
    directory.mkdir(parents=True, exist_ok=True)
    if status == "missing":
        return directory
    e = np.arange(epochs + 1)
    table = pa.table({"epoch": pa.array(e, pa.int64()), "step": pa.array(e * 10, pa.int64()),
                      "loss": [None] + [loss] * epochs, "output_std": [None] + [std] * epochs,
                      "output_std_ref": [None] + [0.0625] * epochs,
                      "knn_top1_k200": np.linspace(0.3, knn, epochs + 1), "knn_top1_k20": np.linspace(0.3, knn, epochs + 1)})
    pq.write_table(table, directory / store.CURVES)
    if steps is not None:
        pq.write_table(pa.table(steps), directory / store.STEPS)
    if status == "partial":
        (directory / store.CHECKPOINT).write_bytes(b"")
        return directory
    summary = {"status": status, "run_id": planned.run_id, "output_std_ref": 0.0625, "chance": 0.1,
               "epochs_completed": epochs, "wall_seconds": 1.5, "finished_at": "2026-01-02T03:04:05+00:00",
               "code_revision": "0123456789abcdef", "final": {"loss": loss, "output_std": std, "knn_top1_k200": knn,
                                                              "knn_top1_k20": knn, **final}}
    if status == "diverged":
        summary["diverged_at"] = {"epoch": 3, "step": 27}
    if status == "failed":
        summary = {"status": "failed", "run_id": planned.run_id, "error": "RuntimeError('out of memory')"}
        (directory / store.ERROR).write_text("Traceback...\nRuntimeError: out of memory\n")
    (directory / store.SUMMARY).write_text(json.dumps(summary))
    return directory


FIGURES = """\
name: figs
title: "Figures $x$"
variants: {a: {}, b: {method.stop_gradient: false}}
grid: {optim.batch_size: [64, 256, 1024]}
seeds: [0, 1, 2]
report:
  paper: simsiam.table2_batch_size
  columns: optim.batch_size
  claims:
    - {kind: instability, run: a, where: {optim.batch_size: 1024}, dip_above: 0.1, text: "dips at 1024"}
    - {kind: trend, run: a, axis: optim.batch_size, direction: increasing, text: "better with batch"}
  figures:
    - {kind: curves, hue: variant, where: {optim.batch_size: 256}}
    - {kind: curves, hue: optim.batch_size, metrics: [knn_top1_k200], where: {variant: a}, name: knn_by_batch}
    - {kind: sweep, x: optim.batch_size, xscale: log2}
    - {kind: steps, hue: optim.batch_size, where: {variant: a}}
"""


HOSTILE = "<script>alert(1)</script>"
