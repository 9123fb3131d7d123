"""Distillation (harness/distill.py): SimCLR v2 Eq. 2-3, a student from scratch against a fine-tuned teacher."""

import math

import pytest
import torch

from harness.distill import distill, distillation_loss
from harness.finetune import finetuned
from harness.interrupted import Interrupted
from harness.config import FinetuneProbe

from quadrants import data, method, stage_config


def test_distillation_loss_is_the_cross_entropy_of_the_softened_predictions_by_hand():
    student, teacher, t = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0, 2.0, 0.0]]), 2.0
    # teacher / T = (0, 1, 0): p = (1, e, 1) / (2 + e); student / T = (0.5, 0, -0.5)
    p = [1 / (2 + math.e), math.e / (2 + math.e), 1 / (2 + math.e)]
    z = math.log(math.exp(0.5) + 1 + math.exp(-0.5))
    log_q = [0.5 - z, 0 - z, -0.5 - z]
    expected = -sum(pi * qi for pi, qi in zip(p, log_q))
    assert distillation_loss(student, teacher, t).item() == pytest.approx(expected, rel=1e-6)
    # A batch is the mean of its rows; at the teacher's own logits the loss is the teacher's entropy.
    both = distillation_loss(torch.cat([student, teacher]), torch.cat([teacher, teacher]), t)
    entropy = -sum(pi * math.log(pi) for pi in p)
    assert both.item() == pytest.approx((expected + entropy) / 2, rel=1e-6)


def run_config(**probe):
    return stage_config(**{"mode": "distill", "epochs": 3, "batch_size": 16, "base_lr": 10.0, **probe})  # LARS: lr 0.6 at batch 16


def teacher(d):
    return finetuned(method(), d, FinetuneProbe(epochs=3, batch_size=16, base_lr=0.05), seed=0)[1]


@pytest.mark.slow
def test_a_distillation_killed_after_an_epoch_and_resumed_ends_as_one_never_killed(tmp_path):
    d = data()
    t = teacher(d)
    cfg = run_config(label_weight=0.5, label_fraction=0.25)
    whole, student = distill(t, d, cfg, seed=1, directory=tmp_path / "whole")
    with pytest.raises(Interrupted) as stopped:
        distill(t, d, cfg, seed=1, directory=tmp_path / "killed", should_stop=lambda: True)
    assert stopped.value.epoch == 1
    resumed, again = distill(t, d, cfg, seed=1, directory=tmp_path / "killed")
    assert resumed == whole
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), again.state_dict().values()))


@pytest.mark.slow
def test_the_student_learns_from_the_teacher_alone_and_the_weight_reaches_the_loss():
    d = data()
    t = teacher(d)
    only, _ = distill(t, d, run_config(epochs=10), seed=0)
    assert only > 0.5  # chance is 0.25: the teacher's predictions taught it, no label read
    with_labels, _ = distill(t, d, run_config(epochs=10, label_weight=0.5), seed=0)
    assert with_labels != only


def test_the_student_is_the_named_backbone_trained_from_scratch():
    d = data()
    _, student = distill(teacher(d), d, run_config(student={"name": "small_cnn", "width": 4}, epochs=1), seed=0)
    assert student[0][0].out_channels == 4  # small_cnn's first conv has `width` channels


@pytest.mark.parametrize("preset", ["tiny", "cifar10", "imagenet"])
def test_in_the_distillation_study_every_student_s_teacher_is_the_teacher_row(preset):
    from harness.config import Distill
    from harness.plan import load_study

    from conftest import ROOT

    runs = load_study(ROOT / "studies" / "simclr_distillation.yaml", preset=preset).runs

    def pretraining(run):
        return run.config.model_copy(update={"probe": FinetuneProbe()})

    teachers = {(pretraining(r), r.config.probe) for r in runs if r.config.probe.mode == "finetune"}
    students = [r for r in runs if isinstance(r.config.probe, Distill)]
    assert len(students) == 12 * (2 if preset != "tiny" else 1)
    assert all((pretraining(r), r.config.probe.teacher) in teachers for r in students)
