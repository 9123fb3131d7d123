"""The loop's new monitors and switches end to end on the tiny preset: per-step rows in
steps.parquet, the final linear probe, the accumulation caveat, and resume with an EMA target."""

import pandas as pd
import pytest

from harness import store
from harness.columns import DEFAULT_KNN_COLUMN, EPOCH_SECONDS, LINEAR
from harness.plan import Layer, resolve, stage_chain
from harness.presets import PRESETS
from harness.spec import flatten, parse_set
from harness.stages import run_stage
from harness.train import train

from conftest import FAST

BYOL = FAST + ["method.name=byol", "monitor.every_steps=2", "monitor.knn_every_steps=3"]


def config(extra):
    return resolve([Layer("preset tiny", flatten(PRESETS["tiny"])), Layer("--set", parse_set(extra))])


def test_steps_parquet_probe_and_summary(tmp_path):
    cfg = config(BYOL + ["optim.epochs=2"])
    summary = train(cfg, tmp_path)
    steps = store.read_curves(tmp_path / store.STEPS)
    per_epoch = summary["steps_per_epoch"]
    assert per_epoch == 5  # 1347 digits // 256
    logged = sorted(set(range(2, 2 * per_epoch + 1, 2)) | set(range(3, 2 * per_epoch + 1, 3)))
    assert steps["step"].tolist() == logged
    assert steps["epoch"].tolist() == [(s - 1) // per_epoch + 1 for s in logged]
    grads = steps.dropna(subset=["grad_norm_first"])
    assert grads["step"].tolist() == list(range(2, 11, 2))
    assert (grads["grad_norm_first"] > 0).all() and (grads["grad_norm_last"] > 0).all()
    assert steps.dropna(subset=[DEFAULT_KNN_COLUMN])["step"].tolist() == [3, 6, 9]
    curves = store.read_curves(tmp_path / store.CURVES)
    assert len(curves) == 3  # still one row per epoch (0, 1, 2)
    assert LINEAR not in curves and LINEAR not in summary["final"]  # the probe is a stage after the run
    stage = stage_chain(cfg, cfg.run_id())[-1]
    assert 0.1 < run_stage(cfg, stage, tmp_path)["metrics"][LINEAR] <= 1.0
    assert "notes" not in summary


def test_no_steps_file_when_per_step_monitors_are_off(tmp_path):
    train(config(FAST + ["optim.epochs=1", "probe.enabled=false"]), tmp_path)
    assert not (tmp_path / store.STEPS).exists()
    assert LINEAR not in store.read_curves(tmp_path / store.CURVES)


def test_accumulation_caveat_in_the_summary(tmp_path):
    summary = train(config(FAST + ["optim.epochs=1", "optim.micro_batch_size=64"]), tmp_path)
    assert summary["notes"] == [
        "gradients accumulated over 4 micro-batches of 64: BatchNorm statistics (and a contrastive loss's "
        "negatives) come from each micro-batch of 64, not from the batch of 256"
    ]


class Crash(Exception):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("method", ["byol", "mocov3"])
def test_resume_with_a_momentum_target_equals_an_uninterrupted_run(tmp_path, method):
    cfg = config(BYOL + [f"method.name={method}"])
    train(cfg, tmp_path / "full")

    def crash_at_2(row):
        if row["epoch"] == 2:
            raise Crash

    with pytest.raises(Crash):
        train(cfg, tmp_path / "crashed", on_epoch=crash_at_2)
    train(cfg, tmp_path / "crashed")
    for name in (store.CURVES, store.STEPS):
        a = store.read_curves(tmp_path / "full" / name).drop(columns=[EPOCH_SECONDS], errors="ignore")
        b = store.read_curves(tmp_path / "crashed" / name).drop(columns=[EPOCH_SECONDS], errors="ignore")
        pd.testing.assert_frame_equal(a, b)
