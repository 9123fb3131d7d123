"""The results tree: results/<study>/<run_id>/ with config.yaml, curves.parquet, summary.json,
checkpoint.pt (and error.txt for a failed run).

Every file is written to a temporary name in the same folder and renamed over the target, so a
reader (or a resumed run) sees a complete file or the previous one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import signal
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml

CONFIG, CURVES, SUMMARY, CHECKPOINT, PREVIOUS_CHECKPOINT, ERROR, LOCK = (
    "config.yaml",
    "curves.parquet",
    "summary.json",
    "checkpoint.pt",
    "checkpoint.prev.pt",  # the one before: where a run resumes if the latest is unreadable
    "error.txt",
    ".lock",
)
STEPS = "steps.parquet"  # per-step monitors (monitor.every_steps / knn_every_steps), same writer as curves

# Run states, as `harness status` shows them.
DONE, DIVERGED, FAILED, PARTIAL, NEW = "done", "diverged", "failed", "partial", "new"
RUNNING = "running"  # another process holds the run's lock
FINISHED_ELSEWHERE = "finished elsewhere"  # run_one found it finished by another process once it held the lock
CORRUPT = "corrupt"  # its summary or curves cannot be read: it is resumed from its checkpoint
FINISHED = (DONE, DIVERGED)  # a diverged run is a result (the report shows it), not an error


class CorruptFileWarning(UserWarning):
    """A results file could not be read (truncated by a full disk or a killed copy)."""


_UMASK = os.umask(0)  # the process umask: reading it means setting it, so set it back at once
os.umask(_UMASK)


def run_dir(results: Path, study: str, run_id: str) -> Path:
    return Path(results) / study / run_id


# Fault injection for the reliability tests: "NAME:N" kills this process with SIGKILL half-way
# through the N-th write of a file called NAME (see tests/fault_injection.py).
_KILL_DURING_WRITE = os.environ.get("HARNESS_KILL_DURING_WRITE", "")
_writes: Counter = Counter()


def _kill_if_due(name: str) -> None:
    target, _, nth = _KILL_DURING_WRITE.partition(":")
    _writes[name] += 1
    if name == target and _writes[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            if _KILL_DURING_WRITE:
                f.write(data[: len(data) // 2])
                f.flush()
                _kill_if_due(path.name)
                data = data[len(data) // 2 :]
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


def save_checkpoint(path: Path, state: dict) -> None:
    """Write the checkpoint, keeping the one before it as checkpoint.prev.pt."""
    sink = io.BytesIO()
    torch.save(state, sink)
    data = sink.getvalue()
    path = Path(path)
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS_CHECKPOINT))
    atomic_write_bytes(path, data)


def load_checkpoint(path: Path) -> dict:
    # weights_only: a checkpoint is data; never let loading one run code.
    return torch.load(path, map_location="cpu", weights_only=True)


def load_latest_checkpoint(directory: Path) -> dict | None:
    """The newest readable checkpoint of a run, warning about (and setting aside) unreadable ones."""
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        path = Path(directory) / name
        if not path.exists():
            continue
        try:
            return load_checkpoint(path)
        except Exception as err:  # noqa: BLE001 - torch raises many kinds for a truncated file
            warnings.warn(f"{path} is unreadable ({type(err).__name__}); set aside as {path.name}.corrupt",
                          CorruptFileWarning, stacklevel=2)
            os.replace(path, path.with_name(path.name + ".corrupt"))
    return None


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


def run_state(directory: Path, check_lock: bool = True) -> str:
    directory = Path(directory)
    try:
        summary = read_json(directory / SUMMARY)
    except ValueError:
        return CORRUPT
    if summary is not None:
        status = summary.get("status")
        if status is None or (status in FINISHED and not curves_readable(directory / CURVES)):
            return CORRUPT
        return status
    if check_lock and is_locked(directory):
        return RUNNING
    if (directory / CHECKPOINT).exists() or (directory / PREVIOUS_CHECKPOINT).exists():
        return PARTIAL
    return NEW
