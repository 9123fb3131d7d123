"""The command line: harness run | status | report | bench.

Bad input (a study file, --set, an option) and a failed preflight exit with status 2 and one line
naming the file and key or what is missing; nothing is written before the whole study has been
validated and checked. A command that trains or waits for runs says by its status whether any
failed or diverged (EXIT_STATUSES).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from harness import store
from harness.launch.slurm_queue import SlurmError
from harness.plan import load_study
from harness.spec import SlurmSpec, SpecError, one_line, parse_set, shown
from harness.status import counts, follow, run_states, study_status
from harness.store import ACTIVE, TO_RUN, RunState

FAILED_RUNS, DIVERGED_RUNS = 3, 4
EXIT_STATUSES = f"""\
exit status:
  0  no planned run failed or diverged: all are done (or, without --wait, submitted to SLURM
     or in another process's hands); status and report: they answered
  1  a SLURM command failed
  2  bad input (study file, --set, an option) or a failed preflight: one line, nothing written
  {FAILED_RUNS}  run, or --wait: runs failed (the report is written; the next run retries them)
  {DIVERGED_RUNS}  run, or --wait: runs diverged and none failed (the report is written)
"""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, like every other refusal (not usage, then the error)."""

    def error(self, message: str):
        self.exit(2, f"harness: error: {one_line(message)} (see {self.prog} --help)\n")


def _count(multiple: int = 1, zero: bool = False):
    """An argparse type: an integer >= 1 (>= 0 with `zero`), a multiple of `multiple`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # not a number, or more digits than Python converts
            raise argparse.ArgumentTypeError(f"{shown(text)} is not an integer") from None
        if multiple > 1 and (value < multiple or value % multiple):
            raise argparse.ArgumentTypeError(f"{text} is not a positive multiple of {multiple}")
        if value < (0 if zero else 1):
            raise argparse.ArgumentTypeError(f"{text} is not a {'non-negative' if zero else 'positive'} integer")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0 (float('nan') and 'inf' parse, and would hang or crash later)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number > 0")
    return value


def _study_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument("study", type=Path, nargs="*", help="study YAML files (default: every studies/*.yaml with results)")
    else:
        p.add_argument("study", type=Path, help="study YAML file, e.g. studies/simsiam_predictor.yaml")
    p.add_argument("--preset", default=None, help="scale: tiny (default), cifar10, imagenet")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for every run, e.g. --set optim.epochs=5")
    p.add_argument("--results", type=Path, default=Path("results"), help="results root (default: results/)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (not part of the run id)")
    p.add_argument("--data-root", default=None, help="dataset folder for cifar10/cifar100/imagefolder")
    p.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")


def _load(args, path: Path | None = None):
    """The study planned (harness/plan.py), and its report section checked against it: every input
    is refused here, before anything is written."""
    from harness.report.schema import check_report

    overrides = parse_set(args.overrides)
    for key, value in (("runtime.device", args.device), ("runtime.data_root", args.data_root)):
        if value is not None:
            overrides[key] = value
    if args.download:
        overrides["runtime.download"] = True
    max_runs = None if args.yes else args.max_runs
    study = load_study(path or args.study, args.preset, overrides, max_runs=max_runs)
    check_report(study)
    return study


def _limit_args(p: argparse.ArgumentParser) -> None:
    """Every verb refuses a study larger than --max-runs before expanding it."""
    p.add_argument("--max-runs", type=_count(), default=1000, help="refuse studies larger than this (default 1000)")
    p.add_argument("--yes", action="store_true", help="accept a study of any size")


def _slurm_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SLURM (--executor slurm; these win over the study file's `slurm:` section)")
    g.add_argument("--partition")
    g.add_argument("--time", dest="time_min", type=_count(), metavar="MINUTES", help="time limit per job")
    g.add_argument("--nodes", type=_count())
    g.add_argument("--gpus-per-node", type=_count(zero=True))
    g.add_argument("--tasks-per-node", type=_count(), help="ranks per node (default: one per GPU, or 1)")
    g.add_argument("--cpus-per-task", type=_count())
    g.add_argument("--mem-gb", type=_positive, help="memory per node")
    g.add_argument("--account")
    g.add_argument("--qos")
    g.add_argument("--constraint")
    g.add_argument("--array-parallelism", type=_count(), help="jobs of the study running at once")
    g.add_argument("--runs-per-job", type=_count(), help="pack this many runs into each job")
    g.add_argument("--max-timeouts", type=_count(zero=True), help="requeues after a time-out, per job (default 3)")
    g.add_argument("--signal-delay", dest="signal_delay_s", type=_count(zero=True), metavar="SECONDS",
                   help="SLURM signals a job this long before its time limit; more than one epoch")
    g.add_argument("--sbatch", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. --sbatch mail-type=END")


def _slurm_options(study, args) -> SlurmSpec:
    """The study file's `slurm:` section with the command line's options on top."""
    base = study.spec.slurm
    update = {k: getattr(args, k) for k in SlurmSpec.model_fields if getattr(args, k, None) is not None}
    sbatch = dict(base.sbatch)
    for item in args.sbatch:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--sbatch {item!r}: expected key=value")
        sbatch[key.strip()] = value
    try:
        return SlurmSpec.model_validate(base.model_dump() | update | {"sbatch": sbatch})
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if not key:  # a check across options: its message names them
            raise SpecError(f"SLURM options: {first['msg']}") from None
        raise SpecError(f"SLURM option {key}: {first['msg']} (got {shown(first.get('input'))})") from None


# What `harness run` does with a run in each state.
ACTIONS = {
    RunState.DONE: "skip (done)",
    RunState.DIVERGED: "skip (diverged)",
    RunState.FAILED: "retry (failed)",
    RunState.PARTIAL: "resume",
    RunState.CORRUPT: "repair (resume)",
    RunState.RUNNING: "skip (running)",
    RunState.QUEUED: "skip (queued)",
    RunState.NEW: "new",
}


def _print_plan(study, results: Path) -> Counter:
    tally = Counter()
    print(f"study {study.name} ({study.path}), preset {study.preset}: {len(study.runs)} runs")
    for planned, state in run_states(study, results):
        action = ACTIONS[state]
        tally[action.split()[0]] += 1
        print(f"  {planned.run_id}  {action:<16} {planned.label}")
    return tally


def _print_plan_json(study, results: Path) -> None:
    """One JSON object per planned run: what exactly will run, without reading any code."""
    import json

    for planned, state in run_states(study, results):
        print(json.dumps({"run_id": planned.run_id, "study": study.name, "preset": study.preset,
                          "labels": planned.labels(), "state": state,
                          "config": planned.config.model_dump(mode="json")}))


def cmd_run(args) -> int:
    from harness.launch import run_local

    study = _load(args)
    _check_folders(args, write_results=True, write_reports=True)  # before the runs' states are read there
    if args.dry_run and args.json:
        _print_plan_json(study, args.results)
        sys.stdout.flush()
        _preflight(study, args)  # what would stop `harness run` (exit 2), after the plan
        return 0
    if args.dry_run:
        tally = _print_plan(study, args.results)
        print("dry run: nothing written; " + ", ".join(f"{n} {a}" for a, n in tally.items()), flush=True)
        _preflight(study, args)  # what would stop `harness run` (exit 2), after the plan
        return 0
    _preflight(study, args)
    if args.executor == "slurm":
        return _submit(study, args)
    statuses = study_status(study, args.results)
    todo = [s.planned for s in statuses if s.state in TO_RUN]
    # Runs queued or running on SLURM or in another process are skipped: never two trainings at once.
    on_slurm = sum(s.state in ACTIVE for s in statuses)
    finished = len(study.runs) - len(todo) - on_slurm
    if not todo and not on_slurm:
        print(f"{study.name}: all {len(study.runs)} runs already finished; nothing to train")
    elif not todo:
        print(f"{study.name}: nothing to train ({counts(statuses)})")
    else:
        on = f", {on_slurm} queued or running elsewhere" if on_slurm else ""
        print(f"{study.name}: training {len(todo)} of {len(study.runs)} runs ({finished} already finished{on})")
        from harness.launch.local import default_jobs
        from harness.launch.run_one import TAKEN

        jobs = min(args.jobs or default_jobs(todo), len(todo))  # no idle worker processes
        states = run_local(todo, study.name, args.results, jobs=jobs, progress=not args.quiet)
        taken = sum(states[r.run_id] == TAKEN for r in todo)  # by another process meanwhile
        print(f"{study.name}: ran {len(todo) - taken} runs here" + (f", {taken} {TAKEN}" if taken else ""))
        failed = [r for r in todo if states[r.run_id] == RunState.FAILED]
        for r in failed:
            print(f"  failed: {r.label} -> {store.run_dir(args.results, study.name, r.run_id) / store.ERROR}")
    return _summary_and_report(study, study_status(study, args.results), args)


def _preflight(study, args) -> None:
    """Before anything is trained or submitted: what the runs to train need (harness/preflight.py)."""
    from harness import preflight

    slurm = _slurm_options(study, args) if args.executor == "slurm" else None
    todo = [s.planned.config for s in study_status(study, args.results) if s.state in TO_RUN]
    preflight.check(todo, slurm, data=not args.no_data_check)


def _submit(study, args) -> int:
    from harness.launch.slurm import submit

    submission = submit(study, args.results, _slurm_options(study, args))
    if submission.job_ids:
        print(f"{study.name}: submitted {submission.runs} of {len(study.runs)} runs in "
              f"{len(submission.job_ids)} jobs: {' '.join(submission.job_ids)}")
    else:
        print(f"{study.name}: nothing to submit: every run is done, queued or running")
    if not args.wait:
        same = " and this command's --preset/--set/--results" if args.preset or args.overrides else ""
        print(f"follow with: harness status {study.path} --wait{same}")
        return 0
    return _wait_and_report(study, args)


def _wait_and_report(study, args) -> int:
    return _summary_and_report(study, follow(study, args.results, args.poll, progress=not args.quiet), args)


def _summary_and_report(study, statuses, args) -> int:
    """The study's run states in one line, its report, and the exit status they make (EXIT_STATUSES)."""
    print(f"{study.name}: " + counts(statuses))
    _report(study, args)
    states = {s.state for s in statuses}
    return FAILED_RUNS if RunState.FAILED in states else DIVERGED_RUNS if RunState.DIVERGED in states else 0


def _report(study, args) -> int:
    from harness.report import write_report

    paths = write_report(study, args.results, args.reports)
    print("report: " + ", ".join(str(p) for p in paths))
    return 0


def cmd_status(args) -> int:
    study = _load(args)
    _check_folders(args, write_reports=args.wait)
    if args.wait:
        return _wait_and_report(study, args)
    statuses = study_status(study, args.results)
    print(f"study {study.name}, preset {study.preset}: {len(study.runs)} runs")
    for s in statuses:
        print(f"  {s.planned.run_id}  {s.state:<9} {s.planned.label}" + (f"  [{s.detail}]" if s.detail else ""))
    print(counts(statuses))
    return 0


def cmd_report(args) -> int:
    """Named studies get a report whatever their state; without names, every study file in
    --studies that has a results folder does (reports/index.html then lists them all)."""
    paths = args.study
    if not paths:
        paths = sorted(args.studies.glob("*.yaml"))
        if not paths:
            raise SpecError(f"{args.studies}: no study files (*.yaml); name one: harness report STUDY.yaml")
        studies = [_load(args, p) for p in paths]  # validate them all before writing anything
        for study in studies:
            if not (args.results / study.name).is_dir():
                print(f"{study.name}: no results in {args.results / study.name}; no report")
        studies = [s for s in studies if (args.results / s.name).is_dir()]
    else:
        studies = [_load(args, p) for p in paths]
    _check_folders(args, write_reports=True)
    for study in studies:
        _report(study, args)
    return 0


def _check_folders(args, write_results: bool = False, write_reports: bool = False) -> None:
    """--results is a folder (or can be one) before it is read; a folder this command writes is writable."""
    from harness.preflight import check_folder, check_writable

    (check_writable if write_results else check_folder)(args.results, "results folder (--results)")
    if write_reports:
        check_writable(args.reports, "reports folder (--reports)")


def _wait_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true",
                   help="follow the study's SLURM jobs until none is queued or running, then write the report")
    p.add_argument("--poll", type=_positive, default=30, metavar="SECONDS", help="how often --wait asks SLURM")


