"""The SLURM executor: a study's unfinished runs submitted through submitit as job arrays; `harness
run` returns once they are submitted.

- Packing: each job holds `runs_per_job` pretrainings and trains them one after another, each
  followed by its stages (its evaluations: run_one.py); small runs then share one scheduling round
  trip and one interpreter start.
- Arrays: one array per MaxArraySize jobs (read from `scontrol show config`), each array waiting for
  the one before it, so that `array_parallelism` caps the whole study, not each array.
- Records: results/<study>/<run_id>/job.json says which job holds the run; the job adds when it
  started it. `harness status` reconciles these with the scheduler (status.py).
- Preemption and time limits: RunJob is submitit-Checkpointable. When SLURM signals the job, the
  training loop finishes its epoch, writes the checkpoint and stops; submitit then requeues the
  job (after a time-out at most `max_timeouts` times) and the requeued job resumes each run from
  its checkpoint, so its curves hold every epoch once.
- Several tasks per job (one per GPU): each run trains with DDP (harness/distributed.py).
- Code pinning: the job imports the package copied at submission (code_pin.py).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import submitit

from harness import distributed, store
from harness.launch.code_pin import pin_code
from harness.launch.run_one import run_one
from harness.launch.slurm_queue import SlurmError, max_array_size
from harness.launch.status import runs_to_do, study_status
from harness.plan import PlannedRun, Pretraining, Study
from harness.provenance import now
from harness.spec import SlurmSpec
from harness.train import Interrupted


def executor_parameters(options: SlurmSpec, study: str, code: Path) -> dict:
    """submitit SlurmExecutor parameters (sbatch options) for every job of a study."""
    params = {
        "job_name": f"harness-{study}",
        "time": options.time_min,
        "nodes": options.nodes,
        "ntasks_per_node": options.ranks_per_node,
        "array_parallelism": options.array_parallelism,
        "signal_delay_s": options.signal_delay_s,
        # The pinned copy first on the path; starting in it also keeps a checkout in the submit
        # directory from shadowing it (`python -m` puts the working directory first).
        "setup": [*options.setup, f"cd {shlex.quote(str(code))}",
                  f"export PYTHONPATH={shlex.quote(str(code))}${{PYTHONPATH:+:$PYTHONPATH}}"],
    }
    optional = {
        "partition": options.partition,
        "gpus_per_node": options.gpus_per_node or None,
        "cpus_per_task": options.cpus_per_task,
        "mem": None if options.mem_gb is None else f"{int(options.mem_gb * 1024)}M",
        "account": options.account,
        "qos": options.qos,
        "constraint": options.constraint,
        "additional_parameters": {k: str(v) for k, v in options.sbatch.items()} or None,
    }
    return params | {k: v for k, v in optional.items() if v is not None}


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class RunJob(submitit.helpers.Checkpointable):
    """One SLURM job: trains its runs one after another, each resumed from its checkpoint.

    checkpoint() (inherited) resubmits this same object: all the state a requeued job needs is in
    the run directories."""

    def __init__(self, study: str, results: Path, runs: list[Pretraining], code: Path):
        self.study, self.results, self.runs, self.code = study, Path(results), runs, Path(code)

    def __call__(self) -> dict[str, str]:
        import harness

        if self.code not in Path(harness.__file__).resolve().parents:
            raise RuntimeError(f"the job imported {harness.__file__}, not the copy pinned at submission in {self.code}")
        job = submitit.JobEnvironment()
        # submitit's handler for SLURM's signal checkpoints and requeues at once; defer it to the end
        # of the current epoch, so the run stops at a checkpoint.
        usr_signal = getattr(signal, "SIG" + job.USR_SIG)  # USR2 unless SUBMITIT_PREEMPT_SIGNAL says
        requeue = signal.getsignal(usr_signal)
        stop = threading.Event()
        signal.signal(usr_signal, lambda signum, frame: stop.set())

        ctx = distributed.init_from_slurm(self.runs[0].config.runtime.device)
        if ctx.is_main:
            print(f"job {job.job_id}: harness from {harness.__file__}, {ctx.world_size} task(s)", flush=True)
        states: dict[str, str] = {}
        try:
            for planned in self.runs:
                if ctx.any(stop.is_set()):  # signalled between two runs
                    raise Interrupted(epoch=0)
                states[planned.run_id] = self._run(planned, job.job_id, ctx, stop)
        except Interrupted as stopped:
            print(f"rank {ctx.rank}: {stopped}; rank 0 requeues the job", flush=True)
            if ctx.is_main:
                distributed.shutdown()
                requeue(usr_signal, None)  # submitit: checkpoint() and requeue, or give up; exits
        finally:
            distributed.shutdown()
        return states

    def _run(self, planned: Pretraining, job_id: str, ctx: distributed.Context, stop: threading.Event) -> str:
        directory = store.run_dir(self.results, self.study, planned.run_id)
        on_epoch = None
        if ctx.is_main:
            record = store.read_json(directory / store.JOB) or {"job_id": job_id}
            record.update(started_at=now(), host=socket.gethostname(), starts=record.get("starts", 0) + 1)
            store.write_json(directory / store.JOB, record)

            def on_epoch(row):  # one JSON line per epoch in the job's log
                print(json.dumps({"run": planned.run_id, **row}), flush=True)

        return run_one(planned, directory, on_epoch, should_stop=stop.is_set).state


@dataclass(frozen=True)
class Submission:
    job_ids: list[str]  # one per job, in submission order
    runs: int


def submit(study: Study, results: Path, options: SlurmSpec) -> Submission:
    """Submit every run of the study that is new, partial or failed (not done, diverged, queued or
    running) and record its job; return at once."""
    results = Path(results).resolve()
    root = results / study.name
    with store.exclusive(root / store.SUBMIT_LOCK):  # two `harness run` at once must not both submit a run
        todo = runs_to_do(study_status(study, results))
        if not todo:
            return Submission([], 0)
        code = pin_code(root / store.CODE_COPIES)
        executor = submitit.SlurmExecutor(root / store.SLURM_LOGS, max_num_timeout=options.max_timeouts)
        executor.update_parameters(**executor_parameters(options, study.name, code))
        job_ids: list[str] = []
        array_size = max(1, max_array_size())  # 0 disables arrays: then one job at a time
        for array in chunks(chunks(_absolute_paths(todo), options.runs_per_job), array_size):
            if job_ids:  # the next array starts once the previous one has ended: one parallelism cap
                executor.update_parameters(dependency=f"afterany:{job_ids[-1].split('_')[0]}")
            try:
                with executor.batch():
                    jobs = [executor.submit(RunJob(study.name, results, group, code)) for group in array]
            except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError, OSError) as err:
                raise SlurmError(f"sbatch refused the jobs: {err}") from None
            for job, group in zip(jobs, array):
                job_ids.append(job.job_id)
                for planned in group:
                    directory = store.run_dir(results, study.name, planned.run_id)
                    store.write_json(directory / store.JOB, {
                        "run_id": planned.run_id, "job_id": job.job_id, "submitted_at": now(), "code": str(code),
                        "log": str(job.paths.stdout), "runs_in_job": [p.run_id for p in group],
                    })
        return Submission(job_ids, len(todo))


def _absolute_paths(units: list[Pretraining]) -> list[Pretraining]:
    """The job starts in another directory: a relative --data-root must not change meaning."""
    return [Pretraining(tuple(_absolute_path(planned) for planned in unit.runs)) for unit in units]


def _absolute_path(planned: PlannedRun) -> PlannedRun:
    runtime = planned.config.runtime
    if runtime.data_root is None or os.path.isabs(runtime.data_root):
        return planned
    runtime = runtime.model_copy(update={"data_root": os.path.abspath(runtime.data_root)})
    return replace(planned, config=planned.config.model_copy(update={"runtime": runtime}))
