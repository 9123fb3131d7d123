"""The run id (harness/run_id.py): one id pinned per built-in method's recipe, and the properties that
keep ids stable without a list of keys added later."""

import typing

from pydantic import BaseModel, ValidationError

from harness.config import RunConfig
from harness.plan import load_study
from harness.run_id import SCHEMA_VERSION, result_keys, stage_id

RECIPES = """\
name: ids
title: "One run per built-in method, its recipe at the preset"
variants:
  simsiam: {}
  byol: {method.name: byol}
  simclr: {method.name: simclr}
  mocov3: {method.name: mocov3}
"""

# The ids of each built-in recipe at preset tiny: every run of that method written before has its id
# from the same keys. A pin changes only with SCHEMA_VERSION, and harness/migrate.py then renames the
# folders of the older schema; or when a recipe changes what its runs train (then the old runs are
# other runs): SimCLR's, a24447edb5b8 before its LARS got classic momentum (issue 25).
PINNED = {"simsiam": "ba59462bfadd", "byol": "13d63341c910", "simclr": "ce52169e6284", "mocov3": "8e71921771ce"}
DEFAULTS = "dff5301227e8"  # RunConfig() itself: {"schema": 3} hashed
BF16 = "c0901838e085"  # RunConfig() at runtime.precision bf16
# The stage ids of the default linear probe and fine-tuning of the pretraining DEFAULTS.
STAGES = {"linear": "97f704d997d9", "finetune": "5349f60a7070"}


def test_one_id_per_built_in_recipe_at_tiny(tmp_path):
    (tmp_path / "ids.yaml").write_text(RECIPES)
    study = load_study(tmp_path / "ids.yaml", "tiny")
    assert {run.variant: run.run_id for run in study.runs} == PINNED


def test_the_defaults_hash_the_schema_alone():
    assert result_keys(RunConfig()) == {"schema": SCHEMA_VERSION}
    assert RunConfig().run_id() == DEFAULTS
    assert RunConfig(runtime={"precision": "bf16"}).run_id() == BF16


def test_runtime_stays_out_of_the_id_but_precision():
    base = RunConfig()
    changed = {"device": "cuda", "num_workers": 3, "threads": 2, "checkpoint_every": 5, "data_root": "/data",
               "download": True, "channels_last": True, "compile": True, "loggers": ("tensorboard",)}
    assert set(changed) == set(type(base.runtime).model_fields) - {"precision"}  # every runtime key but precision
    for key, value in changed.items():
        assert RunConfig(runtime={key: value}).run_id() == base.run_id(), key
    assert RunConfig(runtime={"precision": "bf16"}).run_id() != base.run_id()
    assert result_keys(RunConfig(runtime={"precision": "bf16", "threads": 2})) == {
        "schema": SCHEMA_VERSION, "runtime.precision": "bf16"}


# Configs whose every key is varied below: the default one, each method's section and the fine-tuning
# probe; BYOL without a target network (where its stop_gradient may be switched off) and a registry's
# backbone (which may take the CIFAR stem).
BASES = [{}, {"method": {"name": "byol"}}, {"method": {"name": "simclr"}, "predictor": {"kind": "none"}},
         {"method": {"name": "mocov3"}}, {"probe": {"mode": "finetune"}},
         {"method": {"name": "byol", "tau_base": 0.0, "tau_schedule": "constant"}},
         {"backbone": {"name": "torchvision:resnet34"}}]


def leaves(section: BaseModel, prefix: str = "") -> dict[str, tuple[typing.Any, typing.Any]]:
    """Each key of a config below `prefix`: (its value, its annotation)."""
    found = {}
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            found.update(leaves(value, f"{prefix}{name}."))
        else:
            found[prefix + name] = (value, field.annotation)
    return found


def with_key(tree: dict, key: str, value) -> dict:
    """`tree` (nested overrides) with `key` set to `value`."""
    *parents, leaf = key.split(".")
    tree = {k: dict(v) if isinstance(v, dict) else v for k, v in tree.items()}
    node = tree
    for part in parents:
        node[part] = dict(node.get(part, {}))
        node = node[part]
    node[leaf] = value
    return tree


