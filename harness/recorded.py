"""A study planned from its results where its plug-in method cannot be imported (moved, renamed,
broken, uninstalled): `harness status` and `report` read results alone, never the user's code;
`harness run`, which would train with it, refuses the study in one line.

Without the plug-in the plan knows every key that the preset, the study and --set give a run, but
neither the method's section (its defaults and checks) nor its recipe, and so not the run's id. Such
a run is planned with plan.StandInMethod (the method's keys as the study writes them), and read from
the run recorded at its labels in results/<study>/ (config.yaml: the resolved config and the labels)
whose config has each of those keys as planned (those that enter a run id, and the method's own);
the latest recorded if several have. A run with none is new (missing, in a report), its id unknown
until the plug-in imports again. Only a method that recorded runs name is planned so: any other
name that cannot be loaded is refused as `run` refuses it.

The same records also say which other seeds than the study's an earlier `run --seeds` trained
(other_seeds), so that status and the report read them without --seeds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness import migrate, plan, store
from harness.config import RunConfig
from harness.methods import registry
from harness.plan import PlannedRun, StandInMethod, Study
from harness.run_id import result_keys
from harness.spec import read_spec, same

UNKNOWN_ID = "unknown-{}"  # a planned run that nothing recorded: its id is the plug-in's to compute
_ABSENT = object()


@dataclass(frozen=True)
class Record:
    run_id: str  # its folder's name
    labels: dict[str, Any]
    config: RunConfig  # the method's section a StandInMethod
    written: float  # config.yaml's modification time: of several records of one run, the latest wins


def load_study(path: str | Path, results: Path, preset: str | None = None, overrides: dict[str, Any] | None = None,
               max_runs: int | None = None, seeds: list[int] | None = None) -> Study:
    """plan.load_study, or, where the study's method cannot be loaded and runs in results/ were
    trained with it, the plan whose runs of that method are read from their records."""
    try:
        return plan.load_study(path, preset, overrides, max_runs, seeds=seeds)
    except plan.UnloadableMethod as err:
        unloadable = str(err)
    folder = Path(results) / read_spec(Path(path)).name
    records = read_records(folder)
    study = plan.load_study(path, preset, overrides, max_runs, stand_ins={r.config.method.name for r in records},
                            seeds=seeds)
    runs, read, unknown = [], 0, 0
    for i, run in enumerate(study.runs, 1):
        if isinstance(run.config.method, StandInMethod):
            read += 1
            found = recorded_run(run, records)
            unknown += found is None
            run = found or dataclasses.replace(run, run_id=UNKNOWN_ID.format(i))
        runs.append(run)
    note = (f"{read - unknown} of {read} runs read from their records in {folder}"
            + (f" ({unknown} not recorded there: new, their ids unknown until the method loads)" if unknown else "")
            + f", as the method does not load: {unloadable}")
    return dataclasses.replace(study, runs=runs, note=note)


def other_seeds(study: Study, results: Path) -> list[int]:
    """The seeds, beside the study's, that its results folder's unplanned run folders record (an
    earlier `run --seeds`); only those folders' config.yaml are read."""
    planned = {r.run_id for r in study.runs}
    folder = Path(results) / study.name
    seeds = set()
    for run in folder.iterdir() if folder.is_dir() else []:
        unplanned = run.is_dir() and run.name not in planned and not run.name.startswith(".")
        found = migrate.recorded(run) if unplanned else None
        seed = found[1].get("seed") if found else None
        if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 and seed not in study.spec.seeds:
            seeds.add(seed)
    return sorted(seeds)


def read_records(folder: Path) -> list[Record]:
    """The runs recorded in a study's results folder that a plug-in method trained."""
    records = []
    for run in sorted(folder.iterdir()) if folder.is_dir() else []:
        found = migrate.recorded(run) if run.is_dir() and not run.name.startswith(".") else None
        method = found[0].get("method") if found else None
        name = method.get("name") if isinstance(method, dict) else None
        if not isinstance(name, str) or name in registry.BUILT_IN:
            continue
        config, labels = found
        try:
            config = RunConfig.model_validate({**config, "method": StandInMethod.model_validate(method)})
        except ValidationError:
            continue
        records.append(Record(run.name, labels, config, (run / store.CONFIG).stat().st_mtime))
    return records


def recorded_run(planned: PlannedRun, records: list[Record]) -> PlannedRun | None:
    """The planned run as recorded (its id, its whole config), or None if nothing records it."""
    labels = planned.labels()
    found = [r for r in records if r.labels.keys() == labels.keys()
             and all(same(r.labels[k], v) for k, v in labels.items()) and agrees(planned.config, r.config)]
    if not found:
        return None
    latest = max(found, key=lambda r: r.written)
    # A pretraining's record has no evaluation (its stages have theirs): the plan's is the run's.
    return dataclasses.replace(planned, run_id=latest.run_id,
                               config=latest.config.model_copy(update={"probe": planned.config.probe}))


def agrees(planned: RunConfig, recorded: RunConfig) -> bool:
    """Whether `recorded` has every key that the plan's layers set in `planned`, as planned: each that
    enters a run id (harness/run_id.py), and each of the stand-in method's keys."""
    ours, theirs = result_keys(planned), result_keys(recorded)
    for key, value in set_keys(planned).items():
        section, _, name = key.partition(".")
        if section == "method" and name != "name":  # a stand-in's own keys: none is in its id
            if (recorded.method.model_extra or {}).get(name, _ABSENT) != value:
                return False
        elif ours.get(key, _ABSENT) != theirs.get(key, _ABSENT):
            return False
    return True


def set_keys(section: BaseModel, prefix: str = "") -> dict[str, Any]:
    """The dotted keys of a config that its layers set (pydantic's fields set, section by section),
    with their values."""
    keys = {}
    for name in section.model_fields_set:
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            keys.update(set_keys(value, f"{prefix}{name}."))
        else:
            keys[prefix + name] = value
    return keys
