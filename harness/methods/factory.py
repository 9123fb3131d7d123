"""The network a run trains: its method's implementation (harness/methods/registry.py names it by
path), imported here, where training starts, so that planning a study never imports torch."""

from __future__ import annotations

from harness import plugins
from harness.config import RunConfig
from harness.methods import registry
from harness.methods.base import Method


def method_class(name: str) -> type[Method]:
    """The Method the study's `method.name` stands for; ValueError in one line if it is none."""
    implementation = registry.lookup(name).implementation
    try:
        method = plugins.load(implementation, registry.GROUP, "method implementation")
    except ValueError as err:
        raise ValueError(f"method.name={name!r}: {err}") from None
    if not (isinstance(method, type) and issubclass(method, Method)):
        raise ValueError(f"method.name={name!r}: its implementation {implementation!r} is not a subclass of "
                         f"{Method.__module__}.Method")
    return method


def n_views(config: RunConfig) -> int:
    return method_class(config.method.name).n_views(config)


def build_method(config: RunConfig, in_channels: int) -> Method:
    return method_class(config.method.name)(config, in_channels)