def others(value, annotation) -> list:
    """Values other than `value` that the key might take (the config's validation decides)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2]
    if isinstance(value, float):
        return [value / 2, value + 0.25]
    if isinstance(value, str):
        return ["small_cnn", "digits", "cifar10", "token"]
    if isinstance(value, tuple):
        return [(0.25, 0.75), (), value[:1]]
    return [0.5, 2]  # None: an optional number


def test_a_key_set_at_its_default_changes_no_id():
    # As a key added later at a default that keeps the old behaviour: set or unset, the same run.
    for base in BASES:
        config = RunConfig.model_validate(base)
        dumped = config.model_dump(mode="json")
        for key in leaves(config):
            value = dumped
            for part in key.split("."):
                value = value[part]
            assert RunConfig.model_validate(with_key(base, key, value)).run_id() == config.run_id(), key


def identity(config: RunConfig) -> tuple[str, str]:
    """What tells a run's result: its pretraining's id and its evaluation's stage id."""
    return config.run_id(), stage_id(config.run_id(), config.probe)


def test_every_key_of_a_result_changes_the_id():
    # A probe key changes the evaluation's stage id alone; any other, the pretraining's run id.
    varied, tags = set(), {"method.name", "probe.mode"}
    for base in BASES:
        config = RunConfig.model_validate(base)
        for key, (value, annotation) in leaves(config).items():
            if key in tags or key.startswith("runtime.") and key != "runtime.precision":
                continue
            for other in [o for o in others(value, annotation) if o != value]:
                try:
                    changed = RunConfig.model_validate(with_key(base, key, other))
                except ValidationError:
                    continue
                assert identity(changed) != identity(config), (key, other)
                assert (changed.run_id() == config.run_id()) == key.startswith("probe."), (key, other)
                varied.add(key)
                break
    every = {k for b in BASES for k in leaves(RunConfig.model_validate(b))} - tags
    assert varied == {k for k in every if not k.startswith("runtime.") or k == "runtime.precision"}


def test_a_union_member_hashes_its_tag_and_what_differs_from_its_own_defaults():
    byol = RunConfig(method={"name": "byol"})
    assert result_keys(byol) == {"schema": SCHEMA_VERSION, "method.name": "byol"}
    assert RunConfig(method={"name": "byol", "tau_base": 0.996, "loss": "symmetric"}).run_id() == byol.run_id()
    finetune = RunConfig(probe={"mode": "finetune", "epochs": 60, "batch_size": 64})
    assert result_keys(finetune) == {"schema": SCHEMA_VERSION}  # the evaluation is a stage of its own
    assert identity(finetune) == identity(RunConfig(probe={"mode": "finetune", "batch_size": 64}))
    assert identity(finetune) != identity(RunConfig(probe={"mode": "finetune"}))
    assert identity(RunConfig(probe={"mode": "linear"})) == identity(RunConfig())


def test_a_stage_id_is_pinned_and_follows_its_input():
    config = RunConfig()
    for mode, pinned in STAGES.items():
        assert stage_id(DEFAULTS, RunConfig(probe={"mode": mode}).probe) == pinned
    assert stage_id(BF16, config.probe) != STAGES["linear"]  # another pretraining: another evaluation
    assert stage_id(STAGES["finetune"], config.probe) not in STAGES.values()  # after another stage
    assert stage_id(DEFAULTS, config.probe.model_copy(update={"enabled": True})) == STAGES["linear"]


def test_the_seed_changes_the_id():
    assert RunConfig(seed=1).run_id() != RunConfig().run_id()
    assert result_keys(RunConfig(seed=1)) == {"schema": SCHEMA_VERSION, "seed": 1}


def test_run_id_ignores_runtime_but_not_results():
    base = RunConfig()
    assert base.run_id() == base.model_copy(update={"runtime": base.runtime.model_copy(update={"device": "cuda"})}).run_id()
    assert base.run_id() != base.model_copy(update={"seed": 1}).run_id()
