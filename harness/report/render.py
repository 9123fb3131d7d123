"""The report's pages, from results alone: one study's reports/<study>.md with PNGs in
reports/<study>_files/, a self-contained reports/<study>.html (styles and images inline), its table
as LaTeX in reports/<study>.tex (report/latex.py) and <study>_files/summary.json, its verdict
summary; and reports/index.html and index.md, rebuilt from every such summary whenever a report is
written, so they list every study reported into that folder (including ones reported in earlier
commands). Nothing is trained or modified in results/.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections import Counter
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from harness import __version__, store
from harness.columns import DIP, PROBES, knn
from harness.provenance import code_revision, now
from harness.report import figures as fig
from harness.report.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Instability, reads_the_std
from harness.report.intervals import DECIDING_RULE
from harness.report.metrics import metric
from harness.report.protocol import differences, evaluation_protocols, protocol_notes, show_value
from harness.report.reference import PaperNumbers, citation, source_word
from harness.report.results import load_results, matching
from harness.report.schema import (CurvesFigure, ReportSpec, SweepFigure, axis_values, paper_numbers,
                                   report_spec)
from harness.report.latex import to_latex
from harness.report.tables import is_number, markdown_escape, paper_label, study_table, to_markdown
from harness.store import FINISHED

SUMMARY = "summary.json"  # in reports/<study>_files/: what the index lists of the study


@functools.cache
def templates() -> Environment:
    env = Environment(loader=PackageLoader("harness", "report/templates"),
                      autoescape=select_autoescape(["html", "html.j2"]), keep_trailing_newline=True)
    env.filters["md"] = markdown_escape
    return env


def _distinct(study, get) -> str:
    return "/".join(str(v) for v in dict.fromkeys(get(r.config) for r in study.runs))


def scale(study) -> str:
    """The scale the numbers come from, listing every value a study varies."""
    d = lambda get: _distinct(study, get)  # noqa: E731
    return (f"{d(lambda c: c.method.name)} on {d(lambda c: c.data.dataset)} at {d(lambda c: c.data.image_size)} px, "
            f"{d(lambda c: c.backbone.name)}, batch {d(lambda c: c.optim.batch_size)}, "
            f"{d(lambda c: c.optim.epochs)} epochs, base lr {d(lambda c: c.optim.base_lr)}")


def _figures(report: ReportSpec):
    if report.figures is not None:
        return list(report.figures)
    return [CurvesFigure(kind="curves")]


def curve_metrics(spec: CurvesFigure, report: ReportSpec, knn: str) -> list[str]:
    """A curves figure's panels: those it names, or the loss, the output std and kNN, with the
    effective rank beside the std where a claim reads the std: a collapse can show in the rank alone
    (at tiny, SimSiam without its predictor: rank 20.5 against 79.9, its std near 1/sqrt(d))."""
    if spec.metrics:
        return list(spec.metrics)
    rank = ["output_rank"] if any(reads_the_std(claim) for claim in report.claims) else []
    return ["loss", "output_std", *rank, knn]


def _names(figures) -> list[str]:
    names, seen = [], Counter()
    for f in figures:
        base = f.name or f.kind
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def _columns_needed(report: ReportSpec, figures, knn_first: str) -> tuple[list[str], list[str] | None]:
    """The curve and step columns the claims and figures read (Parquet column projection)."""
    curves, steps = [], None
    for f in figures:
        if f.kind == "curves":
            curves += curve_metrics(f, report, knn_first)
            curves.append("output_std_ref")  # 1/sqrt(d), drawn under the output std
        elif f.kind == "steps":
            curves.append(f.knn or knn_first)
            steps = (steps or []) + [f.metric, f.knn or knn_first]
    dips = [m.removesuffix(DIP) for m in _claim_and_table_metrics(report) if m.endswith(DIP)]
    for claim in report.claims:
        if isinstance(claim, Instability):
            dips.append(claim.metric)
    for metric in dips:  # a dip is read from the finer of the curves and steps.parquet
        curves.append(metric)
        steps = (steps or []) + [metric]
    return list(dict.fromkeys(curves)), (list(dict.fromkeys(steps)) if steps is not None else None)


def _claim_and_table_metrics(report: ReportSpec) -> list[str]:
    return [getattr(c, "metric", "") for c in report.claims] + list(report.metrics or [])


def _attach(frame, finals, columns: list[str]):
    """Give per-epoch or per-step rows their runs' labels (hue axes) by run_id."""
    if frame is None:
        return frame
    index = finals.set_index("run_id")
    for column in columns:
        if column in index and column not in frame:
            frame[column] = frame["run_id"].map(index[column]).astype(object)
    return frame


def _curves(study, spec, runs, data, path) -> tuple[str, list[str]]:
    metrics = curve_metrics(spec, data["report"], data["knn"])
    frame = data["curves"][data["curves"]["run_id"].isin(set(runs["run_id"]))]
    notes = [f"no run has {m!r} in its curves yet" for m in metrics if m not in frame or not frame[m].notna().any()]
    fig.curves_figure(frame, spec.hue, fig.hue_order(runs[spec.hue]), metrics, path, spec.title or study.spec.title,
                      data["std_ref"])
    return f"{', '.join(metric(m).label for m in metrics)} over epochs by {spec.hue}", notes


