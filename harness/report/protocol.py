"""Where a study's runs differ from the setup of the paper they reproduce, computed from the resolved
configs: what "the tiny scale changes" is, and any drift of a study from its paper.

The paper's setup is papers.yaml's `protocol` of the paper whose method a run trains (and its
`protocol_by_probe_mode[probe.mode]`: a probe key means the run's mode's, e.g. fine-tuning's batch), with
its table's `protocol` on top (or `protocol_by_method[method]`, for another method's runs in the table,
like BYOL Table 16's SimCLR arm). Keys the study sets on purpose per row (its variants, grid and rules: the
ablation itself) are not differences. And how each evaluation column's numbers are measured, from the
runs' evaluation sections (evaluation_protocols).

What no config key states (an official code's augmentation that the harness, as the PyTorch
reimplementations, draws as torchvision does) is each paper's `protocol_notes`: the report prints
those of the papers whose methods the study trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.columns import PROBE
from harness.methods.registry import BUILT_IN
from harness.report.reference import papers, paper_table
from harness.report.schema import ReportSpec, report_spec
from harness.spec import flatten, same


@dataclass(frozen=True)
class Difference:
    key: str
    ours: list  # the distinct values the study's runs have, in run order
    paper: Any


def paper_protocol(ref: str, method: str, probe_mode: str) -> dict[str, Any]:
    """The setup a run of `method` and `probe_mode` has in table `ref` ('byol.table16_batch_size'), as
    config keys."""
    paper = ref.partition(".")[0]
    table = paper_table(ref)
    own = BUILT_IN[method].recipe.paper if method in BUILT_IN else paper
    setup = papers().get(own, {})
    base = {**setup.get("protocol", {}), **setup.get("protocol_by_probe_mode", {}).get(probe_mode, {})}
    if own == paper:
        return {**base, **table.get("protocol", {})}
    return {**base, **table.get("protocol_by_method", {}).get(method, {})}


def flat_config(config) -> dict[str, Any]:
    """A RunConfig as {dotted key: value}, tuples as lists (as YAML gives them)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        else:
            flat[prefix[:-1]] = value

    walk("", config.model_dump(mode="json"))
    return flat


def _equal(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return same(a, b)


def ablated_keys(spec) -> set[str]:
    """The keys a study varies on purpose: its variants', grid's and rules' keys."""
    keys = set(spec.grid)
    for overrides in spec.variants.values():
        keys |= set(flatten(overrides or {}))
    for rule in spec.rules:
        keys |= set(flatten(rule.set))
    return keys


def differences(study, report: ReportSpec | None = None) -> list[Difference]:
    """Every protocol key where some run of the study differs from its paper's setup."""
    ref = (report or report_spec(study)).paper
    if not ref:
        return []
    ablated = ablated_keys(study.spec)
    found: dict[str, Difference] = {}
    for config in (planned.config for planned in study.runs):
        ours = flat_config(config)
        for key, expected in paper_protocol(ref, config.method.name, config.probe.mode).items():
            if key in ablated or key not in ours or _equal(ours[key], expected):
                continue
            seen = found.setdefault(key, Difference(key, [], expected))
            if not any(_equal(ours[key], v) for v in seen.ours):
                seen.ours.append(ours[key])
    return sorted(found.values(), key=lambda d: d.key)


def protocol_notes(study) -> list[str]:
    """papers.yaml's `protocol_notes` of the papers whose methods the study's runs train, in run order."""
    notes: list[str] = []
    for method in dict.fromkeys(planned.config.method.name for planned in study.runs):
        paper = BUILT_IN[method].recipe.paper if method in BUILT_IN else None
        notes += [n for n in papers().get(paper, {}).get("protocol_notes", []) if n not in notes]
    return notes


def show_value(value) -> str:
    """A config value as the report prints it: true / false, per-view pairs as (1.0, 0.1)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "(" + ", ".join(show_value(v) for v in value) + ")"
    return str(value)


def evaluation_protocols(study) -> list[tuple[str, str]]:
    """(column, protocol) of each distinct evaluation the study's runs read: how each number in an
    evaluation column is measured (the stage's section says it: its protocol())."""
    found = [(PROBE[r.evaluation.section.mode], r.evaluation.section.protocol()) for r in study.runs if r.evaluation]
    return list(dict.fromkeys(found))
