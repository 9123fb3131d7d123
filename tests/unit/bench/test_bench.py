"""harness bench runs and reports every figure (how fast is the benchmark's business, not the tests')."""

import math
import re

import pytest
import torch

from harness import store
from harness.bench.monitors import knn_evaluations_per_epoch, time_knn, time_linear_probe
from harness.bench.orchestration import bench_orchestration, write_study
from harness.bench.reference import reference_batches, reference_loader
from harness.bench.workload import build_workload
from harness.cli import main
from harness.plan import load_study
from harness.spec import parse_set
from harness.store import RunState

from conftest import FAST, fast_overrides

RATIOS = ("pipeline / compute", "harness / reference", "monitors / epoch time")
SMALL_NETS = ["backbone.name=small_cnn", "backbone.width=4", "projector.hidden_dim=16", "projector.out_dim=16",
              "predictor.hidden_dim=8"]  # fmt: skip


def ratio(out: str, name: str) -> float:
    return float(re.search(rf"^{re.escape(name)}\s+([0-9.]+)", out, re.M).group(1))


@pytest.mark.slow
def test_bench_runs_on_the_tiny_workload(tiny_study, capsys):
    argv = ["bench", str(tiny_study), *fast_overrides(), "--set", "optim.batch_size=128", "--steps", "1",
            "--rounds", "2", "--workers", "1", "--profile", "30", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "bench: data" in out and "bench: step" in out  # the profile's two parts
    assert "device cpu" in out and "threads" in out and "batch 128 x 2 views of 16 px" in out
    assert "10 steps/epoch" in out and "2 rounds x 1 timed steps" in out
    for mode in ("(a) compute only", "(b) harness pipeline", "(d) reference pipeline"):
        images_per_second = float(re.search(rf"{re.escape(mode)}\s+([0-9.]+)", out).group(1))
        assert images_per_second > 0
    assert "output std" in out and "kNN" in out and "embeds 1347 + 450 images" in out
    assert "linear probe" in out and "once per run: features of 1347 + 450 images" in out
    for name in RATIOS:
        assert 0 < ratio(out, name) < math.inf
    assert ratio(out, "monitors / epoch time") < 1
    # then the study's first seed, trained end to end: its wall time, per run and for every seed
    whole = out.split("whole runs: ")[1]
    assert whole.startswith("tiny_test, preset tiny, the 2 runs of seed 0, --jobs ")
    assert re.search(r"s for the seed \([0-9.]+ s a run\); the study's 1 seeds: about \d+ s", whole)
    assert len(re.findall(r"epochs +[0-9.]+ s, the rest +[0-9.]+ s", whole)) == 2


@pytest.mark.slow
def test_bench_synthetic_cifar_shape_scales_the_knn(tiny_study, capsys):
    # The CIFAR-shaped workload's data and cadence with a network small enough for a test.
    # The frozen-feature probe (cifar10's recipe evaluates by the paper's linear evaluation, a stage
    # the bench does not time).
    sets = [a for s in SMALL_NETS + ["optim.batch_size=32", "probe.mode=linear"] for a in ("--set", s)]
    argv = ["bench", str(tiny_study), "--workload", "cifar", *sets, "--steps", "1", "--rounds", "1",
            "--workers", "0", "--monitor-images", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    # the command line's --set beats the workload's batch 256
    assert "batch 32 x 2 views of 32 px x 3 ch; small_cnn" in out
    assert "cifar10: 50000 train synthetic images, 1562 steps/epoch" in out
    assert "embeds 50000 + 10000 images (timed on 256 + 256, scaled)" in out
    assert "features of 50000 + 10000 images" in out
    assert "whole runs: not trained (--synthetic" in out
    for name in RATIOS:
        assert 0 < ratio(out, name) < math.inf


def test_synthetic_has_nothing_to_stand_in_for_the_digits(tiny_study, capsys):
    assert main(["bench", str(tiny_study), "--synthetic", "--quiet"]) == 2
    assert "the digits are built in: drop --synthetic" in capsys.readouterr().err


def test_a_non_finite_loss_is_one_line_and_the_diverged_status(tiny_study, capsys):
    # A raw FloatingPointError traceback and status 1 before.
    argv = ["bench", str(tiny_study), *fast_overrides(), "--set", "optim.base_lr=1e30", "--steps", "2",
            "--rounds", "1", "--workers", "0", "--quiet"]  # fmt: skip
    assert main(argv) == 4
    out, err = capsys.readouterr()
    assert err == (f"harness: error: {tiny_study}: run with_stop_gradient seed=0: the loss is not finite at benchmark "
                   "step 1, as `harness run` would find it (a diverged run): lower optim.base_lr (--set), or fix "
                   "the method's loss\n")
    assert out == ""


def test_bench_without_a_study(capsys):
    assert main(["bench"]) == 2
    assert "give a study file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--orchestration", "--runs", "50"])
    assert "argument --runs: 50 is not a positive multiple of 8" in capsys.readouterr().err


