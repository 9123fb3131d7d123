"""Today's evaluations (harness/probe.py's linear probe, harness/finetune.py's fine-tuning) in the
shape of the stages' execution interface (StageInput -> StageResult), which harness/evaluations.py
provides once the evaluations are stages of their own. TODO(lead): at the merge, import StageInput,
StageResult and evaluate from harness.evaluations in harness/stages.py and delete this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch.nn as nn

from harness import columns
from harness.config import RunConfig
from harness.data.pipeline import DataPipeline
from harness.finetune import finetune
from harness.methods.base import Method
from harness.probe import linear_probe


@dataclass
class StageInput:
    config: RunConfig  # the pretraining's config with this stage's section as `probe`
    method: Method  # the pretrained method, loaded from the pretraining's checkpoint, on its device
    data: DataPipeline  # built from `config` as training builds it
    teacher: nn.Module | None  # the network the input stage saved, else None
    directory: Path  # the stage's folder
    should_stop: Callable[[], bool] | None = None


@dataclass
class StageResult:
    metrics: dict[str, float]  # {column: top-1}
    network: nn.Module | None  # what a later stage reads


def _today(inp: StageInput) -> StageResult:
    """The evaluation that probe.mode names, its top-1 in the mode's column; neither keeps a network."""
    probe = inp.config.probe
    top1 = EVALUATE[probe.mode](inp.method, inp.data, probe, inp.config.seed)
    return StageResult({columns.PROBE[probe.mode]: top1}, None)


EVALUATE = {"linear": linear_probe, "finetune": finetune}
EVALUATIONS: dict[str, Callable[[StageInput], StageResult]] = dict.fromkeys(EVALUATE, _today)


def evaluate(inp: StageInput) -> StageResult:
    return EVALUATIONS[inp.config.probe.mode](inp)
