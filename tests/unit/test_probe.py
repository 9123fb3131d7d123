"""The linear probe: the features it reads, the labeled subset, and the fit itself."""

import pytest
import torch

from harness.config import LinearProbe
from harness.methods.factory import build_method
from harness.probe import extract, fit_linear, labeled_subset

from configs import config, views


def test_features_from_the_backbone_or_a_projector_layer():
    torch.manual_seed(0)
    m = build_method(config(projector={"layers": 3, "hidden_dim": 12, "out_dim": 10}), 1)
    m.eval()
    x = views()[0]
    assert m.features(x, 0).shape == (8, 16)  # small_cnn width 4 -> 16 features
    assert m.features(x, 1).shape == (8, 12)  # after the first projector layer (Linear, BN, ReLU)
    assert (m.features(x, 1) >= 0).all()  # ... its ReLU included
    assert torch.equal(m.features(x, 3), m.projector(m.encoder(x)))  # the whole projector: z
    with pytest.raises(ValueError, match="probe.layer"):
        config(probe={"layer": 4}, projector={"layers": 3})


def test_extract_runs_in_eval_mode_and_restores_training():
    torch.manual_seed(0)
    m = build_method(config(), 1)
    m.train()
    batches = [(views()[0], torch.arange(8))]
    feats, labels = extract(m, batches, 0)
    assert m.training and feats.shape == (8, 16) and torch.equal(labels, torch.arange(8))
    m.eval()
    assert torch.equal(feats, m.encoder(views()[0]))  # eval-mode BN, as computed


def test_labeled_subset_is_class_balanced_and_fixed():
    labels = torch.arange(10).repeat_interleave(30)  # 10 classes x 30
    keep = labeled_subset(labels, 0.1)
    assert torch.bincount(labels[keep]).tolist() == [3] * 10
    assert torch.equal(keep, labeled_subset(labels, 0.1))
    assert torch.bincount(labels[labeled_subset(labels, 0.001)]).tolist() == [1] * 10  # one per class at least
    assert len(labeled_subset(labels, 1.0)) == 300


def test_fit_linear_separates_separable_classes_and_not_random_labels():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=g) * 3
    y = torch.arange(4).repeat(50)
    x = centers[y] + torch.randn(200, 16, generator=g)
    probe = LinearProbe(epochs=30, batch_size=64)
    assert fit_linear(x[:100], y[:100], x[100:], y[100:], 4, probe, seed=0) > 0.95
    noise = torch.randn(200, 16, generator=g)
    shuffled = torch.randint(0, 4, (200,), generator=g)
    assert fit_linear(noise[:100], shuffled[:100], noise[100:], shuffled[100:], 4, probe, seed=0) < 0.5
    # Deterministic for a seed.
    assert fit_linear(x[:100], y[:100], x[100:], y[100:], 4, probe, 3) == fit_linear(x[:100], y[:100], x[100:], y[100:], 4, probe, 3)
