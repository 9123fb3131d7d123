"""Reports from synthetic results trees: tables laid out like the papers' with papers.yaml's numbers,
every run state listed, declared figures drawn, bad report sections refused, the index page."""

import re

import pytest
import yaml

from harness import store
from harness.bench.report import main as bench_main
from harness.cli import main
from harness.plan import load_study
from harness.report import write_report
from harness.report.reference import PaperNumbers, paper_table, papers, sureness, value_fields
from harness.report.results import load_finals
from harness.report.render import curve_metrics
from harness.report.schema import CurvesFigure, check_report, report_spec
from harness.report.tables import study_table
from harness.spec import SpecError, read_spec

from conftest import STUDIES
from report_trees import FIGURES, HOSTILE, make_study, write_run


def paper_column(table):
    indices = [i for i, c in enumerate(table.columns) if c.startswith(("paper", "peer"))]
    return [row[i] for row in table.rows for i in indices]


# -- the paper's numbers come from papers.yaml

def test_simsiam_table1_paper_column_is_papers_yaml(tmp_path):
    study = load_study(STUDIES / "simsiam_predictor.yaml")
    table = study_table(study, load_finals(study, tmp_path), ["k200", "k20"])
    published = {row["variant"]: row["linear_top1"] for row in paper_table("simsiam.table1_predictor")["rows"]}
    variants = [row[0] for row in table.rows]
    assert paper_column(table) == [str(published[v]) for v in variants]
    assert set(variants) == set(published)


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_study_paper_column_comes_from_papers_yaml(path, tmp_path):
    """Whatever the layout, every paper cell is a number of the study's papers.yaml table (with its
    ± and H/M/L mark), one of its notes, or '-' for a row the paper does not have."""
    # A study whose tiny grid differs from the paper's (preset_grid) is checked where the grid is the paper's.
    study = load_study(path, "imagenet" if "tiny" in read_spec(path).preset_grid else None)
    report = report_spec(study)
    if not report.paper or not paper_table(report.paper).get("rows"):
        pytest.skip("no per-point paper numbers")
    source = paper_table(report.paper)
    fields = value_fields(report)
    allowed = {"-", *(row.get("note") for row in source["rows"])}
    for row in source["rows"]:
        for field in fields:
            sure = sureness(source, row, field)
            if row.get(field) is not None:
                text = f"{row[field]}" + (f" ± {row['pm']}" if "pm" in row else "")
                allowed.add(text if sure == "H" else f"{text} ({sure})")
    table = study_table(study, load_finals(study, tmp_path), ["k200", "k20"])
    if report.columns:  # a pivot: the paper's numbers are the lines labelled "paper ..."
        label = table.columns.index("")
        cells = [c for row in table.rows if row[label].startswith(("paper", "peer")) for c in row[label + 1:]]
    else:
        cells = paper_column(table)
    assert cells and set(cells) <= allowed
    assert any(c != "-" for c in cells), "no table cell found its paper row"


BYOL16 = """\
name: byol16
title: "BYOL Table 16: batch size"
variants: {byol: {}, simclr: {method.stop_gradient: false}}
grid: {optim.batch_size: [64, 128, 256]}
report:
  paper: byol.table16_batch_size
  rows: variant
  columns: optim.batch_size
  paper_value: {byol: byol, simclr: simclr}
  paper_label: "ImageNet linear top-1 (%)"
"""


def test_pivot_with_a_paper_field_per_variant(tmp_path):
    study = make_study(tmp_path, BYOL16, "byol16")
    results = tmp_path / "results"
    for planned in study.runs:
        write_run(results, study, planned, knn=planned.config.optim.batch_size / 1000)
    table = study_table(study, load_finals(study, results), ["k200", "k20"])
    assert table.columns == ["variant", "", "batch size 64", "batch size 128", "batch size 256"]
    lines = {(row[0], row[1]): row[2:] for row in table.rows}
    assert lines[("byol", "paper ImageNet linear top-1 (%)")] == ["59.7", "69.6", "71.8"]
    assert lines[("simclr", "paper ImageNet linear top-1 (%)")] == ["59.2", "63.6", "64.3"]
    assert lines[("byol", "kNN k200 top-1 (%)")] == ["6.4", "12.8", "25.6"]
    assert lines[("simclr", "runs")] == ["1 done"] * 3


