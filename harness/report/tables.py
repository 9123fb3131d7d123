"""A study's table laid out like the paper's: one row per variant (or grid value), the paper's number
beside the reproduced ones (mean +- std over seeds), and the state of the runs behind each row."""

from __future__ import annotations

import math

import pandas as pd

from harness.claims import FINISHED
from harness.report.reference import paper_table
from harness.spec import Study


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 1) -> str:
    values = values.dropna().astype(float) * scale
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def paper_cell(study: Study, key) -> str:
    spec = study.spec.report
    if spec.paper is None:
        return ""
    table = paper_table(spec.paper)
    match_on = spec.paper_key or ("variant" if spec.rows == "variant" else spec.rows.split(".")[-1])
    for row in table.get("rows", []):
        if str(row.get(match_on)) == str(key):
            value = row.get(spec.paper_value)
            if value is None:
                return row.get("note", "n/a")
            text = f"{value}" + (f" ± {row['pm']}" if "pm" in row else "")
            sure = row.get("sure", table.get("sure", "H"))
            return text + ("" if sure == "H" else f" ({sure})")
    return "-"


def run_states(rows: pd.DataFrame) -> str:
    counts = rows["status"].value_counts()
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def study_table(study: Study, finals: pd.DataFrame, knn_names: list[str]) -> pd.DataFrame:
    axis = study.spec.report.rows
    key_col = "variant" if axis == "variant" else axis
    other = [k for k in ["variant", *study.spec.grid] if k != key_col and finals[k].nunique() > 1]
    out = []
    for keys, rows in finals.groupby([key_col, *other], sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        done = rows[rows["status"].isin(FINISHED)]
        record = {name: value for name, value in zip([key_col, *other], keys)}
        record["paper"] = paper_cell(study, keys[0])
        for name in knn_names:
            record[f"kNN {name} (%)"] = mean_std(done.get(f"knn_top1_{name}", pd.Series(dtype=float)), 100)
        ratio = done["output_std"] / done["output_std_ref"] if "output_std" in done else pd.Series(dtype=float)
        record["output std (× 1/√d)"] = mean_std(ratio, digits=2)
        record["final loss"] = mean_std(done.get("loss", pd.Series(dtype=float)), digits=3)
        record["runs"] = run_states(rows)
        out.append(record)
    table = pd.DataFrame(out)
    if study.spec.report.paper:
        table = table.rename(columns={"paper": f"paper {study.spec.report.paper_value.replace('_', ' ')} (%)"})
    else:
        table = table.drop(columns="paper")
    return table


def to_markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join("" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])
