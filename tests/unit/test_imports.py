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


def harness_imports() -> dict[str, set[str]]:
    """{module: the harness modules it imports, at its top or in a function}, read from the source."""
    import ast
    from pathlib import Path

    import harness

    root = Path(harness.__file__).parent
    exists = lambda name: (root.parent / (name.replace(".", "/") + ".py")).exists() or (  # noqa: E731
        root.parent / name.replace(".", "/") / "__init__.py").exists()
    graph = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                graph[module] |= {n for n in names if exists(n)} or {node.module}
            elif isinstance(node, ast.Import):
                graph[module] |= {alias.name for alias in node.names if alias.name.startswith("harness")}
    return graph


def test_launch_is_never_imported_back_by_what_it_imports():
    # launch/ hands planned runs to train and reads the store; status lives in it (it was
    # harness/status.py, which launch/slurm.py imported and which imported launch/slurm_queue.py).
    graph = harness_imports()
    inside = lambda m: m == "harness.launch" or m.startswith("harness.launch.")  # noqa: E731
    for start in sorted(m for m in graph if inside(m)):
        seen, todo = set(), [(m, [start, m]) for m in graph[start] if not inside(m)]
        while todo:
            module, path = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            for imported in graph.get(module, ()):
                assert not inside(imported), " -> ".join(path + [imported])
                todo.append((imported, path + [imported]))