def test_derived_numbers_are_marked(tmp_path):
    study = make_study(tmp_path, """\
name: moco5
title: t
variants: {learned: {}, frozen_random: {method.stop_gradient: false}}
grid: {optim.base_lr: [0.5e-4, 1.5e-4]}
report:
  paper: mocov3.figure5_frozen_patch_projection
  rows: optim.base_lr
  paper_key: lr
  columns: variant
  paper_value: {learned: learned, frozen_random: frozen_random}
""")
    table = study_table(study, load_finals(study, tmp_path), ["k200"])
    paper_rows = [row for row in table.rows if row[1].startswith("paper")]
    # the learned numbers are read in the paper (H), the frozen ones derived from its stated gains (M)
    assert [row[2:] for row in paper_rows] == [["70.4", "70.8 (M)"], ["71.7", "73.4 (M)"]]


def test_a_paper_table_without_numbers_gives_a_note_not_a_column(tmp_path):
    study = make_study(tmp_path, """\
name: head_depth
title: "SimCLR v2 Figure 5"
variants: {two: {projector.layers: 2}, three: {projector.layers: 3}}
seeds: [0, 1, 2]
report:
  paper: simclr_v2.figure5_head_depth
  claims:
    - {kind: ordering, better: three, worse: two, text: "a deeper head is better"}
""")
    results = tmp_path / "results"
    for planned in study.runs:
        write_run(results, study, planned, knn=(0.7 if planned.variant == "two" else 0.8) + 0.001 * planned.seed)
    write_report(study, results, tmp_path / "reports")
    md = (tmp_path / "reports" / "head_depth.md").read_text()
    assert "paper linear" not in md and "publishes no per-point numbers" in md
    assert "Only curves are published" in md and "| a deeper head is better | **reproduced** |" in md


# -- every run is listed, whatever its state, with provenance

def test_report_lists_runs_in_every_state(tmp_path):
    study = make_study(tmp_path, """\
name: states
title: t
variants: {a: {}, b: {method.stop_gradient: false}}
grid: {optim.batch_size: [64, 128, 256]}
report:
  claims:
    - {kind: no_collapse, run: a, where: {optim.batch_size: 64}, min_seeds: 1, text: "a spreads at 64"}
    - {kind: no_collapse, run: b, where: {optim.batch_size: 128}, min_seeds: 1, text: "b spreads at 128"}
""")
    results = tmp_path / "results"
    states = ["done", "diverged", "failed", "partial", "missing", "done"]
    for planned, status in zip(study.runs, states):
        write_run(results, study, planned, status=status)
    write_report(study, results, tmp_path / "reports")
    md = (tmp_path / "reports" / "states.md").read_text()
    html = (tmp_path / "reports" / "states.html").read_text()
    for planned, status in zip(study.runs, states):
        line = next(line for line in md.splitlines() if f"`{planned.run_id}`" in line)
        assert f"| {status} |" in line
        assert planned.run_id in html
    assert "non-finite loss at epoch 3, step 27" in md
    assert "RuntimeError('out of memory')" in md
    assert "running or interrupted" in md
    assert "`0123456789ab`" in md and "2026-01-02T03:04:05" in md  # the run's code revision and end time
    assert re.search(r"harness \S+ \(code \S+\)", md)
    assert "| a spreads at 64 | **reproduced** |" in md
    assert "| b spreads at 128 | **inconclusive** |  |  | 1 run(s) of 'b' not finished (missing) |" in md


def test_linear_probe_column_appears_where_a_probe_ran(tmp_path):
    study = make_study(tmp_path, "name: lin\ntitle: t\nseeds: [0, 1]\n")
    results = tmp_path / "results"
    for planned, top1 in zip(study.runs, (0.5, 0.7)):
        write_run(results, study, planned, linear_top1=top1)
    table = study_table(study, load_finals(study, results), ["k200"])
    assert table.rows[0][table.columns.index("linear top-1 (%)")] == "60.0 ± 14.1"
    typo = make_study(tmp_path, "name: lin\ntitle: t\nseeds: [0, 1]\nreport: {metrics: [linear_top]}\n")
    assert "No finished run reports 'linear_top'" in study_table(typo, load_finals(typo, results), ["k200"]).notes[0]
    plain = make_study(tmp_path, "name: nolin\ntitle: t\n", "nolin")
    assert "linear top-1 (%)" not in study_table(plain, load_finals(plain, tmp_path), ["k200"]).columns


