"""`harness run --rerun`: train again runs whose results came from code that has since changed (a
method's bug fixed after its runs diverged, failed or finished). A run id covers the config, not the
code, so without this the next `run` skips them as finished.

The selected runs' folders (with their stages) are set aside, never deleted: moved whole, under the run's lock, to
`<results>/<study>.rerun-<time>/<run_id>/`, outside the study's folder, so that neither the harness
nor a script reading `<results>/<study>/*/` takes them for the study's results; each run then trains
from its start as a new one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from harness import store
from harness.errors import SpecError, shown
from harness.launch.status import RunStatus
from harness.plan import Study
from harness.store import RunState

# The states of a run with a folder to set aside that no other process holds.
RERUNNABLE = (RunState.DONE, RunState.DIVERGED, RunState.FAILED, RunState.PARTIAL, RunState.CORRUPT)


@dataclass(frozen=True)
class Selection:
    """What --rerun names: runs in these states, of these variants (all of them when none is named)."""

    states: frozenset[str]
    variants: frozenset[str]

    def takes(self, status: RunStatus) -> bool:
        variants = {planned.variant for planned in status.unit.runs}  # a pretraining may train several
        return status.state in self.states and (not self.variants or bool(variants & self.variants))


def selection(values: list[str], study: Study) -> Selection | None:
    """--rerun's values (repeated or comma-separated), each a state in RERUNNABLE or a variant of the
    study; None when there are none. A state and a variant together: that variant's runs in that state."""
    names = [name.strip() for value in values for name in value.split(",")]
    states = {name for name in names if name in RERUNNABLE}
    variants = {name for name in names if name not in states}
    unknown = sorted(variants - set(study.spec.variants))
    if unknown:
        raise SpecError(f"--rerun {shown(unknown[0])}: neither a state to rerun ({', '.join(RERUNNABLE)}) "
                        f"nor a variant of {study.path} {shown(list(study.spec.variants))}")
    if not names:
        return None
    return Selection(frozenset(states or RERUNNABLE), frozenset(variants))


def aside(results: Path, study: str) -> Path:
    """The folder this command sets runs aside in: the first free one named after the time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, n = Path(results) / f"{study}.rerun-{stamp}", 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{study}.rerun-{stamp}-{n}")
    return folder


def set_aside(directory: Path, folder: Path) -> Path | None:
    """Move the run's folder into `folder`; where it went, or None when another process holds the run
    now, or its folder has gone or holds nothing (it is left to `run` as any other)."""
    with store.run_lock(directory) as held:
        if not held or store.run_state(directory, check_lock=False) == RunState.NEW:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / directory.name
        os.rename(directory, target)  # the held lock moves with it; the next claim makes a new folder
        return target
