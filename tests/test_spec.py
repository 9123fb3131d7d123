from pathlib import Path

import pytest

from harness.cli import main
from harness.config import RunConfig
from harness.plan import load_study
from harness.report.schema import check_report
from harness.spec import SpecError, flatten, parse_set

from conftest import STUDIES


def write(tmp_path, text, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


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


def test_nested_mappings_are_flattened():
    assert flatten({"optim": {"epochs": 3}, "seed": 1}) == {"optim.epochs": 3, "seed": 1}


def test_run_id_ignores_runtime_but_not_results():
    base = RunConfig()
    assert base.run_id() == base.model_copy(update={"runtime": base.runtime.model_copy(update={"device": "cuda"})}).run_id()
    assert base.run_id() != base.model_copy(update={"seed": 1}).run_id()


def test_run_ids_are_stable_across_loads():
    a = [r.run_id for r in load_study(STUDIES / "simsiam_predictor.yaml").runs]
    b = [r.run_id for r in load_study(STUDIES / "simsiam_predictor.yaml").runs]
    assert a == b


@pytest.mark.parametrize(
    "body, expected",
    [
        ("variants: {a: {optim.bach_size: 3}}", "unknown key 'optim.bach_size' (did you mean 'optim.batch_size'?)"),
        ("variants: {a: {optim.batch_size: 0}}", "optim.batch_size: Input should be greater than 0"),
        ("variants: {a: {optim.base_lr: -0.1}}", "optim.base_lr: Input should be greater than 0"),
        ("variants: {a: {optim.epochs: many}}", "optim.epochs: Input should be a valid integer"),
        ("variants: {a: {predictor.kind: nope}}", "predictor.kind: Input should be 'mlp', 'none' or 'fixed'"),
        ("variants: {a: {method.stop_gradient: maybe}}", "method.stop_gradient"),
        ("grid: {optim.batch_size: []}", "grid"),
        ("seeds: [1, 1]", "seeds"),
        ("colour: red", "unknown key 'colour'"),
    ],
)
def test_bad_specs_exit_2_naming_file_and_key(tmp_path, capsys, body, expected):
    path = write(tmp_path, f"name: bad\ntitle: t\n{body}\n")
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err and expected in err, err
    assert not results.exists()


def test_variant_layer_is_named_in_the_error(tmp_path):
    path = write(tmp_path, "name: bad\ntitle: t\nvariants: {ok: {}, broken: {optim.batch_size: -3}}\n")
    with pytest.raises(SpecError, match=r"variants.broken: optim.batch_size"):
        load_study(path)


def test_unknown_preset_and_identical_variants(tmp_path):
    path = write(tmp_path, "name: s\ntitle: t\n")
    with pytest.raises(SpecError, match="unknown preset 'huge'"):
        load_study(path, preset="huge")
    twins = write(tmp_path, "name: s\ntitle: t\nvariants: {a: {}, b: {runtime.device: cpu}}\n", "twins.yaml")
    with pytest.raises(SpecError, match="resolve to the same config"):
        load_study(twins)


def test_yaml_is_loaded_safely(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\ntitle: t\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_study(path)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read study file"):
        load_study(tmp_path / "nope.yaml")


def test_dry_run_writes_nothing(tmp_path, capsys):
    results = tmp_path / "results"
    reports = tmp_path / "reports"
    argv = ["run", str(STUDIES / "simsiam_predictor.yaml"), "--dry-run", "--results", str(results),
            "--reports", str(reports)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "12 runs" in out and "no_predictor" in out and "new" in out  # 4 rows x 3 seeds
    assert not results.exists() and not reports.exists()


@pytest.mark.parametrize("study", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_study_plans_at_every_preset(study):
    for preset in ("tiny", "cifar10", "imagenet"):
        assert load_study(study, preset).runs


def test_exponent_floats_read_as_numbers(tmp_path):
    # PyYAML alone reads 1e-6 as a string; learning rates and weight decays are written that way.
    path = write(tmp_path, "name: s\ntitle: t\nvariants: {a: {optim.weight_decay: 1e-6}}\n")
    assert load_study(path).runs[0].config.optim.weight_decay == 1e-6
    assert parse_set(["optim.base_lr=3e-2"]) == {"optim.base_lr": 0.03}


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, "name: s\ntitle: t\nvariants:\n  a: {}\n  b: {}\n  a: {seed: 2}\n")
    with pytest.raises(SpecError, match=r"duplicate key 'a' \(line 6\)"):
        load_study(path)


def test_unknown_study_key_suggests_the_near_miss(tmp_path):
    path = write(tmp_path, "name: s\ntitle: t\nvariant: {a: {}}\n")
    with pytest.raises(SpecError, match=r"unknown key 'variant' \(did you mean 'variants'\?\)"):
        load_study(path)
    path = write(tmp_path, "name: s\ntitle: t\nreport: {clams: []}\n")
    with pytest.raises(SpecError, match=r"unknown key 'report.clams' \(did you mean 'claims'\?\)"):
        check_report(load_study(path))  # the report's section checks itself, once the study is planned


def test_a_grid_larger_than_the_limit_needs_yes(tmp_path, capsys):
    path = write(tmp_path, "name: big\ntitle: t\ngrid: {optim.epochs: [1, 2, 3, 4]}\n"
                 "variants: {a: {}, b: {optim.base_lr: 0.1}}\n")
    results = tmp_path / "results"
    assert main(["run", str(path), "--max-runs", "5", "--dry-run", "--results", str(results)]) == 2
    assert "expands to 8 runs" in capsys.readouterr().err
    assert main(["run", str(path), "--max-runs", "5", "--yes", "--dry-run", "--results", str(results)]) == 0
    assert not results.exists()


@pytest.mark.parametrize("where", ["base: {seed: 3}", "variants: {a: {seed: 3}}", "grid: {seed: [1, 2]}"])
def test_seed_outside_seeds_is_refused(tmp_path, where):
    with pytest.raises(SpecError, match="seeds:"):
        load_study(write(tmp_path, f"name: s\ntitle: t\n{where}\n"))


def test_errors_stay_one_line_whatever_the_values_hold(tmp_path):
    # Found by the property test: a grid value with a newline made a two-line message.
    path = write(tmp_path, 'name: s\ntitle: t\ngrid: {predictor.kind: ["a\\nb"]}\n')
    with pytest.raises(SpecError) as err:
        load_study(path)
    assert "\n" not in str(err.value) and "predictor.kind" in str(err.value)


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
