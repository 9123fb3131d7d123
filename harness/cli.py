"""The command line: harness run | eval | status | report | bench | export.

Its options and exit statuses; what each command does is harness/commands.py's, imported once the
arguments parse (`harness --help` loads nothing else). Only training, `bench` and `export` import
torch: planning, status and reports do not need it.

Bad input (a study file, --set, an option) and a failed preflight exit with status 2 and one line
naming the file and key or what is missing; nothing is written before the whole study has been
validated and checked. A command that trains or waits for runs says by its status whether any
failed or diverged (EXIT_STATUSES). SIGINT or SIGTERM stops any command at once, with one line and
the conventional status (130, 143).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from harness.errors import BAD_INPUT, DIVERGED_RUNS, FAILED_RUNS, INTERRUPTED, Signalled, SpecError, one_line, shown

SIGINT_STATUS, SIGTERM_STATUS = INTERRUPTED[signal.SIGINT], INTERRUPTED[signal.SIGTERM]
EXIT_STATUSES = f"""\
exit status:
  0  no planned run failed or diverged: all are done (or, without --wait, submitted to SLURM
     or in another process's hands); status and report: they answered
  1  a SLURM command failed
  {BAD_INPUT}  bad input (study file, --set, an option) or a failed preflight: one line, nothing written
  {FAILED_RUNS}  run, or --wait: runs failed, or their evaluations (eval too), or were lost with a killed
     worker process (the report is written; the next run retries or resumes them)
  {DIVERGED_RUNS}  run, or --wait: runs diverged and none failed (the report is written); bench: the
     measured run's loss is not finite (one line)
  {SIGINT_STATUS}  interrupted by SIGINT ({SIGTERM_STATUS}: by SIGTERM): run stops its worker processes at once,
       says in one line how many runs are unfinished; the same command resumes them
"""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, like every other refusal (not usage, then the error)."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"harness: error: {one_line(message)} (see {self.prog} --help)\n")


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


def _filter_args(p: argparse.ArgumentParser) -> None:
    """Which of a study's planned runs a command takes (ids unchanged); see harness/plan.py's select."""
    g = p.add_argument_group("a part of the study (ids unchanged; with run --dry-run: what they select)")
    g.add_argument("--only", action="append", default=[], metavar="VARIANT[,VARIANT]",
                   help="only these variants' runs; repeatable")
    g.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="only the runs at this value of a grid axis, e.g. --where optim.batch_size=256; "
                        "repeatable (all must hold)")
    g.add_argument("--seeds", default=None, metavar="N|A-B|A,B,...",
                   help="these seeds instead of the study's `seeds:` list: a count (5: seeds 0-4), a range "
                        "(0-9) or a list (0,3,7); a seed's run has the same id either way")


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


def _wait_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true",
                   help="follow the study's SLURM jobs until none is queued or running, then write the report")
    p.add_argument("--poll", type=_positive, default=30, metavar="SECONDS", help="how often --wait asks SLURM")


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
    run.add_argument("--rerun", action="append", default=[], metavar="STATE|VARIANT",
                     help="train again, from the start, the runs in this state (done, diverged, failed, partial, "
                          "corrupt) or of this variant (both: that variant's runs in that state), after their code "
                          "changed; their folders are first moved to RESULTS/STUDY.rerun-TIME/. Repeatable, or "
                          "comma-separated: --rerun diverged,failed")
    _filter_args(run)
    _limit_args(run)
    run.add_argument("--executor", choices=("local", "slurm"), default="local",
                     help="local (default): train here; slurm: submit jobs and return")
    _wait_args(run)
    _slurm_args(run)
    run.set_defaults(command="run")

    evaluate = sub.add_parser("eval", help="run a study's evaluations on its finished pretrainings; train none",
                              **epilog)
    _study_args(evaluate)
    evaluate.add_argument("--reports", type=Path, default=Path("reports"))
    evaluate.add_argument("--jobs", type=_count(), default=None, help="pretrainings evaluated at once (as run's)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    _filter_args(evaluate)
    _limit_args(evaluate)
    evaluate.set_defaults(command="eval")

    status = sub.add_parser("status", help="which runs are done, queued, running, partial, failed, diverged or new",
                            **epilog)
    _study_args(status)
    status.add_argument("--reports", type=Path, default=Path("reports"))
    status.add_argument("--quiet", action="store_true", help="no progress bar")
    _filter_args(status)
    _limit_args(status)
    _wait_args(status)
    status.set_defaults(command="status")

    report = sub.add_parser("report",
                            help="write reports/<study>.md, .html and .tex (and index.html) from existing results")
    _study_args(report, many=True)
    report.add_argument("--studies", type=Path, default=Path("studies"), help="where study files are (no names given)")
    report.add_argument("--reports", type=Path, default=Path("reports"))
    _filter_args(report)
    _limit_args(report)
    report.set_defaults(command="report")

    export = sub.add_parser("export", help="write a finished run's pretrained backbone as its model's own state_dict")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a done run's folder, results/<study>/<run_id>")
    export.add_argument("--to", type=Path, required=True, metavar="FILE",
                        help="the file to write (torch.save of the backbone's state_dict); the lines that load it "
                             "with strict=True are printed")
    export.set_defaults(command="export")

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
    bench.set_defaults(command="bench")
    return parser


@contextmanager
def _signals_stop():
    """SIGINT and SIGTERM raise Signalled in the main thread wherever it is, so that a command stops
    at once (`run` stops its worker processes first: launch/local.py) and main prints one line. A
    signal the harness was started ignoring (SIGINT in a shell's background job) stays ignored. After
    the first, both are ignored: a second Ctrl-C must not cut the workers' stop short."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return

    def stop(signum, frame):
        for number in INTERRUPTED:
            signal.signal(number, signal.SIG_IGN)
        raise Signalled(signum)

    previous = {number: signal.getsignal(number) for number in INTERRUPTED}
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be set back from it
                signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    try:
        with _signals_stop():
            return _command(argv)
    except Signalled as stop:
        print(f"harness: {stop}", file=sys.stderr)
        return stop.status


def _command(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from harness import commands
    from harness.launch.slurm_queue import SlurmError

    try:
        return getattr(commands, args.command)(args)
    except SpecError as err:
        print(f"harness: error: {err}", file=sys.stderr)
        return BAD_INPUT
    except SlurmError as err:  # squeue, sbatch, ... failed or are missing
        print(f"harness: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
