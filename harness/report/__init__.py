"""Reports: a study's paper table with the reproduced numbers beside the published ones, its
claims with verdicts, and its figures, as reports/<study>.md (+ PNGs) and a self-contained .html."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from harness import __version__, store
from harness.provenance import code_revision
from harness.spec import Study


def _scale(study: Study) -> str:
    c = study.runs[0].config
    return (f"{c.data.dataset} at {c.data.image_size} px, {c.backbone.name}, batch {c.optim.batch_size}, "
            f"{c.optim.epochs} epochs, base lr {c.optim.base_lr}")


def write_report(study: Study, results: Path, reports: Path) -> list[Path]:
    # Imported here: plotting libraries are slow to import and only the report needs them.
    from harness.report.figures import curves_figure
    from harness.report.reference import citation, paper_table
    from harness.report.results import load_results
    from harness.report.tables import study_table, to_markdown

    finals, curves = load_results(study, results)
    knn_names = [p.name for p in study.runs[0].config.monitor.knn]
    table = study_table(study, finals, knn_names)
    verdicts = [claim.evaluate(finals) for claim in study.spec.report.claims]

    reports = Path(reports)
    figure = reports / f"{study.name}_files" / "curves.png"
    # Temporaries a killed report writer left behind.
    for stale in [*reports.glob(f".{study.name}.*.tmp"), *figure.parent.glob(".*.tmp")]:
        stale.unlink(missing_ok=True)
    if curves.empty:  # no run has a curve yet: the figure is still written, with empty panels
        curves = finals.assign(epoch=0)
    curves_figure(curves, "series", f"knn_top1_{knn_names[0]}", figure, study.spec.title)

    ref = study.spec.report.paper
    paper = paper_table(ref) if ref else {}
    context = {
        "title": study.spec.title,
        "description": study.spec.description.strip(),
        "preset": study.preset,
        "scale": _scale(study),
        "paper_ref": ref,
        "citation": citation(ref) if ref else "",
        "paper_what": f"the paper's {study.spec.report.paper_value.replace('_', ' ')}" if ref else "absent",
        "paper_note": paper.get("note", ""),
        "verdicts": verdicts,
        "runs": [
            {"run_id": r.run_id, "label": r.label, "status": r.status,
             "epochs": "" if r.epochs_completed is None or r.epochs_completed != r.epochs_completed
             else int(r.epochs_completed),
             "wall": "" if r.wall_seconds is None or r.wall_seconds != r.wall_seconds else f"{r.wall_seconds:.1f}"}
            for r in finals.itertuples()
        ],
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "revision": code_revision(),
        "results": str(Path(results) / study.name),
    }
    env = Environment(loader=PackageLoader("harness", "report/templates"),
                      autoescape=select_autoescape(["html"]), keep_trailing_newline=True)
    md = env.get_template("report.md.j2").render(
        table_md=to_markdown(table), figure_rel=f"{figure.parent.name}/{figure.name}", **context)
    html = env.get_template("report.html.j2").render(
        table_columns=list(table.columns), table_rows=table.values.tolist(),
        figure_b64=base64.b64encode(figure.read_bytes()).decode(), **context)
    md_path, html_path = reports / f"{study.name}.md", reports / f"{study.name}.html"
    store.atomic_write_bytes(md_path, md.encode())
    store.atomic_write_bytes(html_path, html.encode())
    return [md_path, html_path, figure]
