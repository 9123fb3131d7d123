"""The state of each pretraining of a study and of its stages (its evaluations), from their
directories and, for pretrainings submitted to SLURM, from the job that holds them.

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
from dataclasses import dataclass, field
from pathlib import Path

from harness import store
from harness.launch import slurm_queue
from harness.plan import PlannedRun, Pretraining, Study, pretrainings
from harness.store import ACTIVE, TO_RUN, RunState


@dataclass(frozen=True)
class RunStatus:
    unit: Pretraining
    state: RunState  # the pretraining's
    detail: str = ""  # e.g. which job, and where its log is
    stages: dict[str, RunState] = field(default_factory=dict)  # each stage's, by stage id
    in_job: bool = False  # a SLURM job that holds it waits or runs: it (and its stages) are the job's

    @property
    def planned(self) -> PlannedRun:
        """The first planned run it trains: its id, labels and config are the pretraining's."""
        return self.unit.first

    def stages_to_do(self) -> list[str]:
        """The stages `run` and `eval` execute now: its pretraining done, each stage new, partial, failed
        or corrupt, and what it reads done."""
        if self.state != RunState.DONE or self.in_job or not self.stages:
            return []
        ready = {self.unit.run_id} | {i for i, state in self.stages.items() if state == RunState.DONE}
        return [s.stage_id for s in self.unit.stages if self.stages[s.stage_id] in TO_RUN and s.input_id in ready]


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
    """Each planned run and its pretraining's state."""
    states = {s.unit.run_id: s.state for s in study_status(study, results)}
    return [(r, states[r.run_id]) for r in study.runs]


def study_status(study: Study, results: Path) -> list[RunStatus]:
    """Each distinct pretraining of the study's planned runs, its state and its stages'."""
    units = pretrainings(study.runs)
    directories = [store.run_dir(results, study.name, u.run_id) for u in units]
    jobs = [store.read_json(d / store.JOB) for d in directories]
    slurm = {}
    if any(jobs):  # only a study submitted to SLURM asks SLURM anything
        slurm = slurm_queue.job_states({j["job_id"] for j in jobs if j})
        jobs = [store.read_json(d / store.JOB) for d in directories]  # `started_at` as of now
    statuses = []
    for unit, directory, job in zip(units, directories, jobs):
        slurm_state = slurm.get(job["job_id"]) if job else None
        state, detail = reconcile(store.run_state(directory), job, slurm_state)
        stages = {s.stage_id: store.stage_state(directory / store.STAGES / s.stage_id) for s in unit.stages}
        in_job = slurm_state in slurm_queue.WAITING or slurm_state in slurm_queue.ACTIVE
        statuses.append(RunStatus(unit, state, detail, stages, in_job))
    return statuses


def runs_to_do(statuses: list[RunStatus]) -> list[Pretraining]:
    """The pretrainings `harness run` trains or submits: new, partial, failed or corrupt (store.TO_RUN),
    or done with stages to do; not those in another process's or job's hands."""
    return [s.unit for s in statuses if s.state in TO_RUN or s.stages_to_do()]


def counts(statuses: list[RunStatus]) -> str:
    """'6 done; evaluations: 20 done, 4 new': the pretrainings' states, then their stages'."""
    return pretraining_counts(statuses) + evaluation_counts(statuses)


def pretraining_counts(statuses: list[RunStatus]) -> str:
    return store.tally(s.state for s in statuses)


def evaluation_counts(statuses: list[RunStatus]) -> str:
    """'; evaluations: 20 done, 4 new', or '' for a study without evaluations."""
    stages = [state for s in statuses for state in s.stages.values()]
    return f"; evaluations: {store.tally(stages)}" if stages else ""


def follow(study: Study, results: Path, poll_s: float = 30, progress: bool = True) -> list[RunStatus]:
    """Poll until no run of the study is queued or running, with a progress bar; the last status."""
    from tqdm import tqdm

    bar = tqdm(total=len(pretrainings(study.runs)), desc=study.name, unit="run", disable=not progress)
    while True:
        statuses = study_status(study, results)
        bar.n = sum(s.state not in ACTIVE for s in statuses)
        bar.set_postfix_str(counts(statuses))
        bar.refresh()
        if not any(s.state in ACTIVE for s in statuses):
            bar.close()
            return statuses
        time.sleep(poll_s)
