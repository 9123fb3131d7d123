"""What each verb of the command line does (cli.py parses it): run, eval, status, report, bench, export.

Every command plans its study first (`_load`: the study file, --set and the report section, each
refused in one line); `run` then checks what its runs need (preflight) before training or
submitting anything, and ends with the study's report.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from harness import migrate, preflight, recorded, store
from harness.errors import BAD_INPUT, DIVERGED_RUNS, FAILED_RUNS, Signalled, SpecError, shown
from harness.launch import rerun
from harness.launch.status import (counts, evaluation_counts, follow, pretraining_counts, runs_to_do,
                                   study_status)
from harness.plan import load_study, pretrainings, select
from harness.report import write_report
from harness.report.schema import check_report
from harness.spec import SlurmSpec, parse_seeds, parse_set, parse_where
from harness.store import ACTIVE, FINISHED, TO_RUN, RunState


def _load(args, path: Path | None = None, from_results: bool = False):
    """The study planned (harness/plan.py), and its report section checked against it: every input
    is refused here, before anything is written. `from_results` (status, report): a plug-in method
    that cannot be imported is read from the runs' records (harness/recorded.py), said in one line,
    and, without --seeds, the runs of other seeds found in results/ are added (_with_found_seeds)."""
    seeds = parse_seeds(args.seeds) if getattr(args, "seeds", None) is not None else None
    study = _plan(args, path, from_results, seeds, None if args.yes else args.max_runs)
    if from_results:
        study = _with_found_seeds(study, args, path)
    check_report(study)
    if study.note:
        print(f"{study.name}: {study.note}")
    return study


def _plan(args, path: Path | None, from_results: bool, seeds: list[int] | None, max_runs: int | None):
    overrides = parse_set(args.overrides)
    for key, value in (("runtime.device", args.device), ("runtime.data_root", args.data_root)):
        if value is not None:
            overrides[key] = value
    if args.download:
        overrides["runtime.download"] = True
    if from_results:
        return recorded.load_study(path or args.study, args.results, args.preset, overrides, max_runs, seeds)
    return load_study(path or args.study, args.preset, overrides, max_runs=max_runs, seeds=seeds)


def _with_found_seeds(study, args, path: Path | None = None):
    """Without --seeds, what status and the report read: the study's runs and those of other seeds
    (an earlier `run --seeds`) whose folders are in its results folder, where a seed's run of a planned
    series has its id (the seed is a layer of its own in the plan)."""
    if getattr(args, "seeds", None) is not None:
        return study
    found = recorded.other_seeds(study, args.results)
    if not found:
        return study
    wider = _plan(args, path, True, sorted(study.spec.seeds + found), None)  # the study passed --max-runs
    return replace(wider, runs=[r for r in wider.runs if r.seed in study.spec.seeds
                                or store.run_dir(args.results, study.name, r.run_id).is_dir()])


def _selected(study, args):
    """The part of the study that --only and --where select (all of it without them)."""
    if not args.only and not args.where:
        return study
    only = [name.strip() for value in args.only for name in value.split(",") if name.strip()]
    return select(study, only, parse_where(args.where))


def _runs(study, whole) -> str:
    """'4 runs: 2 pretrainings, 4 evaluations', with ' (of 12, by --only/--where)' for a part of the study."""
    part = f" (of {len(whole.runs)}, by --only/--where)" if len(whole.runs) != len(study.runs) else ""
    return f"{len(study.runs)} runs{part}: {_levels(study)}"


def _levels(study) -> str:
    """'6 pretrainings, 24 evaluations': the distinct networks its planned runs train, and their stages."""
    units = pretrainings(study.runs)
    return f"{len(units)} pretrainings, {sum(len(u.stages) for u in units)} evaluations"


def slurm_options(study, args) -> SlurmSpec:
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


def _planned_states(study, results: Path, moving: dict[str, str]):
    """Each pretraining's status; one whose folder a dry run would rename (`moving`: planned id -> the
    folder's name) has that folder's states, as `run` will find them."""
    for status in study_status(study, results):
        if status.unit.run_id in moving:
            folder = store.run_dir(results, study.name, moving[status.unit.run_id])
            status = replace(status, state=store.run_state(folder), stages={
                i: store.stage_state(folder / store.STAGES / i) for i in status.stages})
        yield status


def _print_plan(study, results: Path, again: set[str], moving: dict[str, str], whole) -> Counter:
    """Each pretraining, what `run` does with it, and under it each of its stages."""
    tally = Counter()
    print(f"study {study.name} ({study.path}), preset {study.preset}: {_runs(study, whole)}")
    for status in _planned_states(study, results, moving):
        unit = status.unit
        rerun_it = unit.run_id in again
        action = f"rerun ({status.state})" if rerun_it else ACTIONS[status.state]
        tally[action.split()[0]] += 1
        print(f"  {unit.run_id}  {action:<16} {unit.label}")
        for stage in unit.stages:
            state = RunState.NEW if rerun_it else status.stages[stage.stage_id]
            print(f"    {stage.stage_id}  {ACTIONS[state]:<14} {stage.section.mode}: {unit.stage_run(stage).label}")
    return tally


def _print_plan_json(study, results: Path, moving: dict[str, str]) -> None:
    """One JSON object per planned run: what exactly will run, without reading any code: its
    pretraining (run_id, state) and its evaluation (its stage chain, the last its result)."""
    statuses = {status.unit.run_id: status for status in _planned_states(study, results, moving)}
    for planned in study.runs:
        status = statuses[planned.run_id]
        stages = [{"stage_id": s.stage_id, "input_id": s.input_id, "mode": s.section.mode,
                   "state": status.stages[s.stage_id], "section": s.section.model_dump(mode="json")}
                  for s in planned.stages]
        print(json.dumps({"run_id": planned.run_id, "study": study.name, "preset": study.preset,
                          "labels": planned.labels(), "state": status.state, "stages": stages,
                          "config": planned.config.model_dump(mode="json")}))


def run(args) -> int:
    whole = _load(args)  # what the report at the end reads
    study = _selected(whole, args)  # what is trained
    chosen = rerun.selection(args.rerun, study)
    _check_folders(args, write_results=True, write_reports=True)  # before the runs' states are read there
    moving = _migrate(whole, args)
    again = [s for s in study_status(study, args.results) if chosen.takes(s)] if chosen else []
    if args.dry_run:
        _print_rerun(study, args, again, rerun.aside(args.results, study.name))
        if args.json:
            _print_plan_json(study, args.results, moving)
        else:
            tally = _print_plan(study, args.results, {s.planned.run_id for s in again}, moving, whole)
            print("dry run: nothing written; " + ", ".join(f"{n} {a}" for a, n in tally.items()), flush=True)
        sys.stdout.flush()
        _preflight(study, args, again)  # what would stop `harness run` (exit 2), after the plan
        return 0
    _preflight(study, args, again)
    if again:
        _set_aside(study, args, again)
    if args.executor == "slurm":
        return _submit(study, args, whole)
    lost = _run_here(study, args, train_network=True)
    # Lost runs read as partial in their folders: the exit status says they did not finish.
    return _summary_and_report(study, study_status(study, args.results), args, whole) or (FAILED_RUNS if lost else 0)


def _run_here(study, args, train_network: bool) -> list:
    """Train the study's unfinished pretrainings (none without `train_network`: `harness eval`) and
    run their unfinished stages in this process or its workers, saying what it does in a line before
    and one after; the pretrainings lost with a killed worker process."""
    statuses = study_status(study, args.results)
    to_train = [s for s in statuses if s.state in TO_RUN] if train_network else []
    todo = [s.unit for s in statuses if s in to_train or s.stages_to_do()]
    evaluations = sum(len(s.stages_to_do()) for s in statuses)
    # Runs queued or running on SLURM or in another process are skipped: never two trainings at once.
    on_slurm = sum(s.state in ACTIVE for s in statuses)
    finished = len(statuses) - len(to_train) - on_slurm
    if not todo and not train_network:
        print(f"{study.name}: no evaluation to run ({counts(statuses)})")
        return []
    if not todo and not on_slurm:
        print(f"{study.name}: all {len(statuses)} runs already finished; nothing to train")
        return []
    if not todo:
        print(f"{study.name}: nothing to train ({counts(statuses)})")
        return []
    on = f", {on_slurm} queued or running elsewhere" if on_slurm else ""
    if to_train:
        then = f", then {evaluations} evaluations of finished ones" if evaluations else ""
        print(f"{study.name}: training {len(to_train)} of {len(statuses)} runs ({finished} already finished{on}){then}")
    else:
        print(f"{study.name}: running {evaluations} evaluations of {len(todo)} finished runs")
    from harness.launch.local import LOST, default_jobs, run_local
    from harness.launch.run_one import TAKEN

    jobs = min(args.jobs or default_jobs(todo), len(todo))  # no idle worker processes
    try:
        outcomes = run_local(todo, study.name, args.results, jobs=jobs, progress=not args.quiet,
                             train_network=train_network)
    except Signalled as stop:  # the runs have stopped: cli.py prints what is left, in one line
        raise _interrupted(study, args, todo, stop) from None
    lost = [u for u in todo if outcomes[u.run_id] == LOST]
    ran = {u.run_id: outcomes[u.run_id] for u in todo if u not in lost}
    trained = sum(o.state != TAKEN for o in ran.values())
    evaluated = sum(state != TAKEN for o in ran.values() for state in o.stages.values())
    taken = sum(s.unit.run_id in ran and ran[s.unit.run_id].state == TAKEN for s in to_train)  # by another process
    print(f"{study.name}: trained {trained} networks and ran {evaluated} evaluations here"
          + (f", {taken} runs {TAKEN}" if taken else ""))
    for unit in todo:
        folder, outcome = store.run_dir(args.results, study.name, unit.run_id), ran.get(unit.run_id)
        if outcome and outcome.state == RunState.FAILED:
            print(f"  failed: {unit.label} -> {folder / store.ERROR}")
        for stage_id in [i for i, state in (outcome.stages if outcome else {}).items() if state == RunState.FAILED]:
            print(f"  evaluation failed: {unit.label} -> {folder / store.STAGES / stage_id / store.ERROR}")
    if lost:
        print(f"{study.name}: {len(lost)} runs lost: a worker process was killed (out of memory?); "
              "run this again to resume them", file=sys.stderr)
    return lost


def eval(args) -> int:  # noqa: A001 - the verb's name
    """Run the study's evaluations on its finished pretrainings, training none; then the report.
    `--set` takes evaluation keys only: any other would plan a new pretraining."""
    for key in parse_set(args.overrides):
        if not key.startswith(EVALUATION_KEYS):
            raise SpecError(f"--set {key}: not an evaluation key ({EVALUATION_KEYS}*): it would be a new "
                            f"pretraining; `harness run` trains those")
    whole = _load(args)
    study = _selected(whole, args)
    _check_folders(args, write_results=True, write_reports=True)
    _migrate(whole, args)
    statuses = study_status(study, args.results)
    untrained = [s for s in statuses if s.state != RunState.DONE]
    if untrained:
        print(f"{study.name}: {len(untrained)} of {len(statuses)} runs not trained (pretraining "
              f"{store.tally(s.state for s in untrained)}): not evaluated; `harness run` trains them")
        for s in untrained:
            print(f"  {s.planned.run_id}  {s.state:<9} {s.unit.label}")
    preflight.check([s.unit.config for s in statuses if s.stages_to_do()], None)
    lost = _run_here(study, args, train_network=False)
    return _summary_and_report(study, study_status(study, args.results), args, whole) or (FAILED_RUNS if lost else 0)


EVALUATION_KEYS = "probe."  # the keys `harness eval --set` takes: those of the evaluation's section


def _interrupted(study, args, todo: list, stop: Signalled) -> Signalled:
    """The line an interrupted `run` ends with: how many of its runs did not finish, and how to resume."""
    left = sum(store.run_state(store.run_dir(args.results, study.name, r.run_id)) not in FINISHED for r in todo)
    return Signalled(stop.signum, f"{study.name}: interrupted by {stop.name} with {left} of {len(pretrainings(study.runs))} runs "
                     "unfinished; run the same command again to resume them, each from its last checkpoint")


def _preflight(study, args, again: list) -> None:
    """Before anything is trained, submitted or set aside: what the runs to train (and to train
    again) need (harness/preflight.py)."""
    slurm = slurm_options(study, args) if args.executor == "slurm" else None
    todo = {r.run_id: r for r in runs_to_do(study_status(study, args.results)) + [s.planned for s in again]}
    preflight.check([r.config for r in todo.values()], slurm, data=not args.no_data_check)


def _print_rerun(study, args, again: list, folder: Path) -> None:
    """--dry-run --rerun: the runs that would be set aside, and where (on stderr beside --json's plan)."""
    out = sys.stderr if args.json else sys.stdout
    if args.rerun:
        print(f"{study.name}: --rerun would set {len(again)} runs aside in {folder}/ and train them anew", file=out)
    for s in again:
        print(f"  {s.planned.run_id}  {s.state:<9} {s.planned.label}", file=out)


def _set_aside(study, args, again: list) -> None:
    """--rerun: the selected runs' folders moved aside whole (launch/rerun.py), so that they train anew."""
    folder = rerun.aside(args.results, study.name)
    moved = [s for s in again if rerun.set_aside(store.run_dir(args.results, study.name, s.planned.run_id), folder)]
    print(f"{study.name}: set {len(moved)} runs ({store.tally(s.state for s in moved)}) aside in {folder}/ "
          "to train them anew")
    for s in again:
        if s not in moved:
            print(f"  {s.planned.run_id} {s.planned.label}: taken by another process meanwhile; left as it is")


def _submit(study, args, whole) -> int:
    from harness.launch.slurm import submit

    submission = submit(study, args.results, slurm_options(study, args))
    if submission.job_ids:
        print(f"{study.name}: submitted {submission.runs} of {len(study.runs)} runs in "
              f"{len(submission.job_ids)} jobs: {' '.join(submission.job_ids)}")
    else:
        print(f"{study.name}: nothing to submit: every run is done, queued or running")
    if not args.wait:
        same = _same_options(args)
        print(f"follow with: harness status {study.path} --wait" + (f" and {same}" if same else ""))
        return 0
    return _wait_and_report(study, args, whole)


def _wait_and_report(study, args, whole) -> int:
    return _summary_and_report(study, follow(study, args.results, args.poll, progress=not args.quiet), args, whole)


def _same_options(args) -> str:
    """What a command line printed for the user must repeat of this one's, if anything."""
    given = (args.preset or args.overrides or args.results != Path("results") or args.only or args.where
             or args.seeds is not None)
    return "this command's --preset/--set/--results/--only/--where/--seeds" if given else ""


def _summary_and_report(study, statuses, args, whole) -> int:
    """The (selected) runs' states in one line (with how to train again those that diverged or failed,
    once their cause is fixed), the whole study's report, and the exit status they make (EXIT_STATUSES);
    a failed evaluation fails the command, not its pretraining."""
    states = {s.state for s in statuses}
    evaluations_failed = any(state == RunState.FAILED for s in statuses for state in s.stages.values())
    ended = ",".join(s for s in (RunState.DIVERGED, RunState.FAILED) if s in states)
    same = _same_options(args)
    same = f" (with {same})" if same else ""
    hint = f"; after a fix, `harness run {study.path} --rerun {ended}`{same} trains them anew" if ended else ""
    print(f"{study.name}: {pretraining_counts(statuses)}{hint}{evaluation_counts(statuses)}")
    _report(_with_found_seeds(whole, args), args)
    failed = RunState.FAILED in states or evaluations_failed
    return FAILED_RUNS if failed else DIVERGED_RUNS if RunState.DIVERGED in states else 0


def _report(study, args) -> int:
    paths = write_report(study, args.results, args.reports)
    print("report: " + ", ".join(str(p) for p in paths))
    return 0


def status(args) -> int:
    whole = _load(args, from_results=True)
    study = _selected(whole, args)
    _check_folders(args, write_reports=args.wait)
    _migrate(whole, args)
    if args.wait:
        return _wait_and_report(study, args, whole)
    statuses = study_status(study, args.results)
    print(f"study {study.name}, preset {study.preset}: {_runs(study, whole)}")
    for s in statuses:
        print(f"  {s.planned.run_id:<12}  {s.state:<9} {s.planned.label}" + (f"  [{s.detail}]" if s.detail else ""))
        for stage in s.unit.stages:
            print(f"    {stage.stage_id}  {s.stages[stage.stage_id]:<9} {stage.section.mode}: "
                  f"{s.unit.stage_run(stage).label}")
    print(counts(statuses))
    return 0


def report(args) -> int:
    """Named studies get a report whatever their state; without names, every study file in
    --studies that has a results folder does (reports/index.html then lists them all)."""
    paths = args.study
    if not paths:
        paths = sorted(args.studies.glob("*.yaml"))
        if not paths:
            raise SpecError(f"{args.studies}: no study files (*.yaml); name one: harness report STUDY.yaml")
        studies = [_load(args, p, from_results=True) for p in paths]  # validate them all before writing anything
        for study in studies:
            if not (args.results / study.name).is_dir():
                print(f"{study.name}: no results in {args.results / study.name}; no report")
        studies = [s for s in studies if (args.results / s.name).is_dir()]
    else:
        studies = [_load(args, p, from_results=True) for p in paths]
    for study in studies:  # --only/--where refused where they select nothing; the report is the whole study's
        _selected(study, args)
    _check_folders(args, write_reports=True)
    for study in studies:
        _migrate(study, args)
        _report(study, args)
    return 0


def _migrate(study, args) -> dict[str, str]:
    """Run folders named by an older schema's run ids renamed to their planned run's (harness/migrate.py),
    before the runs' states are read; with --dry-run, only said. What a dry run would rename: {planned
    run id: the folder's name}."""
    dry_run = getattr(args, "dry_run", False)
    out = sys.stderr if getattr(args, "json", False) else sys.stdout  # --json's stdout is the plan's alone
    renames = migrate.migrate(study, args.results, dry_run)
    for line in migrate.describe(study.name, renames, dry_run):
        print(line, file=out)
    return {r.new: r.old for r in renames if r.free and not r.aside} if dry_run else {}


def _check_folders(args, write_results: bool = False, write_reports: bool = False) -> None:
    """--results is a folder (or can be one) before it is read; a folder this command writes is writable."""
    (preflight.check_writable if write_results else preflight.check_folder)(args.results, "results folder (--results)")
    if write_reports:
        preflight.check_writable(args.reports, "reports folder (--reports)")


def bench(args) -> int:
    if args.orchestration:
        from harness.bench.orchestration import bench_orchestration, format_orchestration

        print(format_orchestration(bench_orchestration(args.runs, args.finished)))
        return 0
    if args.study is None:
        raise SpecError("harness bench: give a study file, e.g. studies/simsiam_predictor.yaml (or --orchestration)")
    from harness.bench.study import format_study_time, time_study_seed
    from harness.bench.training import bench_training, format_training, profile_pipeline
    from harness.bench.workload import WORKLOADS, NonFiniteLoss, build_workload

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
        return BAD_INPUT
    try:  # the steps of (a)-(d), and the profile's
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
    except NonFiniteLoss as err:  # the run diverges: there is nothing to time (EXIT_STATUSES)
        print(f"harness: error: {study.path}: run {planned.label}: {err}", file=sys.stderr)
        return DIVERGED_RUNS
    return 0


def export(args) -> int:
    from harness.export import export as write_backbone

    preflight.check_writable(args.to.parent, "--to's folder")
    lines = write_backbone(args.run_dir, args.to)
    print(f"wrote {args.to}: the backbone of {args.run_dir}; load it with:")
    print("\n".join(f"    {line}" for line in lines))
    return 0
