"""The example under examples/: a method from an outside package (examples/variance_simsiam), ablated
by its own study with the report's verdicts, as any built-in study; and the plug-in's bad input."""

from harness import store
from harness.cli import main
from harness.plan import load_study
from harness.spec import parse_set

from commandline import refused
from conftest import FAST, ROOT, fast_overrides

EXAMPLE = ROOT / "examples" / "variance_simsiam.yaml"
METHOD = "variance_simsiam:METHOD"


def test_the_example_study_runs_end_to_end_with_its_verdicts(tmp_path, capsys):
    argv = ["run", str(EXAMPLE), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", *fast_overrides()]
    assert main(argv) == 0
    study = load_study(EXAMPLE, overrides=parse_set(FAST))
    assert len(study.runs) == 12 and {r.seed for r in study.runs} == {0, 1, 2}
    assert {r.config.method.variance for r in study.runs} == {True, False}
    for planned in study.runs:
        assert store.run_state(store.run_dir(tmp_path / "results", study.name, planned.run_id)) == "done"
    md = (tmp_path / "reports" / "variance_simsiam.md").read_text()
    assert "the variance term keeps kNN accuracy" in md
    assert any(verdict in md for verdict in ("reproduced", "not reproduced", "inconclusive"))
    assert main(argv) == 0 and "nothing to train" in capsys.readouterr().out


def test_the_plugin_section_is_typed(tmp_path):
    study = load_study(EXAMPLE, overrides={"method.variance_weight": 2.0})
    method = study.runs[0].config.method
    assert type(method).__name__ == "VarianceSimSiamSection" and method.variance_weight == 2.0
    assert method.stop_gradient is True and method.loss == "symmetric"  # the shared switches
    # The section is part of the run id, as a built-in method's.
    assert study.runs[0].run_id != load_study(EXAMPLE).runs[0].run_id


def test_the_same_seed_gives_the_same_loss():
    import torch

    from harness.methods.factory import build_method

    config = next(r.config for r in load_study(EXAMPLE, overrides=parse_set(FAST)).runs if r.variant == "variance")
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        method = build_method(config, 1)
        losses.append(method([torch.ones(4, 1, 16, 16), torch.zeros(4, 1, 16, 16)]).loss)
    assert torch.equal(*losses)


def test_an_unknown_key_of_the_plugin_names_the_method(tmp_path, capsys):
    line = refused(capsys, ["run", str(EXAMPLE), "--set", "method.variance_wieght=2"], tmp_path)
    assert line.endswith(f"--set: unknown key 'method.variance_wieght' for method.name={METHOD!r} "
                         "(did you mean 'variance_weight'?)")
    line = refused(capsys, ["run", str(EXAMPLE), "--set", "method.variance_weight=-1"], tmp_path)
    assert f"method.variance_weight: Input should be greater than or equal to 0 for method.name={METHOD!r}" in line


def test_a_method_that_cannot_be_imported_is_one_line(tmp_path, capsys):
    line = refused(capsys, ["run", str(EXAMPLE), "--set", "method.name=variance_simsiam.nomodule:X"], tmp_path)
    assert line == ("harness: error: --set: method.name: cannot import method module 'variance_simsiam.nomodule' "
                    "(No module named 'variance_simsiam.nomodule') (got 'variance_simsiam.nomodule:X')")
    line = refused(capsys, ["run", str(EXAMPLE), "--set", "method.name=variance_simsiam.method:Nope"], tmp_path)
    assert "method module 'variance_simsiam.method' has no 'Nope'" in line
    line = refused(capsys, ["run", str(EXAMPLE), "--set", "method.name=variance_simsiam.method:variance_term"],
                   tmp_path)
    assert ("method 'variance_simsiam.method:variance_term' is neither a harness.methods.registry.Registration "
            "nor a Method class declaring its `section`") in line
