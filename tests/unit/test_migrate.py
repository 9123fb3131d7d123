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
from harness.columns import EPOCH_SECONDS, PROBE, PROBES
from harness.plan import load_study
from harness.run_id import SCHEMA_VERSION
from harness.stages import run_stage
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


def files(folder: Path, stages: bool = True) -> dict[str, bytes]:
    """Every file under `folder` by its relative path (without `stages`, none of its stages' files)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (stages or p.relative_to(folder).parts[0] != store.STAGES)}


def stage_summaries(folder: Path) -> list[dict]:
    return [store.read_json(p) for p in sorted((folder / store.STAGES).glob(f"*/{store.SUMMARY}"))]


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
    # SimSiam's linear probe is a done stage; the fine-tuning, measured otherwise since issue 25, is new.
    assert out.rstrip().endswith("2 done, 1 partial; evaluations: 1 done, 2 new")
    ids, root = new_ids(legacy), legacy.parent / "results" / "legacy"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted(ids.values())
    for variant, old in OLD_IDS.items():
        kept, was = files(root / ids[variant], stages=False), files(FIXTURE / "legacy" / old)
        assert kept.keys() == was.keys()
        assert all(kept[name] == was[name] for name in was if name not in (store.CONFIG, store.SUMMARY))
        record, old_record = (yaml.safe_load(f[store.CONFIG]) for f in (kept, was))
        assert record["run_id"] == ids[variant] and record["schema"] == SCHEMA_VERSION
        assert record["labels"] == old_record["labels"]
        if variant in DONE:
            summary, old_summary = (json.loads(f[store.SUMMARY]) for f in (kept, was))
            assert summary == {**old_summary, "run_id": ids[variant]}
            # The evaluation it ran at the end of its training: a done stage of it, read, not run again,
            # where its protocol is what it was (a fine-tuning is measured again: migrate.MEASURED_AS_BEFORE).
            planned = next(r for r in load_study(legacy).runs if r.variant == variant)
            if planned.config.probe.mode not in migrate.MEASURED_AS_BEFORE:
                assert not (root / ids[variant] / store.STAGES).exists()
                continue
            [stage] = stage_summaries(root / ids[variant])
            column = PROBE[planned.config.probe.mode]
            assert stage["stage_id"] == planned.evaluation.stage_id and stage["status"] == "done"
            assert stage["metrics"] == {column: old_summary["final"][column]} and stage["migrated_from"] == old
        else:
            assert not (root / ids[variant] / store.STAGES).exists()  # its probe never ran
    assert cli("status", legacy) == 0 and "renamed" not in capsys.readouterr().out  # once only


def test_the_report_reads_the_runs_written_then(legacy):
    assert cli("report", legacy) == 0
    md = (legacy.parent / "reports" / "legacy.md").read_text()
    assert md.count("| done") == 2 and md.count("| partial") == 1
    assert "70.4" in md  # SimSiam's knn_top1_k200 in the fixture's summary: 0.70444


def test_run_resumes_the_partial_run_alone(legacy, capsys):
    assert cli("status", legacy) == 0
    ids, root = new_ids(legacy), legacy.parent / "results" / "legacy"
    def pretrainings():  # byte for byte, but for the lock file a run takes to look at one
        return {variant: {k: v for k, v in files(root / ids[variant], stages=False).items() if k != store.LOCK}
                for variant in DONE}

    done = pretrainings()
    assert cli("run", legacy, "--quiet") == 0
    assert "legacy: training 1 of 3 runs (2 already finished)" in capsys.readouterr().out
    assert pretrainings() == done
    # The fine-tuning, measured otherwise since issue 25, is evaluated on the kept checkpoint, not retrained.
    [stage] = stage_summaries(root / ids["simclr_finetune"])
    assert stage["status"] == "done" and "migrated_from" not in stage
    byol = root / ids["byol"]
    assert store.run_state(byol) == store.RunState.DONE
    before = store.read_curves(FIXTURE / "legacy" / OLD_IDS["byol"] / store.CURVES)
    after = store.read_curves(byol / store.CURVES)
    assert after["epoch"].tolist() == [0, 1, 2]
    pd.testing.assert_frame_equal(after.iloc[:2][before.columns], before)  # epochs 0 and 1 kept, not retrained


def test_folders_that_differed_in_probe_keys_only_become_one_pretraining_and_lose_nothing(tmp_path, capsys):
    # Two runs of an older schema that differ in the probe's label fraction only: one pretraining now.
    # One folder is kept, the other moved whole into .same-pretraining/, and both evaluations are
    # stages of the kept one: nothing is trained or evaluated again.
    root = tmp_path / "results" / "legacy"
    shutil.copytree(FIXTURE / "legacy" / OLD_IDS["simsiam"], root / "aaaaaaaaaaaa")
    half = root / "bbbbbbbbbbbb"
    shutil.copytree(FIXTURE / "legacy" / OLD_IDS["simsiam"], half)
    record = yaml.safe_load((half / store.CONFIG).read_text())
    record["config"]["probe"]["label_fraction"] = 0.5
    record["labels"]["variant"] = "half"
    (half / store.CONFIG).write_text(yaml.safe_dump(record))
    summary = store.read_json(half / store.SUMMARY)
    store.write_json(half / store.SUMMARY, {**summary, "final": {**summary["final"], "linear_top1": 0.5}})
    before = files(half)
    study = tmp_path / "legacy_study.yaml"
    study.write_text(LEGACY_STUDY.read_text().split("variants:")[0]
                     + "variants:\n  simsiam: {}\n  half: {probe.label_fraction: 0.5}\nseeds: [0]\n")

    assert cli("status", study) == 0
    out = capsys.readouterr().out
    [pretraining] = {run.run_id for run in load_study(study).runs}
    assert "legacy: 1 run folders renamed to schema-3 run ids" in out
    assert (f"legacy: run folder bbbbbbbbbbbb holds the pretraining {pretraining} (half seed=0) that another folder "
            f"keeps, differing in evaluation keys only: moved to legacy/{store.SAME_PRETRAINING}/bbbbbbbbbbbb") in out
    assert out.rstrip().endswith("1 done; evaluations: 2 done")
    assert files(root / store.SAME_PRETRAINING / "bbbbbbbbbbbb") == before  # set aside whole, never deleted
    assert files(root / pretraining, stages=False).keys() == files(FIXTURE / "legacy" / OLD_IDS["simsiam"]).keys()
    metrics = {s["labels"]["variant"]: s["metrics"]["linear_top1"] for s in stage_summaries(root / pretraining)}
    assert metrics == {"simsiam": summary["final"]["linear_top1"], "half": 0.5}
    assert cli("run", study, "--dry-run") == 0
    assert "dry run: nothing written; 1 skip" in capsys.readouterr().out
