
import re

import pytest

from harness.cli import main
from harness.plan import load_study
from harness.report.schema import check_report
from harness.spec import SpecError, flatten, parse_seeds, parse_set

from commandline import write


def test_nested_mappings_are_flattened():
    assert flatten({"optim": {"epochs": 3}, "seed": 1}) == {"optim.epochs": 3, "seed": 1}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("variants: {a: {optim.bach_size: 3}}", "unknown key 'optim.bach_size' (did you mean 'optim.batch_size'?)"),
        ("variants: {a: {optim.batch_size: 0}}", "optim.batch_size: Input should be greater than 0"),
        ("variants: {a: {optim.base_lr: -0.1}}", "optim.base_lr: Input should be greater than 0"),
        ("variants: {a: {optim.epochs: many}}", "optim.epochs: Input should be a valid integer"),
        ("variants: {a: {predictor.kind: nope}}", "predictor.kind: Input should be 'mlp', 'none', 'fixed' or 'closed_form'"),
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


def test_yaml_is_loaded_safely(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\ntitle: t\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_study(path)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read study file"):
        load_study(tmp_path / "nope.yaml")


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


@pytest.mark.parametrize("text, seeds", [("5", [0, 1, 2, 3, 4]), ("0-3", [0, 1, 2, 3]), ("7-7", [7]),
                                         ("0,3,7", [0, 3, 7]), (" 2 , 9", [2, 9]), ("1", [0])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, message", [
    ("0", "a count of seeds is at least 1"), ("-1", "a count of seeds is at least 1"),
    ("5-2", "a range runs from its first seed up to its last"), ("x", "expected a count (5), a range (0-9)"),
    ("1-2-3", "expected a count"), ("0,0", "distinct non-negative"), ("0,-1", "distinct non-negative"),
    ("0-10000", "more than 10000 seeds"), ("99999999999999", "more than 10000 seeds"), ("", "expected a count"),
])
def test_parse_seeds_refuses(text, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_seeds(text)
