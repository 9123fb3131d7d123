"""The house's import rules, in fresh interpreters: planning and training never import the report, and
the command line imports torch only to train (`harness --help` imports nothing of the harness but
its parser)."""


import pytest

from conftest import STUDIES
from modules import modules_after, under

STUDY = str(STUDIES / "simsiam_predictor.yaml")


def test_planning_imports_no_report_and_no_plotting():
    loaded = modules_after("import harness.spec, harness.plan")
    assert not under(loaded, "harness.report", "matplotlib", "jinja2", "torch")
    assert not under(modules_after("import harness.spec"), "harness.report", "matplotlib", "jinja2")
    # the run id, the migration of older results and the columns' names are read by planning and reports
    assert not under(modules_after("import harness.run_id, harness.migrate, harness.columns"), "torch")


def test_training_imports_no_report():
    loaded = modules_after("import harness.train, harness.launch.local, harness.launch.slurm")
    assert not under(loaded, "harness.report", "matplotlib", "jinja2")


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["run", STUDY, "--dry-run"],
    ["run", STUDY, "--dry-run", "--json"],
    ["status", STUDY],
    ["report", STUDY],
], ids=lambda argv: " ".join(a for a in argv if a != STUDY))
def test_the_command_line_imports_torch_only_to_train(argv, tmp_path):
    argv = argv + (["--results", str(tmp_path / "results")] if argv != ["--help"] else [])
    argv += ["--reports", str(tmp_path / "reports")] if argv[0] in ("report", "status") else []
    code = (f"import contextlib, io\nfrom harness.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        status = main({argv!r})\n    except SystemExit as exit:\n        status = exit.code\n"
            f"assert status == 0, status")
    loaded = modules_after(code)
    assert not under(loaded, "torch", "torchvision", "timm")
    if argv == ["--help"]:  # the parser alone
        assert under(loaded, "harness") <= {"harness", "harness.cli", "harness.errors"}
