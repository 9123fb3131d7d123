"""Methods by name. Each is a small module; the training loop sees only harness.methods.base.Method."""

from harness.config import RunConfig
from harness.methods.base import Method, StepOutput
from harness.methods.byol import BYOL
from harness.methods.mocov3 import MoCoV3
from harness.methods.simclr import SimCLR
from harness.methods.simsiam import SimSiam

METHODS: dict[str, type[Method]] = {"simsiam": SimSiam, "byol": BYOL, "simclr": SimCLR, "mocov3": MoCoV3}


def n_views(config: RunConfig) -> int:
    return METHODS[config.method.name].n_views(config)


def build_method(config: RunConfig, in_channels: int) -> Method:
    return METHODS[config.method.name](config, in_channels)


__all__ = ["METHODS", "Method", "StepOutput", "build_method", "n_views"]
