"""The results tree and its vocabulary: results/<study>/<run_id>/ with config.yaml, curves.parquet,
steps.parquet, summary.json, checkpoint.pt (and error.txt for a failed run, job.json for one submitted
to SLURM), every file name a run may have, and the states a run can be in (RunState). A run is a
pretraining; each evaluation of it is a stage beside it, results/<study>/<run_id>/stages/<stage_id>/,
with a stage's files (config.yaml, summary.json, checkpoint.pt, network.pt, error.txt), in the same
states.

Every file is written to a temporary name in the same folder and renamed over the target, so a
reader (or a resumed run) sees a complete file or the previous one, never half of one. Torch-free:
planning, status and reports read this module; checkpoints (torch) are harness/checkpoint.py's.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

# A run's files, in results/<study>/<run_id>/.
CONFIG = "config.yaml"  # the resolved config and the run's labels
CURVES = "curves.parquet"  # one row per epoch
STEPS = "steps.parquet"  # per-step monitors (monitor.every_steps / knn_every_steps), same writer as curves
SUMMARY = "summary.json"  # written last: the run's state, final metrics and provenance
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"  # the one before: where a run resumes if the latest is unreadable
ERROR = "error.txt"  # a failed run's traceback
JOB = "job.json"  # which SLURM job holds the run (written at submission, updated by the job)
LOCK = ".lock"  # held by the process training the run
# A stage's folder and files, in results/<study>/<run_id>/stages/<stage_id>/ (harness/stages.py): its
# CONFIG (its section, input id, labels), SUMMARY (status, metrics, protocol, input id), CHECKPOINT,
# ERROR and LOCK as a run's, and the network a later stage reads.
STAGES = "stages"
NETWORK = "network.pt"
# A study's files and folders, in results/<study>/, beside its runs'.
SUBMIT_LOCK = ".submit.lock"  # held while the study is submitted to SLURM
MIGRATE_LOCK = ".migrate.lock"  # held while run folders of an older schema are renamed (harness/migrate.py)
SLURM_LOGS = ".slurm"
CODE_COPIES = ".code"  # the package as each submission pinned it (launch/code_pin.py)
# Run folders of an older schema that hold the same pretraining as the one kept (they differed in
# evaluation keys only): set aside here by harness/migrate.py, never deleted.
SAME_PRETRAINING = ".same-pretraining"


class RunState(StrEnum):
    """A planned run's state, as `harness status` shows it: its directory's (run_state), or, for a run
    submitted to SLURM, its job's (status.py). Strings: they go into summary.json and the report."""

    NEW = "new"  # nothing on disk yet; a report calls its result missing (reported)
    PARTIAL = "partial"  # a checkpoint and no summary: interrupted (or running, unlocked)
    DONE = "done"
    DIVERGED = "diverged"  # a non-finite loss ended it: a result (the report shows it), not an error
    FAILED = "failed"
    CORRUPT = "corrupt"  # its summary or curves cannot be read: it is resumed from its checkpoint
    RUNNING = "running"  # another process holds the run's lock, or a SLURM job trains it
    QUEUED = "queued"  # its SLURM job waits

    @property
    def reported(self) -> str:
        """The state as a report names it: the result of a run not yet started is missing."""
        return "missing" if self is RunState.NEW else self.value


FINISHED = frozenset({RunState.DONE, RunState.DIVERGED})  # results: never trained again
TO_RUN = frozenset({RunState.NEW, RunState.PARTIAL, RunState.FAILED, RunState.CORRUPT})  # `harness run` trains them
ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})  # in another process's or job's hands


def tally(states: Iterable[str]) -> str:
    """'1 diverged, 2 done': how many runs are in each state, in the states' order."""
    return ", ".join(f"{n} {s}" for s, n in sorted(Counter(states).items()))


class CorruptFileWarning(UserWarning):
    """A results file could not be read (truncated by a full disk or a killed copy)."""


_UMASK = os.umask(0)  # the process umask: reading it means setting it, so set it back at once
os.umask(_UMASK)


def run_dir(results: Path, study: str, run_id: str) -> Path:
    return Path(results) / study / run_id


