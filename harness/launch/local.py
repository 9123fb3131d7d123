"""The local executor: runs one after another in this process, or in N worker processes."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from harness import store
from harness.launch.run_one import run_one
from harness.spec import PlannedRun


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_local(runs: list[PlannedRun], study: str, results: Path, jobs: int = 1, progress: bool = True) -> dict[str, str]:
    """Run each planned run; return {run_id: final state}."""
    states: dict[str, str] = {}
    bar = tqdm(total=len(runs), desc=study, unit="run", disable=not progress)
    if jobs <= 1:
        for planned in runs:
            bar.set_postfix_str(planned.label)
            total = planned.config.optim.epochs

            def on_epoch(row, planned=planned, total=total):
                bar.set_postfix_str(f"{planned.label} epoch {row['epoch']}/{total} loss {row['loss']:.3f}")

            states[planned.run_id] = run_one(planned, store.run_dir(results, study, planned.run_id), on_epoch)
            bar.update()
    else:
        # Spawned workers split the cores between them instead of each taking all of them.
        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,)) as pool:
            futures = {
                pool.submit(run_one, planned, store.run_dir(results, study, planned.run_id)): planned
                for planned in runs
            }
            for future in as_completed(futures):
                planned = futures[future]
                states[planned.run_id] = future.result()
                bar.set_postfix_str(f"{planned.label}: {states[planned.run_id]}")
                bar.update()
    bar.close()
    return states
