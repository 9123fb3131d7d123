"""The paper's linear evaluation (harness/paper_linear.py) and each method's official values, as planned."""

import pytest
import torch

from harness.config import PaperLinear
from harness.paper_linear import classifier, paper_linear
from harness.plan import Layer, resolve

from quadrants import method, stage_config

# Each method's official linear evaluation, cited from its file (recipes.py cites the lines).
OFFICIAL = {
    # facebookresearch/simsiam main_lincls.py with --lars (README): LARS, batch 4096, lr 0.1 x B/256, 90 epochs
    "simsiam": dict(optimizer="lars", nesterov=False, momentum=0.9, base_lr=0.1, batch_size=4096, epochs=90,
                    weight_decay=0.0, classifier_init="normal", decay="epoch", crop_min_scale=0.08, flip=True),
    # facebookresearch/moco-v3 main_lincls.py, ViT (CONFIG.md --lr=3): SGD, batch 1024, 90 epochs, wd 0
    "mocov3": dict(optimizer="sgd", nesterov=False, momentum=0.9, base_lr=3.0, batch_size=1024, epochs=90,
                   weight_decay=0.0, classifier_init="normal", decay="epoch", crop_min_scale=0.08, flip=True),
    # deepmind-research byol/configs/eval.py: Nesterov SGD 0.9, 80 epochs, lr 0.2 x B/256; batch 1024 (App. C.1)
    "byol": dict(optimizer="sgd", nesterov=True, momentum=0.9, base_lr=0.2, batch_size=1024, epochs=80,
                 weight_decay=0.0, classifier_init="truncated_normal", decay="step", crop_min_scale=0.08, flip=True),
    # google-research/simclr README: --optimizer=momentum --learning_rate=0.1 --weight_decay=1e-6
    # --train_epochs=90 --train_batch_size=4096 --zero_init_logits_layer=True
    "simclr": dict(optimizer="sgd", nesterov=True, momentum=0.9, base_lr=0.1, batch_size=4096, epochs=90,
                   weight_decay=1e-6, classifier_init="zeros", decay="step", crop_min_scale=0.08, flip=True),
}


@pytest.mark.parametrize("name", OFFICIAL)
def test_each_method_plans_its_official_linear_evaluation_at_imagenet_and_cifar10(name):
    for preset in ("imagenet", "cifar10"):
        probe = resolve([Layer("study", {"method.name": name})], preset).probe
        assert probe.mode == "paper_linear"
        assert {key: getattr(probe, key) for key in OFFICIAL[name]} == OFFICIAL[name]
    # At tiny the frozen-feature probe stays, so tiny results stay as they were.
    assert resolve([Layer("study", {"method.name": name})], "tiny").probe.mode == "linear"


def test_a_study_key_wins_over_the_recipe_and_another_mode_drops_its_values():
    probe = resolve([Layer("study", {"method.name": "byol", "probe.epochs": 5})], "imagenet").probe
    assert probe.epochs == 5 and probe.base_lr == 0.2
    assert resolve([Layer("study", {"method.name": "simclr", "probe.mode": "finetune"})], "imagenet").probe.mode == "finetune"


def test_the_classifier_starts_as_the_official_code_inits_it():
    assert torch.count_nonzero(classifier(16, 3, "zeros", 0, "cpu").weight) == 0
    normal = classifier(512, 100, "normal", 0, "cpu")
    assert normal.weight.std().item() == pytest.approx(0.01, rel=0.05) and torch.count_nonzero(normal.bias) == 0
    cut = classifier(100, 50, "truncated_normal", 0, "cpu").weight
    assert cut.abs().max() <= 2 / 10 and cut.std().item() == pytest.approx(0.088, rel=0.1)  # 1/sqrt(100) cut at 2 std


@pytest.mark.slow
def test_the_encoder_stays_frozen_in_eval_mode_and_only_the_classifier_learns():
    m = method()
    m.train()
    m.encoder[0].weight.requires_grad_(False)  # a weight frozen before (MoCo v3's patch projection) stays so
    before = {k: v.clone() for k, v in m.state_dict().items()}
    cfg = stage_config(mode="paper_linear", epochs=2, batch_size=64, base_lr=4.0, crop_min_scale=0.5)
    top1, network = paper_linear(m, cfg, seed=0)
    assert 0 <= top1 <= 1 and m.training
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())  # weights and BN statistics
    assert not m.encoder[0].weight.requires_grad and all(p.requires_grad for p in m.projector.parameters())
    assert torch.count_nonzero(network[1].weight) > 0 and isinstance(cfg.probe, PaperLinear)


STUDY_OF = {"simsiam": "simsiam_predictor", "mocov3": "mocov3_lr", "byol": "byol_tau", "simclr": "simclr_head_depth"}


def test_the_dry_run_at_imagenet_shows_each_method_s_official_linear_evaluation(tmp_path, capsys):
    import json

    from harness.cli import main

    from configs import write_tree
    from conftest import ROOT

    write_tree(tmp_path)
    for name, study in STUDY_OF.items():
        # The pretraining's batch fits the 12 images of the tree (the preflight counts them); the probe's is its own.
        assert main(["run", str(ROOT / "studies" / f"{study}.yaml"), "--preset", "imagenet", "--dry-run", "--json",
                     "--data-root", str(tmp_path), "--set", "optim.batch_size=4"]) == 0
        runs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert runs and all(run["config"]["method"]["name"] == name for run in runs)
        for run in runs:
            probe = run["config"]["probe"]
            assert probe["mode"] == "paper_linear" and {k: probe[k] for k in OFFICIAL[name]} == OFFICIAL[name], study
