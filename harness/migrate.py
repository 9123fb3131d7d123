"""Results written under an older schema's run ids, found again: each run folder of a study whose name
is not a planned run's id, but whose config.yaml holds (translated to today's layout) a planned run's
config, is renamed to that run's id, so it is skipped, resumed or reported as if written today.

A folder is renamed only when its recorded config validates and every key that enters the run id
(harness/run_id.py) equals the planned run's, and never over an existing folder; one that matches
nothing is left as it is.

Schema 3 took the evaluation (`probe`) out of the run id: folders that differed in probe keys only
now hold one pretraining. One of them is kept as it (a finished one first), the others are moved,
whole, into the study's .same-pretraining/ folder (store.SAME_PRETRAINING), never deleted; and the
evaluation each ran at the end of its training (its summary's linear_top1 or finetune_top1) is
written as a done stage of the kept pretraining (stages/<stage_id>/, run_id.stage_id of its probe
section), so that it is read, not run again. Its files' `run_id` fields (config.yaml, summary.json, job.json) are
rewritten first and the folder renamed last, so a migration cut short is finished by the next one.
`harness run`, `status` and `report` call it once per study before they read the runs' states.

Torch-free: it reads config.yaml, summary.json and job.json, never a checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness import columns, store
from harness.config import FINETUNE_RENAMED, ProbeBase, RunConfig
from harness.plan import PlannedRun, Study
from harness.run_id import SCHEMA_VERSION, result_keys, stage_id
from harness.store import RunState


@dataclass(frozen=True)
class Rename:
    old: str  # the folder's name: the run's id under its schema
    new: str  # the planned run's id
    label: str  # the planned run's place in the study
    free: bool  # no folder has the new id yet; else this one is left as it is
    aside: bool = False  # another folder holds the same pretraining and is kept: moved to store.SAME_PRETRAINING


def migrate(study: Study, results: Path, dry_run: bool = False) -> list[Rename]:
    """Rename the study's run folders that hold a planned run under an older id (with `dry_run`,
    write nothing); what was (or would be) renamed, and what matched a run whose folder exists."""
    root = Path(results) / study.name
    if dry_run or not _found(study, root):
        return _renames(study, root, write=False)
    with store.exclusive(root / store.MIGRATE_LOCK):  # one migration of a study at a time: look again
        return _renames(study, root, write=True)


def _renames(study: Study, root: Path, write: bool) -> list[Rename]:
    found = _found(study, root)
    new_ids = {old: run.run_id for old, run, _ in found}
    groups: dict[str, list] = {}
    for item in found:  # the folders of one pretraining
        groups.setdefault(item[1].run_id, []).append(item)
    renames = []
    for new, group in groups.items():
        free = not (root / new).exists()
        kept = min(group, key=lambda item: _KEEP_FIRST.index(store.run_state(root / item[0])))  # the first of the best
        for old, run, record in group:
            aside = free and old != kept[0]
            if aside and write:
                _evaluation_as_stage(root / old, root / kept[0], new)
                _set_aside(root, old)
            renames.append(Rename(old, new, run.label, free, aside))
        if free and write:
            _evaluation_as_stage(root / kept[0], root / kept[0], new)
            _rename(root / kept[0], new, kept[2], new_ids)
    return renames


# Which of several folders of one pretraining is kept: the most finished.
_KEEP_FIRST = [RunState.DONE, RunState.DIVERGED, RunState.PARTIAL, RunState.RUNNING, RunState.FAILED,
               RunState.CORRUPT, RunState.NEW]


def _set_aside(root: Path, old: str) -> None:
    (root / store.SAME_PRETRAINING).mkdir(exist_ok=True)
    os.replace(root / old, root / store.SAME_PRETRAINING / old)


# The evaluations whose protocol is what it was at schema 2: their old numbers become done stages. A
# fine-tuning ran another step count and LARS then (issue 25): it is measured again on the kept
# checkpoint (evaluated, not retrained).
MEASURED_AS_BEFORE = ("linear",)


def _evaluation_as_stage(folder: Path, kept: Path, run_id: str) -> None:
    """The evaluation a done folder of an older schema ran at the end of its training (its probe
    section, its summary's metric), written as a done stage of the kept folder's pretraining."""
    found, summary = recorded(folder), _readable_json(folder / store.SUMMARY)
    if found is None or not summary or summary.get("status") != RunState.DONE:
        return
    try:
        section = RunConfig.model_validate(found[0]).probe
    except (ValidationError, ValueError):
        return
    metrics = {c: v for c, v in summary.get("final", {}).items() if c in columns.PROBES}
    if not section.enabled or not metrics or section.mode not in MEASURED_AS_BEFORE:
        return
    stage = stage_id(run_id, section)
    directory = kept / store.STAGES / stage
    if store.stage_state(directory) != RunState.NEW:
        return
    record = {"stage_id": stage, "input_id": run_id, "run_id": run_id, "schema": SCHEMA_VERSION,
              "labels": found[1], "section": section.model_dump(mode="json")}
    store.write_yaml(directory / store.CONFIG, record)
    store.write_json(directory / store.SUMMARY, {
        "stage_id": stage, "input_id": run_id, "mode": section.mode, "labels": found[1], "status": RunState.DONE,
        "metrics": metrics, "protocol": section.protocol(), "run_id": run_id, "migrated_from": folder.name,
        "note": "measured at the end of its pretraining, before evaluations were stages (schema 2 and older)",
    })  # fmt: skip


def describe(study: str, renames: list[Rename], dry_run: bool) -> list[str]:
    """What a command prints: one line, and with --dry-run the folders, one a line."""
    moved, kept = [r for r in renames if r.free], [r for r in renames if not r.free]
    lines = []
    aside, moved = [r for r in moved if r.aside], [r for r in moved if not r.aside]
    if moved:
        verb = "would be renamed" if dry_run else "renamed"
        lines.append(f"{study}: {len(moved)} run folders {verb} to schema-{SCHEMA_VERSION} run ids")
        lines += [f"  {r.old} -> {r.new}  {r.label}" for r in moved] if dry_run else []
    lines += [f"{study}: run folder {r.old} holds run {r.new} ({r.label}), whose folder exists: left as it is"
              for r in kept]
    verb = "would be moved" if dry_run else "moved"
    lines += [f"{study}: run folder {r.old} holds the pretraining {r.new} ({r.label}) that another folder keeps, "
              f"differing in evaluation keys only: {verb} to {study}/{store.SAME_PRETRAINING}/{r.old}, its "
              "evaluation kept as a stage" for r in aside]
    return lines


def recorded_config(folder: Path) -> tuple[RunConfig, dict] | None:
    """The config a run folder's config.yaml records, in today's layout, and the run's labels there;
    None when it has none, or one that does not validate today (the folder is left alone)."""
    found = recorded(folder)
    if found is None:
        return None
    config, labels = found
    try:
        return RunConfig.model_validate(config), labels
    except (ValidationError, ValueError):
        return None


def recorded(folder: Path) -> tuple[dict, dict] | None:
    """A run folder's config.yaml as it records the run: its config translated to today's layout (not
    validated) and its labels; None when it has no readable one of this schema or an older one."""
    try:
        record = yaml.safe_load((folder / store.CONFIG).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return None
    schema = record.get("schema", 1)  # config.yaml had no schema field before schema 2
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        return None
    config = record["config"]
    for older in range(schema, SCHEMA_VERSION):
        config = UPGRADES[older](config)
    labels = record.get("labels")
    return config, labels if isinstance(labels, dict) else {}


def probe_as_union(config: dict) -> dict:
    """Schema 1 -> 2: the probe was one section, fine-tuning's keys prefixed `finetune_` beside the
    linear probe's; now probe.mode picks a section (config.PROBES) with its own keys."""
    probe = dict(config.get("probe", {}))
    finetune = {FINETUNE_RENAMED[key]: probe.pop(key) for key in FINETUNE_RENAMED if key in probe}
    if probe.get("mode") == "finetune":  # the linear probe's keys did nothing then
        probe = {key: value for key, value in probe.items() if key in ProbeBase.model_fields}
        probe.update(finetune)
    return {**config, "probe": probe}


def probe_as_stage(config: dict) -> dict:
    """Schema 2 -> 3: the layout is the same; `probe` left the run id. A run's record of schema 2
    holds the evaluation it ran at the end of its training (_evaluation_as_stage writes it as a stage);
    one of schema 3, none (a pretraining's config.yaml has no probe: its evaluations are stages)."""
    return config


# The translation of a config.yaml's config from each older schema to the next.
UPGRADES = {1: probe_as_union, 2: probe_as_stage}


def _found(study: Study, root: Path) -> list[tuple[str, PlannedRun, dict]]:
    """(folder name, planned run, its config.yaml in today's layout) of each folder holding a planned
    run under another id."""
    if not root.is_dir():
        return []
    planned = {run.run_id: run for run in study.runs}
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or folder.name in planned or not folder.is_dir() or store.is_locked(folder):
            continue
        config, labels = recorded_config(folder) or (None, None)
        run = planned.get(config.run_id()) if config else None
        if run is not None and result_keys(config) == result_keys(run.config):
            record = {"run_id": run.run_id, "schema": SCHEMA_VERSION, "labels": labels,
                      "config": config.model_dump(mode="json", exclude={"probe"})}  # as run_one writes it
            found.append((folder.name, run, record))
    return found


def _rename(folder: Path, run_id: str, record: dict, new_ids: dict[str, str]) -> None:
    """The folder's records rewritten with its new id, then the folder renamed."""
    store.write_yaml(folder / store.CONFIG, record)
    summary = _readable_json(folder / store.SUMMARY)
    if summary is not None:
        store.write_json(folder / store.SUMMARY, {**summary, "run_id": run_id})
    job = _readable_json(folder / store.JOB)
    if job is not None:
        packed = [new_ids.get(other, other) for other in job.get("runs_in_job", [])]
        store.write_json(folder / store.JOB, {**job, "run_id": run_id} | ({"runs_in_job": packed} if packed else {}))
    os.replace(folder, folder.with_name(run_id))


def _readable_json(path: Path) -> dict | None:
    try:
        return store.read_json(path)
    except ValueError:  # unreadable: the run is corrupt, and resuming it sets the file aside
        return None