# -- figures as the study declares them


def test_declared_figures_and_per_step_claims(tmp_path):
    study = make_study(tmp_path, FIGURES, "figs")
    results = tmp_path / "results"
    for planned in study.runs:
        batch = planned.config.optim.batch_size
        knn = [0.3, 0.6, 0.7, 0.35, 0.75] if batch == 1024 else [0.3, 0.5, 0.6, 0.65, 0.7]
        steps = {"step": list(range(0, 50, 10)), "grad_norm": [1.0, 1.2, 9.0 if batch == 1024 else 1.1, 1.0, 1.0],
                 "knn_top1_k200": knn} if planned.variant == "a" and planned.seed != 1 else None
        write_run(results, study, planned, knn=batch / 2000 + 0.001 * planned.seed, steps=steps)
    paths = write_report(study, results, tmp_path / "reports")
    folder = tmp_path / "reports" / "figs_files"
    assert {p.name for p in folder.glob("*.png")} == {"curves.png", "knn_by_batch.png", "sweep.png", "steps.png"}
    assert all(p.stat().st_size > 10_000 for p in folder.glob("*.png"))
    assert folder / "sweep.png" in paths
    md = (tmp_path / "reports" / "figs.md").read_text()
    html = (tmp_path / "reports" / "figs.html").read_text()
    assert md.count("](figs_files/") == 4 and html.count("data:image/png;base64,") == 4
    # the steps figure names the runs without steps.parquet; the claim reads steps where present
    assert "wrote no steps.parquet" in md
    seed1 = next(r for r in study.runs if r.variant == "a" and r.seed == 1 and r.config.optim.batch_size == 64)
    assert seed1.run_id in md
    assert "| better with batch | **reproduced** |" in md
    # seeds 0 and 2 dip in their steps.parquet; seed 1 has none, so its (smooth) curves are read
    dips = next(line for line in md.splitlines() if "dips at 1024" in line)
    assert "| dips at 1024 | **inconclusive** | 3 | 2 of 3 seeds |" in dips and "(not on seed 1)" in dips
    assert "steps.parquet" in dips and "curves" in dips

    # a figure dropped from the study file takes its PNG with it on the next report
    study = make_study(tmp_path, FIGURES.replace("    - {kind: steps, hue: optim.batch_size, where: {variant: a}}\n", ""),
                       "figs")
    write_report(study, results, tmp_path / "reports")
    assert not (folder / "steps.png").exists()


# -- bad report sections are refused once the study is loaded, naming the key

@pytest.mark.parametrize("report, message", [
    ("columns: optim.lr", "report.columns: 'optim.lr' is neither"),
    ("columns: variant\n  rows: variant", "report.columns: 'variant' is already report.rows"),
    ("figures: [{kind: curves, hue: optim.momentum}]", "report.figures[0]: 'optim.momentum' is not"),
    ("figures: [{kind: sweep, x: optim.batch_size, xscale: log3}]", "report.figures.0.sweep.xscale"),
    ("figures: [{kind: curves, where: {optim.batch_size: 32}}]", "report.figures[0].where: optim.batch_size=32"),
    ("figures: [{kind: pie}]", "report.figures.0"),
    ("paper: simsiam.table9", "report.paper: papers.yaml has no table 'simsiam.table9'"),
    ("paper: simsiam.table2_batch_size\n  paper_value: top1", "no field 'top1' for report.paper_value"),
    ("paper: simsiam.table2_batch_size\n  paper_key: bs\n  rows: optim.batch_size", "no field 'bs'"),
    ("paper: byol.table16_batch_size\n  paper_value: {a: byol, c: simclr}", "report.paper_value: 'c' is not a variant"),
    ("claims: [{kind: trend, axis: optim.batch_size, direction: increasing, text: t}]", "report.claims[0].run"),
    ("claims: [{kind: trend, axis: variant, direction: increasing, text: t}]", "report.claims[0].values"),
    ("claims: [{kind: trend, run: a, axis: optim.batch_size, values: [64, 99], direction: flat, text: t}]",
     "99 is not a value of optim.batch_size"),
])
def test_bad_report_sections_name_the_key(tmp_path, report, message):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntitle: t\nvariants: {a: {}, b: {method.stop_gradient: false}}\n"
                    f"grid: {{optim.batch_size: [64, 128]}}\nreport:\n  {report}\n")
    with pytest.raises(SpecError) as err:
        check_report(load_study(path))
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_the_old_report_schema_still_loads():
    for path in STUDIES.glob("*.yaml"):
        study = load_study(path)
        figures = report_spec(study).figures
        assert figures is None or figures


