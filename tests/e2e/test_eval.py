"""`harness eval`: a study's evaluations on its finished pretrainings, with a new evaluation key from
--set, trains no network; the report shows the new evaluation."""

from harness import store
from harness.cli import main
from harness.launch import run_one
from harness.plan import load_study
from harness.spec import parse_set

from conftest import FAST

# A finished study: its small scale in its base, so that `eval --set` names evaluation keys alone.
STUDY = "name: tiny_test\ntitle: t\nvariants: {with_stop_gradient: {}}\nseeds: [0]\nbase:\n" + "".join(
    f"  {key}: {value}\n" for key, value in parse_set(FAST + ["optim.epochs=2"]).items())


def test_eval_with_a_new_label_fraction_trains_nothing_and_reports_it(tmp_path, capsys, monkeypatch):
    tiny_study = tmp_path / "tiny_test.yaml"
    tiny_study.write_text(STUDY)
    folders = ["--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"), "--quiet"]
    assert main(["run", str(tiny_study), *folders]) == 0
    results = tmp_path / "results" / "tiny_test"
    pretrained = sorted(p.name for p in results.iterdir() if not p.name.startswith("."))
    capsys.readouterr()

    def no_training(*args, **kwargs):
        raise AssertionError("harness eval trained a network")

    monkeypatch.setattr(run_one, "train", no_training)
    argv = ["eval", str(tiny_study), *folders, "--set", "probe.label_fraction=0.1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tiny_test: trained 0 networks and ran 1 evaluations here" in out
    assert sorted(p.name for p in results.iterdir() if not p.name.startswith(".")) == pretrained  # no new pretraining
    study = load_study(tiny_study, overrides=parse_set(["probe.label_fraction=0.1"]))
    md = (tmp_path / "reports" / "tiny_test.md").read_text()
    for planned in study.runs:
        stage = store.stage_dir(tmp_path / "results", study.name, planned.run_id, planned.evaluation.stage_id)
        summary = store.read_json(stage / store.SUMMARY)
        assert summary["status"] == "done" and summary["input_id"] == planned.run_id
        assert f"| `{planned.run_id}` | `{planned.evaluation.stage_id}` |" in md
        assert f"{100 * summary['metrics']['linear_top1']:.1f}" in md
    assert "0.1 of the train split's labels" in md  # the Evaluations section names its protocol
    assert main(argv) == 0 and "tiny_test: no evaluation to run (1 done; evaluations: 1 done)" in capsys.readouterr().out