def cmd_bench(args) -> int:
    if args.orchestration:
        from harness.bench.orchestration import bench_orchestration, format_orchestration

        print(format_orchestration(bench_orchestration(args.runs, args.finished)))
        return 0
    if args.study is None:
        raise SpecError("harness bench: give a study file, e.g. studies/simsiam_predictor.yaml (or --orchestration)")
    from harness import preflight
    from harness.bench.study import format_study_time, time_study_seed
    from harness.bench.training import bench_training, format_training, profile_pipeline
    from harness.bench.workload import WORKLOADS, build_workload

    synthetic = args.synthetic
    if args.workload:
        workload = WORKLOADS[args.workload]
        args.preset = args.preset or workload["preset"]
        args.overrides = workload["set"] + args.overrides  # the command line's own --set wins
        synthetic = synthetic or workload["synthetic"]
    study = _load(args)
    chosen = [r for r in study.runs if args.run in (None, r.variant, r.label)]
    if not chosen:
        raise SpecError(f"{study.path}: --run {args.run!r} is neither a variant nor a run label of the study")
    planned = chosen[0]
    preflight.check_device(planned.config.runtime.device)
    if not synthetic:
        preflight.check_data([planned.config])
    progress = None if args.quiet else (lambda msg: print(f"  bench: {msg}", file=sys.stderr, flush=True))
    try:
        workload = build_workload(planned.config, synthetic)
    except (ValueError, FileNotFoundError) as err:
        print(f"harness: error: {err}", file=sys.stderr)
        return 2
    result = bench_training(
        workload, f"{study.name} / {planned.label}, preset {study.preset}", steps=args.steps, rounds=args.rounds,
        workers=args.workers, monitor_images=args.monitor_images, progress=progress,
    )  # fmt: skip
    print(format_training(result))
    if args.whole_runs and synthetic:
        print("\nwhole runs: not trained (--synthetic: a run needs the dataset's own files)")
    elif args.whole_runs:
        print()
        print(format_study_time(time_study_seed(study, jobs=args.jobs)))  # None: run's default
    if args.profile:
        print(f"\nprofile of one pipeline batch and step (top {args.profile} ops):")
        print(profile_pipeline(workload, args.profile))
    return 0


