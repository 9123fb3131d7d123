"""Section: the base of every structure a study's keys validate against (RunConfig and its sections,
each method's section, the study file's own sections, the report's). Light on purpose: a method's
section (harness/methods/sections.py) sits below the RunConfig that holds it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # Unknown keys are errors (a typo must never fall back to a default), types are not coerced
    # ("yes" is not a bool, "0.1" is not a number), numbers are finite (YAML's .inf and .nan, or
    # 1e400, would train a run that diverges or never ends), and configs are immutable.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class KeysError(ValueError):
    """A section's check across several of its keys failed; `keys` names them (relative to the section),
    so that the error blames the layer of a study that set the last of them (harness/plan.py), not a
    layer that set another key of the section. A plug-in's section may raise it too; a plain ValueError
    is blamed on the last layer that set any key of the section."""

    def __init__(self, message: str, *keys: str):
        super().__init__(message)
        self.keys = keys
