"""What the SLURM controller knows: the state of jobs (squeue, then sacct) and its MaxArraySize.

squeue lists pending and running jobs, and finished ones for MinJobAge (5 minutes by default);
sacct remembers finished jobs longer but needs accounting, which many clusters (and the test
cluster) do not run: it may fail, and then a job neither lists is simply unknown. The caller then
goes by what the run directory holds.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable

# SLURM job states (squeue/sacct long names) as `harness status` groups them. Anything else
# (COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...) has ended.
WAITING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "RESIZING"}
ACTIVE = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED"}


class SlurmError(RuntimeError):
    """A SLURM command failed; the message carries its output."""


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]} not found: is this a SLURM login node?") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(argv)} did not answer within {timeout:.0f} s") from None


def max_array_size() -> int:
    """The cluster's MaxArraySize: an array's indices must stay below it."""
    out = _run(["scontrol", "show", "config"])
    if out.returncode != 0:
        raise SlurmError(f"scontrol show config failed: {out.stderr.strip()}")
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out.stdout, re.MULTILINE)
    if match is None:
        raise SlurmError("scontrol show config does not report MaxArraySize")
    return int(match.group(1))


def _parse(lines: str, states: dict[str, str]) -> None:
    for line in lines.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id and state and "[" not in job_id and "." not in job_id:  # no ranges, no steps
            states.setdefault(job_id, state.split()[0])  # "CANCELLED by 0" -> CANCELLED


def job_states(job_ids: Iterable[str]) -> dict[str, str]:
    """{job id: SLURM state} for job ids like '123' or '123_4' (array task). Ids neither squeue nor
    sacct knows are left out."""
    wanted = set(job_ids)
    if not wanted:
        return {}
    states: dict[str, str] = {}
    # --array: one line per array task, pending ones included; the user's own jobs.
    out = _run(["squeue", "--me", "--array", "--noheader", "--states=all", "--format=%i|%T"])
    if out.returncode != 0:
        raise SlurmError(f"squeue failed: {out.stderr.strip()}")
    _parse(out.stdout, states)
    missing = sorted({j.split("_")[0] for j in wanted - set(states)})
    if missing:
        acct = _run(["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State",
                     "--jobs", ",".join(missing)])
        if acct.returncode == 0:  # fails without accounting: then those jobs stay unknown
            _parse(acct.stdout, states)
    return {j: states[j] for j in wanted if j in states}
