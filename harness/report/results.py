"""Read a study's results for the report: one row of final metrics per planned run, and the curves.

Missing, failed and still-running runs stay in the frame with their status, so nothing is dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import store
from harness.spec import Study

MISSING = "missing"


def load_results(study: Study, results: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(finals, curves): finals has one row per planned run; curves one row per run and epoch."""
    finals, curves = [], []
    for planned in study.runs:
        directory = store.run_dir(results, study.name, planned.run_id)
        state = store.run_state(directory)
        # A corrupt run's files are never read as data: it is listed with its state only.
        summary = {} if state == store.CORRUPT else (store.read_json(directory / store.SUMMARY) or {})
        row = {"run_id": planned.run_id, "label": planned.label, "series": planned.series, **planned.labels(),
               "status": MISSING if state == store.NEW else state}
        row.update(summary.get("final", {}))
        row["chance"] = summary.get("chance")
        row["output_std_ref"] = summary.get("output_std_ref")
        row["wall_seconds"] = summary.get("wall_seconds")
        row["epochs_completed"] = summary.get("epochs_completed")
        if state != store.CORRUPT and store.curves_readable(directory / store.CURVES):
            frame = store.read_curves(directory / store.CURVES)
            for key, value in planned.labels().items():
                frame[key] = value
            frame["run_id"], frame["series"] = planned.run_id, planned.series
            curves.append(frame)
        finals.append(row)
    return pd.DataFrame(finals), (pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())
