"""harness.status: a run's state from its directory, its job record and what SLURM says of the job.
(The same against a real cluster is in test_slurm.py.)"""

import pytest

from harness import store
from harness.spec import load_study, parse_set
from harness.status import JOB, QUEUED, RUNNING, TO_RUN, reconcile, study_status

from conftest import FAST

JOB_RECORD = {"run_id": "r2", "job_id": "7_1", "runs_in_job": ["r1", "r2"], "log": "/x/7_1_0_log.out"}
STARTED = {**JOB_RECORD, "started_at": "2026-01-01T00:00:00+00:00", "host": "node3"}
FIRST = {**JOB_RECORD, "run_id": "r1"}


@pytest.mark.parametrize(
    "disk, job, slurm, expected",
    [
        # Never submitted: the directory alone.
        (store.NEW, None, None, store.NEW),
        (store.PARTIAL, None, None, store.PARTIAL),
        # A result on disk wins whatever the job does.
        (store.DONE, STARTED, "RUNNING", store.DONE),
        (store.DIVERGED, STARTED, None, store.DIVERGED),
        (store.FAILED, STARTED, "COMPLETED", store.FAILED),
        # Waiting, including after a requeue (the run then has a checkpoint).
        (store.NEW, JOB_RECORD, "PENDING", QUEUED),
        (store.PARTIAL, STARTED, "REQUEUED", QUEUED),
        # Running: the job trains this run, or is starting up to train it first...
        (store.PARTIAL, STARTED, "RUNNING", RUNNING),
        (store.NEW, FIRST, "RUNNING", RUNNING),
        # ...or trains the runs packed before it: this one still waits.
        (store.NEW, JOB_RECORD, "RUNNING", QUEUED),
        # The job ended and the run did not finish.
        (store.PARTIAL, STARTED, "TIMEOUT", store.FAILED),
        (store.NEW, JOB_RECORD, "CANCELLED", store.FAILED),
        (store.PARTIAL, STARTED, None, store.FAILED),  # gone from squeue, no accounting
    ],
)
def test_reconcile(disk, job, slurm, expected):
    state, detail = reconcile(disk, job, slurm)
    assert state == expected
    if job and expected == store.FAILED and disk != store.FAILED:
        assert "7_1" in detail and "/x/7_1_0_log.out" in detail  # which job, and its log
    if expected == store.FAILED and disk == store.PARTIAL:
        assert "resumes it from its checkpoint" in detail


def test_only_new_partial_failed_and_corrupt_runs_are_run_again():
    assert set(TO_RUN) == {store.NEW, store.PARTIAL, store.FAILED, store.CORRUPT}  # corrupt: repaired by resuming


def test_study_status_asks_slurm_only_for_submitted_studies(tiny_study, tmp_path, monkeypatch):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    asked = []

    def job_states(ids):
        asked.append(set(ids))
        return {"5_0": "RUNNING"}

    monkeypatch.setattr("harness.launch.slurm_queue.job_states", job_states)
    assert [s.state for s in study_status(study, tmp_path)] == [store.NEW, store.NEW]
    assert asked == []  # a study never submitted to SLURM does not need SLURM

    first, second = study.runs
    store.write_json(store.run_dir(tmp_path, study.name, first.run_id) / JOB,
                     {"run_id": first.run_id, "job_id": "5_0", "runs_in_job": [first.run_id]})
    statuses = study_status(study, tmp_path)
    assert asked == [{"5_0"}]
    assert [s.state for s in statuses] == [RUNNING, store.NEW]
    assert "job 5_0" in statuses[0].detail
