"""The layer order of the package, stated once and checked against every module's imports (read from
the source, top-level and function-level alike): a module imports only from its own layer or those
below it, the report reads no training, and no two modules import each other, however indirectly.

The order follows the data flow (DESIGN.md): study -> spec -> plan -> launch -> train -> store, the
report beside the training, reading plans and results; the command line on top."""

import ast
from pathlib import Path

import pytest

import harness

ROOT = Path(harness.__file__).parent

# Lowest first. A module belongs to the layer of the longest prefix that names it ("" is the package's
# own __init__).
LAYERS = [
    ("foundation", ["", "errors", "section", "store", "provenance", "machine", "plugins", "presets", "recipes",
                    "run_id", "lars", "gradnorm", "distributed", "loggers", "launch.slurm_queue", "launch.code_pin"]),
    ("methods' registrations", ["methods.sections", "methods.registry"]),
    ("config", ["config", "columns"]),
    ("spec and plan", ["spec", "plan", "migrate", "recorded"]),
    ("training", ["nets", "data", "methods", "monitor", "probe", "finetune", "accel", "optim", "accumulation",
                  "checkpoint", "train", "interrupted", "supervised", "paper_linear", "distill", "evaluations",
                  "stages"]),
    ("export", ["export"]),  # a finished run's weights, read from its checkpoint
    ("launch", ["launch", "preflight"]),
    ("report", ["report"]),
    ("bench", ["bench"]),
    ("command line", ["commands", "cli", "__main__"]),
]
# The report reads studies and results alone (`harness report` from results/ without torch):
# nothing of the training or its launch, though they sit below it.
APART = {"report": ("training", "launch")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def harness_imports() -> dict[str, set[str]]:
    """{module: the harness modules it imports}. `from harness.x import y` imports the module
    harness.x.y when there is one, else harness.x."""
    graph = {}
    for module, path in MODULES.items():
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "harness":
                names = {f"{node.module}.{alias.name}" for alias in node.names}
                graph[module] |= (names & MODULES.keys()) or {node.module}
            elif isinstance(node, ast.Import):
                graph[module] |= {alias.name for alias in node.names if alias.name.split(".")[0] == "harness"}
    return graph


def layer(module: str) -> int:
    """The index in LAYERS of the layer `module` belongs to."""
    name = module.removeprefix("harness").removeprefix(".")
    matches = [(len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if name == prefix or prefix and name.startswith(prefix + ".")]
    assert matches, f"{module} has no layer: add it to LAYERS"
    return max(matches)[1]


def upward(graph: dict[str, set[str]], module: str) -> list[str]:
    """What `module` imports from above its layer, or from a layer it stays apart from."""
    mine, found = layer(module), []
    for imported in sorted(graph[module]):
        theirs = layer(imported)
        if theirs > mine:
            found.append(f"{module} ({LAYERS[mine][0]}) imports {imported} ({LAYERS[theirs][0]}), above it")
        elif LAYERS[theirs][0] in APART.get(LAYERS[mine][0], ()):
            found.append(f"{module} imports {imported}: the {LAYERS[mine][0]} stays apart from the {LAYERS[theirs][0]}")
    return found


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Each module that its own imports lead back to, with the way back."""
    found = []
    for start in sorted(graph):
        todo, seen = [(m, [start, m]) for m in graph[start]], set()
        while todo:
            module, path = todo.pop()
            if module == start:
                found.append(" -> ".join(path))
                break
            if module not in seen:
                seen.add(module)
                todo += [(m, path + [m]) for m in graph.get(module, ())]
    return found


GRAPH = harness_imports()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_its_layer_and_those_below(module):
    assert not upward(GRAPH, module)


def test_no_import_circle():
    assert not circles(GRAPH)


def test_the_rules_catch_what_they_are_for():
    # config.py imported harness.methods to resolve a plug-in's section, and the methods import config.
    before = {**GRAPH, "harness.config": GRAPH["harness.config"] | {"harness.methods.factory"}}
    assert upward(before, "harness.config") and circles(before)
    # A report that reached into the training would need torch to rebuild a report from results/.
    assert upward({"harness.report.render": {"harness.train"}}, "harness.report.render")
