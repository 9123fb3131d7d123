"""Execute one planned run into its directory: the unit of work every executor hands out.

A run that raises is recorded as `failed` with its traceback in error.txt, so the rest of the study
goes on; a run that another process holds or has finished is left alone (TAKEN). In a multi-task job
every rank calls this and rank 0 alone writes.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from harness import distributed, store
from harness.plan import PlannedRun
from harness.run_id import SCHEMA_VERSION
from harness.store import FINISHED, RunState
from harness.train import train

# What run_one returns for a run it did not train: another process holds it, or finished it since it
# was planned (a run state is what it returns for a run it trained).
TAKEN = "taken by another process"


def run_one(planned: PlannedRun, directory: Path, on_epoch=None, should_stop=None) -> RunState | str:
    """Train the run unless it is finished or another process holds it; return its state (done,
    diverged or failed), or TAKEN when another process holds it or finished it since it was planned."""
    directory = Path(directory)
    if distributed.current().active:
        # The ranks of one job train the run together; its job record keeps it from running twice.
        return _run(planned, directory, on_epoch, should_stop)
    with store.run_lock(directory) as held:
        if not held:
            return TAKEN
        return _run(planned, directory, on_epoch, should_stop)


def _run(planned: PlannedRun, directory: Path, on_epoch, should_stop) -> RunState | str:
    main = distributed.current().is_main
    state = store.run_state(directory, check_lock=False)  # again, under the lock: another process may have finished it
    if state in FINISHED:
        return TAKEN
    if main:
        store.remove_stale_temporaries(directory)  # what a killed writer left behind
        (directory / store.ERROR).unlink(missing_ok=True)
        if state == RunState.CORRUPT:
            store.set_aside_corrupt(directory)
        if state == RunState.FAILED:
            (directory / store.SUMMARY).unlink()  # retry a failed run; its checkpoint (if any) resumes it
        store.write_yaml(directory / store.CONFIG, {
            "run_id": planned.run_id, "schema": SCHEMA_VERSION, "labels": planned.labels(),
            "config": planned.config.model_dump(mode="json"),
        })  # fmt: skip
    try:
        return train(planned.config, directory, planned.labels(), on_epoch, should_stop)["status"]
    except Exception as err:  # noqa: BLE001 - any error in one run must not stop the study
        if not main:
            return RunState.FAILED
        store.atomic_write_bytes(directory / store.ERROR, traceback.format_exc().encode())
        store.write_json(
            directory / store.SUMMARY,
            {"status": RunState.FAILED, "run_id": planned.run_id, "labels": planned.labels(), "error": repr(err)},
        )
        return RunState.FAILED
