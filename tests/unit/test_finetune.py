"""Fine-tuning (harness/finetune.py): a copy of the encoder and the kept head layers, trained end to
end with a new classifier on the labeled subset, as SimCLR v2 evaluates."""

import pytest
import torch

from harness.config import FinetuneProbe, LinearProbe
from harness.finetune import finetune, finetune_network
from harness.probe import labeled_subset, linear_probe
from harness.run_id import stage_id

from commandline import refused
from configs import config
from quadrants import CLASSES, data, method

PROBE = FinetuneProbe(epochs=3, batch_size=16, base_lr=0.05)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_finetuning_trains_a_copy_and_leaves_the_run_untouched():
    m = method()
    m.train()
    before = snapshot(m)
    finetune(m, data(), PROBE, seed=0)
    assert m.training  # its mode as it was
    after = snapshot(m)
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics


def test_the_copy_and_the_kept_head_layer_are_trained(monkeypatch):
    m, d = method(), data()
    network = finetune_network(m, 1, CLASSES, next(d.eval_batches("test"))[0][:2])
    body, classifier = network
    assert classifier.in_features == 12  # the first projector layer's width
    assert torch.count_nonzero(classifier.weight) == 0  # zero init (tf2 zero_init_logits_layer)
    # Fine-tune from layer 1, keep the network it trained, and see every part of it move.
    from harness import finetune as ft

    trained = {}

    def keep(*args):
        trained["net"] = finetune_network(*args)
        return trained["net"]

    monkeypatch.setattr(ft, "finetune_network", keep)
    ft.finetune(m, d, PROBE.model_copy(update={"layer": 1}), seed=0)
    (encoder, head), classifier = trained["net"][0], trained["net"][1]
    assert len(head) > 0 and not torch.equal(head[0].weight, m.projector[0].weight)  # the kept head layer
    assert not torch.equal(next(encoder.parameters()), next(m.encoder.parameters()))  # the encoder copy
    assert torch.count_nonzero(classifier.weight) > 0


def test_finetuning_is_deterministic_for_a_seed_and_differs_from_the_linear_probe():
    d = data()
    first = finetune(method(), d, PROBE, seed=3)
    assert first == finetune(method(), d, PROBE, seed=3)
    linear = linear_probe(method(), d, LinearProbe(epochs=3, batch_size=16), seed=3)
    # Fine-tuning learns the quadrants from a random network; the frozen random features' probe differs.
    assert first > 0.5 and first != linear  # chance is 0.25


def test_label_fraction_is_honoured():
    d, seen = data(), []
    labeled_batches = d.labeled_batches

    def record(indices, batch_size, generator):
        seen.append(indices.clone())
        return labeled_batches(indices, batch_size, generator)

    d.labeled_batches = record
    finetune(method(), d, PROBE.model_copy(update={"label_fraction": 0.25, "epochs": 1}), seed=0)
    # One epoch of round(16 / 16) step reads a whole pass over the subset; the +1 step runs on.
    assert torch.equal(torch.sort(seen[0]).values, labeled_subset(d.train_labels(), 0.25))
    assert torch.bincount(d.train_labels()[seen[0]]).tolist() == [4] * CLASSES  # 25% of 16 per class
    # Fewer labels, another result: the fraction reaches the training.
    fewer = finetune(method(), d, PROBE.model_copy(update={"label_fraction": 0.125}), seed=0)
    assert fewer != finetune(method(), d, PROBE, seed=0)


