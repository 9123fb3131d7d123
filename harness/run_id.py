"""A run's id: a short content hash of the schema version and of the resolved config's keys whose
value differs from the defaults.

Hashing only what differs from the defaults gives a key added later, with a default that keeps the
old behaviour, no say in any id: every id stays as it was by construction, without a list of "keys
added since". A union member (a method's section, a probe mode's) is compared with its own class's
defaults, and its tag (method.name, probe.mode) enters when the member is not the default's class.

What enters is what changes a run's result. A config field says it does not with `InRunId(False)` in
its annotation (RunConfig.runtime: device, workers, threads... change where and how fast a run goes),
and a field below it that does with `InRunId(True)` (runtime.precision: bf16 changes the numbers).

Torch-free, and reads a config as pydantic models only: config.py imports it, not the other way.
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

# Bump whenever a default's meaning changes (the same key at its default would train another run, so
# the ids of old and new runs must differ), or the layout of config.yaml changes; either way add the
# translation of an older config.yaml to harness/migrate.py. 1: every key hashed, but for a hand-kept
# list of keys added later (up to a509ef7); 2: only the keys that differ from the defaults; 3: the
# evaluation (`probe`) left the run id, a stage of its own with its own id (stage_id).
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class InRunId:
    """Annotated metadata of a config field: whether its value enters the run id. A field without it
    is as its section is (a RunConfig field: yes)."""

    value: bool


def run_id(config: BaseModel) -> str:
    """The run id of a resolved config (harness.config.RunConfig): 12 hex digits."""
    return _digest(result_keys(config))


def stage_id(input_id: str, section: BaseModel) -> str:
    """A stage's id (harness/stages.py): 12 hex digits hashing the id of what it reads (a pretraining's
    run id, or an earlier stage's id) and its section's keys that differ from the section class's
    defaults, its tag (probe.mode) always."""
    keys = {"schema": SCHEMA_VERSION, "input": input_id, **_differences(section, None, "", True)}
    return _digest(keys)


def _digest(keys: dict[str, Any]) -> str:
    canonical = json.dumps(keys, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def result_keys(config: BaseModel) -> dict[str, Any]:
    """What the id hashes: {"schema": SCHEMA_VERSION, dotted key: value} for each key of the config
    that enters the id and differs from its default."""
    return {"schema": SCHEMA_VERSION, **_differences(config, None, "", True)}


def _differences(section: BaseModel, reference: BaseModel | None, prefix: str, inherited: bool) -> dict[str, Any]:
    """The keys of `section` that differ from `reference`, a section of the same class, or (None) from
    the class's own defaults; with a union member of another class than its default's, its tag."""
    keys = {}
    for name, field in type(section).model_fields.items():
        counted = _in_run_id(field, inherited)
        value, key = getattr(section, name), prefix + name
        default = getattr(reference, name) if reference is not None else _default(field)
        if isinstance(value, BaseModel):
            same_class = type(default) is type(value)
            keys.update(_differences(value, default if same_class else None, key + ".", counted))
        elif counted and (_is_tag(field) and reference is None or not _equal(value, default)):
            keys[key] = to_jsonable_python(value)
    return keys


def _in_run_id(field: FieldInfo, inherited: bool) -> bool:
    return next((m.value for m in field.metadata if isinstance(m, InRunId)), inherited)


def _default(field: FieldInfo):
    return field.get_default(call_default_factory=True)


def _is_tag(field: FieldInfo) -> bool:
    """A field that can hold one value only names its class: the tag of a union member (method.name)."""
    return typing.get_origin(field.annotation) is Literal and len(typing.get_args(field.annotation)) == 1


def _equal(value, default) -> bool:
    # A required field (no default) always enters: a plug-in method's name.
    return default is not PydanticUndefined and to_jsonable_python(value) == to_jsonable_python(default)
