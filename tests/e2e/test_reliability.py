"""Nothing lost under corrupt files and concurrent runs; a corrupt file is never read as data."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from harness import checkpoint, store
from harness.cli import main
from harness.columns import EPOCH_SECONDS
from harness.launch.run_one import TAKEN, run_one
from harness.plan import load_study, pretrainings
from harness.spec import parse_set
from harness.store import RunState

from conftest import FAST, fast_overrides, unreadable_cifar


def run_study(study, tmp_path, *extra):
    return main(["run", str(study), "--results", str(tmp_path / "results"), "--reports",
                 str(tmp_path / "reports"), "--quiet", *fast_overrides(), *extra])


def first_dir(study, tmp_path):
    planned = load_study(study, overrides=parse_set(FAST)).runs[0]
    return store.run_dir(tmp_path / "results", "tiny_test", planned.run_id)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def curves(directory):
    return store.read_curves(directory / store.CURVES).drop(columns=[EPOCH_SECONDS])


@pytest.mark.parametrize("victim", [store.CURVES, store.SUMMARY])
def test_truncated_result_file_is_detected_and_repaired(tiny_study, tmp_path, victim, capsys):
    assert run_study(tiny_study, tmp_path) == 0
    directory = first_dir(tiny_study, tmp_path)
    before = curves(directory)
    truncate(directory / victim)
    assert store.run_state(directory) == RunState.CORRUPT

    # The report lists the run as corrupt and never reads the file.
    assert main(["report", str(tiny_study), "--results", str(tmp_path / "results"), "--reports",
                 str(tmp_path / "reports"), *fast_overrides()]) == 0
    assert re.search(r"\| corrupt \|", (tmp_path / "reports" / "tiny_test.md").read_text())

    with pytest.warns(store.CorruptFileWarning, match=re.escape(str(directory / victim))):
        assert run_study(tiny_study, tmp_path) == 0
    assert "trained 1 networks and ran 0 evaluations here" in capsys.readouterr().out
    assert store.run_state(directory) == RunState.DONE
    pd.testing.assert_frame_equal(curves(directory), before)  # resumed from the final checkpoint
    assert (directory / f"{victim}.corrupt").exists()


def test_truncated_checkpoint_resumes_from_the_previous_one(tiny_study, tmp_path):
    assert run_study(tiny_study, tmp_path) == 0
    directory = first_dir(tiny_study, tmp_path)
    before = curves(directory)
    (directory / store.SUMMARY).unlink()  # as if killed right after the last checkpoint
    truncate(directory / store.CHECKPOINT)
    with pytest.warns(store.CorruptFileWarning, match="checkpoint.pt is unreadable"):
        assert run_study(tiny_study, tmp_path) == 0
    assert store.run_state(directory) == RunState.DONE
    pd.testing.assert_frame_equal(curves(directory), before)


def test_a_run_finished_by_another_process_while_waiting_is_not_counted_as_trained_here(tiny_study, tmp_path):
    # The race behind the next test, made deterministic: this process planned the run as new, but by the
    # time it holds the run's lock another process has finished it.
    assert run_study(tiny_study, tmp_path) == 0
    directory = first_dir(tiny_study, tmp_path)
    before = curves(directory)
    planned = load_study(tiny_study, overrides=parse_set(FAST)).runs[0]
    outcome = run_one(pretrainings([planned])[0], directory)
    assert outcome.state == TAKEN and outcome.stages == {}  # its evaluation is done too
    pd.testing.assert_frame_equal(curves(directory), before)


def test_two_processes_on_one_study_run_each_run_once(tiny_study, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "harness", "run", str(tiny_study), "--results", str(tmp_path / "results"),
           "--reports", str(tmp_path / "reports"), "--quiet", *fast_overrides(), "--set", "optim.epochs=6"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ran = [int(m.group(1)) for out in outs for m in re.finditer(r"trained (\d+) networks", out)]
    assert sum(ran) == 2, outs  # two runs in the study, each trained by exactly one process
    study = load_study(tiny_study, overrides=parse_set(FAST + ["optim.epochs=6"]))
    for planned in study.runs:
        directory = store.run_dir(tmp_path / "results", study.name, planned.run_id)
        assert store.run_state(directory) == RunState.DONE
        assert curves(directory)["epoch"].tolist() == list(range(7))


def test_diverged_and_failed_runs_are_isolated_and_listed(tmp_path, capsys):
    study = tmp_path / "mixed.yaml"
    study.write_text(
        "name: mixed\ntitle: t\nvariants:\n  ok: {}\n  nan: {optim.base_lr: 1.0e+30}\n"
        "  broken: {data.dataset: cifar10, data.image_size: 32}\n"
    )
    assert run_study(study, tmp_path, "--data-root", str(unreadable_cifar(tmp_path / "cifar"))) == 3  # runs failed
    assert "mixed: 1 diverged, 1 done, 1 failed" in capsys.readouterr().out
    assert main(["status", str(study), "--results", str(tmp_path / "results"), *fast_overrides()]) == 0
    out = capsys.readouterr().out
    assert re.search(r"done\s+ok", out) and re.search(r"diverged\s+nan", out) and re.search(r"failed\s+broken", out)
    md = (tmp_path / "reports" / "mixed.md").read_text()
    for label, state in (("ok seed=0", "done"), ("nan seed=0", "diverged"), ("broken seed=0", "failed")):
        assert re.search(rf"\| {label} \| {state} \|", md), md
    loaded = load_study(study, overrides=parse_set(FAST))
    nan = next(r for r in loaded.runs if r.variant == "nan")
    summary = store.read_json(store.run_dir(tmp_path / "results", "mixed", nan.run_id) / store.SUMMARY)
    assert summary["diverged_at"]["step"] >= 0
    broken = next(r for r in loaded.runs if r.variant == "broken")
    error = (store.run_dir(tmp_path / "results", "mixed", broken.run_id) / store.ERROR).read_text()
    assert "runtime.data_root" in error and "Traceback" in error


def test_checkpoints_are_loaded_as_weights_only(tmp_path):
    import pickle

    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / store.CHECKPOINT
    path.write_bytes(b"")
    torch.save({"model": Payload()}, path, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError):
        checkpoint.load(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ".hidden", ""])
def test_study_names_cannot_leave_the_results_folder(tmp_path, name):
    from harness.spec import SpecError

    path = tmp_path / "s.yaml"
    path.write_text(f"name: {name!r}\ntitle: t\n")
    with pytest.raises(SpecError, match="name"):
        load_study(path)
