"""A real tiny study through the command line: run, skip on rerun, status, report."""

import pytest

from harness import store
from harness.cli import main
from harness.spec import load_study, parse_set

from conftest import FAST, fast_overrides


def run(study, tmp_path, *extra):
    return main(["run", str(study), "--results", str(tmp_path / "results"), "--reports",
                 str(tmp_path / "reports"), "--quiet", *fast_overrides(), *extra])


def test_run_then_rerun_trains_nothing(tiny_study, tmp_path, capsys):
    assert run(tiny_study, tmp_path) == 0
    out = capsys.readouterr().out
    assert "training 2 of 2 runs" in out
    md = (tmp_path / "reports" / "tiny_test.md").read_text()
    html = (tmp_path / "reports" / "tiny_test.html").read_text()
    assert "67.7 ± 0.1" in md  # the paper's number for with-stop-gradient, from papers.yaml
    assert "data:image/png;base64," in html and "<table" in html
    assert (tmp_path / "reports" / "tiny_test_files" / "curves.png").stat().st_size > 1000

    study = load_study(tiny_study, overrides=parse_set(FAST))
    curves = store.run_dir(tmp_path / "results", study.name, study.runs[0].run_id) / store.CURVES
    mtime = curves.stat().st_mtime_ns
    assert run(tiny_study, tmp_path) == 0
    assert "all 2 runs already finished; nothing to train" in capsys.readouterr().out
    assert curves.stat().st_mtime_ns == mtime

    assert main(["status", str(tiny_study), "--results", str(tmp_path / "results"), *fast_overrides()]) == 0
    assert "2 done" in capsys.readouterr().out


def test_report_alone_trains_nothing(tiny_study, tmp_path, capsys):
    assert main(["report", str(tiny_study), "--results", str(tmp_path / "results"), "--reports",
                 str(tmp_path / "reports"), *fast_overrides()]) == 0
    md = (tmp_path / "reports" / "tiny_test.md").read_text()
    assert "missing" in md and "inconclusive" in md
    assert not (tmp_path / "results").exists()


def test_parallel_jobs(tiny_study, tmp_path):
    assert run(tiny_study, tmp_path, "--jobs", "2") == 0
    study = load_study(tiny_study, overrides=parse_set(FAST))
    assert all(store.run_state(store.run_dir(tmp_path / "results", study.name, r.run_id)) == "done"
               for r in study.runs)
