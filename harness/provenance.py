"""Where and when a result came from: library versions and the code revision, recorded in each
summary, and the time stamps of runs, jobs and reports."""

from __future__ import annotations

import functools
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("harness", "torch", "torchvision", "numpy", "pandas", "pyarrow")


def now() -> str:
    """The time in UTC, to the second: when a run finished, a job started, a report was written."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@functools.cache
def code_revision() -> str:
    """The git commit of the harness checkout, '+dirty' if it has uncommitted changes."""
    root = Path(__file__).resolve().parent
    pinned = root / "REVISION"  # a copy a SLURM job runs carries its checkout's revision (launch/code_pin.py)
    if pinned.is_file():
        return pinned.read_text().strip()
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", str(root)],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
