"""Every study file plans at every scale, and trains: one epoch of one run for each, and a few
quick ones end to end (all runs, the report) at test size."""

import re
from pathlib import Path

import pytest

from harness import columns, store
from harness.cli import main
from harness.config import RunConfig
from harness.plan import load_study, stage_chain
from harness.spec import flatten, parse_set
from harness.store import RunState
from harness.stages import run_stage
from harness.train import train

from conftest import FAST, STUDIES

# FAST, plus what the new studies need to stay small: a one-block ViT, no warm-up, a short probe.
SMALL = FAST + [
    "optim.warmup_epochs=0",
    "backbone.vit.dim=16",
    "backbone.vit.depth=1",
    "backbone.vit.heads=2",
    "probe.epochs=10",  # the linear probe's; fine-tuning's: FINETUNE_EPOCHS (small_for)
]
FINETUNE_EPOCHS = "probe.epochs=2"
ALL = sorted(STUDIES.glob("*.yaml"))


def small(extra=()) -> list[str]:
    return [arg for item in SMALL + list(extra) for arg in ("--set", item)]


@pytest.mark.parametrize("study", ALL, ids=lambda p: p.stem)
def test_dry_run_plans_every_preset_and_writes_nothing(study, tmp_path, capsys):
    for preset in ("tiny", "cifar10", "imagenet"):
        assert main(["run", str(study), "--dry-run", "--preset", preset, "--results", str(tmp_path / "r"),
                     "--reports", str(tmp_path / "p"), "--no-data-check"]) == 0  # no CIFAR or ImageNet here
        out = capsys.readouterr().out
        assert f"preset {preset}" in out and "dry run: nothing written" in out
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()


def small_for(study: Path) -> list[str]:
    """SMALL without the keys the study's variants, grid and rules vary: overriding them would make its
    runs one config (SimSiam App. B's output dimension is projector.out_dim; simclr_distillation's
    wider teacher is a rule's backbone.width)."""
    planned = load_study(study)
    spec = planned.spec
    # A rule's warm-up stays overridden: it would not fit in the one epoch these tests train.
    ruled = {key for rule in spec.rules for key in flatten(rule.set)} - {"optim.warmup_epochs"}
    varied = {key for v in spec.variants.values() for key in flatten(v)} | set(spec.grid) | ruled
    finetune = planned.runs[0].config.probe.mode == "finetune"
    items = [FINETUNE_EPOCHS if finetune and item.startswith("probe.epochs=") else item for item in SMALL]
    return [item for item in items if item.split("=", 1)[0] not in varied]


@pytest.mark.parametrize("study", ALL, ids=lambda p: p.stem)
def test_one_epoch_of_the_first_run(study, tmp_path):
    # A study whose grid is the epochs (methods_compared) keeps them in the plan (--set would make its
    # points one config) and trains its first run for one epoch.
    by_epochs = "optim.epochs" in load_study(study).spec.grid
    planned = load_study(study, overrides=parse_set(small_for(study) + ([] if by_epochs else ["optim.epochs=1"]))).runs[0]
    config = planned.config
    if by_epochs:
        config = RunConfig.model_validate({**config.model_dump(), "optim": {**config.optim.model_dump(), "epochs": 1}})
    summary = train(config, tmp_path, planned.labels())
    assert summary["status"] == RunState.DONE and summary["epochs_completed"] == 1
    # Its evaluation, a stage after the ones it reads (if any), reads its last checkpoint.
    for stage in stage_chain(config, config.run_id()):
        evaluation = run_stage(config, stage, tmp_path, planned.labels())
    assert evaluation["metrics"][columns.PROBE[config.probe.mode]] is not None
    if planned.config.monitor.every_steps:
        assert (tmp_path / store.STEPS).exists()


@pytest.mark.parametrize("name", ["byol_tau", "mocov3_frozen_patch", "simclr_head_depth"])
def test_quick_studies_end_to_end(name, tmp_path, capsys):
    study = STUDIES / f"{name}.yaml"
    argv = ["run", str(study), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", *small(["optim.epochs=2"])]
    assert main(argv) == 0
    planned = load_study(study, overrides=parse_set(SMALL + ["optim.epochs=2"]))
    states = {store.run_state(store.run_dir(tmp_path / "results", name, r.run_id)) for r in planned.runs}
    assert states <= set(store.FINISHED)
    md = (tmp_path / "reports" / f"{name}.md").read_text()
    assert md.count("| done") + md.count("| diverged") >= len(planned.runs)
    # Every claim was read from the finished runs of every seed: none is inconclusive for want of runs
    # (at 2 epochs an interval may well straddle a claim's margin).
    claims = md.split("## Claims")[1].split("## Figures")[0]
    assert not re.search(r"not finished|no runs of|needed|has no ", claims)
