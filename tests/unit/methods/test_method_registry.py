"""harness/methods/registry.py: every method, built in or a user's, is one Registration (section,
implementation path, recipe) that config, plan, recipes and the factory read; nothing else lists
the methods, and a built-in goes the same way as a plug-in."""

import ast
import typing
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel, Field

from harness.config import RunConfig
from harness.methods import registry
from harness.methods.factory import build_method, method_class
from harness.methods.registry import BUILT_IN, DEFAULT_METHOD, Registration
from harness.methods.sections import MethodSection, SimSiamMethod
from harness.plan import Layer, load_study, run_method
from harness.spec import SpecError, key_of

from commandline import refused
from conftest import ROOT, STUDIES
from modules import modules_after, under

HARNESS = ROOT / "harness"


def names_in(path: Path) -> list[tuple[int, set[str]]]:
    """The built-in method names in `path`'s string constants: each literal (dict, list, tuple, set,
    Literal[...]) as its line and the names it holds, and each other constant on its own. A recipe's
    `paper=` names a paper (papers.yaml), not a method."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) for n in ast.walk(node)
            if isinstance(node, ast.keyword) and node.arg == "paper"}
    found, seen = [], set()
    for node in ast.walk(tree):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if items is not None and id(node) not in skip:
            names = {i.value for i in items if isinstance(i, ast.Constant) and i.value in BUILT_IN}
            seen |= {id(i) for i in items}
            found.append((node.lineno, names))
    found += [(node.lineno, {node.value}) for node in ast.walk(tree) if isinstance(node, ast.Constant)
              and node.value in BUILT_IN and id(node) not in seen | skip]
    return [(line, names) for line, names in found if names]


def test_no_module_but_the_registry_lists_the_methods():
    files = [p for p in sorted(HARNESS.rglob("*.py")) if p != HARNESS / "methods" / "registry.py"]
    lists = [(str(p.relative_to(ROOT)), line) for p in files for line, names in names_in(p) if len(names) > 1]
    assert lists == []
    # ... and the check sees a list where there is one
    assert [names for _, names in names_in(HARNESS / "methods" / "registry.py") if len(names) > 1]


def test_the_default_method_is_written_once():
    # Besides its registration: sections.py's Literal names each built-in section's method.
    files = [p for p in sorted(HARNESS.rglob("*.py")) if p.name not in ("registry.py", "sections.py")]
    assert [(str(p.relative_to(ROOT)), line) for p in files for line, names in names_in(p)
            if DEFAULT_METHOD in names] == []
    assert type(RunConfig().method) is BUILT_IN[DEFAULT_METHOD].section
    method = run_method([Layer("base", {"optim.epochs": 1})])
    assert (method.name, method.registration, method.where) == (DEFAULT_METHOD, BUILT_IN[DEFAULT_METHOD], "defaults")


def test_the_config_validates_exactly_the_registered_sections():
    members = typing.get_args(RunConfig.model_fields["method"].annotation)
    sections = {typing.get_args(m)[0] for m in members}
    assert sections == {r.section for r in BUILT_IN.values()} | {MethodSection}
    for name, registration in BUILT_IN.items():
        assert registration.section.model_fields["name"].default == name
        assert issubclass(registration.section, MethodSection)


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_a_built_in_is_a_registration_as_a_plug_in_is(name):
    registration = BUILT_IN[name]
    assert isinstance(registration, Registration) and registration.recipe is not None
    assert method_class(name).__module__ == registration.implementation.partition(":")[0]


AS_PLUGIN = '''
from harness.methods.registry import BUILT_IN, Registration
from harness.methods.sections import SimCLRMethod


class Section(SimCLRMethod):
    name: str  # a plug-in's name is the study's spelling of it


SIMCLR = Registration(Section, BUILT_IN["simclr"].implementation, BUILT_IN["simclr"].recipe)
'''


def study(tmp_path, method: str, key: str = "method.temperature: 0.3") -> Path:
    path = tmp_path / f"{method.replace(':', '_')}.yaml"
    path.write_text(f"name: s\ntitle: t\nbase: {{method.name: '{method}', {key}}}\n")
    return path


def test_a_built_in_registered_as_a_user_registers_a_method_plans_and_trains_the_same(tmp_path):
    # SimCLR's registration, written as a user writes one in their own package: the same recipe,
    # section checks and implementation, through lookup, config, plan and the factory.
    (tmp_path / "simclr_as_plugin.py").write_text(AS_PLUGIN)
    built_in = load_study(study(tmp_path, "simclr")).runs[0].config
    plugin = load_study(study(tmp_path, "simclr_as_plugin:SIMCLR")).runs[0].config
    assert plugin.method.name == "simclr_as_plugin:SIMCLR" and plugin.method.temperature == 0.3
    dump = lambda c: {**c.model_dump(), "method": {**c.method.model_dump(), "name": None}}  # noqa: E731
    assert dump(plugin) == dump(built_in)
    views = [torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)]
    losses = []
    for config in (built_in, plugin):
        torch.manual_seed(0)
        losses.append(build_method(config, 1)(views).loss)
    assert torch.equal(*losses)


def test_a_plug_ins_study_plans_without_torch_or_its_implementation():
    example = ROOT / "examples" / "variance_simsiam.yaml"
    loaded = modules_after(f"from harness.plan import load_study\nload_study({str(example)!r})")
    assert "variance_simsiam" in loaded
    assert not under(loaded, "torch", "variance_simsiam.method", "harness.methods.factory", "harness.methods.base")
    loaded = modules_after(f"from harness.plan import load_study\nload_study({str(STUDIES / 'byol_tau.yaml')!r})")
    assert not under(loaded, "torch", "harness.methods.byol", "harness.methods.factory")


OLD_FORM = '''
from harness.methods.simsiam import SimSiam
from harness.methods.sections import SimSiamMethod


class OldSection(SimSiamMethod):
    name: str


class OldStyle(SimSiam):
    section = OldSection
'''


def test_a_method_class_declaring_its_section_is_still_read(tmp_path):
    # The form before registrations: studies and results folders written then name the class.
    (tmp_path / "old_style.py").write_text(OLD_FORM)
    config = load_study(study(tmp_path, "old_style:OldStyle", "method.stop_gradient: false")).runs[0].config
    assert type(config.method).__name__ == "OldSection" and config.method.stop_gradient is False
    assert method_class(config.method.name).__name__ == "OldStyle"
    assert registry.lookup("old_style:OldStyle") == Registration(type(config.method), "old_style:OldStyle")


def test_a_registration_is_checked_as_it_is_made():
    with pytest.raises(ValueError, match="section must be a subclass of harness.methods.sections.MethodSection"):
        Registration(BaseModel, "harness.methods.simsiam:SimSiam")
    with pytest.raises(ValueError, match="implementation is named module.path:Class, not 'harness.methods.simsiam'"):
        Registration(SimSiamMethod, "harness.methods.simsiam")


def test_an_implementation_that_is_not_a_method_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(BUILT_IN, "simsiam", Registration(SimSiamMethod, "harness.methods.losses:nt_xent"))
    with pytest.raises(ValueError, match=r"^method.name='simsiam': its implementation 'harness.methods.losses:nt_xent' "
                                         r"is not a subclass of harness.methods.base.Method$"):
        method_class("simsiam")


BROKEN_IMPLEMENTATION = '''
from harness.methods.registry import Registration
from harness.methods.sections import SimSiamMethod


class Section(SimSiamMethod):
    name: str


METHOD = Registration(Section, "broken_plugin_impl:Missing")
'''


def test_a_plug_ins_implementation_that_does_not_import_is_refused_before_launch(tmp_path, capsys):
    # Planning reads the registration alone; the preflight imports the implementation it names, so a
    # wrong path is one line and exit 2 before any run, not a study of runs that each fail.
    (tmp_path / "broken_plugin_impl.py").write_text(BROKEN_IMPLEMENTATION)
    line = refused(capsys, ["run", str(study(tmp_path, "broken_plugin_impl:METHOD", "method.stop_gradient: true"))],
                   tmp_path)
    assert line == ("harness: error: method.name='broken_plugin_impl:METHOD': method implementation module "
                    "'broken_plugin_impl' has no 'Missing'"), line


def test_an_unknown_method_is_refused_at_the_layer_that_names_it():
    with pytest.raises(SpecError, match=r"^variants.b: method.name: unknown method \(known: simsiam, byol, simclr, "
                                        r"mocov3; or module.path:Name, or an entry point of harness.methods\) "
                                        r"\(got 'moco'\)$"):
        run_method([Layer("base", {"method.name": "byol"}), Layer("variants.b", {"method.name": "moco"})])
    assert run_method([Layer("base", {"method.name": "byol"}), Layer("variants.b", {})]).name == "byol"


class Linear(BaseModel):
    mode: typing.Literal["linear"] = "linear"
    lr: float = Field(0.1, gt=0)


class Finetune(BaseModel):
    mode: typing.Literal["finetune"] = "finetune"
    epochs: int = Field(60, gt=0)


class WithProbe(BaseModel):
    probe: Linear | Finetune = Field(Linear(), discriminator="mode")
    pair: int | str = 0


def test_an_error_location_drops_the_tag_of_any_tagged_union():
    assert key_of(("method", "byol", "tau_base")) == "method.tau_base"
    assert key_of(("method", "simsiam", "eta_every", "constrained-int")) == "method.eta_every.constrained-int"
    with pytest.raises(Exception) as err:
        WithProbe.model_validate({"probe": {"mode": "finetune", "epochs": 0}})
    assert key_of(err.value.errors()[0]["loc"], WithProbe) == "probe.epochs"
    assert key_of(("pair", "int"), WithProbe) == "pair.int"  # a union without a tag keeps its member
