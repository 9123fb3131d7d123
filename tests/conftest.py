import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"

# Small enough for a test, big enough to exercise every stage (kNN at init, checkpoints, resume).
FAST = [
    "optim.epochs=4",
    "backbone.width=8",
    "projector.hidden_dim=32",
    "projector.out_dim=32",
    "predictor.hidden_dim=8",
    "monitor.every_epochs=2",
]

TINY_STUDY = """\
name: tiny_test
title: "A two-variant test study"
variants:
  with_stop_gradient: {}
  without_stop_gradient: {method.stop_gradient: false}
seeds: [0]
report:
  paper: simsiam.figure2_stop_gradient
  claims:
    - {kind: no_collapse, run: with_stop_gradient, min_seeds: 1, text: "no collapse with stop-gradient"}
"""


# The end-to-end tests (a real study through the command line, kills, a browser) and the SLURM ones are
# `slow`: `pytest -m "not slow"` is the quick loop; CI runs them all. A unit test that trains a real run
# is marked `slow` where it stands.
SLOW_FOLDERS = ("e2e", "slurm")


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    for item in items:
        if Path(item.fspath).resolve().relative_to(tests).parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _single_thread(monkeypatch):
    # Two pytest workers would fight over cores; determinism tests compare within one process setting.
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    path = tmp_path / "tiny_test.yaml"
    path.write_text(TINY_STUDY)
    return path


def fast_overrides() -> list[str]:
    return [arg for item in FAST for arg in ("--set", item)]


def checkpointed_epoch(run_dir: Path) -> int:
    """The epoch of a live run's checkpoint.pt, 0 if it has none yet, or none this instant: saving one
    moves the last to checkpoint.prev.pt before the new one lands (harness.checkpoint.save)."""
    from harness import checkpoint, store

    try:
        return checkpoint.load(run_dir / store.CHECKPOINT)["epoch"]
    except FileNotFoundError:
        return 0


def unreadable_cifar(root: Path, dataset: str = "cifar10") -> Path:
    """CIFAR's batch files by name under `root`, none of them readable: the preflight, which looks
    for the files, passes them, and a run that reads them fails."""
    from harness.data.cifar import split_files

    for path in sum(split_files(dataset, root).values(), []):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a pickle")
    return root
