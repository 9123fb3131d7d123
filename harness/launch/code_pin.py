"""Code pinning: a SLURM job runs the harness as it was when the job was submitted, not whatever the
checkout holds when the job starts (maybe days later, maybe mid-edit).

At submission the package is copied once per content into `<store>/<content hash>/harness`; the job
starts in that folder with it first on PYTHONPATH (launch/slurm.py), so `import harness` finds the
copy. The copy carries the checkout's git revision in harness/REVISION (read by provenance.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import harness
from harness.provenance import code_revision

REVISION = "REVISION"


def package_dir() -> Path:
    return Path(harness.__file__).resolve().parent


def package_files(root: Path) -> list[Path]:
    """The package's files, without caches, in a fixed order."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo") and p.name != REVISION
    )


def content_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in package_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def pin_code(store: Path) -> Path:
    """Copy the harness package into `store/<hash>/harness` unless that copy exists; return
    `store/<hash>`, the folder to put first on the job's PYTHONPATH."""
    source = package_dir()
    target = Path(store) / content_hash(source)
    if (target / "harness").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assembled under a temporary name and renamed: a job never sees half a copy.
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        for path in package_files(source):
            dest = staging / "harness" / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        (staging / "harness" / REVISION).write_text(f"{code_revision()} pinned:{target.name}\n")
        os.replace(staging, target)
    except OSError:
        if not (target / "harness").is_dir():  # not another submission winning the race
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
