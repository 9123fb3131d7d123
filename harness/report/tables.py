"""A study's table laid out like the paper's.

Flat (the default): one row per value of `report.rows` (and of any other axis that varies), the
paper's number beside the reproduced metrics (mean ± std over seeds), the epochs the numbers came
from and the state of the runs behind the row (SimSiam Table 1, BYOL Table 5a).

Pivot (`report.columns` set): the values of that axis become columns, and each row group lists the
paper's numbers, then one line per metric, then the runs (SimSiam Table 2's batch sizes; BYOL
Table 16's BYOL and SimCLR rows over batch sizes).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from harness import store
from harness.columns import PROBES, knn
from harness.report.metrics import Metric, metric
from harness.report.reference import PaperNumbers, source_word
from harness.report.schema import ReportSpec, axis_values, paper_numbers, report_spec, study_axes
from harness.store import FINISHED


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]


def table_metrics(report, finals: pd.DataFrame, knn_names: list[str]) -> list[Metric]:
    if report.metrics:
        return [metric(c) for c in report.metrics]
    columns = [knn(name) for name in knn_names]
    columns += [p for p in PROBES if p in finals and finals[p].notna().any()]  # only where a probe ran
    columns.append("output_std_ratio")
    if "output_std_pre_bn_ratio" in finals and not finals["output_std_pre_bn_ratio"].equals(finals["output_std_ratio"]):
        columns.append("output_std_pre_bn_ratio")  # only where some run has an output BN
    if "output_rank" in finals:
        columns.append("output_rank")
    return [metric(c) for c in [*columns, "loss"]]


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 1) -> str:
    values = pd.to_numeric(values, errors="coerce").dropna().astype(float) * scale
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def state_counts(rows: pd.DataFrame) -> str:
    return store.tally(rows["status"])


def seeds(rows: pd.DataFrame, metrics: list[Metric]) -> str:
    """How many seeds the cells' mean ± std are over: for each metric, the finished runs whose summary
    has it (a summary without it is no seed of it); a range where the metrics' counts differ, leaving
    out a metric no run has (a probe none ran)."""
    done = rows[rows["status"].isin(FINISHED)]
    counts = {int(pd.to_numeric(done[m.column], errors="coerce").notna().sum()) for m in metrics if m.column in done}
    counts = counts - {0} or {0}
    lo, hi = min(counts), max(counts)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def epochs(rows: pd.DataFrame) -> str:
    done = pd.to_numeric(rows.loc[rows["status"].isin(FINISHED), "epochs_completed"], errors="coerce").dropna()
    if done.empty:
        return "-"
    lo, hi = int(done.min()), int(done.max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _cell(rows: pd.DataFrame, m: Metric) -> str:
    done = rows[rows["status"].isin(FINISHED)]
    return mean_std(done[m.column], m.scale, m.digits) if m.column in done else "-"


def paper_label(report, field: str | None = None) -> str:
    """'paper linear top-1 (%)', or the study's label; 'peer ...' for another tool's numbers. `field`:
    one of several listed paper fields (its label from a {field: label} paper_label)."""
    word = source_word(report.paper)
    label = report.paper_label.get(field) if isinstance(report.paper_label, dict) else report.paper_label
    if label:
        return f"{word} {label}"
    what = field or (report.paper_value if isinstance(report.paper_value, str) else "top1")
    return f"{word} {what.replace('top1', 'top-1').replace('_', ' ')}" + (" (%)" if "top1" in what else "")


def _row_axes(study, report: ReportSpec, finals: pd.DataFrame) -> list[str]:
    """The axes that tell the table's rows apart: report.rows first, then any other varying axis."""
    first = report.rows
    return [first] + [a for a in study_axes(study.spec)
                      if a not in (first, report.columns) and a in finals and finals[a].nunique() > 1]


def _groups(finals: pd.DataFrame, axes: list[str]):
    for keys, rows in finals.groupby(axes, sort=False, dropna=False):
        yield dict(zip(axes, keys if isinstance(keys, tuple) else (keys,))), rows