def build_parser() -> argparse.ArgumentParser:
    epilog = {"epilog": EXIT_STATUSES, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = _Parser(prog="harness", description=__doc__.splitlines()[0], **epilog)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train every unfinished run of a study, then write its report", **epilog)
    _study_args(run)
    run.add_argument("--reports", type=Path, default=Path("reports"))
    run.add_argument("--dry-run", action="store_true",
                     help="print the runs and what would happen, then the preflight's verdict; write nothing")
    run.add_argument("--json", action="store_true",
                     help="with --dry-run: one JSON object per run (id, labels, state, the resolved config)")
    run.add_argument("--no-data-check", action="store_true",
                     help="skip the preflight's dataset check (for data that SLURM jobs copy onto their nodes)")
    run.add_argument("--jobs", type=_count(), default=None,
                     help="runs trained at once (default: one per usable core for CPU runs with a fixed thread "
                          "count, as `tiny`'s one-thread runs; otherwise 1)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _limit_args(run)
    run.add_argument("--executor", choices=("local", "slurm"), default="local",
                     help="local (default): train here; slurm: submit jobs and return")
    _wait_args(run)
    _slurm_args(run)
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="which runs are done, queued, running, partial, failed, diverged or new",
                            **epilog)
    _study_args(status)
    status.add_argument("--reports", type=Path, default=Path("reports"))
    status.add_argument("--quiet", action="store_true", help="no progress bar")
    _limit_args(status)
    _wait_args(status)
    status.set_defaults(func=cmd_status)

    report = sub.add_parser("report", help="write reports/<study>.md and .html (and index.html) from existing results")
    _study_args(report, many=True)
    report.add_argument("--studies", type=Path, default=Path("studies"), help="where study files are (no names given)")
    report.add_argument("--reports", type=Path, default=Path("reports"))
    _limit_args(report)
    report.set_defaults(func=cmd_report)

    bench = sub.add_parser("bench", help="measure: is training compute-bound? does orchestration scale?")
    bench.add_argument("study", type=Path, nargs="?", help="study YAML file; its first run is measured (see --run)")
    bench.add_argument("--preset", default=None, help="scale: tiny (default), cifar10, imagenet")
    bench.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. --set runtime.channels_last=true")
    bench.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ...")
    bench.add_argument("--data-root", default=None, help="dataset folder for cifar10/cifar100")
    bench.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")
    _limit_args(bench)
    bench.add_argument("--run", default=None, help="the variant (or run label) to measure; default: the first run")
    bench.add_argument("--synthetic", action="store_true", help="random images in the dataset's shape (no files)")
    bench.add_argument("--workload", choices=["cifar"], default=None,
                       help="cifar: CIFAR ResNet-18, 32 px, batch 256, synthetic images "
                            "(= --preset cifar10 --synthetic --set optim.batch_size=256)")
    bench.add_argument("--steps", type=_count(), default=3, help="timed steps per mode and round (default 3)")
    bench.add_argument("--rounds", type=_count(), default=3, help="rounds of (compute, pipeline, reference, monitors)")
    bench.add_argument("--workers", type=_count(zero=True), default=min(8, os.cpu_count() or 1),
                       help="DataLoader workers of the reference pipeline (default: the CPU cores, at most 8)")
    bench.add_argument("--monitor-images", type=_count(), default=2048,
                       help="embed at most this many images per split to time the kNN, then scale (default 2048)")
    bench.add_argument("--profile", type=_count(zero=True), default=0, metavar="N",
                       help="then print torch.profiler's top N ops of one pipeline batch and step")
    bench.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    bench.add_argument("--whole-runs", action=argparse.BooleanOptionalAction, default=True,
                       help="then train the runs of the study's first seed end to end and report their wall "
                            "time (default; --no-whole-runs skips it)")
    bench.add_argument("--jobs", type=_count(), default=None,
                       help="with --whole-runs: runs at a time (default: as harness run's)")
    bench.add_argument("--orchestration", action="store_true",
                       help="instead: time planning a --runs study and the status of --finished finished runs")
    bench.add_argument("--runs", type=_count(8), default=10_000, help="with --orchestration (default 10000)")
    bench.add_argument("--finished", type=_count(8), default=1_000, help="with --orchestration (default 1000)")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpecError as err:
        print(f"harness: error: {err}", file=sys.stderr)
        return 2
    except SlurmError as err:  # squeue, sbatch, ... failed or are missing
        print(f"harness: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
