"""The state of each planned run of a study, from its run directory and, for runs submitted to
SLURM, from the job that holds it.

A run directory alone says done / diverged / failed (summary.json), partial (a checkpoint) or new.
A run submitted to SLURM also has job.json (slurm.py: the job id, and `started_at` once the
job has begun training it); while its job waits the run is `queued`, while the job trains it
`running`, and a job that ended without finishing the run makes it `failed`. The scheduler is asked
before the run directories are read: a job that has ended has written all it will write.

It lives in launch/, beside the executors that write what it reads (run_one.py, slurm.py) and the
scheduler's answers (slurm_queue.py): the executors ask it which runs are still to do (runs_to_do),
and the command line asks it what to show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from harness import store
from harness.launch import slurm_queue
from harness.plan import PlannedRun, Study
from harness.store import ACTIVE, TO_RUN, RunState


@dataclass(frozen=True)
class RunStatus:
    planned: PlannedRun
    state: RunState
    detail: str = ""  # e.g. which job, and where its log is


def reconcile(disk: RunState, job: dict | None, slurm_state: str | None) -> tuple[RunState, str]:
    """A run's state from its directory's state, its job record and its job's SLURM state (None:
    SLURM does not know the job any more)."""
    if job is None or disk in (RunState.DONE, RunState.DIVERGED, RunState.FAILED):
        return disk, ""
    job_id = job["job_id"]
    if slurm_state in slurm_queue.WAITING:
        return RunState.QUEUED, f"job {job_id} {slurm_state.lower()}"
    if slurm_state in slurm_queue.ACTIVE:
        first_in_job = job.get("runs_in_job", [None])[0] == job.get("run_id")  # starting up
        if job.get("started_at") or first_in_job:
            return RunState.RUNNING, f"job {job_id} on {job.get('host', 'its node')}"
        return RunState.QUEUED, f"job {job_id} is training the runs packed before this one"
    ended = slurm_state.lower() if slurm_state else "ended (SLURM no longer knows it)"
    resumes = "; a new submission resumes it from its checkpoint" if disk == RunState.PARTIAL else ""
    return RunState.FAILED, f"job {job_id} {ended} before the run finished{resumes}; log: {job.get('log', '?')}"


def run_states(study: Study, results: Path) -> list[tuple[PlannedRun, RunState]]:
    return [(s.planned, s.state) for s in study_status(study, results)]


def study_status(study: Study, results: Path) -> list[RunStatus]:
    directories = [store.run_dir(results, study.name, r.run_id) for r in study.runs]
    jobs = [store.read_json(d / store.JOB) for d in directories]
    slurm = {}
    if any(jobs):  # only a study submitted to SLURM asks SLURM anything
        slurm = slurm_queue.job_states({j["job_id"] for j in jobs if j})
        jobs = [store.read_json(d / store.JOB) for d in directories]  # `started_at` as of now
    statuses = []
    for planned, directory, job in zip(study.runs, directories, jobs):
        state, detail = reconcile(store.run_state(directory), job, slurm.get(job["job_id"]) if job else None)
        statuses.append(RunStatus(planned, state, detail))
    return statuses


def runs_to_do(statuses: list[RunStatus]) -> list[PlannedRun]:
    """The runs `harness run` trains or submits: new, partial, failed or corrupt (store.TO_RUN), not
    those finished or in another process's or job's hands."""
    return [s.planned for s in statuses if s.state in TO_RUN]


def counts(statuses: list[RunStatus]) -> str:
    return store.tally(s.state for s in statuses)


def follow(study: Study, results: Path, poll_s: float = 30, progress: bool = True) -> list[RunStatus]:
    """Poll until no run of the study is queued or running, with a progress bar; the last status."""
    from tqdm import tqdm

    bar = tqdm(total=len(study.runs), desc=study.name, unit="run", disable=not progress)
    while True:
        statuses = study_status(study, results)
        bar.n = sum(s.state not in ACTIVE for s in statuses)
        bar.set_postfix_str(counts(statuses))
        bar.refresh()
        if not any(s.state in ACTIVE for s in statuses):
            bar.close()
            return statuses
        time.sleep(poll_s)
