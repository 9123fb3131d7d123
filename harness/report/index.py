"""reports/index.html and reports/index.md: every study that has a report, with its verdict summary.

Each study's report leaves <study>_files/summary.json beside it; the index is rebuilt from all of
them whenever any report is written, so it lists every study reported into that folder (including
ones reported in earlier commands), never only the last one.
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from harness import store
from harness.provenance import now

SUMMARY = "summary.json"


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
    from harness.report.tables import markdown_escape

    reports = Path(reports)
    studies = read_summaries(reports)
    env = Environment(loader=PackageLoader("harness", "report/templates"),
                      autoescape=select_autoescape(["html", "html.j2"]), keep_trailing_newline=True)
    env.filters["md"] = markdown_escape
    context = {"studies": studies, "generated": now()}
    paths = []
    for template, name in (("index.html.j2", "index.html"), ("index.md.j2", "index.md")):
        path = reports / name
        store.atomic_write_bytes(path, env.get_template(template).render(**context).encode())
        paths.append(path)
    return paths