def study_table(study, finals: pd.DataFrame, knn_names: list[str], report: ReportSpec | None = None,
                paper: PaperNumbers | None = None) -> Table:
    """The study's table from its finals; `report` and `paper` (its section and paper numbers) are
    the study's unless the caller has them at hand."""
    report = report or report_spec(study)
    paper = paper or paper_numbers(study, report)
    paper = paper if paper and paper.published else None  # a table without per-point numbers: no column
    metrics = table_metrics(report, finals, knn_names)
    notes = []
    if report.paper and paper is None:
        notes.append(f"{report.paper} publishes no per-point numbers, so the table has no paper column.")
    finished = finals[finals["status"].isin(FINISHED)]
    for m in metrics:
        if not finished.empty and (m.column not in finished or finished[m.column].isna().all()):
            notes.append(f"No finished run reports {m.column!r}, so its {'line' if report.columns else 'column'} is empty.")
    if paper and paper.match and not any(paper.lookup(p.labels()) for p in study.runs):
        notes.append(_no_paper_row(paper, study))
    axes = _row_axes(study, report, finals)
    if report.columns:
        return _pivot(study, report, finals, axes, metrics, paper, notes)
    fields = paper.fields if paper else []
    columns = [*axes, *(paper_label(report, f) for f in fields), *(m.heading for m in metrics), "seeds", "epochs",
               "runs"]
    rows = []
    for point, group in _groups(finals, axes):
        cells = [_text(point[a]) for a in axes]
        cells += [paper.cell(point, f) for f in fields]
        cells += [_cell(group, m) for m in metrics]
        rows.append(cells + [seeds(group, metrics), epochs(group), state_counts(group)])
    return Table(columns, rows, notes)


def _no_paper_row(paper: PaperNumbers, study) -> str:
    """Why the paper column is all '-': e.g. a preset_grid that scales the paper's lrs for `tiny`."""
    ran = "; ".join(f"{axis} = {', '.join(_text(v) for v in axis_values(study, axis))}" for axis in paper.match)
    has = "; ".join(f"{field} = {', '.join(_text(v) for v in dict.fromkeys(r.get(field) for r in paper.rows))}"
                    for field in paper.match.values())
    return f"No point of this preset is a row of {paper.ref} (this preset ran {ran}; the paper: {has}), so the paper column is empty."


def _pivot(study, report, finals, axes, metrics, paper, notes) -> Table:
    across = report.columns
    values = axis_values(study, across)
    columns = [*axes, "", *(f"{_short(across)} {_text(v)}" for v in values)]
    rows = []
    for point, group in _groups(finals, axes):
        lead = [_text(point[a]) for a in axes]
        # The finals hold the very values the spec lists, so plain equality groups them.
        cells = dict(list(group.groupby(across, sort=False, dropna=False)))
        by_value = [(v, cells.get(v, group.iloc[0:0])) for v in values]
        for f in paper.fields if paper else []:
            rows.append(lead + [paper_label(report, f)] + [paper.cell({**point, across: v}, f) for v, _ in by_value])
        for m in metrics:
            rows.append(lead + [m.heading] + [_cell(cell, m) for _, cell in by_value])
        rows.append(lead + ["seeds"] + [seeds(cell, metrics) for _, cell in by_value])
        rows.append(lead + ["epochs"] + [epochs(cell) for _, cell in by_value])
        rows.append(lead + ["runs"] + [state_counts(cell) if len(cell) else "-" for _, cell in by_value])
    return Table(columns, rows, notes)


def _short(axis: str) -> str:
    return axis.rsplit(".", 1)[-1].replace("_", " ")


def _text(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


# A cell that is a number: a value, a mean ± std, a paper's number marked (L) or (M), a range of counts.
NUMBER = re.compile(r"-?\d[\d.]*(?: ± [\d.]+)?(?: \([LM]\))?|\d+–\d+")


def is_number(cell: str) -> bool:
    """Whether a cell is a number (tables align them right)."""
    return bool(NUMBER.fullmatch(cell))


def markdown_escape(text: str) -> str:
    """A string safe inside a Markdown table cell or line: no raw HTML, no cell breaks."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def to_markdown(table: Table) -> str:
    header = "| " + " | ".join(markdown_escape(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(markdown_escape(v) for v in row) + " |" for row in table.rows]
    return "\n".join([header, rule, *body])
