"""A real tiny study through the command line: run, skip on rerun, status, report."""


from harness import store
from harness.cli import main
from harness.plan import load_study
from harness.spec import parse_set

from commandline import run
from conftest import FAST, fast_overrides


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
