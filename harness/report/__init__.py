"""Reports: a study's paper table with the reproduced numbers beside the published ones, its claims
with verdicts, and its figures, as reports/<study>.md (+ PNGs in <study>_files/), a self-contained
reports/<study>.html, and reports/index.html listing every reported study.

Modules: schema (the study's `report:` section, and its check against the study), claims (with
their verdicts; intervals: Welch's over seeds), results (read results/), reference (papers.yaml),
protocol, tables, figures, render (one study's files), index (the index page), bench (the report
benchmark). Plotting is slow to import: it loads when a report is written.
"""

from __future__ import annotations

from pathlib import Path

LOCK = ".report.lock"


def write_report(study, results: Path, reports: Path) -> list[Path]:
    """Regenerate reports/<study>.{md,html}, its figures and reports/index.{html,md} from results/."""
    from harness import store
    from harness.report.render import write_report as render

    # One writer per reports folder: a writer clears the temporaries a killed one left, which must
    # not be another live writer's (two `harness run` of one study end with a report each).
    with store.exclusive(Path(reports) / LOCK):
        return render(study, results, reports)


def write_index(reports: Path) -> list[Path]:
    from harness import store
    from harness.report.index import write_index as index

    with store.exclusive(Path(reports) / LOCK):
        return index(reports)
