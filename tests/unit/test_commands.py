"""harness/commands.py: what each verb does with a study, its exit status and its dry run."""

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.plan import load_study

from commandline import refused, run
from conftest import STUDIES, fast_overrides, unreadable_cifar


def test_dry_run_writes_nothing(tmp_path, capsys):
    results = tmp_path / "results"
    reports = tmp_path / "reports"
    argv = ["run", str(STUDIES / "simsiam_predictor.yaml"), "--dry-run", "--results", str(results),
            "--reports", str(reports)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "12 runs" in out and "no_predictor" in out and "new" in out  # 4 rows x 3 seeds
    assert not results.exists() and not reports.exists()


def test_dry_run_prints_the_plan_then_what_would_stop_the_run(tmp_path, capsys):
    argv = ["run", str(STUDIES / "simsiam_stopgrad.yaml"), "--dry-run", "--preset", "cifar10",
            "--results", str(tmp_path / "r"), "--reports", str(tmp_path / "p")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    runs = len(load_study(STUDIES / "simsiam_stopgrad.yaml", "cifar10").runs)  # the study's seeds change
    assert f"{runs} runs" in out and f"dry run: nothing written; {runs} new" in out
    assert err == "harness: error: dataset cifar10 needs a data folder: pass --data-root (runtime.data_root)\n"
    assert main([*argv, "--no-data-check"]) == 0  # planning a cluster's study on a laptop
    assert main([*argv, "--data-root", str(unreadable_cifar(tmp_path / "c"))]) == 0
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()


def test_dry_run_json_prints_each_runs_resolved_config(tmp_path, capsys):
    assert main(["run", str(STUDIES / "byol_tau.yaml"), "--dry-run", "--json", "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    planned = load_study(STUDIES / "byol_tau.yaml").runs
    assert len(lines) == len(planned)
    for line, planned_run in zip(lines, planned):
        obj = json.loads(line)
        assert obj["run_id"] == planned_run.run_id and obj["labels"] == planned_run.labels() and obj["state"] == "new"
        assert obj["config"] == planned_run.config.model_dump(mode="json")
    assert not list(Path(tmp_path).iterdir())  # nothing written


def test_simclr_finetune_pretrains_6_networks_and_evaluates_them_24_times(tmp_path, capsys):
    # Its pretraining varies in head depth and seed alone: each fine-tuning is a stage of one of 6.
    argv = ["run", str(STUDIES / "simclr_finetune.yaml"), "--dry-run", "--results", str(tmp_path)]
    assert main(argv) == 0
    assert "24 runs: 6 pretrainings, 24 evaluations" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(runs) == 24 and len({run["run_id"] for run in runs}) == 6
    evaluations = {run["stages"][-1]["stage_id"]: run for run in runs}
    assert len(evaluations) == 24 and all(run["stages"][-1]["mode"] == "finetune" for run in runs)
    assert all(run["stages"][-1]["input_id"] == run["run_id"] and run["state"] == "new" for run in runs)
    assert not list(Path(tmp_path).iterdir())


def test_eval_refuses_a_key_that_would_make_a_new_pretraining(tmp_path, capsys, tiny_study):
    line = refused(capsys, ["eval", str(tiny_study), "--set", "probe.label_fraction=0.1", "--set", "optim.epochs=3"],
                   tmp_path)
    assert line == ("harness: error: --set optim.epochs: not an evaluation key (probe.*): it would be a new "
                    "pretraining; `harness run` trains those")


def test_eval_trains_no_pretraining_that_is_not_finished(tmp_path, capsys, tiny_study, monkeypatch):
    from harness.launch import run_one

    monkeypatch.setattr(run_one, "train", lambda *args, **kwargs: pytest.fail("eval trained a network"))
    argv = ["eval", str(tiny_study), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tiny_test: 2 of 2 runs not trained (pretraining 2 new): not evaluated; `harness run` trains them" in out
    assert "tiny_test: no evaluation to run (2 new; evaluations: 2 new)" in out
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]


@pytest.mark.slow
def test_the_exit_status_says_whether_runs_failed_or_diverged(tmp_path, capsys):
    # Issue 14: a study in which every run failed exited 0; a script calling `harness run` could not tell.
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ntitle: t\nbase: {data.dataset: cifar10, data.image_size: 32}\n"
                      "variants: {a: {}, b: {optim.base_lr: 0.1}}\n")
    data = ["--data-root", str(unreadable_cifar(tmp_path / "cifar"))]  # found by the preflight, unreadable by the runs
    assert run(broken, tmp_path, *data) == 3
    out = capsys.readouterr().out
    assert "broken: 2 failed" in out and "report: " in out  # the report is still written
    assert f"broken: 2 failed; after a fix, `harness run {broken} --rerun failed` (with this command's" in out
    assert (tmp_path / "reports" / "broken.md").exists()
    assert run(broken, tmp_path, *data) == 3  # retried, failed again

    diverges = tmp_path / "diverges.yaml"
    diverges.write_text("name: diverges\ntitle: t\nbase: {optim.base_lr: 1.0e+30}\n")
    assert run(diverges, tmp_path) == 4
    assert f"diverges: 1 diverged; after a fix, `harness run {diverges} --rerun diverged`" in capsys.readouterr().out
    assert run(diverges, tmp_path) == 4  # not retried: the study's state is the same
    assert main(["status", str(diverges), "--results", str(tmp_path / "results"), *fast_overrides()]) == 0


def test_the_exit_statuses_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "3  run, or --wait: runs failed" in out and "4  run, or --wait: runs diverged" in out
    assert "bench: the\n     measured run's loss is not finite" in out
    assert "130  interrupted by SIGINT (143: by SIGTERM)" in out


def test_dry_run_shows_what_only_where_and_seeds_select(tmp_path, capsys):
    argv = ["run", str(STUDIES / "simsiam_predictor.yaml"), "--dry-run", "--results", str(tmp_path / "r"),
            "--only", "no_predictor,fixed_random_predictor", "--seeds", "3-4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    ids = {(r.variant, r.seed): r.run_id for r in load_study(STUDIES / "simsiam_predictor.yaml", seeds=[3, 4]).runs}
    assert "4 runs (of 8, by --only/--where)" in out and "dry run: nothing written; 4 new" in out
    for variant in ("no_predictor", "fixed_random_predictor"):
        for seed in (3, 4):
            assert f"  {ids[variant, seed]}  new              {variant} seed={seed}\n" in out
    assert "baseline" not in out and not (tmp_path / "r").exists()
    batch = ["run", str(STUDIES / "simsiam_batch_size.yaml"), "--dry-run", "--results", str(tmp_path / "r")]
    assert main([*batch, "--where", "optim.batch_size=128", "--seeds", "2"]) == 0
    assert "2 runs (of 10, by --only/--where)" in capsys.readouterr().out


@pytest.mark.parametrize("verb", ["run", "status", "report"])
@pytest.mark.parametrize("extra, message", [
    (["--only", "baseline_lr_cosine,nope"], "--only 'nope': not a variant of"),
    (["--where", "optim.batch_size=64"], "--where optim.batch_size: not a grid axis of"),
    (["--where", "optim.batch_size"], "--where 'optim.batch_size': expected a grid axis and one of its values"),
    (["--seeds", "3-1"], "--seeds '3-1': a range runs from its first seed up to its last"),
])
def test_a_filter_or_seeds_that_select_nothing_are_refused(tmp_path, capsys, verb, extra, message):
    line = refused(capsys, [verb, str(STUDIES / "simsiam_predictor.yaml"), *extra], tmp_path)
    assert message in line
