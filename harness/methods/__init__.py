"""Methods by name. Each is a small module; the training loop sees only harness.methods.base.Method.
A built-in method is named by its METHODS key; a plug-in by `module.path:Class` or an entry point of
the group `harness.methods` (harness/plugins.py): a Method subclass with a `section`, its config
section (a harness.config.MethodSection)."""

from harness import plugins
from harness.config import MethodSection, RunConfig
from harness.methods.base import Method, StepOutput
from harness.methods.byol import BYOL
from harness.methods.mocov3 import MoCoV3
from harness.methods.simclr import SimCLR
from harness.methods.simsiam import SimSiam

METHODS: dict[str, type[Method]] = {"simsiam": SimSiam, "byol": BYOL, "simclr": SimCLR, "mocov3": MoCoV3}


def method_class(name: str) -> type[Method]:
    """The Method a study names; ValueError in one line for a plug-in that is not one."""
    if name in METHODS:
        return METHODS[name]
    method = plugins.load(name, "harness.methods", "method", tuple(METHODS))
    if not (isinstance(method, type) and issubclass(method, Method)):
        raise ValueError(f"method {name!r} is not a subclass of harness.methods.base.Method")
    section = getattr(method, "section", None)
    if not (isinstance(section, type) and issubclass(section, MethodSection)):
        raise ValueError(f"method {name!r} declares no `section` (a subclass of harness.config.MethodSection)")
    return method


def n_views(config: RunConfig) -> int:
    return method_class(config.method.name).n_views(config)


def build_method(config: RunConfig, in_channels: int) -> Method:
    return method_class(config.method.name)(config, in_channels)


__all__ = ["METHODS", "Method", "StepOutput", "build_method", "method_class", "n_views"]
