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
