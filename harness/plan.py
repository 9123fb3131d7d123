"""A study's plan: its validated spec (spec.py) expanded into fully resolved runs, variants x grid x
seeds, each a PlannedRun with its RunConfig, its run id (its pretraining's) and its evaluation's
chain of stages; and the distinct pretrainings that train them (pretrainings()), each once, with
every stage of it. What launch, status and the report read.

A run's config is built by layering override sets, later ones winning:
    RunConfig defaults < the method's recipe < preset < the recipe at that preset < study `base`
    < study `presets[<preset>]` < variant < grid point < `rules` that match the run < seed
    < command-line `--set`.
The recipe (harness/recipes.py), registered with the run's method (harness/methods/registry.py),
is its paper's setup, so a study states only its ablation. A layer that makes a config invalid is
named in the error, with its key.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from harness import plugins
from harness.config import PROBES, RunConfig, stage_inputs
from harness.methods import registry
from harness.methods.sections import MethodSection
from harness.presets import DEFAULT_PRESET, PRESETS
from harness.run_id import stage_id
from harness.section import KeysError
from harness.spec import (SpecError, StudySpec, check_key, check_keys, did_you_mean, flatten, key_of, read_spec, same,
                          shown)


@dataclass(frozen=True)
class PlannedStage:
    """An evaluation of a pretraining (harness/stages.py), in its folder stages/<stage_id>/."""

    stage_id: str  # run_id.stage_id(input_id, section)
    input_id: str  # what it reads: the pretraining's run id, or the id of the stage before it
    section: BaseModel  # its probe section (config.PROBES)


def stage_chain(config: RunConfig, run_id: str) -> tuple[PlannedStage, ...]:
    """The stages a run's evaluation needs, each after the one it reads, the evaluation last; none
    when probe.enabled is false."""
    if not config.probe.enabled:
        return ()
    chain, input_id = [], run_id
    for section in [*stage_inputs(config.probe), config.probe]:
        chain.append(PlannedStage(stage_id(input_id, section), input_id, section))
        input_id = chain[-1].stage_id
    return tuple(chain)


@dataclass(frozen=True)
class PlannedRun:
    run_id: str  # its pretraining's: the run folder results/<study>/<run_id>/, shared by runs that differ in probe keys only
    variant: str
    point: tuple[tuple[str, Any], ...]  # the grid values of this run, in grid order
    seed: int
    config: RunConfig

    @property
    def pretraining_id(self) -> str:
        """The same as run_id (its folder is its pretraining's), by the name the stages give it."""
        return self.run_id

    @functools.cached_property
    def stages(self) -> tuple[PlannedStage, ...]:
        """Its evaluation's chain (stage_chain): what runs on its pretraining for this run's result."""
        return stage_chain(self.config, self.run_id)

    @property
    def evaluation(self) -> PlannedStage | None:
        """The stage whose metrics are this run's evaluation (the chain's last), None without one."""
        return self.stages[-1] if self.stages else None

    @property
    def result_id(self) -> str:
        """What tells this run's result from every other's: its pretraining's id and its evaluation's."""
        return f"{self.run_id}/{self.evaluation.stage_id}" if self.evaluation else self.run_id

    @property
    def series(self) -> str:
        """The run's place in the study without its seed: what seeds are averaged over."""
        return " ".join([self.variant] + [f"{k}={v}" for k, v in self.point])

    @property
    def label(self) -> str:
        return f"{self.series} seed={self.seed}"

    def labels(self) -> dict[str, Any]:
        """What identifies this run within its study, stored beside its results."""
        return {"variant": self.variant, "seed": self.seed, **dict(self.point)}


@dataclass(frozen=True)
class Pretraining:
    """One network to train, and every stage that the planned runs on it need: the unit of work."""

    runs: tuple[PlannedRun, ...]  # the planned runs it trains, the first's config and labels its own

    @property
    def run_id(self) -> str:
        return self.runs[0].run_id

    @property
    def first(self) -> PlannedRun:
        return self.runs[0]

    @property
    def config(self) -> RunConfig:
        return self.first.config

    @property
    def label(self) -> str:
        return self.first.label

    @property
    def stages(self) -> list[PlannedStage]:
        """Its distinct stages, each after the stages it reads."""
        return list({stage.stage_id: stage for run in self.runs for stage in run.stages}.values())

    def stage_run(self, stage: PlannedStage) -> PlannedRun:
        """The first planned run whose chain has `stage`: its labels are the stage's."""
        return next(run for run in self.runs if stage in run.stages)


def pretrainings(runs: list[PlannedRun]) -> list[Pretraining]:
    """The distinct pretrainings of planned runs, in the order the runs come, each with its runs."""
    grouped: dict[str, list[PlannedRun]] = {}
    for run in runs:
        grouped.setdefault(run.run_id, []).append(run)
    return [Pretraining(tuple(group)) for group in grouped.values()]


@dataclass(frozen=True)
class Study:
    spec: StudySpec
    path: Path
    preset: str
    runs: list[PlannedRun]
    note: str = ""  # why some runs were read from results rather than planned (harness/recorded.py)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def grid(self) -> dict[str, list[Any]]:
        """The grid at this study's preset (preset_grid's axes replace the grid's there)."""
        return self.spec.grid_at(self.preset)


class Layer(NamedTuple):
    """One set of overrides and where it comes from, as an error names it."""

    where: str
    values: dict[str, Any]  # flat: dotted key -> value
    ablation: bool = False  # a variant's or grid point's: what an error across sections is blamed on


class UnloadableMethod(SpecError):
    """The method a study names cannot be loaded: unknown, or a plug-in that does not import."""


class StandInMethod(MethodSection):
    """In place of a plug-in's section when its module cannot be imported: the method's keys as
    written, none checked (its defaults, checks and recipe are the plug-in's). Only status and the
    report plan with it, reading the runs from their records (harness/recorded.py); never trained."""

    model_config = ConfigDict(extra="allow")


def load_study(
    path: str | Path,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    max_runs: int | None = None,
    stand_ins: Collection[str] = (),
    seeds: list[int] | None = None,
) -> Study:
    """Read, validate and expand a study file into its planned runs (variants x grid x seeds).
    `seeds` (--seeds) replace the study's `seeds:` list: a seed's run has the same id either way, as
    the seed is a layer of its own. With `max_runs`, a study that expands to more runs is refused
    before anything is expanded.
    A method of `stand_ins` that cannot be imported is planned with StandInMethod (its runs' configs
    then lack the plug-in's defaults and recipe, and their ids are not theirs); any other is refused."""
    path = Path(path)
    spec = read_spec(path)
    if seeds is not None:
        spec = spec.model_copy(update={"seeds": seeds})
    plugins.search_beside(path)  # a plug-in method's package may sit beside the study
    return expand(spec, path, preset, overrides, max_runs, stand_ins)


def expand(spec: StudySpec, path: Path, preset: str | None = None, overrides: dict[str, Any] | None = None,
           max_runs: int | None = None, stand_ins: Collection[str] = ()) -> Study:
    preset = DEFAULT_PRESET if preset is None else preset  # --preset '' is no preset, not the default
    if preset not in PRESETS:
        raise SpecError(f"{path}: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    for name in spec.presets:
        if name not in PRESETS:
            raise SpecError(f"{path}: presets.{name}: unknown preset (known: {', '.join(PRESETS)})")

    def layer(where: str, overrides: dict, ablation: bool = False) -> Layer:
        flat = flatten(overrides)
        check_keys(flat, f"{path}: {where}")
        return _without_seed(Layer(f"{path}: {where}", flat, ablation))

    study_common = [layer("base", spec.base), layer(f"presets.{preset}", spec.presets.get(preset, {}))]
    _check_preset_grid(spec, path)
    if max_runs is not None:  # before a run is expanded
        check_run_count(spec, preset, path, max_runs)
    grid = spec.grid_at(preset)
    layer("grid", {k: None for k in grid})
    cli = [_without_seed(Layer("--set", overrides))] if overrides else []
    rules = _check_rules(spec, path, layer)

    runs, seen = [], {}
    for variant, values in spec.variants.items():
        variant_layer = layer(f"variants.{variant}", values or {}, ablation=True)
        for combo in itertools.product(*grid.values()):
            point = tuple(zip(grid, combo))
            point_layer = Layer(f"{path}: grid " + " ".join(f"{k}={v}" for k, v in point), dict(point), True)
            study_layers = study_common + [variant_layer, point_layer]
            study_layers += [flat for rule, flat in rules if rule.matches({"variant": variant, **dict(point)}, preset)]
            for seed in spec.seeds:
                seed_layer = Layer(f"{path}: seeds", {"seed": seed})
                config = resolve(study_layers + [seed_layer] + cli, preset, stand_ins)
                planned = PlannedRun(config.run_id(), variant, point, seed, config)
                # A stand-in's id leaves out the method's keys: twins are the plug-in's to tell, at `run`.
                if planned.result_id in seen and not isinstance(config.method, StandInMethod):
                    raise SpecError(
                        f"{path}: runs {seen[planned.result_id]!r} and {planned.label!r} resolve to the same "
                        "config; make the variants differ"
                    )
                seen[planned.result_id] = planned.label
                runs.append(planned)
    return Study(spec=spec, path=path, preset=preset, runs=runs)


def select(study: Study, only: list[str], where: dict[str, Any]) -> Study:
    """The study's planned runs of the variants in `only` (all if empty) at the grid values in `where`
    (--only, --where; ids unchanged). A name or value the study lacks is refused, naming those it has:
    a filter of known values always selects some runs (the grid is a product)."""
    unknown = [name for name in only if name not in study.spec.variants]
    if unknown:
        raise SpecError(f"--only {shown(unknown[0])}: not a variant of {study.path} (its variants: "
                        f"{', '.join(study.spec.variants)})")
    for key, value in where.items():
        if key not in study.grid:
            axes = f"its axes: {', '.join(study.grid)}" if study.grid else "it has no grid"
            raise SpecError(f"--where {key}: not a grid axis of {study.path} at preset {study.preset} ({axes})")
        if not any(same(value, v) for v in study.grid[key]):
            raise SpecError(f"--where {key}={shown(value)}: not a value of that axis at preset {study.preset} "
                            f"(its values: {', '.join(map(str, study.grid[key]))})")
    runs = [r for r in study.runs if (not only or r.variant in only)
            and all(same(dict(r.point)[key], value) for key, value in where.items())]
    return replace(study, runs=runs)


def _without_seed(layer: Layer) -> Layer:
    """A layer of the study or the command line: a run's seed is the study's `seeds:` list's (a seed
    set elsewhere would be overridden, or make every seed the same run, without a word)."""
    if "seed" in layer.values:
        raise SpecError(f"{layer.where}: seed: set seeds with the study's `seeds:` list")
    return layer


class RunMethod(NamedTuple):
    name: str  # as the study writes it: a built-in's name, or a plug-in's module.path:Name
    registration: registry.Registration | None  # None: a plug-in planned with StandInMethod
    where: str  # the layer that names it: what a key its section requires, and no layer sets, is blamed on


def run_method(layers: list[Layer], stand_ins: Collection[str] = ()) -> RunMethod:
    """A run's method, decided once: the last layer that sets method.name names it (the default, if
    none does), looked up in the registry; one of `stand_ins` that cannot be, stood in for."""
    where, name = next(((layer.where, layer.values["method.name"]) for layer in reversed(layers)
                        if "method.name" in layer.values), ("defaults", registry.DEFAULT_METHOD))
    try:
        return RunMethod(name, registry.lookup(name), where)
    except ValueError as err:
        if isinstance(name, str) and name in stand_ins:
            return RunMethod(name, None, where)
        raise UnloadableMethod(f"{where}: method.name: {err} (got {shown(name)})") from None


def recipe_layers(method: RunMethod, preset: str) -> list[Layer]:
    """The layers under a study's own: the method's recipe, the preset, the recipe at the preset."""
    layers = [Layer("preset " + preset, flatten(PRESETS[preset]))]
    recipe = method.registration.recipe if method.registration else None
    if recipe is None:
        return layers
    return [Layer(f"recipe {method.name}", recipe.common), *layers,
            Layer(f"recipe {method.name} at {preset}", recipe.scaled.get(preset, {}))]


def resolve(layers: list[Layer], preset: str | None = None, stand_ins: Collection[str] = ()) -> RunConfig:
    """Apply flat override layers in order and validate the result as one RunConfig; with `preset`,
    over the run's method's recipe and the preset (recipe_layers). Each key is checked where the
    run's value comes from (the last layer that sets it), the method's by the method's section."""
    method = run_method(layers, stand_ins)
    if preset is not None:
        layers = recipe_layers(method, preset) + layers
    values, where = {}, {}
    for layer in layers:
        values.update(layer.values)
        where.update(dict.fromkeys(layer.values, layer.where))
    section = method.registration.section if method.registration else None  # None: not checked
    for key in values:
        check_key(key, where[key], method.name, section)
    tree: dict = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    if method.registration is None:  # a section instance is taken as it is (config._plugin_section)
        tree["method"] = StandInMethod.model_validate(tree["method"])
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as err:
        raise refusal(err, layers, method) from None


def refusal(err: ValidationError, layers: list[Layer], method: RunMethod) -> SpecError:
    """The first error of validating a run's config, as one line naming the layer that set its key: for
    a check across keys that names them (section.KeysError), the last layer that set one of those; for
    a key the method's section requires and no layer sets, the layer that names the method."""
    first = err.errors()[0]
    key, value = key_of(first["loc"]), first.get("input")
    if first["type"] == "unknown_probe_mode":  # the union's tag is the key at fault, and its value
        key, value = f"{key}.mode", value.get("mode") if isinstance(value, dict) else value
    error = first.get("ctx", {}).get("error")
    if isinstance(error, KeysError):  # its keys are relative to the section at `key`
        where = _last_to_set(layers, [f"{key}.{k}" if key else k for k in error.keys])
    elif not key:  # a check across sections that names no keys: blame the ablation
        where = next((layer.where for layer in reversed(layers) if layer.values and layer.ablation),
                     layers[-1].where if layers else None)
    else:
        where = _last_to_set(layers, [key])
    if where is None and first["type"] == "missing" and key.startswith("method."):
        where = method.where
    where = where or "defaults"
    if not key:  # a check across sections: its message names the keys
        return SpecError(f"{where}: {first['msg']}")
    section, member = key.split(".")[0], ""
    if section == "method":
        member = f" for method.name={method.name!r}"
    elif section == "probe" and first["type"] != "unknown_probe_mode":  # loc: probe, its mode (the tag), key
        member = f" for probe.mode={first['loc'][1]!r}"
    if first["type"] == "extra_forbidden" and section == "probe":  # a key of the other mode's section
        # pydantic names the unknown field; the layer may have set a key inside it (probe.teacher.epochs)
        key = next((k for layer in reversed(layers) for k in layer.values if k.startswith(key + ".")), key)
        hint = did_you_mean(PROBES[first["loc"][1]], tuple(key.split(".")[1:]))
        return SpecError(f"{where}: unknown key {key!r}{member}{hint}")
    got = "" if first["type"] == "missing" else f" (got {shown(value)})"  # a missing key's input is its section
    return SpecError(f"{where}: {key}: {first['msg']}{member}{got}")


def _last_to_set(layers: list[Layer], keys: list[str]) -> str | None:
    """Where the last layer that sets one of `keys` comes from (a key inside one, or a section holding
    one, counts); None if none does."""
    def sets(layer: Layer) -> bool:
        return any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for key in keys for k in layer.values)

    return next((layer.where for layer in reversed(layers) if sets(layer)), None)


def count_runs(spec: StudySpec, preset: str = DEFAULT_PRESET) -> int:
    """How many runs the study expands to at `preset` (its grid there), without expanding it."""
    return len(spec.variants) * math.prod(len(v) for v in spec.grid_at(preset).values()) * len(spec.seeds)


def check_run_count(spec: StudySpec, preset: str, path: Path, max_runs: int) -> None:
    count = count_runs(spec, preset)
    if count > max_runs:
        sizes = [len(v) for v in spec.grid_at(preset).values()]
        raise SpecError(
            f"{path}: expands to {count} runs at preset {preset} ({len(spec.variants)} variants x grid {sizes} x "
            f"{len(spec.seeds)} seeds), more than the limit of {max_runs}; "
            "pass --yes to accept any size, or --max-runs N"
        )


def _check_preset_grid(spec: StudySpec, path: Path) -> None:
    for name, axes in spec.preset_grid.items():
        if name not in PRESETS:
            raise SpecError(f"{path}: preset_grid.{name}: unknown preset (known: {', '.join(PRESETS)})")
        for key, values in axes.items():
            if key not in spec.grid:
                raise SpecError(f"{path}: preset_grid.{name}: {key!r} is not a grid axis")
            if not values:
                raise SpecError(f"{path}: preset_grid.{name}: axis {key!r} has no values")


def _check_rules(spec: StudySpec, path: Path, layer) -> list:
    """Each rule with its validated `set` layer; `when` names study axes and values they take."""
    checked = []
    for i, rule in enumerate(spec.rules):
        where = f"rules[{i}]"
        if rule.preset is not None and rule.preset not in PRESETS:
            raise SpecError(f"{path}: {where}.preset: unknown preset {rule.preset!r} (known: {', '.join(PRESETS)})")
        for key, values in rule.when.items():
            allowed = list(spec.variants) if key == "variant" else spec.grid.get(key)
            if allowed is None:
                raise SpecError(f"{path}: {where}.when: {key!r} is neither 'variant' nor a grid key")
            if key != "variant":
                allowed = list(allowed) + [v for axis in spec.preset_grid.values() for v in axis.get(key, [])]
            for value in values if isinstance(values, list) else [values]:
                if not any(same(value, a) for a in allowed):
                    raise SpecError(f"{path}: {where}.when: {key}={value!r} is not a value of the study")
        checked.append((rule, layer(where, rule.set)))
    return checked
