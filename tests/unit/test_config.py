"""harness/config.py: each section's own checks, and those across sections."""

import pytest
from pydantic import ValidationError

from harness.errors import SpecError
from harness.plan import load_study

from commandline import study
from configs import config


def test_image_size_must_be_a_multiple_of_the_patch_size():
    with pytest.raises(ValueError, match="not a multiple of the ViT's patch_size"):
        config(backbone={"name": "vit", "vit": {"patch_size": 3, "dim": 8, "depth": 2, "heads": 2}})


def test_the_cifar_stem_is_for_a_registry_model(tmp_path):
    path = study(tmp_path, "base: {backbone.cifar_stem: true}")
    with pytest.raises(SpecError, match="backbone.cifar_stem is for a registry's ResNet"):
        load_study(path)


@pytest.mark.parametrize("method", [{"tau_base": 0.99}, {"tau_base": 0.0}, {"tau_base": 0.0, "tau_schedule": "cosine"}])
def test_stop_gradient_false_refused_unless_the_target_is_the_online_network(method):
    with pytest.raises(ValidationError, match="method.stop_gradient false needs method.tau_base 0 and "
                                              "method.tau_schedule constant"):
        config(method={"name": "byol", "stop_gradient": False, **method})


@pytest.mark.parametrize("method", ["simsiam", "mocov3"])
def test_closed_form_predictor_refused_for_methods_other_than_byol(method):
    with pytest.raises(ValidationError, match=f"predictor.kind closed_form is BYOL's .* method {method} takes"):
        config(method={"name": method}, predictor={"kind": "closed_form"})


def test_closed_form_predictor_refused_in_a_study_names_the_key(tmp_path):
    path = study(tmp_path, "base: {method.name: simsiam, predictor.kind: closed_form}")
    with pytest.raises(SpecError, match="predictor.kind"):
        load_study(path)
