"""A run's checkpoint (results/<study>/<run_id>/checkpoint.pt): the model, the optimizer and the
curve rows up to an epoch, written atomically, the one before kept as checkpoint.prev.pt.

Apart from store.py because it needs torch, which planning, status and reports never import.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch

from harness.store import CHECKPOINT, PREVIOUS_CHECKPOINT, CorruptFileWarning, atomic_write_bytes


def save(path: Path, state: dict) -> None:
    """Write the checkpoint, keeping the one before it as checkpoint.prev.pt."""
    sink = io.BytesIO()
    torch.save(state, sink)
    data = sink.getvalue()
    path = Path(path)
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS_CHECKPOINT))
    atomic_write_bytes(path, data)


def load(path: Path) -> dict:
    # weights_only: a checkpoint is data; never let loading one run code.
    return torch.load(path, map_location="cpu", weights_only=True)


def load_latest(directory: Path) -> dict | None:
    """The newest readable checkpoint of a run, warning about (and setting aside) unreadable ones."""
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        path = Path(directory) / name
        if not path.exists():
            continue
        try:
            return load(path)
        except Exception as err:  # noqa: BLE001 - torch raises many kinds for a truncated file
            warnings.warn(f"{path} is unreadable ({type(err).__name__}); set aside as {path.name}.corrupt",
                          CorruptFileWarning, stacklevel=2)
            os.replace(path, path.with_name(path.name + ".corrupt"))
    return None
