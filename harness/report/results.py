"""Read a study's results for the report: one row of final metrics per planned run, the per-epoch
curves, and the per-step monitors where runs wrote them; the rows of given grid values; a run's
largest dip of a metric over training.

A planned run's row reads its pretraining's summary (status, final metrics) and, once its
evaluation's stage is done, that stage's metrics (linear_top1, finetune_top1, ...). The
row's run_id is the planned run's result_id (pretraining/stage), unique where runs share a
pretraining; its curves are its pretraining's.

Missing, failed, partial (running or interrupted) and diverged runs stay in `finals` with their
status and a note, so nothing is dropped. Parquet is read with column projection: only the columns
the report's tables, claims and figures use, so a study of 1,000 runs x 800 epochs loads in a
second or two (python -m harness.bench.report measures it).

steps.parquet (optional, beside curves.parquet): one row per logged step, with `step` (int),
optionally `epoch`, and per-step monitors such as `grad_norm` or a kNN column evaluated every few
steps (MoCo v3). The report reads it only when a claim or figure asks for per-step data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness import store
from harness.columns import PROBES, dip, is_knn
from harness.report.metrics import metric
from harness.spec import same
from harness.store import RunState

# A partial run has a checkpoint and no summary: it is running now, or was interrupted.
PARTIAL_NOTE = "running or interrupted"


@dataclass
class Results:
    finals: pd.DataFrame  # one row per planned run
    curves: pd.DataFrame  # one row per run and epoch; run_id plus the projected columns
    steps: pd.DataFrame | None  # one row per run and logged step, or None when not asked for


def _note(directory: Path, status: RunState, summary: dict) -> str:
    if status == RunState.FAILED:
        if summary.get("error"):
            return str(summary["error"])
        try:
            lines = [line for line in (directory / store.ERROR).read_text().splitlines() if line.strip()]
            return lines[-1].strip() if lines else "failed"
        except OSError:
            return "failed (no error.txt)"
    if status == RunState.DIVERGED and summary.get("diverged_at"):
        at = summary["diverged_at"]
        return f"non-finite loss at epoch {at.get('epoch')}, step {at.get('step')}"
    if status == RunState.PARTIAL:
        return PARTIAL_NOTE
    return ""


def _read_summary(directory: Path) -> dict | None:
    try:
        return json.loads((directory / store.SUMMARY).read_bytes())
    except FileNotFoundError:
        return None


def _evaluation(planned, directory: Path) -> tuple[dict, str]:
    """The metrics of the run's evaluation (its stage's summary, when done), and a note when it is not
    done: failed (its error) or not run yet."""
    if planned.evaluation is None:
        return {}, ""
    folder = directory / store.STAGES / planned.evaluation.stage_id
    state = store.stage_state(folder)
    summary = (_read_summary(folder) if state in (RunState.DONE, RunState.FAILED) else None) or {}
    if state == RunState.DONE:
        return summary.get("metrics", {}), ""
    if state == RunState.FAILED:
        return {}, f"evaluation failed: {_note(folder, state, summary)}"
    return {}, f"evaluation {state.reported}"


def load_finals(study, results: Path) -> pd.DataFrame:
    rows = []
    for planned in study.runs:
        directory = store.run_dir(results, study.name, planned.run_id)
        state = store.run_state(directory)
        # A corrupt run's files are never read as data: it is listed with its state only.
        summary = _read_summary(directory) if state in (*store.FINISHED, RunState.FAILED) else None
        summary = summary or {}
        row = {"run_id": planned.result_id, "pretraining_id": planned.run_id, "label": planned.label,
               "series": planned.series, **planned.labels(), "status": state.reported}
        # An evaluation's metric is its stage's alone: a summary of an older schema also has the one
        # its folder ran, of its own probe keys (migrate.py made that a stage of its own).
        row.update({k: v for k, v in summary.get("final", {}).items() if k not in PROBES})
        evaluation, evaluation_note = _evaluation(planned, directory) if state == RunState.DONE else ({}, "")
        row.update(evaluation)
        for key in ("chance", "output_std_ref", "wall_seconds", "epochs_completed", "finished_at", "code_revision"):
            row[key] = summary.get(key)
        row["output_bn_fixes_std"] = planned.config.heads.output_bn_fixes_std  # which std a collapse claim reads
        row["note"] = "; ".join(n for n in (_note(directory, state, summary), evaluation_note) if n)
        rows.append(row)
    finals = pd.DataFrame(rows)
    for std in ("output_std", "output_std_pre_bn"):  # in units of 1/sqrt(d)
        if std in finals:
            finals[f"{std}_ratio"] = pd.to_numeric(finals[std]) / pd.to_numeric(finals["output_std_ref"])
    return finals


def read_parquet_runs(files: dict[str, Path], columns: list[str]) -> pd.DataFrame:
    """Concatenate the given columns (those each file has; the rest come out null) of one Parquet
    file per run, with a categorical run_id column."""
    tables = []
    for run_id, path in files.items():
        handle = pq.ParquetFile(path)
        present = [c for c in columns if c in handle.schema_arrow.names]
        table = handle.read(columns=present)
        codes = pa.array(np.zeros(table.num_rows, dtype=np.int32))
        tables.append(table.append_column("run_id", pa.DictionaryArray.from_arrays(codes, pa.array([run_id]))))
    if not tables:
        return pd.DataFrame(columns=["run_id", *columns])
    frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    for column in columns:
        if column not in frame:
            frame[column] = np.nan
    frame["run_id"] = frame["run_id"].astype(str).astype("category")
    return frame


def load_results(study, results: Path, curve_columns: list[str], step_columns: list[str] | None = None) -> Results:
    """The finals, the curves projected to `curve_columns` (+ epoch, step), and, if `step_columns`
    is given, the steps.parquet files projected to those (+ step)."""
    finals = load_finals(study, results)
    readable = finals.loc[finals["status"] != RunState.CORRUPT, ["run_id", "pretraining_id"]]
    # Each planned run's curves are its pretraining's, read once for each run that shares them.
    directory = {r: store.run_dir(results, study.name, p) for r, p in readable.itertuples(index=False)}
    curve_files = {r: d / store.CURVES for r, d in directory.items() if (d / store.CURVES).exists()}
    curves = read_parquet_runs(curve_files, list(dict.fromkeys(["epoch", "step", *curve_columns])))
    steps = None
    if step_columns is not None:
        step_files = {r: d / store.STEPS for r, d in directory.items() if (d / store.STEPS).exists()}
        steps = read_parquet_runs(step_files, list(dict.fromkeys(["step", *step_columns])))
    # Each kNN curve's largest fall below its running max (MoCo v3's dips), as a final metric
    # `<metric>_dip` that tables, trends and orderings can read.
    for column in [c for c in curve_columns if is_knn(c)]:
        dips = {r: run_dip(curves, steps, r, column) for r in curve_files}
        finals[dip(column)] = finals["run_id"].map(lambda r: dips[r][0] if dips.get(r) else np.nan)
    return Results(finals, curves, steps)


def matching(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    """The rows with these grid values (or variant); none when the frame lacks one of the keys."""
    for key, value in where.items():
        frame = frame[frame[key].map(lambda v, value=value: same(v, value))] if key in frame else frame.iloc[0:0]
    return frame


def largest_dip(series: pd.DataFrame, x: str, column: str) -> tuple[float, str]:
    """The largest fall of `column` below its running maximum, and where it happened."""
    series = series.dropna(subset=[column]).sort_values(x)
    if len(series) < 2:
        return 0.0, "fewer than 2 points"
    values = series[column].to_numpy(dtype=float)
    peak = pd.Series(values).cummax().to_numpy()
    i = int((peak - values).argmax())
    j = int(values[: i + 1].argmax())
    xs = series[x].to_numpy()
    show = metric(column).value
    where = f"{show(values[j])} at {x} {xs[j]} -> {show(values[i])} at {x} {xs[i]}"
    return float(peak[i] - values[i]), where


def run_dip(curves: pd.DataFrame | None, steps: pd.DataFrame | None, run_id: str, column: str):
    """(largest dip, where, source) of one run's `column` over training, read from the finer of its
    records: steps.parquet (kNN every few steps) or the per-epoch curves; None if neither has it."""
    records = [(_per_run(frame, run_id, column, x), x, source)
               for frame, x, source in ((steps, "step", store.STEPS), (curves, "epoch", "curves"))]
    records = [r for r in records if r[0] is not None]
    if not records:
        return None
    frame, x, source = max(records, key=lambda r: len(r[0]))  # steps first on a tie
    return (*largest_dip(frame, x, column), source)


def _per_run(frame: pd.DataFrame | None, run_id: str, column: str, x: str) -> pd.DataFrame | None:
    if frame is None or frame.empty or column not in frame or x not in frame:
        return None
    rows = frame[frame["run_id"] == run_id]
    rows = rows[rows[column].notna()]
    return rows if len(rows) else None
