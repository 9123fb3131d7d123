"""Results written under an older schema's run ids, found again: each run folder of a study whose name
is not a planned run's id, but whose config.yaml holds (translated to today's layout) a planned run's
config, is renamed to that run's id, so it is skipped, resumed or reported as if written today.

A folder is renamed only when its recorded config validates and every key that enters the run id
(harness/run_id.py) equals the planned run's, and never over an existing folder; one that matches
nothing is left as it is. Its files' `run_id` fields (config.yaml, summary.json, job.json) are
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

from harness import store
from harness.config import FINETUNE_RENAMED, ProbeBase, RunConfig
from harness.plan import PlannedRun, Study
from harness.run_id import SCHEMA_VERSION, result_keys


@dataclass(frozen=True)
class Rename:
    old: str  # the folder's name: the run's id under its schema
    new: str  # the planned run's id
    label: str  # the planned run's place in the study
    free: bool  # no folder has the new id yet; else this one is left as it is


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
    renames = []
    for old, run, record in found:
        free = not (root / run.run_id).exists()
        if free and write:
            _rename(root / old, run.run_id, record, new_ids)
        renames.append(Rename(old, run.run_id, run.label, free))
    return renames


def describe(study: str, renames: list[Rename], dry_run: bool) -> list[str]:
    """What a command prints: one line, and with --dry-run the folders, one a line."""
    moved, kept = [r for r in renames if r.free], [r for r in renames if not r.free]
    lines = []
    if moved:
        verb = "would be renamed" if dry_run else "renamed"
        lines.append(f"{study}: {len(moved)} run folders {verb} to schema-{SCHEMA_VERSION} run ids")
        lines += [f"  {r.old} -> {r.new}  {r.label}" for r in moved] if dry_run else []
    lines += [f"{study}: run folder {r.old} holds run {r.new} ({r.label}), whose folder exists: left as it is"
              for r in kept]
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


# The translation of a config.yaml's config from each older schema to the next.
UPGRADES = {1: probe_as_union}


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
                      "config": config.model_dump(mode="json")}  # as run_one writes it
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
