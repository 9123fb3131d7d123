"""Execute one pretraining and its stages into their directories: the unit of work every executor
hands out (plan.Pretraining).

The pretraining is trained unless finished; then, once it is done, each of its stages (harness/
stages.py) that is not finished is run, each after the stage it reads. A run or stage that raises is
recorded as `failed` with its traceback in error.txt, so the rest of the study goes on (a failed
stage leaves its pretraining done); one that another process holds or has finished is left alone
(TAKEN). In a multi-task job every rank trains the pretraining and rank 0 alone writes and
evaluates.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness import distributed, store
from harness.plan import PlannedStage, Pretraining
from harness.run_id import SCHEMA_VERSION
from harness.stages import run_stage, stage_summary
from harness.store import FINISHED, RunState
from harness.train import train

# What run_one returns for a run or stage it did not execute: another process holds it, or finished
# it since it was planned (a run state is what it returns for one it executed).
TAKEN = "taken by another process"


@dataclass
class Outcome:
    state: RunState | str  # what became of the pretraining here: TAKEN when not trained here
    stages: dict[str, RunState | str] = field(default_factory=dict)  # by stage id: each unfinished one (TAKEN: by another)


def run_one(unit: Pretraining, directory: Path, on_epoch=None, should_stop=None, train_network: bool = True) -> Outcome:
    """Train the pretraining unless it is finished or held elsewhere (or `train_network` is false:
    `harness eval`), then run its unfinished stages if it is done."""
    directory = Path(directory)
    ctx = distributed.current()
    state = TAKEN
    if train_network:
        state = _claimed(directory, lambda: _train(unit, directory, on_epoch, should_stop), lock=not ctx.active)
    outcome = Outcome(state)
    if ctx.is_main and store.run_state(directory) == RunState.DONE:
        for stage in unit.stages:
            if store.stage_state(directory / store.STAGES / stage.stage_id) in FINISHED:
                continue
            if stage.input_id != unit.run_id and not stage_done(directory, stage.input_id):
                continue  # the stage it reads is not done: it stays as it is
            outcome.stages[stage.stage_id] = _claimed(
                directory / store.STAGES / stage.stage_id, lambda stage=stage: _evaluate(unit, stage, directory,
                                                                                         should_stop))
    return outcome


def stage_done(run_dir: Path, stage_id: str) -> bool:
    return store.stage_state(run_dir / store.STAGES / stage_id) == RunState.DONE


def _claimed(directory: Path, work: Callable[[], RunState | str], lock: bool = True) -> RunState | str:
    """`work` under the directory's lock (TAKEN if another process holds it); without `lock`, the
    ranks of one job train the run together and its job record keeps it from running twice."""
    if not lock:
        return work()
    with store.run_lock(directory) as held:
        return work() if held else TAKEN


def _train(unit: Pretraining, directory: Path, on_epoch, should_stop) -> RunState | str:
    planned = unit.first
    record = {"run_id": planned.run_id, "schema": SCHEMA_VERSION, "labels": planned.labels(),
              "config": planned.config.model_dump(mode="json", exclude={"probe"})}  # its evaluations are stages
    failure = {"run_id": planned.run_id, "labels": planned.labels()}
    return _execute(directory, store.run_state, record, failure,
                    lambda: train(planned.config, directory, planned.labels(), on_epoch, should_stop))


def _evaluate(unit: Pretraining, stage: PlannedStage, run_dir: Path, should_stop) -> RunState | str:
    planned = unit.stage_run(stage)
    labels = planned.labels()
    record = {"stage_id": stage.stage_id, "input_id": stage.input_id, "run_id": unit.run_id,
              "schema": SCHEMA_VERSION, "labels": labels, "section": stage.section.model_dump(mode="json")}
    directory = run_dir / store.STAGES / stage.stage_id
    return _execute(directory, store.stage_state, record, stage_summary(stage, labels),
                    lambda: run_stage(planned.config, stage, run_dir, labels, should_stop))


def _execute(directory: Path, state_of, record: dict, failure: dict, work: Callable[[], dict]) -> RunState | str:
    """Run `work` (it writes the summary) unless the directory is finished, its config.yaml written
    first; a failure recorded in error.txt and a `failed` summary (`failure`'s fields with it)."""
    main = distributed.current().is_main
    state = state_of(directory, check_lock=False)  # again, under the lock: another process may have finished it
    if state in FINISHED:
        return TAKEN
    if main:
        store.remove_stale_temporaries(directory)  # what a killed writer left behind
        (directory / store.ERROR).unlink(missing_ok=True)
        if state == RunState.CORRUPT:
            store.set_aside_corrupt(directory)
        if state == RunState.FAILED:
            (directory / store.SUMMARY).unlink()  # retry a failed one; its checkpoint (if any) resumes it
        store.write_yaml(directory / store.CONFIG, record)
    try:
        return work()["status"]
    except Exception as err:  # noqa: BLE001 - any error in one run or stage must not stop the study
        if not main:
            return RunState.FAILED
        store.atomic_write_bytes(directory / store.ERROR, traceback.format_exc().encode())
        store.write_json(directory / store.SUMMARY, {**failure, "status": RunState.FAILED, "error": repr(err)})
        return RunState.FAILED
