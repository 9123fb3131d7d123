"""An evaluation stage: one evaluation (config.PROBES: linear probe, fine-tuning...) of a finished
pretraining, or of the network an earlier stage saved, into its folder beside the pretraining,
results/<study>/<run_id>/stages/<stage_id>/ (harness/store.py names the files).

The pretrained method is rebuilt as training builds it and loaded from the pretraining's last
checkpoint (checkpoint.pt, which train() keeps); the data is built from the run's config as training
builds it. The evaluation (StageInput -> StageResult) resumes from the stage's own checkpoint.pt
where it writes one and raises train.Interrupted when asked to stop; the network it returns is saved
as network.pt for a later stage, and summary.json is written last: it marks the stage finished.
Locks, retries and failures (error.txt; a failed stage leaves its pretraining as it is) are
harness/launch/run_one.py's, as for a run.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from harness import checkpoint, distributed, store
from harness.config import RunConfig
from harness.data import build_data
from harness.evaluations import StageInput, evaluate
from harness.methods.base import Method
from harness.methods.factory import n_views
from harness.plan import PlannedStage
from harness.provenance import code_revision, now, versions
from harness.store import RunState
from harness.train import build_network


def stage_summary(stage: PlannedStage, labels: dict, **fields) -> dict:
    """summary.json's fields that say which stage it is: status and the rest are the caller's."""
    return {"stage_id": stage.stage_id, "input_id": stage.input_id, "mode": stage.section.mode,
            "labels": labels, **fields}


def run_stage(config: RunConfig, stage: PlannedStage, run_dir: Path, labels: dict | None = None,
              should_stop: Callable[[], bool] | None = None) -> dict:
    """Evaluate the pretraining in `run_dir` (or the network of the stage `stage` reads) as `stage`
    says, into its folder; the summary (also written to summary.json)."""
    run_dir = Path(run_dir)
    directory = run_dir / store.STAGES / stage.stage_id
    started = time.perf_counter()
    stage_config = config.model_copy(update={"probe": stage.section})
    torch.manual_seed(config.seed)
    device = distributed.current().device(config.runtime.device)
    data = build_data(stage_config, n_views(stage_config), device)
    teacher = None if stage.input_id == config.run_id() else load_network(run_dir / store.STAGES / stage.input_id,
                                                                             device)
    inp = StageInput(stage_config, pretrained(config, data, run_dir, device), data, teacher, directory, should_stop)
    result = evaluate(inp)
    if result.network is not None:
        save_network(directory / store.NETWORK, result.network)
    summary = stage_summary(stage, labels or {}, status=RunState.DONE, metrics=result.metrics,
                            protocol=stage.section.protocol(), run_id=config.run_id(),
                            wall_seconds=time.perf_counter() - started, finished_at=now(),
                            versions=versions(), code_revision=code_revision())
    store.write_json(directory / store.SUMMARY, summary)
    return summary


def pretrained(config: RunConfig, data, run_dir: Path, device: torch.device) -> Method:
    """The pretraining's method at its last epoch, from its checkpoint.pt (not the one before it)."""
    state = checkpoint.load(run_dir / store.CHECKPOINT)
    if state["epoch"] != config.optim.epochs:
        raise RuntimeError(f"{run_dir / store.CHECKPOINT} holds epoch {state['epoch']}, not the last "
                           f"({config.optim.epochs}): the pretraining is not finished")
    method = build_network(config, data, device)
    method.load_state_dict(state["model"])
    return method


def save_network(path: Path, network: nn.Module) -> None:
    sink = io.BytesIO()
    torch.save(network, sink)
    store.atomic_write_bytes(path, sink.getvalue())


def load_network(directory: Path, device: torch.device) -> nn.Module:
    # The whole module, pickled by save_network: the harness's own file, written by the stage it reads.
    return torch.load(Path(directory) / store.NETWORK, map_location=device, weights_only=False)
