"""The harness command line with a fault injected: HARNESS_KILL_DURING_WRITE="NAME:N" kills `harness run`
(SIGKILL; from a worker process, its parent and itself, or with NAME:N:worker the worker alone) half-way through a process's N-th write of a
file called NAME, leaving the half-written temporary behind as a killed writer would
(tests/support/fault_injection.py). Run as a script:

    HARNESS_KILL_DURING_WRITE=curves.parquet:2 python tests/support/harness_with_faults.py run STUDY ...

The patch is applied at import, outside the main guard, so the worker processes `harness run` spawns
(which import this script again as __mp_main__) carry it too.
"""

import multiprocessing
import os
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, as `python -m harness` from its root
from harness import store  # noqa: E402

# NAME:N, or NAME:N:worker to kill the worker process alone (as the system's OOM killer would).
TARGET, _, NTH = os.environ.get("HARNESS_KILL_DURING_WRITE", "").partition(":")
NTH, _, WHO = NTH.partition(":")
_writes: Counter = Counter()
_write = store.atomic_write_bytes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    _writes[path.name] += 1
    if path.name == TARGET and _writes[path.name] == int(NTH or 1):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, _ = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # as store names it
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        if multiprocessing.parent_process() is not None and WHO != "worker":  # `harness run` dies too
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
    _write(path, data)


if TARGET:
    store.atomic_write_bytes = atomic_write_bytes

if __name__ == "__main__":
    from harness.cli import main

    sys.exit(main())
