"""Results written under schema-1 run ids (harness/migrate.py), on the tree tests/fixtures/legacy_results
that main wrote at a509ef7 (tests/fixtures/make_legacy_results.py): found, reported and resumed
without retraining anything, and a fresh training of its runs gives the same curves."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness import migrate, store
from harness.cli import main
from harness.columns import EPOCH_SECONDS
from harness.plan import load_study
from harness.run_id import SCHEMA_VERSION
from harness.train import train

from commandline import refused
from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "legacy_results"
LEGACY_STUDY = ROOT / "tests" / "fixtures" / "legacy_study.yaml"
OLD_IDS = {"simsiam": "61bf1b25b0dc", "byol": "36c774c559d1", "simclr_finetune": "549e84067c2c"}
DONE = ("simsiam", "simclr_finetune")


@pytest.fixture
def legacy(tmp_path) -> Path:
    """A copy of the fixture's results under tmp_path/results, and the study in today's spelling (and
    with SimCLR's LARS as it then was: its recipe has since put the lr inside the momentum, issue 25)."""
    shutil.copytree(FIXTURE, tmp_path / "results")
    study = tmp_path / "legacy_study.yaml"
    text = LEGACY_STUDY.read_text().replace("probe.finetune_", "probe.")  # as the refusal says
    study.write_text(text.replace("    method.name: simclr\n", "    method.name: simclr\n    optim.classic_momentum: false\n"))
    return study


def cli(command: str, study: Path, *extra: str) -> int:
    results, reports = study.parent / "results", study.parent / "reports"
    return main([command, str(study), "--results", str(results), "--reports", str(reports), *extra])


def new_ids(study: Path) -> dict[str, str]:
    return {run.variant: run.run_id for run in load_study(study).runs}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def curves(path: Path) -> pd.DataFrame:
    return store.read_curves(path).drop(columns=[EPOCH_SECONDS])


def test_the_study_as_written_then_is_told_the_new_spelling(capsys, tmp_path):
    line = refused(capsys, ["status", str(LEGACY_STUDY)], tmp_path)
    assert "'probe.finetune_epochs' is now 'probe.epochs' (with probe.mode: finetune)" in line


def test_a_dry_run_says_what_would_be_renamed_and_writes_nothing(legacy, capsys):
    before = files(legacy.parent / "results")
    assert cli("run", legacy, "--dry-run") == 0
    out = capsys.readouterr().out
    ids = new_ids(legacy)
    assert f"legacy: 3 run folders would be renamed to schema-{SCHEMA_VERSION} run ids" in out
    for variant, old in OLD_IDS.items():
        assert f"  {old} -> {ids[variant]}  {variant} seed=0" in out
    # The plan shows each run as `run` will find it once its folder is renamed: none is new.
    assert "dry run: nothing written; 2 skip, 1 resume" in out
    assert f"  {ids['byol']}  resume " in out and f"  {ids['simsiam']}  skip (done) " in out
    assert files(legacy.parent / "results") == before and not (legacy.parent / "reports").exists()


def test_status_finds_two_done_and_one_partial_with_their_files_kept(legacy, capsys):
    assert cli("status", legacy) == 0
    out = capsys.readouterr().out
    assert f"legacy: 3 run folders renamed to schema-{SCHEMA_VERSION} run ids" in out
    assert out.rstrip().endswith("2 done, 1 partial")
    ids, root = new_ids(legacy), legacy.parent / "results" / "legacy"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted(ids.values())
    for variant, old in OLD_IDS.items():
        kept, was = files(root / ids[variant]), files(FIXTURE / "legacy" / old)
        assert kept.keys() == was.keys()
        assert all(kept[name] == was[name] for name in was if name not in (store.CONFIG, store.SUMMARY))
        record, old_record = (yaml.safe_load(f[store.CONFIG]) for f in (kept, was))
        assert record["run_id"] == ids[variant] and record["schema"] == SCHEMA_VERSION
        assert record["labels"] == old_record["labels"]
        if variant in DONE:
            summary, old_summary = (json.loads(f[store.SUMMARY]) for f in (kept, was))
            assert summary == {**old_summary, "run_id": ids[variant]}
    assert cli("status", legacy) == 0 and "renamed" not in capsys.readouterr().out  # once only


def test_the_report_reads_the_runs_written_then(legacy):
    assert cli("report", legacy) == 0
    md = (legacy.parent / "reports" / "legacy.md").read_text()
    assert md.count("| done") == 2 and md.count("| partial") == 1
    assert "70.4" in md  # SimSiam's knn_top1_k200 in the fixture's summary: 0.70444


def test_run_resumes_the_partial_run_alone(legacy, capsys):
    assert cli("status", legacy) == 0
    ids, root = new_ids(legacy), legacy.parent / "results" / "legacy"
    done = {variant: files(root / ids[variant]) for variant in DONE}
    assert cli("run", legacy, "--quiet") == 0
    assert "legacy: training 1 of 3 runs (2 already finished)" in capsys.readouterr().out
    assert {variant: files(root / ids[variant]) for variant in DONE} == done  # byte for byte
    byol = root / ids["byol"]
    assert store.run_state(byol) == store.RunState.DONE
    before = store.read_curves(FIXTURE / "legacy" / OLD_IDS["byol"] / store.CURVES)
    after = store.read_curves(byol / store.CURVES)
    assert after["epoch"].tolist() == [0, 1, 2]
    pd.testing.assert_frame_equal(after.iloc[:2][before.columns], before)  # epochs 0 and 1 kept, not retrained


# Issue 25 changed what every in-memory run trains (crop boxes, hue and jitter order as torchvision
# draws them; SimCLR's objective), not its keys: the fixture's curves, written at a509ef7, are no
# longer today's, and results written before it are trained again with `harness run --rerun done`.
# Strict: should the curves match again, the mark must go.
@pytest.mark.xfail(strict=True, reason="issue 25 changed the augmentation: the fixture's curves predate it")
@pytest.mark.parametrize("variant", DONE)
def test_a_fresh_training_gives_the_curves_written_then(legacy, tmp_path, variant):
    run = next(r for r in load_study(legacy).runs if r.variant == variant)
    summary = train(run.config, tmp_path / "fresh", run.labels())
    written = FIXTURE / "legacy" / OLD_IDS[variant]
    pd.testing.assert_frame_equal(curves(tmp_path / "fresh" / store.CURVES), curves(written / store.CURVES))
    assert summary["final"] == store.read_json(written / store.SUMMARY)["final"]


def test_a_folder_is_never_renamed_over_another_nor_one_that_matches_nothing(legacy, capsys):
    root, ids = legacy.parent / "results" / "legacy", new_ids(legacy)
    (root / ids["simsiam"]).mkdir()  # the planned run's folder, already there
    stray = root / "0123456789ab"
    stray.mkdir()
    (stray / store.CONFIG).write_text("run_id: 0123456789ab\nconfig: {seed: 7}\n")  # a run of no planned config
    assert cli("status", legacy) == 0
    out = capsys.readouterr().out
    assert f"legacy: 2 run folders renamed to schema-{SCHEMA_VERSION} run ids" in out
    assert (f"legacy: run folder {OLD_IDS['simsiam']} holds run {ids['simsiam']} (simsiam seed=0), whose folder "
            "exists: left as it is") in out
    assert files(root / OLD_IDS["simsiam"]) == files(FIXTURE / "legacy" / OLD_IDS["simsiam"])
    assert not any((root / ids["simsiam"]).iterdir()) and (stray / store.CONFIG).exists()


def test_the_schema_1_probe_reads_as_its_mode_section():
    config, _ = migrate.recorded_config(FIXTURE / "legacy" / OLD_IDS["simclr_finetune"])
    assert config.probe.model_dump() == {"mode": "finetune", "enabled": True, "layer": 1, "label_fraction": 1.0,
                                         "epochs": 2, "base_lr": 0.005, "batch_size": 64}
    linear, _ = migrate.recorded_config(FIXTURE / "legacy" / OLD_IDS["simsiam"])
    assert linear.probe.model_dump() == {"mode": "linear", "enabled": True, "layer": 0, "label_fraction": 1.0,
                                         "epochs": 5, "lr": 0.1, "batch_size": 256, "weight_decay": 0.0}


def test_a_job_record_follows_its_runs(legacy):
    root, ids = legacy.parent / "results" / "legacy", new_ids(legacy)
    packed = [OLD_IDS["simsiam"], OLD_IDS["byol"]]
    store.write_json(root / OLD_IDS["byol"] / store.JOB, {"run_id": OLD_IDS["byol"], "job_id": "7", "runs_in_job": packed})
    renames = migrate.migrate(load_study(legacy), legacy.parent / "results")
    assert sorted(r.new for r in renames if r.free) == sorted(ids.values())
    job = store.read_json(root / ids["byol"] / store.JOB)
    assert job == {"run_id": ids["byol"], "job_id": "7", "runs_in_job": [ids["simsiam"], ids["byol"]]}
