"""A real tiny study through the command line: run, skip on rerun, status, report."""

import pytest

from harness import store
from harness.cli import main
from harness.columns import EPOCH_SECONDS
from harness.plan import load_study
from harness.spec import parse_set

from conftest import FAST, fast_overrides, unreadable_cifar


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


def test_parallel_jobs_train_the_same_curves_as_one_at_a_time(tiny_study, tmp_path):
    # tiny runs hold one thread each (runtime.threads), so --jobs changes how many train at once,
    # never the order in which a run sums its numbers: its curves are the same bit for bit.
    assert run(tiny_study, tmp_path / "two", "--jobs", "2") == 0
    assert run(tiny_study, tmp_path / "one", "--jobs", "1") == 0
    study = load_study(tiny_study, overrides=parse_set(FAST))
    for r in study.runs:
        two, one = (store.run_dir(tmp_path / x / "results", study.name, r.run_id) for x in ("two", "one"))
        assert store.run_state(two) == store.run_state(one) == "done"
        a, b = (store.read_curves(d / store.CURVES).drop(columns=EPOCH_SECONDS) for d in (two, one))
        assert a.equals(b)


def test_jobs_default_fills_the_cores_with_one_thread_runs(tiny_study, monkeypatch):
    from harness.launch import local

    runs = load_study(tiny_study, overrides=parse_set(FAST)).runs  # 2 runs of 1 thread (tiny)
    monkeypatch.setattr(local, "usable_cpus", lambda: 8)
    assert local.default_jobs(runs) == 2  # no more than the runs
    monkeypatch.setattr(local, "usable_cpus", lambda: 1)
    assert local.default_jobs(runs) == 1
    monkeypatch.setattr(local, "usable_cpus", lambda: 8)
    every_core = load_study(tiny_study, overrides=parse_set([*FAST, "runtime.threads=0"])).runs
    assert local.default_jobs(every_core) == 1  # a run that takes every core: one at a time
    on_gpu = load_study(tiny_study, overrides=parse_set([*FAST, "runtime.device=cuda"])).runs
    assert local.default_jobs(on_gpu) == 1
    four = load_study(tiny_study, overrides=parse_set([*FAST, "runtime.threads=4"])).runs
    assert local.default_jobs(four) == 2  # 8 cores, 4 threads a run


def test_the_exit_status_says_whether_runs_failed_or_diverged(tmp_path, capsys):
    # Issue 14: a study in which every run failed exited 0; a script calling `harness run` could not tell.
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ntitle: t\nbase: {data.dataset: cifar10, data.image_size: 32}\n"
                      "variants: {a: {}, b: {optim.base_lr: 0.1}}\n")
    data = ["--data-root", str(unreadable_cifar(tmp_path / "cifar"))]  # found by the preflight, unreadable by the runs
    assert run(broken, tmp_path, *data) == 3
    out = capsys.readouterr().out
    assert "broken: 2 failed" in out and "report: " in out  # the report is still written
    assert (tmp_path / "reports" / "broken.md").exists()
    assert run(broken, tmp_path, *data) == 3  # retried, failed again

    diverges = tmp_path / "diverges.yaml"
    diverges.write_text("name: diverges\ntitle: t\nbase: {optim.base_lr: 1.0e+30}\n")
    assert run(diverges, tmp_path) == 4
    assert "diverges: 1 diverged" in capsys.readouterr().out
    assert run(diverges, tmp_path) == 4  # not retried: the study's state is the same
    assert main(["status", str(diverges), "--results", str(tmp_path / "results"), *fast_overrides()]) == 0


def test_the_exit_statuses_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "3  run, or --wait: runs failed" in out and "4  run, or --wait: runs diverged" in out


def test_a_worker_killed_under_its_run_gives_one_line_status_3_and_the_next_run_resumes_it(tiny_study, tmp_path):
    # A worker process of --jobs 2 killed by the system (here: SIGKILL half-way through its second
    # checkpoint) broke the pool and `harness run` died with a BrokenProcessPool traceback.
    import os
    import subprocess
    import sys
    from pathlib import Path

    faults = Path(__file__).parent / "harness_with_faults.py"
    command = [sys.executable, str(faults), "run", str(tiny_study), "--results", str(tmp_path / "results"),
               "--reports", str(tmp_path / "reports"), "--quiet", "--jobs", "2", *fast_overrides()]
    env = {**os.environ, "HARNESS_KILL_DURING_WRITE": "checkpoint.pt:2:worker"}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 3, killed.stderr
    assert "Traceback" not in killed.stderr + killed.stdout
    assert "runs lost: a worker process was killed" in killed.stderr
    assert "report: " in killed.stdout  # the report of what there is, as for failed runs

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "tiny_test: 2 done" in again.stdout