def stage_dir(results: Path, study: str, run_id: str, stage_id: str) -> Path:
    """The folder of a stage of the run (pretraining) `run_id`."""
    return run_dir(results, study, run_id) / STAGES / stage_id


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporaries of atomic writes that a killed process never renamed."""
    for tmp in Path(directory).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def write_yaml(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, yaml.safe_dump(obj, sort_keys=False).encode())


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`; None if there is no file; ValueError if it is not readable JSON."""
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return obj


def curves_readable(path: Path) -> bool:
    """Whether the Parquet footer reads: a truncated file has lost its footer."""
    try:
        pq.read_metadata(path)
        return True
    except (OSError, pa.ArrowException):
        return False


def curves_table(rows: list[dict]) -> pa.Table:
    """Typed columns: epoch/step are integers, every metric a float64 (null where not measured)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    fields = [pa.field(c, pa.int64() if c in ("epoch", "step") else pa.float64()) for c in columns]
    data = {c: [row.get(c) for row in rows] for c in columns}
    return pa.Table.from_pydict(data, schema=pa.schema(fields))


def write_curves(path: Path, rows: list[dict]) -> None:
    sink = io.BytesIO()
    pq.write_table(curves_table(rows), sink)
    atomic_write_bytes(path, sink.getvalue())


def read_curves(path: Path, columns: list[str] | None = None):
    return pq.read_table(path, columns=columns).to_pandas()


@contextlib.contextmanager
def exclusive(path: Path):
    """Wait for, then hold, an flock on `path` (created if missing): one writer at a time of what it
    guards (a study's SLURM submission, a reports folder). The kernel releases it if the holder dies."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def run_lock(directory: Path):
    """Hold the run's lock for this process, or yield False if another process holds it.
    An flock is released by the kernel when its holder dies, so a crashed run never keeps it."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_locked(directory: Path) -> bool:
    if not (Path(directory) / LOCK).exists():
        return False
    with run_lock(directory) as held:
        return not held


def set_aside_corrupt(directory: Path) -> None:
    """Move unreadable summary/curves files out of the way (name.corrupt), warning for each, so the
    run resumes from its checkpoint and writes them again."""
    directory = Path(directory)
    for name in (SUMMARY, CURVES):
        path = directory / name
        readable = curves_readable(path) if name == CURVES else _json_readable(path)
        if path.exists() and not readable:
            warnings.warn(f"{path} is unreadable; set aside as {name}.corrupt, the run resumes",
                          CorruptFileWarning, stacklevel=2)
            os.replace(path, path.with_name(name + ".corrupt"))
    # A summary that says finished while its curves are gone would be believed: rewrite it too.
    (directory / SUMMARY).unlink(missing_ok=True)


def _json_readable(path: Path) -> bool:
    try:
        return "status" in (read_json(path) or {})
    except ValueError:
        return False


def stage_state(directory: Path, check_lock: bool = True) -> RunState:
    """The state a stage's directory says, as run_state: a stage writes no curves."""
    return run_state(directory, check_lock, with_curves=False)


def run_state(directory: Path, check_lock: bool = True, with_curves: bool = True) -> RunState:
    """The state a run's directory says: its summary's status, or locked (RUNNING), a checkpoint
    (PARTIAL), nothing (NEW); CORRUPT when its summary, or a finished run's curves, cannot be read."""
    directory = Path(directory)
    try:
        summary = read_json(directory / SUMMARY)
    except ValueError:
        return RunState.CORRUPT
    if summary is not None:
        status = summary.get("status")
        if status not in (RunState.DONE, RunState.DIVERGED, RunState.FAILED):  # a summary says how it ended
            return RunState.CORRUPT
        if status in FINISHED and with_curves and not curves_readable(directory / CURVES):
            return RunState.CORRUPT
        return RunState(status)
    if check_lock and is_locked(directory):
        return RunState.RUNNING
    if (directory / CHECKPOINT).exists() or (directory / PREVIOUS_CHECKPOINT).exists():
        return RunState.PARTIAL
    return RunState.NEW
