"""harness/plan.py: a run's config from its layers. Its method is decided once (the last layer that
names one), its recipe goes under the study's layers, every key is checked where the run's value
comes from, and the first error of validating the config names the layer that set its key."""

import pytest

from harness.plan import Layer, load_study, resolve
from harness.spec import SpecError

from test_spec import write


def refusal(tmp_path, body: str) -> str:
    path = write(tmp_path, "name: m\ntitle: t\n" + body)
    with pytest.raises(SpecError) as err:
        load_study(path)
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
