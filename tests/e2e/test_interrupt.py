"""SIGINT or SIGTERM sent to the harness's own process (a process manager's, a job script's), or a
terminal's Ctrl-C to its whole process group: it stops its workers and itself within seconds, in
one line with the conventional status, and the runs resume to the curves of an uninterrupted study."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from harness import store
from harness.columns import EPOCH_SECONDS
from harness.errors import INTERRUPTED
from harness.plan import load_study
from harness.spec import parse_set

from commandline import run
from conftest import FAST, ROOT, checkpointed_epoch

def command(study, root, jobs):
    sets = [a for item in FAST for a in ("--set", item)]  # 4 epochs: signalled after the first, mid-training
    return [sys.executable, "-m", "harness.cli", "run", str(study), "--results", str(root / "results"),
            "--reports", str(root / "reports"), "--quiet", "--jobs", str(jobs), *sets]


def run_dirs(study, root):
    planned = load_study(study, overrides=parse_set(FAST))
    return [store.run_dir(root / "results", planned.name, r.run_id) for r in planned.runs]


def interrupted(study, root, jobs, signum, group=False):
    """Start `harness run`, send `signum` once a run has a checkpoint; (exit status, stderr, seconds
    from the signal to the exit)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Started as from a terminal, with SIGINT's default action, whatever the pytest process has: a
    # child inherits an ignored SIGINT (and the harness keeps ignoring it, as a shell's background job
    # must). In one full-suite run the two SIGINT cases saw the harness run to the end, status 0 and
    # nothing on stderr, as an ignored SIGINT would; alone they passed, and the cause was not found.
    proc = subprocess.Popen(command(study, root, jobs), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=group,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not any(checkpointed_epoch(d) for d in run_dirs(study, root)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    sent = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, time.monotonic() - sent


def curves(directory):
    return store.read_curves(directory / store.CURVES).drop(columns=[EPOCH_SECONDS])


def test_sigint_to_the_harness_pid_stops_its_workers_and_the_study_resumes(tiny_study, tmp_path, capsys):
    # Today the workers went on to finish every queued run, then a KeyboardInterrupt traceback.
    status, err, seconds = interrupted(tiny_study, tmp_path, 2, signal.SIGINT)
    assert status == INTERRUPTED[signal.SIGINT] == 130, err
    assert seconds < 5, seconds
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "tiny_test: interrupted by SIGINT with 2 of 2 runs unfinished; run the same command again" in err
    assert not any(store.run_state(d) == store.RunState.DONE for d in run_dirs(tiny_study, tmp_path))

    # Here, not in a new process, to spare the suite a start of torch: a run's curves are the same
    # whatever --jobs is (tests/unit/launch/test_local.py).
    assert run(tiny_study, tmp_path, "--jobs", "1") == 0
    assert "training 2 of 2 runs (0 already finished)" in capsys.readouterr().out
    assert run(tiny_study, tmp_path / "clean", "--jobs", "1") == 0
    for resumed, uninterrupted in zip(run_dirs(tiny_study, tmp_path), run_dirs(tiny_study, tmp_path / "clean")):
        pd.testing.assert_frame_equal(curves(resumed), curves(uninterrupted))


@pytest.mark.parametrize("signum, jobs, group", [(signal.SIGINT, 2, True), (signal.SIGTERM, 1, False)],
                         ids=["ctrl-c-to-the-group-jobs-2", "sigterm-to-the-pid-jobs-1"])
def test_an_interrupt_is_one_line_and_the_conventional_status(tiny_study, tmp_path, signum, jobs, group):
    # A terminal's Ctrl-C reaches the workers too: a 20-44 line KeyboardInterrupt traceback today.
    # SIGTERM (a process manager's) to the runs in this process: a silent death, status -15.
    status, err, seconds = interrupted(tiny_study, tmp_path, jobs, signum, group)
    assert status == INTERRUPTED[signum], err
    assert seconds < 5, seconds
    name = signal.Signals(signum).name
    assert err.startswith(f"harness: tiny_test: interrupted by {name} with 2 of 2 runs unfinished;"), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
