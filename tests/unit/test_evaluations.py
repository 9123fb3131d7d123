"""The evaluation stages' interface (harness/evaluations.py): one entry per probe.mode, each result in
its mode's column, the network a later stage reads, resumable in the stage's folder."""

import pytest
import torch

from harness import columns, config as config_module
from harness.evaluations import EVALUATIONS, StageInput, evaluate
from harness.interrupted import Interrupted

from quadrants import data, method, stage_config


def stage(tmp_path, teacher=None, should_stop=None, **probe):
    return StageInput(stage_config(**probe), method(), data(), teacher, tmp_path, should_stop)


def test_every_probe_mode_has_its_evaluation():
    assert set(EVALUATIONS) == set(config_module.PROBES) == set(columns.PROBE)


@pytest.mark.slow
def test_a_linear_probe_stage_and_a_finetuning_stage_give_their_column_and_network(tmp_path):
    linear = evaluate(stage(tmp_path / "l", mode="linear", epochs=3))
    assert set(linear.metrics) == {columns.LINEAR} and linear.network is None
    tuned = evaluate(stage(tmp_path / "f", mode="finetune", epochs=2, batch_size=16, base_lr=0.05))
    assert set(tuned.metrics) == {columns.FINETUNE} and isinstance(tuned.network, torch.nn.Sequential)
    student = evaluate(stage(tmp_path / "d", teacher=tuned.network, mode="distill", epochs=1, batch_size=16))
    assert set(student.metrics) == {columns.DISTILL} and student.network is not tuned.network


@pytest.mark.slow
def test_a_finetuning_stage_killed_after_an_epoch_resumes_to_the_same_result(tmp_path):
    keys = dict(mode="finetune", epochs=2, batch_size=16, base_lr=0.05)
    whole = evaluate(stage(tmp_path / "whole", **keys))
    with pytest.raises(Interrupted):
        evaluate(stage(tmp_path / "killed", should_stop=lambda: True, **keys))
    assert evaluate(stage(tmp_path / "killed", **keys)).metrics == whole.metrics


def test_a_distillation_without_its_teacher_is_refused(tmp_path):
    with pytest.raises(ValueError, match="teacher"):
        evaluate(stage(tmp_path, mode="distill"))
