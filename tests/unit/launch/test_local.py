"""harness/launch/local.py: runs trained side by side in worker processes, as one at a time would, and a
worker killed under its run."""

import pytest

from harness import store
from harness.columns import EPOCH_SECONDS
from harness.plan import load_study
from harness.spec import parse_set

from commandline import run
from conftest import FAST, ROOT, fast_overrides


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_worker_killed_under_its_run_gives_one_line_status_3_and_the_next_run_resumes_it(tiny_study, tmp_path):
    # A worker process of --jobs 2 killed by the system (here: SIGKILL half-way through its second
    # checkpoint) broke the pool and `harness run` died with a BrokenProcessPool traceback.
    import os
    import subprocess
    import sys

    faults = ROOT / "tests" / "support" / "harness_with_faults.py"
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
