"""harness.launch.status: a run's state from its directory, its job record and what SLURM says of the job.
(The same against a real cluster is in test_slurm.py.)"""

import pytest

from harness import store
from harness.launch.status import RunStatus, reconcile, runs_to_do, study_status
from harness.plan import load_study
from harness.spec import parse_set
from harness.store import RunState

from conftest import FAST

JOB_RECORD = {"run_id": "r2", "job_id": "7_1", "runs_in_job": ["r1", "r2"], "log": "/x/7_1_0_log.out"}
STARTED = {**JOB_RECORD, "started_at": "2026-01-01T00:00:00+00:00", "host": "node3"}
FIRST = {**JOB_RECORD, "run_id": "r1"}


@pytest.mark.parametrize(
    "disk, job, slurm, expected",
    [
        # Never submitted: the directory alone.
        (RunState.NEW, None, None, RunState.NEW),
        (RunState.PARTIAL, None, None, RunState.PARTIAL),
        # A result on disk wins whatever the job does.
        (RunState.DONE, STARTED, "RUNNING", RunState.DONE),
        (RunState.DIVERGED, STARTED, None, RunState.DIVERGED),
        (RunState.FAILED, STARTED, "COMPLETED", RunState.FAILED),
        # Waiting, including after a requeue (the run then has a checkpoint).
        (RunState.NEW, JOB_RECORD, "PENDING", RunState.QUEUED),
        (RunState.PARTIAL, STARTED, "REQUEUED", RunState.QUEUED),
        # Running: the job trains this run, or is starting up to train it first...
        (RunState.PARTIAL, STARTED, "RUNNING", RunState.RUNNING),
        (RunState.NEW, FIRST, "RUNNING", RunState.RUNNING),
        # ...or trains the runs packed before it: this one still waits.
        (RunState.NEW, JOB_RECORD, "RUNNING", RunState.QUEUED),
        # The job ended and the run did not finish.
        (RunState.PARTIAL, STARTED, "TIMEOUT", RunState.FAILED),
        (RunState.NEW, JOB_RECORD, "CANCELLED", RunState.FAILED),
        (RunState.PARTIAL, STARTED, None, RunState.FAILED),  # gone from squeue, no accounting
    ],
)
def test_reconcile(disk, job, slurm, expected):
    state, detail = reconcile(disk, job, slurm)
    assert state == expected
    if job and expected == RunState.FAILED and disk != RunState.FAILED:
        assert "7_1" in detail and "/x/7_1_0_log.out" in detail  # which job, and its log
    if expected == RunState.FAILED and disk == RunState.PARTIAL:
        assert "resumes it from its checkpoint" in detail


def test_only_new_partial_failed_and_corrupt_runs_are_run_again():
    # corrupt: repaired by resuming
    assert set(store.TO_RUN) == {RunState.NEW, RunState.PARTIAL, RunState.FAILED, RunState.CORRUPT}
    statuses = [RunStatus(f"run {state}", state) for state in RunState]  # a name stands in for the run
    assert runs_to_do(statuses) == [f"run {state}" for state in RunState if state in store.TO_RUN]
    assert len(runs_to_do(statuses)) == 4


def test_study_status_asks_slurm_only_for_submitted_studies(tiny_study, tmp_path, monkeypatch):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    asked = []

    def job_states(ids):
        asked.append(set(ids))
        return {"5_0": "RUNNING"}

    monkeypatch.setattr("harness.launch.slurm_queue.job_states", job_states)
    assert [s.state for s in study_status(study, tmp_path)] == [RunState.NEW, RunState.NEW]
    assert asked == []  # a study never submitted to SLURM does not need SLURM

    first, second = study.runs
    store.write_json(store.run_dir(tmp_path, study.name, first.run_id) / store.JOB,
                     {"run_id": first.run_id, "job_id": "5_0", "runs_in_job": [first.run_id]})
    statuses = study_status(study, tmp_path)
    assert asked == [{"5_0"}]
    assert [s.state for s in statuses] == [RunState.RUNNING, RunState.NEW]
    assert "job 5_0" in statuses[0].detail
    assert [unit.first for unit in runs_to_do(statuses)] == [second]  # the running one is in its job's hands


def test_a_done_pretraining_is_run_again_for_its_unfinished_stages_only(tiny_study, tmp_path):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    first = study.runs[0]
    directory = store.run_dir(tmp_path, study.name, first.run_id)
    directory.mkdir(parents=True)
    store.write_json(directory / store.SUMMARY, {"status": "done"})
    store.write_curves(directory / store.CURVES, [{"epoch": 1, "loss": 0.5}])
    [status, _] = study_status(study, tmp_path)
    assert status.state == RunState.DONE and status.stages == {first.evaluation.stage_id: RunState.NEW}
    assert status.stages_to_do() == [first.evaluation.stage_id] and status.unit in runs_to_do([status])
    stage = directory / store.STAGES / first.evaluation.stage_id
    stage.mkdir(parents=True)
    store.write_json(stage / store.SUMMARY, {"status": "failed"})
    assert study_status(study, tmp_path)[0].stages_to_do() == [first.evaluation.stage_id]  # retried
    store.write_json(stage / store.SUMMARY, {"status": "done"})  # a stage writes no curves
    [status, _] = study_status(study, tmp_path)
    assert status.stages == {first.evaluation.stage_id: RunState.DONE} and runs_to_do([status]) == []
