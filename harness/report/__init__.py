"""Reports: a study's paper table with the reproduced numbers beside the published ones, its claims
with verdicts, and its figures, as reports/<study>.md (+ PNGs in <study>_files/), a self-contained
reports/<study>.html, the table as LaTeX in reports/<study>.tex, and reports/index.html listing
every reported study.

Modules: schema (the study's `report:` section, and its check against the study), claims (with
their verdicts; intervals: Welch's over seeds), metrics (what each metric is called and how it is
shown), reference (papers.yaml), protocol (where the runs differ from the paper's setup), results
(read results/), tables, latex (the table for a paper), figures, render (the pages). Plotting loads
only when a report is written: `harness status` checks the section through schema without it.
"""

from __future__ import annotations

from pathlib import Path

LOCK = ".report.lock"


def write_report(study, results: Path, reports: Path) -> list[Path]:
    """Regenerate reports/<study>.{md,html,tex}, its figures and reports/index.{html,md} from results/."""
    from harness import store
    from harness.report.render import write_report as render

    # One writer per reports folder: a writer clears the temporaries a killed one left, which must
    # not be another live writer's (two `harness run` of one study end with a report each).
    with store.exclusive(Path(reports) / LOCK):
        return render(study, results, reports)
