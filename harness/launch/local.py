"""The local executor: pretrainings (each with its stages: launch/run_one.py) one after another in
this process, or in N worker processes.

A signal that stops the harness (SIGINT, SIGTERM: errors.Signalled, raised by the command line's
handler) stops the runs where they are: in this process it ends the run's step, and the worker
processes are terminated, not left to finish the queued runs. Every file of a run is written whole
and its lock is the kernel's, so each resumes from its last checkpoint, as after a kill.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tqdm import tqdm

from harness import store
from harness.machine import usable_cpus
from harness.launch.run_one import Outcome, run_one
from harness.plan import Pretraining

# What run_local returns for a run whose worker process died under it (killed by the system, e.g.
# out of memory): the pool is broken and every run not finished by then is lost with it. Their
# directories hold what a killed run leaves, so the next `harness run` resumes them.
LOST = "lost with its worker process"


# How long a terminated worker process gets to end before it is killed.
STOP_GRACE_S = 5


def _worker_init(threads: int, parent: int) -> None:
    import torch

    _die_with(parent)
    # A terminal's Ctrl-C reaches the whole process group: the harness process stops its workers
    # (_stop_workers), so that a worker does not end its run with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


def _die_with(parent: int) -> None:
    """Let the kernel kill this worker when the `harness run` that spawned it dies, even by SIGKILL:
    a worker left behind would go on training and hold its run's lock, and the `harness run` started
    again would skip that run as running elsewhere instead of resuming it (Linux's PR_SET_PDEATHSIG;
    elsewhere, orphans finish their run)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was set: go now
        os.kill(os.getpid(), signal.SIGKILL)


def default_jobs(runs: list[Pretraining]) -> int:
    """How many runs train at once when --jobs is not given. Runs on the CPU that each hold a fixed
    number of threads (runtime.threads; 1 at `tiny`) fill the usable cores side by side: on 2 cores
    two one-thread runs train 4 tiny runs in 146 s where one two-thread run at a time takes 159 s,
    and each run's curves are the same whatever --jobs is, as its thread count does not change.
    Runs on a GPU, or that take every core (threads 0), go one at a time."""
    threads = {r.config.runtime.threads for r in runs}
    on_cpu = all(r.config.runtime.device == "cpu" for r in runs)
    if not runs or not on_cpu or 0 in threads:
        return 1
    return max(1, min(len(runs), usable_cpus() // max(threads)))


def run_local(runs: list[Pretraining], study: str, results: Path, jobs: int = 1, progress: bool = True,
              train_network: bool = True) -> dict[str, Outcome | str]:
    """Run each pretraining and its stages (with `train_network` false, its stages only: `harness
    eval`); return {run_id: its Outcome, or LOST}."""
    bar = tqdm(total=len(runs), desc=study, unit="run", disable=not progress)
    try:
        if jobs <= 1:
            return _in_this_process(runs, study, results, bar, train_network)
        return _in_workers(runs, study, results, jobs, bar, train_network)
    finally:
        bar.close()


def _in_this_process(runs: list[Pretraining], study: str, results: Path, bar: tqdm,
                     train_network: bool) -> dict[str, Outcome | str]:
    states = {}
    for planned in runs:
        bar.set_postfix_str(planned.label)
        total = planned.config.optim.epochs

        def on_epoch(row, planned=planned, total=total):
            bar.set_postfix_str(f"{planned.label} epoch {row['epoch']}/{total} loss {row['loss']:.3f}")

        states[planned.run_id] = run_one(planned, store.run_dir(results, study, planned.run_id), on_epoch,
                                         train_network=train_network)
        bar.update()
    return states


def _in_workers(runs: list[Pretraining], study: str, results: Path, jobs: int, bar: tqdm,
                train_network: bool) -> dict[str, Outcome | str]:
    # Spawned workers split the cores between them instead of each taking all of them (a run's
    # runtime.threads, where set, wins in train()).
    threads = max(1, usable_cpus() // jobs)
    init = (threads, os.getpid())
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=init)
    states = {}
    try:
        futures = {pool.submit(run_one, planned, store.run_dir(results, study, planned.run_id),
                               train_network=train_network): planned for planned in runs}  # fmt: skip
        for future in as_completed(futures):
            planned = futures[future]
            try:
                states[planned.run_id] = future.result()
            except BrokenProcessPool:
                states[planned.run_id] = LOST
            state = states[planned.run_id]
            bar.set_postfix_str(f"{planned.label}: {state.state if isinstance(state, Outcome) else state}")
            bar.update()
    except BaseException:  # Signalled, above all: leaving the pool as it is would wait for every queued run
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)
    return states


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Hand out no more runs and end the worker processes now: SIGTERM, then SIGKILL for one that
    has not ended in STOP_GRACE_S. The pool's workers are this process's only multiprocessing children."""
    pool.shutdown(wait=False, cancel_futures=True)
    workers = multiprocessing.active_children()
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            worker.kill()
            worker.join()
