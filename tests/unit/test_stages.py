"""harness/stages.py and the stage path of harness/launch/run_one.py: a study whose runs differ in
evaluation keys only trains one pretraining and evaluates it twice; a stage killed and resumed ends as
one never killed; a failed evaluation leaves its pretraining done and is retried alone."""

import shutil

import pytest

from harness import stages, store
from harness.launch import run_one as run_one_module
from harness.launch.run_one import TAKEN, run_one
from harness.plan import load_study, pretrainings
from harness.spec import parse_set
from harness.store import RunState
from harness.train import Interrupted

from conftest import FAST

TWO_EVALUATIONS = """\
name: two
title: "One pretraining, two evaluations"
variants:
  all_labels: {}
  half_the_labels: {probe.label_fraction: 0.5}
seeds: [0]
"""


def plan(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO_EVALUATIONS)
    return load_study(path, overrides=parse_set(FAST + ["optim.epochs=2", "probe.epochs=5"]))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The study's one pretraining, trained, and its two evaluations run, counting train() calls."""
    tmp = tmp_path_factory.mktemp("finished")
    study = plan(tmp)
    [unit] = pretrainings(study.runs)
    calls = []
    real = run_one_module.train
    try:
        run_one_module.train = lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs)
        outcome = run_one(unit, store.run_dir(tmp / "results", study.name, unit.run_id))
    finally:
        run_one_module.train = real
    return study, unit, tmp / "results", outcome, calls


def copy_of(finished, tmp_path):
    study, unit, results, _, _ = finished
    shutil.copytree(results, tmp_path / "results")
    return study, unit, store.run_dir(tmp_path / "results", study.name, unit.run_id)


@pytest.mark.slow  # trains a run
def test_runs_that_differ_in_evaluation_keys_only_train_one_network(finished):
    study, unit, results, outcome, calls = finished
    assert len(study.runs) == 2 and len(calls) == 1 and [unit.run_id] == [r.run_id for r in study.runs][:1]
    assert outcome.state == RunState.DONE and set(outcome.stages.values()) == {RunState.DONE}
    directory = store.run_dir(results, study.name, unit.run_id)
    assert sorted(p.name for p in (results / study.name).iterdir()) == [unit.run_id]
    summaries = [store.read_json(directory / store.STAGES / r.evaluation.stage_id / store.SUMMARY) for r in study.runs]
    assert [s["input_id"] for s in summaries] == [unit.run_id] * 2
    assert [s["labels"]["variant"] for s in summaries] == ["all_labels", "half_the_labels"]
    assert all(s["status"] == "done" and 0 < s["metrics"]["linear_top1"] <= 1 and s["protocol"] for s in summaries)
    assert "linear_top1" not in store.read_json(directory / store.SUMMARY)["final"]  # the pretraining has none
    assert (directory / store.CHECKPOINT).exists()  # what the stages read: kept


def without_stage(finished, tmp_path, run: int):
    """A copy of the finished study with the evaluation stage of its run `run` removed: (study, the
    pretraining, its folder, the stage, the stage's folder)."""
    study, unit, directory = copy_of(finished, tmp_path)
    stage = study.runs[run].evaluation
    folder = directory / store.STAGES / stage.stage_id
    shutil.rmtree(folder)
    return study, unit, directory, stage, folder


@pytest.mark.slow
def test_a_stage_killed_and_resumed_ends_as_one_never_killed(finished, tmp_path, monkeypatch):
    study, unit, directory, stage, folder = without_stage(finished, tmp_path, 1)
    real, calls = stages.evaluate, []

    def killed_once(inp):  # an evaluation stopped after its first epoch's checkpoint
        calls.append(inp.directory)
        if len(calls) == 1:
            store.atomic_write_bytes(inp.directory / store.CHECKPOINT, b"epoch 1")
            raise Interrupted(1)
        assert (inp.directory / store.CHECKPOINT).exists()  # resumed from it, in the same folder
        return real(inp)

    monkeypatch.setattr(stages, "evaluate", killed_once)
    with pytest.raises(Interrupted):
        run_one(unit, directory)
    assert store.stage_state(folder) == RunState.PARTIAL and store.run_state(directory) == RunState.DONE
    outcome = run_one(unit, directory)
    assert outcome.state == TAKEN and outcome.stages == {stage.stage_id: RunState.DONE}  # the network: not again
    assert calls == [folder, folder]
    resumed = store.read_json(folder / store.SUMMARY)
    never_killed = store.read_json(store.run_dir(finished[2], study.name, unit.run_id) / store.STAGES
                                   / stage.stage_id / store.SUMMARY)
    assert resumed["metrics"] == never_killed["metrics"]


@pytest.mark.slow
def test_a_failed_evaluation_leaves_its_pretraining_done_and_is_retried_alone(finished, tmp_path, monkeypatch):
    study, unit, directory, stage, folder = without_stage(finished, tmp_path, 0)
    pretraining = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}

    def broken(inp):
        raise RuntimeError("the evaluation broke")

    monkeypatch.setattr(stages, "evaluate", broken)
    outcome = run_one(unit, directory)
    assert outcome.state == TAKEN and outcome.stages == {stage.stage_id: RunState.FAILED}
    assert store.stage_state(folder) == RunState.FAILED and "the evaluation broke" in (folder / store.ERROR).read_text()
    assert store.run_state(directory) == RunState.DONE
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} == pretraining
    monkeypatch.undo()
    assert run_one(unit, directory).stages == {stage.stage_id: RunState.DONE}
    assert not (folder / store.ERROR).exists()
