"""harness/recorded.py: `status` and `report` read a study whose plug-in method no longer imports from
its runs' records, matched at their labels on the keys the study sets; `run` refuses it in one line."""

import importlib
import sys

import pytest

from harness import plan, recorded, store
from harness.cli import main
from harness.run_id import SCHEMA_VERSION
from harness.spec import parse_set

from commandline import write
from conftest import FAST, fast_overrides
from report_trees import write_run

STUDY = """\
name: plug
title: t
base: {{method.name: "{module}:METHOD"}}
variants: {{a: {{}}, b: {{method.switch: true, method.stop_gradient: false}}}}
seeds: {seeds}
report:
  claims:
    - {{kind: no_collapse, run: a, min_seeds: 1, text: "a spreads"}}
"""

# SimSiam under another name, with a switch of its own and, if asked, a recipe under the study.
PLUGIN = """\
from harness.methods.registry import Registration
from harness.methods.sections import SimSiamMethod
from harness.recipes import Recipe

class Section(SimSiamMethod):
    name: str
    switch: bool = False

RECIPE = Recipe(paper="simsiam", common={{"optim.weight_decay": 0.001}}, scaled={{"tiny": {{"optim.base_lr": 0.07}}}})
METHOD = Registration(Section, "harness.methods.simsiam:SimSiam"{recipe})
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch, request):
    """A plug-in method module beside the study (named after the test: nothing of another test's is
    imported), and the study naming it; `unload()` makes it unimportable."""
    module = f"plugin_{request.node.name.split('[')[0]}"
    monkeypatch.setattr(sys, "path", list(sys.path))  # the study's folder goes on it
    source = tmp_path / f"{module}.py"
    source.write_text(PLUGIN.format(recipe=", RECIPE" if "recipe" in request.node.name else ""))

    class Plugin:
        def study(self, seeds="[0]"):
            return write(tmp_path, STUDY.format(module=module, seeds=seeds), "plug.yaml")

        def unload(self):
            source.unlink()
            sys.modules.pop(module, None)
            importlib.invalidate_caches()

    yield Plugin()
    sys.modules.pop(module, None)


def record(results, study, planned, **run):
    """The run's folder as run_one leaves it: config.yaml, curves and summary."""
    directory = write_run(results, study, planned, **run)
    store.write_yaml(directory / store.CONFIG, {"run_id": planned.run_id, "schema": SCHEMA_VERSION,
                                                "labels": planned.labels(),
                                                "config": planned.config.model_dump(mode="json")})
    return directory


def test_a_study_whose_plugin_is_gone_is_read_from_its_records(tmp_path, plugin):
    results = tmp_path / "results"
    study = plan.load_study(plugin.study())
    for planned in study.runs:
        record(results, study, planned)
    plugin.unload()
    with pytest.raises(plan.UnloadableMethod, match="cannot import method module"):
        plan.load_study(plugin.study())
    read = recorded.load_study(plugin.study(), results)
    assert [(r.run_id, r.label) for r in read.runs] == [(r.run_id, r.label) for r in study.runs]
    assert [r.config for r in read.runs] != [r.config for r in study.runs]  # a stand-in section...
    assert [r.config.method.model_dump() for r in read.runs] == [r.config.method.model_dump() for r in study.runs]
    assert read.note.startswith(f"2 of 2 runs read from their records in {results / 'plug'}, as the method does not load: ")


def test_records_match_on_the_keys_the_study_sets_with_the_plugins_recipe(tmp_path, plugin):
    results = tmp_path / "results"
    study = plan.load_study(plugin.study())
    assert study.runs[0].config.optim.base_lr == 0.07  # the recipe, unknown without the plug-in
    a, b = study.runs
    record(results, study, a)
    stale = plan.load_study(plugin.study(), overrides={"method.switch": True, "optim.epochs": 3})
    record(results, stale, stale.runs[1])  # b, with a key the study does not set any more
    plugin.unload()
    read = recorded.load_study(plugin.study(seeds="[0, 1]"), results)
    assert [(r.run_id, r.label) for r in read.runs] == [
        (a.run_id, "a seed=0"), ("unknown-2", "a seed=1"), ("unknown-3", "b seed=0"), ("unknown-4", "b seed=1")]
    assert read.runs[0].config.optim.base_lr == 0.07  # as recorded
    assert read.note.startswith("1 of 4 runs read from their records in ")
    assert "(3 not recorded there: new, their ids unknown until the method loads)" in read.note
    # A key the command line sets differently is another run; one outside the run id is not.
    assert recorded.load_study(plugin.study(), results, overrides={"optim.epochs": 3}).runs[0].run_id == "unknown-1"
    assert recorded.load_study(plugin.study(), results, overrides={"runtime.threads": 2}).runs[0].run_id == a.run_id
    with pytest.raises(plan.UnloadableMethod):  # a method no record names is refused as `run` refuses it
        recorded.load_study(plugin.study(), tmp_path / "elsewhere")


def test_of_two_records_of_a_run_the_latest_is_read(tmp_path, plugin):
    results = tmp_path / "results"
    study = plan.load_study(plugin.study())
    older = plan.load_study(plugin.study(), overrides={"method.similarity": "cross_entropy"})  # a default since changed
    first = record(results, older, older.runs[0])
    record(results, study, study.runs[0])
    plugin.unload()
    assert recorded.load_study(plugin.study(), results).runs[0].run_id == study.runs[0].run_id
    (first / store.CONFIG).touch()
    assert recorded.load_study(plugin.study(), results).runs[0].run_id == older.runs[0].run_id


@pytest.mark.slow  # trains two runs
def test_status_and_report_read_results_alone_and_run_refuses(tmp_path, plugin, capsys):
    path = plugin.study()
    folders = ["--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports")]
    assert main(["run", str(path), *folders, "--quiet", *fast_overrides()]) == 0
    study = plan.load_study(path, overrides=parse_set(FAST))
    report = tmp_path / "reports" / "plug.md"
    report.unlink()
    plugin.unload()
    capsys.readouterr()
    assert main(["status", str(path), *folders, *fast_overrides()]) == 0
    out = capsys.readouterr().out
    for planned in study.runs:
        assert f"  {planned.run_id}  done      {planned.label}" in out
    assert main(["report", str(path), *folders, *fast_overrides()]) == 0
    md = report.read_text()
    assert "*Runs:* 2 done." in md and all(f"`{r.run_id}`" in md for r in study.runs)
    assert "| a spreads | **reproduced** |" in md
    assert main(["run", str(path), *folders, *fast_overrides()]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cannot import method module" in err
    for planned in study.runs:  # nothing trained again, nothing touched
        assert store.run_state(store.run_dir(tmp_path / "results", "plug", planned.run_id)) == "done"
