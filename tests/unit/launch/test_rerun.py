"""harness/launch/rerun.py: `harness run --rerun STATE|VARIANT` sets the selected runs' folders aside
(never deletes them) so that they train anew; its bad values are refused in one line; --dry-run
says what it would set aside and writes nothing."""

import pytest

from harness import store
from harness.cli import main
from harness.launch import rerun
from harness.launch.status import RunStatus
from harness.plan import load_study, pretrainings
from harness.spec import parse_set
from harness.store import RunState

from commandline import refused
from conftest import FAST, fast_overrides
from report_trees import write_run


def tree(paths):
    return sorted(str(p.relative_to(paths)) for p in paths.rglob("*"))


@pytest.mark.parametrize("value, named", [("bogus", "'bogus'"), ("running", "'running'"), ("diverged,", "''")])
def test_a_value_neither_a_state_nor_a_variant_is_refused_in_one_line(tiny_study, tmp_path, capsys, value, named):
    line = refused(capsys, ["run", str(tiny_study), "--rerun", value], tmp_path)
    assert line == (f"harness: error: --rerun {named}: neither a state to rerun (done, diverged, failed, partial, "
                    f"corrupt) nor a variant of {tiny_study} ['with_stop_gradient', 'without_stop_gradient']")


def test_states_and_variants_select_that_variants_runs_in_those_states(tiny_study):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    a, b = pretrainings(study.runs)  # with_stop_gradient, without_stop_gradient
    statuses = [RunStatus(a, RunState.DIVERGED), RunStatus(b, RunState.DIVERGED)]
    chosen = rerun.selection(["diverged"], study)
    assert [chosen.takes(s) for s in statuses] == [True, True]
    chosen = rerun.selection(["failed,without_stop_gradient"], study)
    assert [chosen.takes(s) for s in statuses] == [False, False]
    chosen = rerun.selection(["without_stop_gradient"], study)  # a variant alone: its runs that have results
    assert [chosen.takes(s) for s in statuses] == [False, True]
    assert not chosen.takes(RunStatus(b, RunState.RUNNING)) and not chosen.takes(RunStatus(b, RunState.NEW))
    assert rerun.selection([], study) is None


def test_set_aside_moves_the_folder_whole_and_leaves_a_run_another_process_holds(tiny_study, tmp_path):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    directory = write_run(tmp_path / "results", study, study.runs[0], status="diverged")
    files = [".lock", *tree(directory)]  # the lock file, once the run has been claimed
    folder = rerun.aside(tmp_path / "results", study.name)
    assert folder.parent == tmp_path / "results" and folder.name.startswith("tiny_test.rerun-")
    with store.run_lock(directory):  # held by "another process": an flock of another open file
        assert rerun.set_aside(directory, folder) is None
    assert tree(directory) == files
    assert rerun.set_aside(directory, folder) == folder / directory.name
    assert not directory.exists() and tree(folder / directory.name) == files
    assert rerun.aside(tmp_path / "results", study.name) != folder  # the next command's is another


def test_dry_run_says_what_it_would_set_aside_and_writes_nothing(tiny_study, tmp_path, capsys):
    study = load_study(tiny_study, overrides=parse_set(FAST))
    results = tmp_path / "results"
    write_run(results, study, study.runs[0], status="done")
    write_run(results, study, study.runs[1], status="diverged")
    before = tree(results)
    argv = ["run", str(tiny_study), "--results", str(results), "--reports", str(tmp_path / "reports"), "--dry-run",
            *fast_overrides()]
    assert main([*argv, "--rerun", "diverged"]) == 0
    out = capsys.readouterr().out
    assert f"tiny_test: --rerun would set 1 runs aside in {results}/tiny_test.rerun-" in out
    assert f"  {study.runs[1].run_id}  diverged  without_stop_gradient seed=0" in out
    assert "rerun (diverged) without_stop_gradient seed=0" in out and "skip (done)" in out
    assert "dry run: nothing written; 1 skip, 1 rerun" in out
    assert tree(results) == before and not (tmp_path / "reports").exists()
