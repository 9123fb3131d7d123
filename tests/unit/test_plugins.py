"""The user's own code named in a study (harness/plugins.py): a module that cannot be imported, raises
or exits while it is imported is refused in one line naming the key and the module; an interrupt
goes through."""

from importlib.metadata import EntryPoint

import pytest

from harness import plugins

from commandline import refused, study


@pytest.mark.parametrize(("body", "says"), [
    ("import sys\nsys.exit()\n", "exited (sys.exit())"),
    ("import sys\nsys.exit(3)\n", "exited (sys.exit(3))"),
    ("raise SystemExit('no GPU here')\n", "exited (sys.exit('no GPU here'))"),
    ("raise RuntimeError('no licence\\nsecond line')\n", "raised RuntimeError: no licence\nsecond line"),
])
def test_a_module_that_exits_or_raises_as_it_is_imported_is_a_value_error(tmp_path, monkeypatch, body, says):
    # Issue 28: sys.exit() in the module ended the harness with the module's status, naming nothing.
    (tmp_path / "exits_on_import.py").write_text(body)
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(ValueError) as refusal:
        plugins.load("exits_on_import:load", "harness.datasets", "dataset")
    assert str(refusal.value) == f"importing dataset module 'exits_on_import' {says}"


def test_an_interrupt_while_importing_goes_through(tmp_path, monkeypatch):
    (tmp_path / "interrupted_on_import.py").write_text("raise KeyboardInterrupt\n")
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        plugins.load("interrupted_on_import:load", "harness.datasets", "dataset")


def test_an_entry_point_whose_module_exits_is_a_value_error(tmp_path, monkeypatch):
    (tmp_path / "installed_plugin.py").write_text("import sys\nsys.exit(1)\n")
    monkeypatch.syspath_prepend(tmp_path)
    point = EntryPoint("mine", "installed_plugin:METHOD", "harness.methods")
    monkeypatch.setattr(plugins, "entry_points", lambda group, name: [point] if name == "mine" else [])
    with pytest.raises(ValueError, match=r"^loading the entry point 'mine' \(installed_plugin:METHOD\) exited "
                                         r"\(sys.exit\(1\)\)$"):
        plugins.load("mine", "harness.methods", "method")


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize(("key", "says"), [
    ("method.name", "s.yaml: base: method.name: importing method module 'exits_plugin' exited (sys.exit()) "
                    "(got 'exits_plugin:METHOD')"),
    ("data.dataset", "data.dataset='exits_plugin:METHOD': importing dataset module 'exits_plugin' exited (sys.exit())"),
])
def test_a_plug_in_that_exits_on_import_is_refused_naming_the_key_and_module(tmp_path, capsys, dry_run, key, says):
    # Issue 28: run and --dry-run ended with the module's status and no word.
    (tmp_path / "exits_plugin.py").write_text("import sys\nsys.exit()\n")
    path = study(tmp_path, f"base: {{{key}: 'exits_plugin:METHOD'}}")
    line = refused(capsys, ["run", str(path), *dry_run], tmp_path)
    assert line.endswith(says), line


def test_a_method_implementation_that_exits_on_import_is_refused_before_launch(tmp_path, capsys):
    (tmp_path / "registered.py").write_text(
        "from harness.methods.registry import Registration\nfrom harness.methods.sections import SimSiamMethod\n"
        "class Section(SimSiamMethod):\n    name: str\n"
        "METHOD = Registration(Section, 'exiting_implementation:Method')\n")
    (tmp_path / "exiting_implementation.py").write_text("raise SystemExit(5)\n")
    line = refused(capsys, ["run", str(study(tmp_path, "base: {method.name: 'registered:METHOD'}"))], tmp_path)
    assert line == ("harness: error: method.name='registered:METHOD': importing method implementation module "
                    "'exiting_implementation' exited (sys.exit(5))")