def _sweep(study, spec, runs, data, path) -> tuple[str, list[str]]:
    hue = spec.hue or ("variant" if len(study.spec.variants) > 1 else None)
    metrics = spec.metrics or [data["knn"]] + [p for p in PROBES if p in runs and runs[p].notna().any()]
    x_values = axis_values(study, spec.x)
    order = fig.hue_order(runs[hue]) if hue else []
    paper = _paper_points(study, spec, hue, order, x_values, data["paper"]) if spec.paper else None
    fig.sweep_figure(runs[runs["status"].isin(FINISHED)], spec.x, x_values, hue, order, metrics, spec.xscale, paper,
                     paper_label(data["report"]), path, spec.title or study.spec.title)
    return f"final {', '.join(metric(m).label for m in metrics)} over {spec.x}", []


def _steps(study, spec, runs, data, path) -> tuple[str, list[str]]:
    knn, ids, steps = spec.knn or data["knn"], set(runs["run_id"]), data["steps"]
    frame = steps[steps["run_id"].isin(ids)]
    finished = set(runs.loc[runs["status"].isin(FINISHED), "run_id"])
    without = sorted(finished - set(frame["run_id"].astype(str)))
    notes = [f"{len(without)} finished run(s) wrote no steps.parquet: {', '.join(without)}"] if without else []
    fig.steps_figure(frame, data["curves"][data["curves"]["run_id"].isin(ids)], spec.hue, fig.hue_order(runs[spec.hue]),
                     spec.metric, knn, path, spec.title or study.spec.title, spec.logy)
    return f"{metric(spec.metric).label} and {metric(knn).label} over steps by {spec.hue}", notes


DRAW = {"curves": _curves, "sweep": _sweep, "steps": _steps}


def draw_figures(study, report: ReportSpec, paper: PaperNumbers | None, results, figures, names, knn_first: str,
                 folder: Path) -> tuple[list[dict], list[str]]:
    """Each declared figure as folder/<name>.png; returns them (path, name, alt) and notes on missing data."""
    finals = results.finals
    axes = ["series", "variant", *study.spec.grid]
    curves = _attach(results.curves, finals, axes)
    refs = [finals["output_std_ref"]] + ([curves["output_std_ref"]] if "output_std_ref" in curves else [])
    refs = [float(r) for frame in refs for r in frame.dropna().iloc[:1]]
    steps = _attach(results.steps if results.steps is not None else curves.iloc[0:0], finals, axes)
    data = {"curves": curves, "steps": steps, "knn": knn_first, "std_ref": refs[0] if refs else None,
            "report": report, "paper": paper}
    drawn, notes = [], []
    for spec, name in zip(figures, names):
        path = folder / f"{name}.png"
        alt, figure_notes = DRAW[spec.kind](study, spec, matching(finals, spec.where), data, path)
        notes += [f"figure {name}: {n}" for n in figure_notes]
        drawn.append({"path": path, "name": name, "alt": alt})
    return drawn, notes


def _paper_points(study, spec: SweepFigure, hue, order, x_values, numbers: PaperNumbers | None) -> dict | None:
    if numbers is None or not numbers.published:
        return None
    points = {}
    for value in order if hue else [None]:
        base = {**spec.where, **({hue: value} if hue else {})}
        if "variant" not in base and len(study.spec.variants) == 1:
            base["variant"] = next(iter(study.spec.variants))
        found = [(x, numbers.number({**base, spec.x: x})) for x in x_values]
        found = [(x, n) for x, n in found if n is not None]
        if found:
            points[value] = found
    return points or None


def _runs_table(finals) -> list[dict]:
    """One line per planned run, whatever its state: missing, partial, failed and diverged included."""
    def text(value) -> str:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    def number(value, digits=1) -> str:
        return "" if text(value) == "" else f"{float(value):.{digits}f}"

    def short(revision: str) -> str:
        return revision[:12] + ("+dirty" if revision.endswith("+dirty") else "")

    return [
        # A run's folder is its pretraining's; its evaluation is the stage its result_id names after the "/".
        {"run_id": r.pretraining_id, "evaluation": r.run_id.partition("/")[2], "label": r.label, "status": r.status, "epochs": number(r.epochs_completed, 0),
         "wall": number(r.wall_seconds), "finished": text(r.finished_at), "code": short(text(r.code_revision)),
         "note": text(r.note)}
        for r in finals.itertuples()
    ]


