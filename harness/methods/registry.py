"""Every method, built in or a user's, is one Registration: its config section, where its
implementation lives, and its paper's recipe. Config (the section a `method:` validates against),
plan (the recipe under a study's layers) and the method factory (the network to train) read it here;
nothing else lists the methods. Torch-free: a registration names its implementation by path, and
only training imports it (harness/methods/factory.py).

A built-in method is named by its BUILT_IN key. A user's is named as any plug-in
(harness/plugins.py), `module.path:Name` or an entry point of the group `harness.methods`, where
Name is its Registration, written exactly as the built-ins' below.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import plugins, recipes
from harness.methods.sections import BYOLMethod, MethodSection, MoCoV3Method, SimCLRMethod, SimSiamMethod
from harness.recipes import Recipe

GROUP = "harness.methods"  # the entry points that name installed plug-in methods


@dataclass(frozen=True)
class Registration:
    section: type[MethodSection]  # the `method:` keys and their checks (harness/methods/sections.py)
    implementation: str  # "module.path:Class", a harness.methods.base.Method subclass; imported to train only
    recipe: Recipe | None = None  # the paper's setup under a study's layers; None: the study states it

    def __post_init__(self):  # a plug-in's mistake, said as its module is imported (plugins.load)
        if not (isinstance(self.section, type) and issubclass(self.section, MethodSection)):
            raise ValueError(f"a method's section must be a subclass of {MethodSection.__module__}.MethodSection, "
                            f"not {self.section!r}")
        if not (isinstance(self.implementation, str) and ":" in self.implementation):
            raise ValueError(f"a method's implementation is named module.path:Class, not {self.implementation!r}")


BUILT_IN: dict[str, Registration] = {
    "simsiam": Registration(SimSiamMethod, "harness.methods.simsiam:SimSiam", recipes.SIMSIAM),
    "byol": Registration(BYOLMethod, "harness.methods.byol:BYOL", recipes.BYOL),
    "simclr": Registration(SimCLRMethod, "harness.methods.simclr:SimCLR", recipes.SIMCLR),
    "mocov3": Registration(MoCoV3Method, "harness.methods.mocov3:MoCoV3", recipes.MOCOV3),
}
DEFAULT_METHOD = "simsiam"  # what a study that names no method trains
UNKNOWN = f"unknown method (known: {', '.join(BUILT_IN)})"


def lookup(name) -> Registration:
    """The registration a study's `method.name` names; ValueError in one line if there is none."""
    if not isinstance(name, str):
        raise ValueError(UNKNOWN)
    if name in BUILT_IN:
        return BUILT_IN[name]
    found = plugins.load(name, GROUP, "method", tuple(BUILT_IN))
    if isinstance(found, Registration):
        return found
    if isinstance(found, type) and hasattr(found, "section"):
        # The form before registrations, which older studies and results name: the Method class itself,
        # declaring its section (and, if it has one, its recipe).
        return Registration(found.section, name, getattr(found, "recipe", None))
    raise ValueError(f"method {name!r} is neither a {__name__}.Registration nor a Method class declaring its `section`")
