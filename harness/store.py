"""The results tree: results/<study>/<run_id>/ with config.yaml, curves.parquet, summary.json,
checkpoint.pt (and error.txt for a failed run).

Every file is written to a temporary name in the same folder and renamed over the target, so a
reader (or a resumed run) sees a complete file or the previous one, never half of one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml

CONFIG, CURVES, SUMMARY, CHECKPOINT, ERROR = (
    "config.yaml",
    "curves.parquet",
    "summary.json",
    "checkpoint.pt",
    "error.txt",
)
STEPS = "steps.parquet"  # per-step monitors (monitor.every_steps / knn_every_steps), same writer as curves

# Run states, as `harness status` shows them.
DONE, DIVERGED, FAILED, PARTIAL, NEW = "done", "diverged", "failed", "partial", "new"
FINISHED = (DONE, DIVERGED)  # a diverged run is a result (the report shows it), not an error


def run_dir(results: Path, study: str, run_id: str) -> Path:
    return Path(results) / study / run_id


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


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
    sink = io.BytesIO()
    torch.save(state, sink)
    atomic_write_bytes(path, sink.getvalue())


def load_checkpoint(path: Path) -> dict:
    # weights_only: a checkpoint is data; never let loading one run code.
    return torch.load(path, map_location="cpu", weights_only=True)


def run_state(directory: Path) -> str:
    summary = read_json(Path(directory) / SUMMARY)
    if summary is not None:
        return summary["status"]
    if (Path(directory) / CHECKPOINT).exists():
        return PARTIAL
    return NEW
