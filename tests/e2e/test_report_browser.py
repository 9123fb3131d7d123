"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run)
loads the page offline, logs no errors, requests nothing but the file itself and its inline images,
shows the tables and decoded figures, and runs no markup smuggled in through the study file."""

import io
import os

import pytest
from PIL import Image

from harness.report import write_report

from chromium import find_chromium, visit
from report_trees import FIGURES, HOSTILE, make_study, write_run

if find_chromium() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must install chromium (see .ci/run) for the browser test")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

PROBE = """({
  title: document.title,
  h1: document.querySelector('h1').textContent,
  scripts: document.scripts.length,
  tables: [...document.querySelectorAll('table')].map(t => t.id),
  tableRows: document.querySelectorAll('#study-table tbody tr').length,
  claimRows: document.querySelectorAll('#claims tbody tr').length,
  runRows: document.querySelectorAll('#runs tbody tr').length,
  images: [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, shown: i.width})),
  links: [...document.links].map(a => a.getAttribute('href')),
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    text = FIGURES.replace('title: "Figures $x$"', f'title: "{HOSTILE} figures"').replace(
        'text: "dips at 1024"', 'text: "<img src=x onerror=alert(2)> dips"')
    study = make_study(tmp, text, "figs")
    results = tmp / "results"
    for planned in study.runs:
        status = "failed" if planned.variant == "b" and planned.config.optim.batch_size == 1024 else "done"
        write_run(results, study, planned, status=status, knn=planned.config.optim.batch_size / 2000)
    write_report(study, results, tmp / "reports")
    return study, tmp / "reports"


def test_the_report_page_in_chromium(report):
    study, reports = report
    page = visit(reports / "figs.html", PROBE)
    assert page.errors == []
    assert page.requests and all(url.startswith(("file:", "data:image/png")) for url in page.requests)
    checks = page.checks
    assert checks["title"] == f"{HOSTILE} figures" and checks["h1"] == f"{HOSTILE} figures"
    assert checks["scripts"] == 0  # the hostile strings are text, not elements
    assert checks["tables"] == ["study-table", "protocol", "claims", "runs"]
    assert checks["tableRows"] == 2 * (1 + 4 + 3)  # per variant: the paper, 4 metrics, seeds, epochs, runs
    assert checks["claimRows"] == 2 and checks["runRows"] == len(study.runs) == 18  # 2 variants x 3 batches x 3 seeds
    assert len(checks["images"]) == 4 and all(i["ok"] and i["w"] > 400 and i["shown"] > 0 for i in checks["images"])
    assert "index.html" in checks["links"]

    shot = Image.open(io.BytesIO(page.screenshot))
    assert shot.width == 1280 and shot.height > 2000  # the whole page, not one screen
    assert len(shot.convert("RGB").getcolors(maxcolors=1 << 20)) > 100  # not a blank page
    if os.environ.get("HARNESS_SCREENSHOT"):
        shot.save(os.environ["HARNESS_SCREENSHOT"])


def test_the_index_page_in_chromium(report):
    _, reports = report
    # Clicking a column's header sorts the table of every claim by it; clicking again reverses it.
    sort = ("(() => { const th = document.querySelectorAll('#claims th')[3];"
            " const verdicts = () => [...document.querySelectorAll('#claims tbody tr')].map(r => r.cells[3].textContent);"
            " th.click(); const up = verdicts(); th.click(); return {up, down: verdicts()}; })()")
    page = visit(reports / "index.html", "({links: [...document.links].map(a => a.getAttribute('href')),"
                                         " cells: [...document.querySelectorAll('#studies td')].map(td => td.textContent),"
                                         f" sorted: {sort}}})")
    assert page.errors == []
    assert set(page.checks["links"]) == {"figs.html"} and (reports / "figs.html").exists()  # the study, its claims
    up, down = page.checks["sorted"]["up"], page.checks["sorted"]["down"]
    assert len(up) > 1 and up == sorted(up) and down == sorted(up, reverse=True)
    assert f"{HOSTILE} figures" in page.checks["cells"][0]
