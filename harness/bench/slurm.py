"""What the SLURM path costs per run against the local executor, at tiny scale.

    python -m harness.bench.slurm [--runs 4] [--epochs 4] [--partition P]

Needs a cluster this machine can submit to (for a throw-away one: `python tests/support/slurm_cluster.py`,
then export the SLURM_CONF it prints). Trains one tiny study (one run per seed) three times into a
temporary folder and reports the wall time of each, measured in this one process:

- local: the local executor in this process, runs one after another (torch already imported, as
  in `harness run`);
- slurm: `--executor slurm`, one job per run, one job at a time (array parallelism 1), from the
  submission until `harness status` sees every run done (polled every 0.2 s);
- slurm packed: the same with every run packed into one job (`--runs-per-job`).

Overhead per run = (slurm - local) / runs: scheduling, the job's interpreter and torch start-up,
and polling. Every job runs with one thread, as the local runs do, and the curves must come out
equal (checked).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

STUDY = "name: slurm_bench\ntitle: SLURM overhead\nseeds: [{seeds}]\n"
SIZES = [  # the tests' FAST sizes: a run is mostly fixed costs
    "backbone.width=8", "projector.hidden_dim=32", "projector.out_dim=32", "predictor.hidden_dim=8",
    "monitor.every_epochs=2",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--partition", default=None)
    args = parser.parse_args(argv)

    os.environ["OMP_NUM_THREADS"] = "1"  # read by the jobs, which inherit this environment
    import pandas as pd
    import torch

    from harness import store
    from harness.columns import EPOCH_SECONDS
    from harness.launch.local import run_local
    from harness.plan import pretrainings
    from harness.launch.slurm import submit
    from harness.plan import load_study
    from harness.spec import SlurmSpec, parse_set
    from harness.launch.status import study_status
    from harness.store import ACTIVE, RunState

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="slurm_bench."))
    path = root / "slurm_bench.yaml"
    path.write_text(STUDY.format(seeds=", ".join(map(str, range(args.runs)))))
    study = load_study(path, overrides=parse_set(SIZES + [f"optim.epochs={args.epochs}"]))

    def on_slurm(results: Path, runs_per_job: int) -> float:
        options = SlurmSpec(partition=args.partition, cpus_per_task=1, time_min=30, array_parallelism=1,
                            runs_per_job=runs_per_job)
        start = time.perf_counter()
        submit(study, results, options)
        while True:
            states = [s.state for s in study_status(study, results)]
            if not any(s in ACTIVE for s in states):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        if states != [RunState.DONE] * len(states):
            raise SystemExit(f"not every run finished on SLURM: {states}; see {results}")
        return elapsed

    start = time.perf_counter()
    run_local(pretrainings(study.runs), study.name, root / "local", progress=False)
    local = time.perf_counter() - start
    slurm = on_slurm(root / "slurm", 1)
    packed = on_slurm(root / "packed", args.runs)

    for planned in study.runs:
        frames = [store.read_curves(store.run_dir(root / where, study.name, planned.run_id) / store.CURVES)
                  .drop(columns=[EPOCH_SECONDS]) for where in ("local", "slurm", "packed")]
        pd.testing.assert_frame_equal(frames[0], frames[1])
        pd.testing.assert_frame_equal(frames[0], frames[2])

    n = args.runs
    print(f"{n} tiny runs of {args.epochs} epochs, one thread each, one at a time (results in {root})")
    print(f"  local          {local:7.1f} s   {local / n:6.1f} s/run")
    print(f"  slurm          {slurm:7.1f} s   {slurm / n:6.1f} s/run   x{slurm / local:.2f}   "
          f"overhead {(slurm - local) / n:+.1f} s/run")
    print(f"  slurm packed   {packed:7.1f} s   {packed / n:6.1f} s/run   x{packed / local:.2f}   "
          f"overhead {(packed - local) / n:+.1f} s/run ({n} runs in one job)")
    print("  curves: equal on all three paths (epoch_seconds aside)")


if __name__ == "__main__":
    main()
