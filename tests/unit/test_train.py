"""The training loop end to end on the tiny preset: determinism, resume after SIGKILL, divergence."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from harness import checkpoint, store
from harness.columns import DEFAULT_KNN_COLUMN, EPOCH_SECONDS
from harness.plan import load_study
from harness.spec import parse_set
from harness.store import RunState
from harness.train import train

from conftest import FAST, checkpointed_epoch

VOLATILE = [EPOCH_SECONDS]  # wall-clock columns; everything else must be bitwise equal


def curves(directory):
    return store.read_curves(directory / store.CURVES).drop(columns=VOLATILE)


def first_run(tiny_study, extra=()):
    return load_study(tiny_study, overrides=parse_set(FAST + list(extra))).runs[0]


def test_same_seed_same_curves(tiny_study, tmp_path):
    run = first_run(tiny_study)
    train(run.config, tmp_path / "a")
    train(run.config, tmp_path / "b")
    pd.testing.assert_frame_equal(curves(tmp_path / "a"), curves(tmp_path / "b"))
    frame = curves(tmp_path / "a")
    assert frame["epoch"].tolist() == [0, 1, 2, 3, 4]
    assert frame[DEFAULT_KNN_COLUMN].notna().tolist() == [True, False, True, False, True]


class Crash(Exception):
    pass


def test_resume_after_a_crash_equals_an_uninterrupted_run(tiny_study, tmp_path):
    run = first_run(tiny_study)
    train(run.config, tmp_path / "full")

    def crash_at_2(row):
        if row["epoch"] == 2:
            raise Crash  # after epoch 2's checkpoint, as a kill between epochs would

    with pytest.raises(Crash):
        train(run.config, tmp_path / "crashed", on_epoch=crash_at_2)
    assert store.run_state(tmp_path / "crashed") == RunState.PARTIAL
    summary = train(run.config, tmp_path / "crashed")
    assert summary["epochs_completed"] == 4
    pd.testing.assert_frame_equal(curves(tmp_path / "crashed"), curves(tmp_path / "full"))


def _cli(args, results, env):
    return [sys.executable, "-m", "harness", "run", *args, "--results", str(results),
            "--reports", str(results.parent / "reports"), "--quiet"]


@pytest.mark.slow
def test_sigkill_mid_training_resumes_to_identical_curves(tiny_study, tmp_path):
    sets = [a for item in FAST + ["optim.epochs=12"] for a in ("--set", item)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    study = load_study(tiny_study, overrides=parse_set(FAST + ["optim.epochs=12"]))
    target = store.run_dir(tmp_path / "killed" / "results", study.name, study.runs[0].run_id)

    proc = subprocess.Popen(_cli([str(tiny_study), *sets], tmp_path / "killed" / "results", env), env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if 3 <= checkpointed_epoch(target) < 12 and not (target / store.SUMMARY).exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The worker training the run dies with `harness run` (PR_SET_PDEATHSIG), a moment after it:
    # until then it holds the run's lock.
    deadline = time.time() + 10
    while store.run_state(target) == RunState.RUNNING and time.time() < deadline:
        time.sleep(0.05)
    assert store.run_state(target) == RunState.PARTIAL
    killed_at = checkpoint.load_latest(target)["epoch"]  # the kill may land in that gap too

    subprocess.run(_cli([str(tiny_study), *sets], tmp_path / "killed" / "results", env), env=env, check=True)
    subprocess.run(_cli([str(tiny_study), *sets], tmp_path / "clean" / "results", env), env=env, check=True)
    for planned in study.runs:
        resumed = curves(store.run_dir(tmp_path / "killed" / "results", study.name, planned.run_id))
        clean = curves(store.run_dir(tmp_path / "clean" / "results", study.name, planned.run_id))
        assert resumed["epoch"].tolist() == list(range(13)), f"killed at epoch {killed_at}"
        pd.testing.assert_frame_equal(resumed, clean)
    # A temporary file the kill left half-written is cleaned up when the run resumes.
    assert not list((tmp_path / "killed").rglob("*.tmp"))


def test_non_finite_loss_marks_the_run_diverged(tiny_study, tmp_path):
    run = first_run(tiny_study, ["optim.base_lr=1e30"])
    summary = train(run.config, tmp_path)
    assert summary["status"] == RunState.DIVERGED
    assert "epoch" in summary["diverged_at"] and "step" in summary["diverged_at"]
    assert store.run_state(tmp_path) == RunState.DIVERGED


def test_a_checkpoint_with_other_optimizer_groups_is_refused_naming_the_run(tiny_study, tmp_path):
    # A checkpoint from before a change of the optimizer's groups cannot resume: one line says which
    # run and what to do, instead of torch's bare ValueError.
    run = first_run(tiny_study)

    def crash_at_2(row):
        if row["epoch"] == 2:
            raise Crash

    with pytest.raises(Crash):
        train(run.config, tmp_path, on_epoch=crash_at_2)
    path = tmp_path / store.CHECKPOINT
    state = checkpoint.load(path)
    groups = state["optimizer"]["param_groups"]
    state["optimizer"]["param_groups"] = [{**groups[0], "params": [p for g in groups for p in g["params"]]}]
    checkpoint.save(path, state)
    with pytest.raises(RuntimeError, match=f"{tmp_path}: its checkpoint's optimizer groups are not"):
        train(run.config, tmp_path)
