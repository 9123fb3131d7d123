"""The evaluation stages, by probe.mode (config.PROBES): what a stage runs on a finished pretraining
(or on another stage's network), each returning its top-1 in its column (harness/columns.py) and the
network a later stage reads. The stage runner (harness/stages.py) builds the StageInput (the
pretrained method loaded from its checkpoint, the data, the input stage's network), and writes
everything around it: lock, config, summary, network.pt.

    linear        the frozen-feature probe (probe.py), seconds, no checkpoint
    paper_linear  the method's official linear evaluation (paper_linear.py)
    finetune      SimCLR v2's fine-tuning of a copy (finetune.py): its network is a teacher
    distill       SimCLR v2's distillation into a student (distill.py), from StageInput.teacher

The last three train on the supervised loop (supervised.py): a checkpoint every epoch in the stage's
folder, resumed from it, Interrupted when should_stop says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch.nn as nn

from harness import columns
from harness.config import RunConfig
from harness.data.pipeline import DataPipeline
from harness.distill import distill
from harness.finetune import finetuned
from harness.methods.base import Method
from harness.paper_linear import paper_linear
from harness.probe import linear_probe


@dataclass
class StageInput:
    config: RunConfig  # the pretraining's config with this stage's section as `probe`
    method: Method  # the pretrained method, loaded from the pretraining's checkpoint, on device
    data: DataPipeline  # built from `config` as training builds it
    teacher: nn.Module | None  # the network the input stage saved (distill's fine-tuned teacher), else None
    directory: Path | None  # the stage's folder: checkpoint.pt for resume (None: no checkpoint)
    should_stop: Callable[[], bool] | None = None


@dataclass
class StageResult:
    metrics: dict[str, float]  # {column: top-1}
    network: nn.Module | None  # what a later stage reads (finetune: the fine-tuned network; distill: the student)


def _result(inp: StageInput, top1: float, network: nn.Module | None) -> StageResult:
    return StageResult({columns.PROBE[inp.config.probe.mode]: top1}, network)


def _linear(inp: StageInput) -> StageResult:
    return _result(inp, linear_probe(inp.method, inp.data, inp.config.probe, inp.config.seed), None)


def _paper_linear(inp: StageInput) -> StageResult:
    return _result(inp, *paper_linear(inp.method, inp.config, inp.config.seed, inp.directory, inp.should_stop))


def _finetune(inp: StageInput) -> StageResult:
    return _result(inp, *finetuned(inp.method, inp.data, inp.config.probe, inp.config.seed, inp.directory,
                                   inp.should_stop))


def _distill(inp: StageInput) -> StageResult:
    if inp.teacher is None:
        raise ValueError("a distillation needs its teacher: the network of its fine-tuning stage")
    return _result(inp, *distill(inp.teacher, inp.data, inp.config, inp.config.seed, inp.directory, inp.should_stop))


EVALUATIONS: dict[str, Callable[[StageInput], StageResult]] = {
    "linear": _linear, "paper_linear": _paper_linear, "finetune": _finetune, "distill": _distill,
}


def evaluate(inp: StageInput) -> StageResult:
    """Run the evaluation that inp.config.probe.mode names."""
    return EVALUATIONS[inp.config.probe.mode](inp)
