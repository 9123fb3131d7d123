"""The method section as a union on method.name, and per-preset grid values."""

import pytest

from harness.plan import load_study
from harness.report.schema import check_report
from harness.spec import SpecError, parse_set

from commandline import write


def test_each_method_has_its_own_keys(tmp_path):
    path = write(tmp_path, """
name: m
title: t
variants:
  byol: {method.name: byol, method.tau_base: 0.9}
  moco: {method.name: mocov3, method.momentum: 0.9, method.temperature: 0.5}
  simclr: {method.name: simclr, predictor.kind: none}
  simsiam: {method.stop_gradient: false}
""")
    runs = {r.variant: r.config for r in load_study(path).runs}
    assert runs["byol"].method.tau_base == 0.9 and runs["byol"].method.tau_schedule == "cosine"
    assert runs["moco"].method.momentum == 0.9 and runs["moco"].method.temperature == 0.5
    assert runs["simsiam"].method.name == "simsiam"  # a study that names no method gets SimSiam


@pytest.mark.parametrize("variant, message", [
    ("{method.tau_base: 0.9}", "variants.a: unknown key 'method.tau_base' for method.name='simsiam'"),
    ("{method.name: byol, method.similarity: cosine}", "unknown key 'method.similarity' for method.name='byol'"),
    ("{method.name: moco}", "variants.a: method.name: unknown method (known: simsiam, byol, simclr, mocov3; "
                            "or module.path:Name, or an entry point of harness.methods) (got 'moco')"),
    ("{method.name: simclr, predictor.kind: mlp}", "variants.a: Value error, method simclr has no predictor: set predictor.kind: none"),
    ("{method.name: byol, method.tau_base: 1.5}", "method.tau_base: Input should be less than or equal to 1"),
    ("{method.tau: 0.9}", "unknown key 'method.tau'"),
    ("{backbone.vit.patch_size: 5, backbone.name: vit}", "data.image_size (16) is not a multiple of the ViT's patch_size (5)"),
])
def test_method_and_cross_section_errors_name_the_key(tmp_path, variant, message):
    path = write(tmp_path, f"name: m\ntitle: t\nvariants:\n  a: {variant}\n")
    with pytest.raises(SpecError) as err:
        load_study(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_set_names_the_method_key(tmp_path):
    # A method's keys are its section's to check, knowing the method (a plug-in's are known only to it).
    assert parse_set(["method.momentum=0.9"]) == {"method.momentum": 0.9}
    path = write(tmp_path, "name: m\ntitle: t\nbase: {method.name: mocov3}\n")
    with pytest.raises(SpecError, match="--set: unknown key 'method.momentun' for method.name='mocov3' "
                                        r"\(did you mean 'momentum'\?\)"):
        load_study(path, overrides=parse_set(["method.momentun=0.9"]))


GRID = """
name: g
title: t
grid: {optim.batch_size: [64, 512, 4096]}
preset_grid: {tiny: {optim.batch_size: [64, 512]}}
report:
  rows: optim.batch_size
  claims:
    - {kind: no_collapse, run: default, where: {optim.batch_size: 64}, text: t}
"""


def test_preset_grid_replaces_an_axis_at_one_preset(tmp_path):
    path = write(tmp_path, GRID)
    sizes = lambda preset: [r.config.optim.batch_size for r in load_study(path, preset).runs]  # noqa: E731
    assert sizes("tiny") == [64, 512]
    assert sizes("cifar10") == [64, 512, 4096]
    assert load_study(path, "tiny").grid == {"optim.batch_size": [64, 512]}


@pytest.mark.parametrize("replace, message", [
    ("preset_grid: {tiny: {optim.batch_size: [64, 512]}}", None),
    ("preset_grid: {huge: {optim.batch_size: [64]}}", "preset_grid.huge: unknown preset"),
    ("preset_grid: {tiny: {optim.epochs: [1]}}", "preset_grid.tiny: 'optim.epochs' is not a grid axis"),
    ("preset_grid: {tiny: {optim.batch_size: []}}", "preset_grid.tiny: axis 'optim.batch_size' has no values"),
])
def test_preset_grid_errors(tmp_path, replace, message):
    path = write(tmp_path, GRID.replace("preset_grid: {tiny: {optim.batch_size: [64, 512]}}", replace))
    if message is None:
        assert load_study(path).runs
    else:
        with pytest.raises(SpecError, match=message.replace("[", r"\[")):
            load_study(path)


def test_claim_where_must_be_a_grid_value_at_the_chosen_preset(tmp_path):
    path = write(tmp_path, GRID.replace("where: {optim.batch_size: 64}", "where: {optim.batch_size: 4096}"))
    assert check_report(load_study(path, "cifar10"))
    with pytest.raises(SpecError, match="optim.batch_size=4096 is not a grid value"):
        check_report(load_study(path, "tiny"))
