"""harness/plan.py: a run's config from its layers. Its method is decided once (the last layer that
names one), its recipe goes under the study's layers, every key is checked where the run's value
comes from, and the first error of validating the config names the layer that set its key."""

import re
import sys

import pytest

from harness.cli import main
from harness.plan import Layer, load_study, resolve, select
from harness.spec import SpecError, parse_set

from commandline import refused, write
from conftest import STUDIES


def refusal(tmp_path, body: str, overrides: list[str] = ()) -> str:
    path = write(tmp_path, "name: m\ntitle: t\n" + body)
    with pytest.raises(SpecError) as err:
        load_study(path, overrides=parse_set(list(overrides)))
    return str(err.value).replace(str(path), "FILE")


def test_the_method_and_its_recipe_come_from_the_last_layer_that_names_it():
    byol = [Layer("base", {"method.name": "simclr"}), Layer("variants.a", {"method.name": "byol"})]
    assert resolve(byol, "tiny").method.target_init == "independent"  # BYOL's recipe
    assert resolve(byol).method.target_init == "copy"  # no preset: no recipe under the layers
    assert resolve([Layer("base", {})], "tiny").method.name == "simsiam"


@pytest.mark.parametrize("body, message", [
    # the last layer that sets the key, not an earlier one nor one whose key only starts alike
    ("base: {predictor.lr_mult: -1}\nvariants: {a: {predictor.lr: constant}}",
     "FILE: base: predictor.lr_mult: Input should be greater than or equal to 0 (got -1)"),
    ("base: {method.tau_base: 1}\nvariants: {a: {method.tau_base: 2}}",
     "FILE: variants.a: unknown key 'method.tau_base' for method.name='simsiam'"),
    # a method's keys are its run's method's: the grid point that makes it SimSiam is named
    ("grid: {method.name: [byol, simsiam], method.tau_base: [0.5]}",
     "FILE: grid method.name=simsiam method.tau_base=0.5: unknown key 'method.tau_base' for method.name='simsiam'"),
    ("base: {method.name: byol}\nvariants: {a: {method.tau_bse: 1}}",
     "FILE: variants.a: unknown key 'method.tau_bse' for method.name='byol' (did you mean 'tau_base'?)"),
    # an error of a whole section: the last layer that set one of its keys
    ("base: {method.eta_every: 2}\nvariants: {a: {method.eta_momentum: 0.5}}",
     "FILE: variants.a: method: Value error, method.eta_every and method.eta_momentum are two ways to form the "
     "target eta (Sec. 5.2): set one of them for method.name='simsiam' (got {'eta_every': 2, 'eta_momentum': 0.5})"),
    ("variants: {a: {method.eta_every: 0}}",  # a union without a tag keeps its member in the key
     "FILE: variants.a: method.eta_every.constrained-int: Input should be greater than or equal to 1 for "
     "method.name='simsiam' (got 0)"),
    ("rules: [{when: {variant: b}, set: {method.tau_bse: 1}}]\nvariants: {a: {}, b: {method.name: byol}}",
     "FILE: rules[0]: unknown key 'method.tau_bse' for method.name='byol' (did you mean 'tau_base'?)"),
])
def test_an_error_names_the_layer_that_set_the_key(tmp_path, body, message):
    assert refusal(tmp_path, body) == message


@pytest.mark.parametrize("body, overrides, message", [
    # a check across keys blames the last layer that set one of its keys, not one that set another key
    # of its section (--set optim.epochs) nor the last ablation (a grid point)
    ("base: {optim.batch_size: 64, optim.micro_batch_size: 48}", ["optim.epochs=3"],
     "FILE: base: optim: Value error, micro_batch_size (48) does not divide batch_size (64) (got {"),
    ("base: {optim.micro_batch_size: 48}\nvariants: {a: {optim.batch_size: 64}}\n"
     "grid: {optim.base_lr: [0.1]}", ["optim.epochs=3"],
     "FILE: variants.a: optim: Value error, micro_batch_size (48) does not divide batch_size (64) (got {"),
    ("base: {optim.warmup_epochs: 10}", ["optim.epochs=4"],
     "--set: optim: Value error, warmup_epochs (10) exceeds epochs (4) (got {"),
    ("base: {predictor.kind: mlp}\nvariants: {a: {method.name: simclr}}\ngrid: {optim.base_lr: [0.1]}", [],
     "FILE: variants.a: Value error, method simclr has no predictor: set predictor.kind: none"),
    ("base: {projector.layers: 2}\nvariants: {a: {probe.layer: 3}}\ngrid: {optim.base_lr: [0.1]}", [],
     "FILE: variants.a: Value error, probe.layer (3) exceeds projector.layers (2)"),
    ("base: {method.name: byol, method.stop_gradient: false}\nvariants: {a: {method.tau_base: 0}}\n"
     "grid: {method.target_init: [copy]}", [],
     "FILE: variants.a: method: Value error, method.stop_gradient false needs method.tau_base 0 and "
     "method.tau_schedule constant"),
    ("base: {backbone.vit.patch_size: 5}\nvariants: {a: {backbone.name: vit}}\ngrid: {optim.base_lr: [0.1]}", [],
     "FILE: variants.a: Value error, data.image_size (16) is not a multiple of the ViT's patch_size (5)"),
])
def test_a_check_across_keys_blames_the_last_layer_that_set_one_of_them(tmp_path, body, overrides, message):
    assert refusal(tmp_path, body, overrides).startswith(message)