def write_report(study, results: Path, reports: Path) -> list[Path]:
    """Regenerate the study's report from results/ alone; returns the files written."""
    if study.name == "index":
        raise ValueError("a study may not be named 'index': reports/index.html lists the studies")
    reports = Path(reports)
    folder = reports / f"{study.name}_files"
    # Temporaries a killed report writer left behind (written files appear only by rename).
    for stale in [*reports.glob(f".{study.name}.*.tmp"), *reports.glob(".index.*.tmp"), *folder.glob(".*.tmp")]:
        stale.unlink(missing_ok=True)
    spec = report_spec(study)
    paper = paper_numbers(study, spec)
    knn_names = [p.name for p in study.runs[0].config.monitor.knn]
    knn_first = knn(knn_names[0])
    figures = _figures(spec)
    names = _names(figures)
    curve_columns, step_columns = _columns_needed(spec, figures, knn_first)

    results_ = load_results(study, results, curve_columns, step_columns)
    finals = results_.finals
    table = study_table(study, finals, knn_names, spec, paper)
    verdicts = [claim.evaluate(finals, results_.curves, results_.steps) for claim in spec.claims]
    drawn, figure_notes = draw_figures(study, spec, paper, results_, figures, names, knn_first, folder)
    for stale in folder.glob("*.png"):  # figures an earlier version of the study declared
        if stale not in {d["path"] for d in drawn}:
            stale.unlink()

    outcomes = Counter(v.outcome for v in verdicts)
    states = Counter(finals["status"])
    generated = now()
    context = {
        "name": study.name,
        "title": study.spec.title,
        "description": study.spec.description.strip(),
        "preset": study.preset,
        "scale": scale(study),
        "paper_ref": spec.paper,
        "citation": citation(spec.paper) if spec.paper else "",
        "source": source_word(spec.paper),  # "peer" for another tool's numbers, not a paper's
        "paper_what": "; ".join(paper_label(spec, f).split(" ", 1)[1] for f in paper.fields)
                      if paper and paper.published else "",
        "paper_note": paper.note if paper else "",
        "notes": table.notes + figure_notes,
        "protocol": [{"key": d.key, "ours": " / ".join(show_value(v) for v in d.ours), "paper": show_value(d.paper)}
                     for d in differences(study, spec)],
        "evaluations": [{"column": column, "protocol": text} for column, text in evaluation_protocols(study)],
        "protocol_notes": protocol_notes(study),
        "verdicts": verdicts,
        "deciding_rule": DECIDING_RULE,
        "level": "/".join(f"{100 * c:g}%" for c in sorted({c.confidence for c in spec.claims})) or "95%",
        "outcomes": [(o, outcomes.get(o, 0)) for o in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)],
        "states": store.tally(finals["status"]),
        "runs": _runs_table(finals),
        "generated": generated,
        "version": __version__,
        "revision": code_revision(),
        "results": str(Path(results) / study.name),
        "study_file": str(study.path),
    }
    env = templates()
    md = env.get_template("report.md.j2").render(
        table_md=to_markdown(table),
        figures=[{**d, "rel": f"{folder.name}/{d['path'].name}"} for d in drawn], **context)
    cells = [[(v, is_number(v)) for v in row] for row in table.rows]  # numbers align right
    html = env.get_template("report.html.j2").render(
        table=table, cells=cells,
        figures=[{**d, "b64": base64.b64encode(d["path"].read_bytes()).decode()} for d in drawn], **context)
    md_path, html_path, tex_path = (reports / f"{study.name}.{suffix}" for suffix in ("md", "html", "tex"))
    store.atomic_write_bytes(md_path, md.encode())
    store.atomic_write_bytes(html_path, html.encode())
    store.atomic_write_bytes(tex_path, to_latex(table, _caption(context), study.name).encode())
    store.write_json(folder / SUMMARY, {
        "name": study.name, "title": study.spec.title, "preset": study.preset, "paper": spec.paper,
        "outcomes": dict(outcomes), "claims": len(verdicts), "runs": dict(states), "generated": generated,
        "study_file": str(study.path),
        "verdicts": [{"claim": v.claim, "outcome": v.outcome, "seeds": v.seeds, "interval": v.interval}
                     for v in verdicts],
    })
    index = write_index(reports)
    return [md_path, html_path, tex_path, *(d["path"] for d in drawn), *index]


def _caption(context: dict) -> str:
    """The LaTeX table's caption: what the numbers are, at which scale, beside which paper."""
    paper = f"; paper: {context['citation'] or context['paper_ref']}" if context["paper_what"] else ""
    return (f"{context['title'].rstrip('.')}. Mean ± std over seeds at the {context['preset']} scale "
            f"({context['scale']}){paper}.")


def read_summaries(reports: Path) -> list[dict]:
    found = []
    for path in sorted(Path(reports).glob(f"*_files/{SUMMARY}")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a summary being replaced right now; the next report rewrites the index
        if (Path(reports) / f"{summary.get('name')}.html").exists():
            found.append(summary)
    return found


def write_index(reports: Path) -> list[Path]:
    """reports/index.html and index.md: every study that has a report, with its verdict summary."""
    reports = Path(reports)
    context = {"studies": read_summaries(reports), "generated": now()}
    paths = []
    for template, name in (("index.html.j2", "index.html"), ("index.md.j2", "index.md")):
        path = reports / name
        store.atomic_write_bytes(path, templates().get_template(template).render(**context).encode())
        paths.append(path)
    return paths