def test_knn_cadence_counts_init_and_the_last_epoch():
    config = load_study_config(["optim.epochs=60", "monitor.every_epochs=2"])
    assert knn_evaluations_per_epoch(config) == pytest.approx(31 / 60)  # 30 + init
    config = load_study_config(["optim.epochs=5", "monitor.every_epochs=2", "monitor.knn_at_init=false"])
    assert knn_evaluations_per_epoch(config) == pytest.approx(3 / 5)  # 2, 4 and the last


def load_study_config(sets, preset=None):
    from conftest import STUDIES

    return load_study(STUDIES / "simsiam_predictor.yaml", preset, parse_set(FAST + sets)).runs[0].config


def test_knn_timer_embeds_in_full_when_the_splits_fit():
    w = build_workload(load_study_config([]))
    cost = time_knn(w, cap=4096)
    assert cost.seconds.wall > 0 and cost.seconds.cpu > 0 and "scaled" not in cost.how


def test_linear_probe_timer_counts_one_probe_per_run_and_none_when_off():
    w = build_workload(load_study_config(["optim.epochs=40", "probe.epochs=20"]))
    cost = time_linear_probe(w, cap=4096, epochs=2)
    assert cost.per_epoch == pytest.approx(1 / 40) and cost.seconds.wall > 0
    assert "20 epochs of SGD (timed on 2, scaled)" in cost.how
    off = time_linear_probe(build_workload(load_study_config(["probe.enabled=false"])), cap=4096)
    assert off.per_epoch == 0 and off.seconds.wall == 0


def test_reference_pipeline_matches_the_harness_batches():
    w = build_workload(load_study_config([]))
    loader = reference_loader(w.data.splits["train"].images, w.data.augment, 64, w.n_views, 0, w.device)
    stream = reference_batches(loader, w.device)
    views = next(stream)
    stream.close()
    harness_views = next(w.batches())
    assert len(views) == len(harness_views) == 2
    assert views[0].shape == (64, *harness_views[0].shape[1:]) and views[0].dtype == harness_views[0].dtype
    # Both normalize with the same statistics: on the same images their means are alike.
    assert abs(views[0].mean().item() - harness_views[0].mean().item()) < 0.3
    assert not torch.equal(views[0], views[1])  # two independent views


def test_orchestration_bench_builds_what_it_says(tmp_path, capsys):
    assert len(load_study(write_study(tmp_path / "s.yaml", 48)).runs) == 48
    with pytest.raises(ValueError, match="multiple of 8"):
        write_study(tmp_path / "t.yaml", 50)
    result = bench_orchestration(runs=96, finished=24, repeats=2)
    assert result.runs == 96 and result.finished == 24
    assert len(result.plan_seconds) == len(result.status_read_seconds) == 2
    assert all(t > 0 for t in result.plan_seconds + result.status_load_seconds + result.status_read_seconds)
    assert main(["bench", "--orchestration", "--runs", "16", "--finished", "8"]) == 0
    out = capsys.readouterr().out
    assert "plan a 16-run study" in out and "status of 8 finished runs" in out


def test_finished_tree_reads_as_done(tmp_path):
    from harness.bench.orchestration import write_finished_tree
    from harness.launch.status import run_states

    study = load_study(write_study(tmp_path / "s.yaml", 16))
    write_finished_tree(study, tmp_path / "results")
    assert {state for _, state in run_states(study, tmp_path / "results")} == {RunState.DONE}
    curves = store.read_curves(store.run_dir(tmp_path / "results", study.name, study.runs[0].run_id) / store.CURVES)
    assert curves["epoch"].tolist() == list(range(61))
