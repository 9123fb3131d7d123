"""What the SLURM controller knows: the state of jobs (squeue, then sacct), its MaxArraySize, and its
partitions' limits (scontrol show partition, sinfo) for the preflight.

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


def partitions() -> dict[str, dict[str, str]]:
    """Every partition, hidden ones too, as `scontrol show partition` gives it: {name: {field: value}}."""
    out = _run(["scontrol", "--all", "--oneliner", "show", "partition"])
    if out.returncode != 0:
        raise SlurmError(f"scontrol show partition failed: {out.stderr.strip()}")
    found = {}
    for line in out.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "PartitionName" in fields:
            found[fields["PartitionName"]] = fields
    return found


def gpus_per_node(partition: str) -> int:
    """The most GPUs a node of the partition has, from its Gres (e.g. gpu:a100:4(S:0-1)); 0 without."""
    out = _run(["sinfo", "--noheader", "--partition", partition, "--format=%G"])
    if out.returncode != 0:
        raise SlurmError(f"sinfo failed: {out.stderr.strip()}")
    return max((sum(int(n) for n in re.findall(r"\bgpu(?::[^:,()\s]+)?:(\d+)", line))
                for line in out.stdout.splitlines()), default=0)


def minutes(limit: str) -> float | None:
    """A SLURM time limit (minutes, min:sec, h:min:sec, days-h[:min[:sec]]) in minutes; None when
    unlimited or unreadable."""
    days, _, clock = limit.rpartition("-")
    try:
        parts = [int(p) for p in clock.split(":")]
        days = int(days or 0)
    except ValueError:  # UNLIMITED, INFINITE, NONE
        return None
    if len(parts) > 3:
        return None
    if days or len(parts) == 3:
        h, m, s = (parts + [0, 0])[:3]
    else:
        h, m, s = 0, parts[0], (parts[1] if len(parts) == 2 else 0)
    return days * 1440 + h * 60 + m + s / 60
