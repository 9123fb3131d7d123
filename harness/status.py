"""The state of each planned run of a study, read from its run directory."""

from __future__ import annotations

from pathlib import Path

from harness import store
from harness.spec import PlannedRun, Study

# What `harness run` does with a run in each state.
ACTIONS = {
    store.DONE: "skip (done)",
    store.DIVERGED: "skip (diverged)",
    store.FAILED: "retry (failed)",
    store.PARTIAL: "resume",
    store.CORRUPT: "repair (resume)",
    store.RUNNING: "skip (running)",
    store.NEW: "new",
}


def run_states(study: Study, results: Path) -> list[tuple[PlannedRun, str]]:
    return [(r, store.run_state(store.run_dir(results, study.name, r.run_id))) for r in study.runs]
