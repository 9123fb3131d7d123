"""The command line: harness run | status | report.

Spec errors exit with status 2 and one line naming the file and key; nothing is written before the
whole study has been validated.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from harness import store
from harness.spec import SpecError, load_study, parse_set
from harness.status import ACTIONS, run_states


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
    overrides = parse_set(args.overrides)
    for key, value in (("runtime.device", args.device), ("runtime.data_root", args.data_root)):
        if value is not None:
            overrides[key] = value
    if args.download:
        overrides["runtime.download"] = True
    max_runs = None if getattr(args, "yes", True) else args.max_runs
    return load_study(path or args.study, args.preset, overrides, max_runs=max_runs)


def _print_plan(study, results: Path) -> Counter:
    counts = Counter()
    print(f"study {study.name} ({study.path}), preset {study.preset}: {len(study.runs)} runs")
    for planned, state in run_states(study, results):
        action = ACTIONS[state]
        counts[action.split()[0]] += 1
        print(f"  {planned.run_id}  {action:<16} {planned.label}")
    return counts


def cmd_run(args) -> int:
    from harness.launch import run_local

    study = _load(args)
    if args.dry_run:
        counts = _print_plan(study, args.results)
        print("dry run: nothing written; " + ", ".join(f"{n} {a}" for a, n in counts.items()))
        return 0
    states = dict((r.run_id, state) for r, state in run_states(study, args.results))
    todo = [r for r in study.runs if states[r.run_id] not in (*store.FINISHED, store.RUNNING)]
    finished = sum(state in store.FINISHED for state in states.values())
    busy = sum(state == store.RUNNING for state in states.values())
    elsewhere = f", {busy} running in another process" if busy else ""
    if not todo and not busy:
        print(f"{study.name}: all {len(study.runs)} runs already finished; nothing to train")
    elif not todo:
        print(f"{study.name}: nothing to train here ({finished} finished{elsewhere})")
    else:
        print(f"{study.name}: training {len(todo)} of {len(study.runs)} runs ({finished} already finished{elsewhere})")
        states.update(run_local(todo, study.name, args.results, jobs=args.jobs, progress=not args.quiet))
        taken = sum(states[r.run_id] == store.RUNNING for r in todo)
        print(f"{study.name}: ran {len(todo) - taken} runs here" + (f", {taken} taken by another process" if taken else ""))
        failed = [r for r in todo if states[r.run_id] == store.FAILED]
        for r in failed:
            print(f"  failed: {r.label} -> {store.run_dir(args.results, study.name, r.run_id) / store.ERROR}")
    return _report(study, args)


def _report(study, args) -> int:
    from harness.report import write_report

    paths = write_report(study, args.results, args.reports)
    print("report: " + ", ".join(str(p) for p in paths))
    return 0


def cmd_status(args) -> int:
    study = _load(args)
    counts = Counter()
    print(f"study {study.name}, preset {study.preset}: {len(study.runs)} runs")
    for planned, state in run_states(study, args.results):
        counts[state] += 1
        print(f"  {planned.run_id}  {state:<9} {planned.label}")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
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
    for study in studies:
        _report(study, args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train every unfinished run of a study, then write its report")
    _study_args(run)
    run.add_argument("--reports", type=Path, default=Path("reports"))
    run.add_argument("--dry-run", action="store_true", help="print the runs and what would happen; write nothing")
    run.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1: one after another)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--max-runs", type=int, default=1000, help="refuse studies larger than this (default 1000)")
    run.add_argument("--yes", action="store_true", help="run a study of any size")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="which runs are done, partial, failed, diverged or new")
    _study_args(status)
    status.set_defaults(func=cmd_status)

    report = sub.add_parser("report", help="write reports/<study>.md and .html (and index.html) from existing results")
    _study_args(report, many=True)
    report.add_argument("--studies", type=Path, default=Path("studies"), help="where study files are (no names given)")
    report.add_argument("--reports", type=Path, default=Path("reports"))
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpecError as err:
        print(f"harness: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
