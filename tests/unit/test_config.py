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


def test_a_distillation_reads_its_teacher_fine_tuned_on_its_own_labels_and_layer():
    from harness.config import Distill, FinetuneProbe, stage_inputs

    d = config(probe={"mode": "distill", "layer": 1, "label_fraction": 0.1, "teacher": {"epochs": 30}}).probe
    assert isinstance(d, Distill) and d.teacher == FinetuneProbe(layer=1, label_fraction=0.1, epochs=30)
    assert stage_inputs(d) == [d.teacher]
    assert stage_inputs(d.teacher) == [] and stage_inputs(config().probe) == []
    assert config(probe={"mode": "distill", "student": {"name": "small_cnn", "width": 8}}).probe.student.width == 8
    with pytest.raises(Exception, match="label_weight"):
        config(probe={"mode": "distill", "label_weight": 1.5})


def test_every_probe_mode_says_how_its_number_is_measured():
    from harness.config import PROBES

    for mode in PROBES:
        text = config(probe={"mode": mode, "label_fraction": 0.1}).probe.protocol()
        assert "0.1 of the train split" in text and "test split" in text, mode
    assert "main_lincls.py" in config(probe={"mode": "paper_linear"}).probe.protocol()
    assert "T=1" in config(probe={"mode": "distill"}).probe.protocol()


def test_a_distillation_s_teacher_cannot_read_other_labels_than_its_student(capsys, tmp_path, tiny_study):
    from commandline import refused

    line = refused(capsys, ["status", str(tiny_study), "--set", "probe.mode=distill", "--set", "probe.label_fraction=0.1",
                            "--set", "probe.teacher.label_fraction=0.5"], tmp_path)
    assert "teacher.label_fraction (0.5) is the distillation's own label_fraction (0.1)" in line
