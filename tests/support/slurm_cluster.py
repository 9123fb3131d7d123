"""A one-node SLURM cluster on localhost for the tests: munged, slurmctld and slurmd (Debian's
`slurm-wlm` and `munge`), every state, spool, log, pid and socket file in one temporary folder.

The node advertises this machine's real CPUs and memory (`slurmd -C`), so jobs are scheduled as
they would be on a cluster node. There is no accounting database: `sacct` fails, as it does on
clusters without slurmdbd, and the harness must cope. MaxArraySize is small so that the tests
exercise the split of a large array into several.

Run it by hand to poke at it: `python tests/support/slurm_cluster.py` starts it, prints the environment
to export, and stops it on Enter.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "scancel")
MAX_ARRAY_SIZE = 2  # arrays of more than 2 tasks are split: the tests see it happen


def missing_binaries() -> list[str]:
    return [name for name in DAEMONS + CLIENTS if shutil.which(name) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line() -> str:
    """This machine as slurmd sees it: 'NodeName=vm CPUs=2 ... RealMemory=24105'."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


class LocalCluster:
    def __init__(self, root: Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="slurm-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = self.root / "slurm.conf"
        self.node_spec = node_line()
        fields = dict(item.split("=", 1) for item in self.node_spec.split())
        self.node = fields["NodeName"]
        self.cpus = int(fields["CPUs"])
        self.memory_mb = int(fields["RealMemory"])
        self.env = {"SLURM_CONF": str(self.conf)}

    def _write_config(self) -> None:
        r = self.root
        for sub in ("state", "spool", "log", "run"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        key = r / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        user = pwd.getpwuid(os.getuid()).pw_name
        # cred_expire: a requeued job may start again only once its old credential has expired
        # (120 s by default); 10 s keeps the requeue tests short.
        self.conf.write_text(f"""\
ClusterName=harness-test
SlurmctldHost={self.node}
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/run/munge.socket,cred_expire=10
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={self.memory_mb // self.cpus}
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SchedulerType=sched/backfill
MaxArraySize={MAX_ARRAY_SIZE}
InactiveLimit=0
KillWait=5
MinJobAge=600
SlurmdTimeout=60
{self.node_spec} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=ALL MaxTime=5 State=UP
""")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env}, start_new_session=True,
        )
        log.close()

    def start(self, timeout: float = 60) -> LocalCluster:
        self._write_config()
        r = self.root
        self._spawn("munged", [
            "munged", "-F", "--force", f"--socket={r}/run/munge.socket", f"--key-file={r}/munge.key",
            f"--pid-file={r}/run/munged.pid", f"--log-file={r}/log/munged.log", f"--seed-file={r}/run/munged.seed",
        ])
        self._wait_for(lambda: (r / "run" / "munge.socket").exists(), timeout, "munged's socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-c", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
        self._wait_for(self.idle, timeout, f"node {self.node} to be idle")
        return self

    def idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-n", self.node, "-o", "%T"], capture_output=True, text=True,
                             env={**os.environ, **self.env})
        return out.returncode == 0 and set(out.stdout.split()) == {"idle"}  # a line per partition

    def _wait_for(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; logs in {self.root / 'log'}:\n"
                                       + self.logs())
            if ready():
                return
            time.sleep(0.2)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}; logs in {self.root / 'log'}:\n" + self.logs())

    def logs(self, tail: int = 20) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        # Cancel what is left so that slurmd does not leave job processes behind, then stop the
        # daemons in reverse order of start.
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--partition=debug"], env={**os.environ, **self.env},
                           capture_output=True, timeout=30)
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()


if __name__ == "__main__":
    cluster = LocalCluster().start()
    print(f"export SLURM_CONF={cluster.conf}")
    try:
        input("cluster up; Enter stops it\n")
    finally:
        cluster.stop()