def test_labeled_batches_crop_and_flip_only_and_cover_the_subset():
    d = data()
    indices = labeled_subset(d.train_labels(), 0.5)
    batches = list(d.labeled_batches(indices, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == len(indices) // 8
    labels = torch.cat([y for _, y in batches])
    assert sorted(labels.tolist()) == sorted(d.train_labels()[indices].tolist())
    assert d.labeled_augment.recipe.jitter_p == 0 and d.labeled_augment.recipe.gray_p == 0
    assert d.labeled_augment.recipe.crop_min_scale == d.augment.recipe.crop_min_scale


def test_mode_is_validated_and_enters_the_stage_id():
    with pytest.raises(Exception, match="probe.mode|mode"):
        config(probe={"mode": "fine"})
    linear, tuned = config(), config(probe={"mode": "finetune"})
    assert linear.run_id() == tuned.run_id()  # one pretraining, two evaluations of it
    assert stage_id(linear.run_id(), linear.probe) != stage_id(tuned.run_id(), tuned.probe)
    default = config(probe={"mode": "linear"})
    assert stage_id(linear.run_id(), linear.probe) == stage_id(default.run_id(), default.probe)  # the default's tag


def test_each_mode_takes_its_own_keys(capsys, tmp_path, tiny_study):
    def refusal(*sets):
        return refused(capsys, ["status", str(tiny_study), *(a for s in sets for a in ("--set", s))], tmp_path)

    assert refusal("probe.finetune_epochs=2") == ("harness: error: --set: 'probe.finetune_epochs' is now "
                                                  "'probe.epochs' (with probe.mode: finetune)")
    assert "--set: unknown key 'probe.lr' for probe.mode='finetune'" in refusal("probe.mode=finetune", "probe.lr=0.2")
    assert config(probe={"mode": "finetune", "epochs": 7}).probe == FinetuneProbe(epochs=7)


def test_lars_leaves_a_group_with_adapt_false_to_plain_sgd():
    from harness.lars import LARS

    w = torch.nn.Parameter(torch.ones(2, 2))
    adapted = torch.nn.Parameter(torch.ones(2, 2))
    optimizer = LARS([{"params": [w], "adapt": False}, {"params": [adapted]}], lr=0.1, momentum=0.0)
    w.grad, adapted.grad = torch.full((2, 2), 2.0), torch.full((2, 2), 2.0)
    optimizer.step()
    assert torch.allclose(w, torch.full((2, 2), 1 - 0.1 * 2.0))  # no trust ratio
    assert torch.allclose(adapted, torch.full((2, 2), 1 - 0.1 * 0.001))  # eta * ||w|| / ||g|| * g


def test_imagefolder_labeled_batches_are_seeded_and_labeled(tmp_path):
    from harness.data import build_data

    from configs import folder_config, write_tree

    write_tree(tmp_path)
    pipe = build_data(folder_config(tmp_path), 2, torch.device("cpu"))
    assert pipe.train_labels().tolist() == [0] * 4 + [1] * 4 + [2] * 4
    indices = torch.tensor([0, 4, 8, 9])

    def batches(seed):
        return list(pipe.labeled_batches(indices, 2, torch.Generator().manual_seed(seed)))

    first = batches(0)
    assert [x.shape for x, _ in first] == [(2, 3, 24, 24)] * 2
    assert sorted(torch.cat([y for _, y in first]).tolist()) == [0, 1, 2, 2]
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(first, batches(0)))


def official_train_steps(num_examples, train_epochs, train_batch_size, train_steps=0):
    """google-research/simclr tf2/model.py get_train_steps, transcribed."""
    return train_steps or (num_examples * train_epochs // train_batch_size + 1)


@pytest.mark.slow
def test_finetuning_runs_the_official_step_count(monkeypatch):
    from harness import finetune as ft
    from harness.finetune import finetune_steps

    for n, epochs, batch in [(12811, 60, 1024), (135, 30, 64), (16, 1, 16), (1347, 30, 1024)]:
        assert finetune_steps(n, epochs, batch) == official_train_steps(n, epochs, batch)
    steps = []
    cosine = ft.cosine
    monkeypatch.setattr(ft, "cosine", lambda peak, total: steps.append(total) or cosine(peak, total))
    calls = []
    loss = torch.nn.functional.cross_entropy
    monkeypatch.setattr(ft.F, "cross_entropy", lambda *a: calls.append(1) or loss(*a))
    finetune(method(), data(), PROBE.model_copy(update={"label_fraction": 0.5, "epochs": 2}), seed=0)
    assert steps == [32 * 2 // 16 + 1] and len(calls) == 5  # 5 steps, where epochs x floor(N/B) gave 4
