"""Fault injection: kill a tiny study with SIGKILL again and again, restart it each time, and check
that nothing was lost: every run done, each epoch once, final metrics bitwise equal to a run that
was never killed, and no temporary file left behind.

Kills land at random times (mostly inside training steps) and, through HARNESS_KILL_DURING_WRITE
(harness_with_faults.py), half-way through a chosen write: curves.parquet, checkpoint.pt, summary.json, or the report.

    python tests/support/fault_injection.py --kills 200          # the long run; the test suite does 12
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for conftest's constants
from conftest import FAST, TINY_STUDY  # noqa: E402

from harness import store  # noqa: E402
from harness.columns import EPOCH_SECONDS  # noqa: E402
from harness.plan import load_study  # noqa: E402
from harness.spec import parse_set  # noqa: E402

EPOCHS = 6
# The files a kill may land in the middle of, and how many times one `harness run` of the study writes
# each at most (a kill aimed at a later write would never land: a wasted restart): each run's curves and
# checkpoint every epoch, its summary once and its evaluation's summary once (2 runs), the report once.
WRITES = {"curves.parquet": 3, "checkpoint.pt": 3, "summary.json": 4, "tiny_test.md": 1, "tiny_test.html": 1,
          "curves.png": 1}


def command(study: Path, root: Path) -> list[str]:
    sets = [a for item in FAST + [f"optim.epochs={EPOCHS}"] for a in ("--set", item)]
    return [sys.executable, str(HERE / "harness_with_faults.py"), "run", str(study), "--results", str(root / "results"),
            "--reports", str(root / "reports"), "--quiet", "--jobs", "1", *sets]  # the pool's kills: test_cli_e2e


def run(study: Path, root: Path, env: dict, kill_after: float | None = None) -> bool:
    """Run the study; with kill_after, SIGKILL it after that many seconds. True if it was killed."""
    proc = subprocess.Popen(command(study, root), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=kill_after if kill_after is not None else 600)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True
    if proc.returncode == -signal.SIGKILL:
        return True  # killed by its own injected fault
    if proc.returncode != 0:
        raise RuntimeError(f"harness run exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
    return False


def outcome(root: Path, study: Path) -> dict:
    planned = load_study(study, overrides=parse_set(FAST + [f"optim.epochs={EPOCHS}"]))
    result = {}
    for r in planned.runs:
        directory = store.run_dir(root / "results", planned.name, r.run_id)
        curves = store.read_curves(directory / store.CURVES).drop(columns=[EPOCH_SECONDS])
        summary = json.loads((directory / store.SUMMARY).read_text())
        evaluation = json.loads((directory / store.STAGES / r.evaluation.stage_id / store.SUMMARY).read_text())
        result[r.run_id] = (summary["status"], curves, summary["final"], evaluation["metrics"])
    return result


def inject(kills: int, seed: int = 0, log=print) -> dict:
    rng = random.Random(seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = tmp / "tiny_test.yaml"
        study.write_text(TINY_STUDY)
        started = time.perf_counter()
        run(study, tmp / "clean", env)
        clean_seconds = time.perf_counter() - started
        expected = outcome(tmp / "clean", study)

        killed_root, done_kills, attempts = tmp / "killed", 0, 0
        tally = {"studies_checked": 0, "epochs_checked": 0, "mismatches": 0, "temporaries_left": []}

        def check() -> None:
            """The study just finished after the kills since the last check: compare it with the
            clean run, then start over so that kills keep landing."""
            got = outcome(killed_root, study)
            for run_id, (status, curves, final, evaluation) in expected.items():
                g_status, g_curves, g_final, g_evaluation = got[run_id]
                tally["epochs_checked"] += len(g_curves)
                same = (g_status == status and g_curves["epoch"].tolist() == list(range(EPOCHS + 1))
                        and g_final == final and g_curves.equals(curves) and g_evaluation == evaluation)
                tally["mismatches"] += not same
            tally["temporaries_left"] += [str(p) for p in killed_root.rglob("*.tmp")]
            tally["studies_checked"] += 1
            shutil.rmtree(killed_root)

        while done_kills < kills:
            attempts += 1
            if attempts > 4 * kills + 20:
                raise RuntimeError(f"only {done_kills} kills landed in {attempts} attempts")
            if rng.random() < 0.5:
                name = rng.choice(sorted(WRITES))
                target = f"{name}:{rng.randint(1, WRITES[name])}"
                killed = run(study, killed_root, {**env, "HARNESS_KILL_DURING_WRITE": target})
            else:
                killed = run(study, killed_root, env, kill_after=rng.uniform(0.3, 0.8) * clean_seconds)
            if killed:
                done_kills += 1
                if done_kills % 10 == 0:
                    log(f"{done_kills} kills landed in {attempts} attempts; {tally}")
            else:
                check()
        run(study, killed_root, env)  # the final, undisturbed restart
        check()

        report = {"kills": done_kills, "attempts": attempts, "runs": len(expected), **tally}
        log(json.dumps(report))
        return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = inject(args.kills, args.seed, log=lambda line: print(line, flush=True))
    sys.exit(0 if result["mismatches"] == 0 and not result["temporaries_left"] else 1)