def test_a_seed_on_the_command_line_is_refused_as_in_the_study(tmp_path, capsys):
    line = refused(capsys, ["run", str(STUDIES / "simsiam_predictor.yaml"), "--set", "seed=3"], tmp_path)
    assert line == "harness: error: --set: seed: set seeds with the study's `seeds:` list"
    assert refusal(tmp_path, "base: {seed: 3}") == "FILE: base: seed: set seeds with the study's `seeds:` list"


def test_a_key_a_plugin_section_requires_blames_the_layer_that_names_the_method(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the study's folder goes on it
    monkeypatch.delitem(sys.modules, "required_key_method", raising=False)
    (tmp_path / "required_key_method.py").write_text(
        "from harness.methods.registry import Registration\n"
        "from harness.methods.sections import MethodSection\n"
        "class Section(MethodSection):\n    weight: float\n"
        "METHOD = Registration(Section, 'required_key_method:Nothing')\n")
    assert refusal(tmp_path, "base: {optim.epochs: 3}\nvariants: {a: {method.name: 'required_key_method:METHOD'}}") == (
        "FILE: variants.a: method.weight: Field required for method.name='required_key_method:METHOD'")
    monkeypatch.delitem(sys.modules, "required_key_method")


def test_expands_variants_grid_and_seeds(tmp_path):
    path = write(tmp_path, """
name: g
title: t
variants: {a: {}, b: {method.stop_gradient: false}}
grid: {optim.batch_size: [64, 128, 256]}
seeds: [0, 1]
""")
    study = load_study(path)
    assert len(study.runs) == 2 * 3 * 2
    assert len({r.run_id for r in study.runs}) == 12
    run = next(r for r in study.runs if r.variant == "b" and dict(r.point)["optim.batch_size"] == 128 and r.seed == 1)
    assert run.config.method.stop_gradient is False
    assert run.config.optim.batch_size == 128 and run.config.seed == 1


def test_layers_apply_in_order(tmp_path):
    path = write(tmp_path, """
name: g
title: t
base: {optim.epochs: 7, optim.base_lr: 0.1}
presets: {tiny: {optim.epochs: 9}}
variants: {a: {optim.base_lr: 0.3}}
""")
    run = load_study(path, overrides=parse_set(["optim.base_lr=0.5"])).runs[0]
    assert run.config.optim.epochs == 9  # study preset section beats base
    assert run.config.optim.base_lr == 0.5  # --set beats the variant
    assert run.config.data.dataset == "digits"  # the tiny preset


def test_run_ids_are_stable_across_loads():
    a = [r.run_id for r in load_study(STUDIES / "simsiam_predictor.yaml").runs]
    b = [r.run_id for r in load_study(STUDIES / "simsiam_predictor.yaml").runs]
    assert a == b


def test_unknown_preset_and_identical_variants(tmp_path):
    path = write(tmp_path, "name: s\ntitle: t\n")
    with pytest.raises(SpecError, match="unknown preset 'huge'"):
        load_study(path, preset="huge")
    twins = write(tmp_path, "name: s\ntitle: t\nvariants: {a: {}, b: {runtime.device: cpu}}\n", "twins.yaml")
    with pytest.raises(SpecError, match="resolve to the same config"):
        load_study(twins)


@pytest.mark.parametrize("study", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_study_plans_at_every_preset(study):
    for preset in ("tiny", "cifar10", "imagenet"):
        assert load_study(study, preset).runs


def test_a_grid_larger_than_the_limit_needs_yes(tmp_path, capsys):
    path = write(tmp_path, "name: big\ntitle: t\ngrid: {optim.epochs: [1, 2, 3, 4]}\n"
                 "variants: {a: {}, b: {optim.base_lr: 0.1}}\n")
    results = tmp_path / "results"
    assert main(["run", str(path), "--max-runs", "5", "--dry-run", "--results", str(results)]) == 2
    assert "expands to 8 runs" in capsys.readouterr().err
    assert main(["run", str(path), "--max-runs", "5", "--yes", "--dry-run", "--results", str(results)]) == 0
    assert not results.exists()


def test_rules_override_the_matching_runs_at_their_preset(tmp_path):
    path = write(tmp_path, """
name: g
title: t
variants: {a: {}, b: {optim.epochs: 9}}
grid: {optim.batch_size: [64, 1024]}
rules:
  - {when: {optim.batch_size: 1024}, set: {optim.warmup_epochs: 10}}
  - {when: {optim.batch_size: [1024], variant: b}, preset: tiny, set: {optim.warmup_epochs: 3}}
  - {when: {variant: a}, preset: imagenet, set: {optim.warmup_epochs: 7}}
""")
    warmup = {(r.variant, dict(r.point)["optim.batch_size"]): r.config.optim.warmup_epochs
              for r in load_study(path).runs}
    assert warmup == {("a", 64): 0, ("a", 1024): 10, ("b", 64): 0, ("b", 1024): 3}


@pytest.mark.parametrize("rule, message", [
    ("{when: {optim.epochs: 5}, set: {optim.warmup_epochs: 1}}", "rules[0].when: 'optim.epochs' is neither 'variant' nor a grid key"),
    ("{when: {optim.batch_size: 3}, set: {optim.warmup_epochs: 1}}", "rules[0].when: optim.batch_size=3 is not a value of the study"),
    ("{when: {variant: c}, set: {optim.warmup_epochs: 1}}", "rules[0].when: variant='c' is not a value of the study"),
    ("{when: {variant: a}, set: {optim.warmup: 1}}", "rules[0]: unknown key 'optim.warmup'"),
    ("{when: {variant: a}, preset: huge, set: {optim.epochs: 1}}", "rules[0].preset: unknown preset 'huge'"),
    ("{when: {variant: a}, set: {optim.warmup_epochs: 99}}", "warmup_epochs (99) exceeds epochs"),
])
def test_bad_rules_name_the_rule(tmp_path, rule, message):
    path = write(tmp_path, f"name: g\ntitle: t\nvariants: {{a: {{}}}}\ngrid: {{optim.batch_size: [64]}}\nrules: [{rule}]\n")
    with pytest.raises(SpecError) as err:
        load_study(path)
    assert message in str(err.value)


def test_seeds_from_the_command_line_keep_each_seeds_run_id():
    study = STUDIES / "simsiam_predictor.yaml"  # seeds [0, 1, 2]
    planned = {(r.variant, r.seed): r.run_id for r in load_study(study).runs}
    wider = load_study(study, seeds=[0, 1, 2, 3, 4])
    assert sorted({r.seed for r in wider.runs}) == [0, 1, 2, 3, 4] and len(wider.runs) == 20
    assert {(r.variant, r.seed): r.run_id for r in wider.runs if r.seed < 3} == planned
    listed = load_study(study, seeds=[4, 2])
    assert {(r.variant, r.seed): r.run_id for r in listed.runs} == {
        k: v for k, v in {(r.variant, r.seed): r.run_id for r in wider.runs}.items() if k[1] in (2, 4)}


def test_select_keeps_the_runs_of_the_named_variants_and_grid_values_with_their_ids():
    study = load_study(STUDIES / "simsiam_batch_size.yaml")  # one variant x 5 batch sizes at tiny x 3 seeds
    chosen = select(study, [], {"optim.batch_size": 256})
    assert [(r.seed, dict(r.point)) for r in chosen.runs] == [(s, {"optim.batch_size": 256}) for s in (0, 1, 2)]
    assert {r.run_id for r in chosen.runs} <= {r.run_id for r in study.runs}
    assert select(study, ["default"], {"optim.batch_size": 256.0}).runs == chosen.runs  # 256.0 is 256
    predictor = load_study(STUDIES / "simsiam_predictor.yaml")
    two = select(predictor, ["no_predictor", "fixed_random_predictor"], {})
    assert {r.variant for r in two.runs} == {"no_predictor", "fixed_random_predictor"} and len(two.runs) == 6


@pytest.mark.parametrize("only, where, message", [
    (["nope"], {}, "--only 'nope': not a variant of"),
    ([], {"optim.lr": 1}, "--where optim.lr: not a grid axis of"),
    ([], {"optim.batch_size": 2048}, "--where optim.batch_size=2048: not a value of that axis at preset tiny "
                                     "(its values: 64, 128, 256, 512, 1024)"),
])
def test_select_refuses_what_selects_nothing_naming_what_it_could_match(only, where, message):
    study = load_study(STUDIES / "simsiam_batch_size.yaml")
    with pytest.raises(SpecError, match=re.escape(message)):
        select(study, only, where)