# -- strings from study files cannot inject markup


def test_strings_from_the_study_are_escaped(tmp_path):
    study = make_study(tmp_path, f"""\
name: hostile
title: "{HOSTILE} | $x$"
description: "<img src=x onerror=alert(2)>"
variants: {{a: {{}}}}
report:
  claims: [{{kind: no_collapse, run: a, min_seeds: 1, text: "<b>bold</b> | pipe"}}]
""", "hostile")
    write_run(tmp_path / "results", study, study.runs[0])
    write_report(study, tmp_path / "results", tmp_path / "reports")
    html = (tmp_path / "reports" / "hostile.html").read_text()
    md = (tmp_path / "reports" / "hostile.md").read_text()
    index = (tmp_path / "reports" / "index.html").read_text()
    for text in (html, md, index):  # the index's one script is its own table sorter
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text
    assert "<script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;script&gt;" in index
    assert "| &lt;b&gt;bold&lt;/b&gt; \\| pipe | **reproduced** |" in md


# -- the index and the command line

def test_index_lists_every_reported_study_with_its_verdicts(tmp_path, capsys):
    studies = tmp_path / "studies"
    studies.mkdir()
    for name, claim in (("one", "no_collapse"), ("two", "collapse")):
        (studies / f"{name}.yaml").write_text(
            f"name: {name}\ntitle: Study {name}\nseeds: [0, 1, 2]\n"
            f"report:\n  claims: [{{kind: {claim}, run: default, text: claim of {name}}}]\n")
    (studies / "three.yaml").write_text("name: three\ntitle: never run\n")
    results = tmp_path / "results"
    for name in ("one", "two"):
        study = load_study(studies / f"{name}.yaml")
        for planned in study.runs:
            write_run(results, study, planned)
    args = ["report", "--studies", str(studies), "--results", str(results), "--reports", str(tmp_path / "reports")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "three: no results" in out and "one.md" in out and "two.md" in out
    index = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="one.html"' in index and 'href="two.html"' in index and "three" not in index
    rows = {name: re.search(rf'href="{name}.html".*?</tr>', index, re.S).group(0) for name in ("one", "two")}
    counts = {name: re.findall(r'class="num [a-z-]+">(\d+)<', row) for name, row in rows.items()}
    assert counts == {"one": ["1", "0", "0"], "two": ["0", "1", "0"]}  # reproduced, not reproduced, inconclusive
    # Every claim of every study, with its verdict, seeds and count, in one sortable table.
    claims = index.split('<table id="claims" class="sortable">')[1].split("</table>")[0]
    assert re.search(r'one</a></td><td>tiny</td><td>claim of one</td>\s*<td class="reproduced">reproduced</td>'
                     r'<td class="num">3</td><td class="num">3 of 3 seeds</td>', claims)
    assert "claim of two" in claims and "<script>" in index
    md = (tmp_path / "reports" / "index.md").read_text()
    assert "[Study one](one.md)" in md and "| claim of two | not reproduced | 3 | 0 of 3 seeds |" in md


def test_report_with_no_study_files_is_an_error(tmp_path, capsys):
    assert main(["report", "--studies", str(tmp_path)]) == 2
    assert "no study files" in capsys.readouterr().err


def test_bench_runs_on_a_small_tree(tmp_path, capsys):
    assert bench_main(["--runs", "12", "--epochs", "6", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"report over 40 runs x 6 epochs .*\n.*\n.*\n  total: \d+\.\d+ s", out)
    md = (tmp_path / "reports" / "report_bench.md").read_text()
    assert "batch size 4096" in md and "| kNN falls at large batch |" in md
    assert yaml.safe_load((tmp_path / "report_bench.yaml").read_text())["report"]["columns"] == "optim.batch_size"


def test_papers_yaml_is_the_shared_reference():
    assert papers()["simsiam"]["table1_predictor"]["rows"][0] == {"variant": "baseline_lr_cosine", "linear_top1": 67.7}


def test_a_one_valued_axis_is_matched_only_when_the_paper_names_its_value():
    from harness.report.schema import ReportSpec

    report = ReportSpec(paper="byol.table5a_tau", rows="method.tau_base", paper_key="tau_base")
    # A study without variants runs one called 'default', which no paper row names: matched on tau alone.
    numbers = PaperNumbers(report, {"variant": ["default"], "method.tau_base": [0.0, 0.99]})
    assert numbers.cell({"variant": "default", "method.tau_base": 0.99}) == "72.5"
    # A single variant the paper does name still picks its row (and so can miss, as here).
    numbers = PaperNumbers(report, {"variant": ["tau_0_9"], "method.tau_base": [0.0, 0.99]})
    assert numbers.cell({"variant": "tau_0_9", "method.tau_base": 0.99}) == "-"
    assert numbers.cell({"variant": "tau_0_9", "method.tau_base": 0.9}) == "68.4"


def test_sureness_is_the_rows_else_the_tables_either_one_mark_or_one_per_field():
    assert sureness({}, {}, "x") == "H"
    assert sureness({"sure": "L"}, {}, "x") == "L" and sureness({"sure": "L"}, {"sure": "M"}, "x") == "M"
    per_field = {"sure": {"learned": "H", "frozen_random": "M"}}
    assert [sureness(per_field, {}, f) for f in ("learned", "frozen_random")] == ["H", "M"]


def test_a_grid_off_the_papers_rows_says_why_its_paper_column_is_empty(tmp_path):
    study = make_study(tmp_path, """\
name: tau_off
title: "BYOL tau, values the paper did not run"
grid: {optim.momentum: [0.5, 0.7]}
report: {paper: byol.table5a_tau, rows: optim.momentum, paper_key: tau_base}
""", "tau_off")
    for planned in study.runs:
        write_run(tmp_path / "results", study, planned, knn=0.6)
    write_report(study, tmp_path / "results", tmp_path / "reports")
    md = (tmp_path / "reports" / "tau_off.md").read_text()
    assert "| 0.5 | - |" in md
    assert ("No point of this preset is a row of byol.table5a_tau (this preset ran optim.momentum = 0.5, 0.7; "
            "the paper: tau_base = 1.0, 0.999, 0.99, 0.9, 0.0)") in md


def test_a_categorical_sweep_over_uneven_values(tmp_path):
    """BYOL Table 5a's tau (0, 0.9, 0.99, ...) is evenly spaced on a categorical axis, paper beside it."""
    study = make_study(tmp_path, """\
name: tau
title: "BYOL tau"
grid: {optim.momentum: [0.0, 0.9, 0.99]}
report:
  paper: byol.table5a_tau
  rows: optim.momentum
  paper_key: tau_base
  figures: [{kind: sweep, x: optim.momentum, xscale: categorical}]
""", "tau")
    for planned in study.runs:
        write_run(tmp_path / "results", study, planned, knn=0.5 + planned.config.optim.momentum / 4)
    write_report(study, tmp_path / "results", tmp_path / "reports")
    md = (tmp_path / "reports" / "tau.md").read_text()
    assert "| 0.0 | 0.3 |" in md and "| 0.9 | 68.4 |" in md and "| 0.99 | 72.5 |" in md
    assert (tmp_path / "reports" / "tau_files" / "sweep.png").stat().st_size > 10_000


def test_two_report_writers_on_one_folder_take_turns(tmp_path, monkeypatch):
    """Two `harness run` of one study both end by writing its report. A writer first clears the
    temporaries a killed writer left; the reports folder's lock keeps it from clearing the other
    live writer's (which then failed to rename: CI saw FileNotFoundError)."""
    import os
    import threading
    import time

    study = make_study(tmp_path, "name: twice\ntitle: t\nvariants: {a: {}, b: {method.stop_gradient: false}}\n", "twice")
    for planned in study.runs:
        write_run(tmp_path / "results", study, planned)
    errors, second = [], []
    fsync = os.fsync

    def write():
        try:
            write_report(study, tmp_path / "results", tmp_path / "reports")
        except Exception as err:  # noqa: BLE001 - collected for the assertion below
            errors.append(err)

    def slow_fsync(fd):  # the first writer, mid-write, lets the second one start
        if not second:
            second.append(threading.Thread(target=write))
            second[0].start()
            time.sleep(1.0)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    write()
    second[0].join(timeout=60)
    assert errors == []
    assert "twice" in (tmp_path / "reports" / "twice.md").read_text()
    assert not list((tmp_path / "reports").rglob("*.tmp"))


def test_each_report_lists_its_protocol_differences_from_the_paper(tmp_path):
    study = load_study(STUDIES / "byol_tau.yaml")
    for planned in study.runs:
        write_run(tmp_path / "results", study, planned)
    write_report(study, tmp_path / "results", tmp_path / "reports")
    md = (tmp_path / "reports" / "byol_tau.md").read_text()
    section = md.split("## Protocol")[1].split("## Claims")[0]
    assert "| `data.dataset` | digits | imagefolder |" in section
    assert "| `optim.epochs` | 60 | 300 |" in section  # BYOL's ablation setup (Sec. 5), not its 1000 epochs
    assert "| `optim.lr_multiplier` | 4.0 | 1.0 |" in section
    assert "method.tau_base" not in section  # the study's own axis
    # what no key states: the official code's augmentation, where the harness's is torchvision's
    notes = section.split("Beyond the config keys")[1]
    assert "clamps a box that does not fit" in notes and "brightness adds a delta" in notes
    html = (tmp_path / "reports" / "byol_tau.html").read_text()
    assert '<table id="protocol">' in html and "<td><code>data.dataset</code></td><td>digits</td>" in html
    assert '<ul id="protocol-notes"><li>Augmentation as torchvision draws it' in html
    at_paper_scale = load_study(STUDIES / "byol_tau.yaml", "imagenet")
    write_report(at_paper_scale, tmp_path / "results", tmp_path / "reports")
    md = (tmp_path / "reports" / "byol_tau.md").read_text()
    assert "Every run has the paper's setup" in md and "clamps a box that does not fit" in md


def test_tables_and_claims_show_their_seeds_and_intervals(tmp_path):
    study = make_study(tmp_path, """
name: s
title: t
variants: {a: {}, b: {predictor.kind: fixed}}
seeds: [0, 1, 2]
report:
  claims:
    - {kind: ordering, better: a, worse: b, text: a beats b}
""")
    for planned in study.runs:  # a: 80, 81, 82; b: 70 for every seed
        knn = 0.8 + 0.01 * planned.seed if planned.variant == "a" else 0.7
        write_run(tmp_path / "results", study, planned, knn=knn)
    table = study_table(study, load_finals(study, tmp_path / "results"), ["k200", "k20"])
    assert table.columns[-3:] == ["seeds", "epochs", "runs"]
    assert [row[table.columns.index("seeds")] for row in table.rows] == ["3", "3"]
    assert table.rows[0][table.columns.index("kNN k200 top-1 (%)")] == "81.0 ± 1.0"
    write_report(study, tmp_path / "results", tmp_path / "reports")
    md = (tmp_path / "reports" / "s.md").read_text()
    assert "| claim | verdict | seeds | difference [interval] or count | evidence |" in md
    # +11 points, Welch's t over 3 and 3 seeds (the b side without spread): 11 +- 4.303 x 1.0 / sqrt(3)
    assert "| a beats b | **reproduced** | 3 / 3 | +11.0 pt [+8.5, +13.5] |" in md


def test_a_summary_without_the_tables_metrics_is_no_seed(tmp_path):
    """A finished run whose summary.json is just {"status": "done"} (its curves there) is listed, but
    neither counted as a seed nor averaged; a metric some seeds lack counts those that have it."""
    study = make_study(tmp_path, "name: s\ntitle: t\nvariants: {a: {}, b: {predictor.kind: fixed}}\nseeds: [0, 1, 2]\n")
    results = tmp_path / "results"
    for planned in study.runs:
        directory = write_run(results, study, planned, knn=0.8 + 0.01 * planned.seed,
                              **({"linear_top1": 0.5} if planned.variant == "b" and planned.seed else {}))
        if planned.variant == "a" and planned.seed == 0:
            (directory / store.SUMMARY).write_text('{"status": "done"}')
    table = study_table(study, load_finals(study, results), ["k200", "k20"])
    a, b = (dict(zip(table.columns, row)) for row in table.rows)
    assert a["seeds"] == "2" and a["kNN k200 top-1 (%)"] == "81.5 ± 0.7" and a["runs"] == "3 done"
    assert b["seeds"] == "2–3" and b["linear top-1 (%)"] == "50.0 ± 0.0" and b["kNN k200 top-1 (%)"] == "81.0 ± 1.0"


def test_the_default_curves_show_the_effective_rank_where_a_claim_reads_the_std(tmp_path):
    # At tiny, SimSiam without its predictor collapses in the effective rank alone (20.5 against 79.9),
    # its std near 1/sqrt(d): a claim on the std is shown with the rank beside it.
    studies = {}
    for name, claim in (("ranked", "{kind: collapse, run: b, min_seeds: 1, text: 'b collapses'}"),
                        ("unranked", "{kind: ordering, better: a, worse: b, min_seeds: 1, text: 'a beats b'}")):
        studies[name] = make_study(tmp_path, f"name: {name}\ntitle: t\nvariants: {{a: {{}}, b: {{method.stop_gradient: "
                                             f"false}}}}\nreport:\n  claims:\n    - {claim}\n", name=name)
    default, knn = CurvesFigure(kind="curves"), "knn_top1_k200"
    assert curve_metrics(default, report_spec(studies["ranked"]), knn) == ["loss", "output_std", "output_rank", knn]
    assert curve_metrics(default, report_spec(studies["unranked"]), knn) == ["loss", "output_std", knn]
    named = CurvesFigure(kind="curves", metrics=["loss"])
    assert curve_metrics(named, report_spec(studies["ranked"]), knn) == ["loss"]  # a figure's own panels stay
    for study in studies.values():
        for planned in study.runs:
            write_run(tmp_path / "results", study, planned)
        write_report(study, tmp_path / "results", tmp_path / "reports")
    mds = {name: (tmp_path / "reports" / f"{name}.md").read_text() for name in studies}
    assert "![training loss, output std of z/‖z‖, effective rank, kNN k200 top-1 over epochs by series]" in mds["ranked"]
    assert "![training loss, output std of z/‖z‖, kNN k200 top-1 over epochs by series]" in mds["unranked"]


def test_a_peer_s_listed_fields_are_each_a_line_labelled_peer(tmp_path):
    # methods_compared: lightly's two batch sizes and solo-learn's probe, one pivot line each, never "paper".
    study = load_study(STUDIES / "methods_compared.yaml", "cifar10")
    table = study_table(study, load_finals(study, tmp_path), ["k200", "k20"])
    label = table.columns.index("")
    assert not any(row[label].startswith("paper") for row in table.rows)
    lines = {(row[0], row[label]): row[label + 1:] for row in table.rows if row[label].startswith("peer")}
    assert {what for _, what in lines} == {"peer lightly kNN top-1, batch 128 (%)", "peer lightly kNN top-1, batch 512 (%)",
                                          "peer solo-learn online linear top-1, batch 256 (%)"}
    epochs = [c.removeprefix("epochs ") for c in table.columns[label + 1:]]
    assert epochs == ["100", "200", "400", "800", "1000"]
    assert lines[("simsiam", "peer lightly kNN top-1, batch 128 (%)")] == ["-", "81.9", "-", "-", "-"]  # none at 800
    assert lines[("simsiam", "peer lightly kNN top-1, batch 512 (%)")] == ["-", "76.4", "-", "90.4", "-"]
    assert lines[("mocov3", "peer solo-learn online linear top-1, batch 256 (%)")] == ["-", "-", "-", "-", "93.1"]
    assert lines[("mocov3", "peer lightly kNN top-1, batch 512 (%)")] == ["-"] * 5  # lightly's Moco is MoCo v2
