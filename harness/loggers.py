"""Live loggers (runtime.loggers): every row of curves.parquet and steps.parquet sent to TensorBoard
or W&B as train.py writes it, so a study can be watched while it trains.

One logged run per harness run, named by its run id and labels, grouped by its study (the run
folder's parent, results/<study>/):
- tensorboard: event files in results/<study>/<run_id>/tb/<labels>/, so `tensorboard --logdir
  results/<study>` lists one run per harness run; the resolved config and the labels as text;
- wandb: the project named after the study, the run's id its run id, its labels as tags, the
  resolved config as its config, its files under the run's folder (with WANDB_MODE=offline,
  `wandb sync` uploads them later).
Scalars are named <table>/<column> (curves/loss, steps/loss, curves/knn_top1...) at the row's step.

A logger only reads rows: the curves are the same with or without one. A logger that fails (not
installed, its service unreachable, a write that raises) warns once and is dropped; the run goes on.
Rank 0 alone logs (train.py). A resumed run continues its logged run from its checkpoint's step:
TensorBoard hides what it had logged past it (purge_step), W&B resumes the run of the same id.
Torch-free until a logger opens: the config and the preflight read the names below.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

# Each logger's name in runtime.loggers: the module it needs, which the pyproject extra of the
# same name installs (pip install 'harness[tensorboard]').
REQUIRES = {"tensorboard": "tensorboard", "wandb": "wandb"}
TENSORBOARD_FOLDER = "tb"  # in the run's folder


@dataclass(frozen=True)
class LoggedRun:
    """What a logger is told of the run it logs."""

    directory: Path  # results/<study>/<run_id>
    run_id: str
    labels: dict
    config: dict  # resolved, as config.yaml holds it
    start_step: int  # the first step this process logs (a resumed run's: past its checkpoint's rows)

    @property
    def study(self) -> str:
        return self.directory.parent.name

    @property
    def tags(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.labels.items()]

    @property
    def name(self) -> str:
        """'3f2a9c1d variant=no_predictor seed=0': readable where a run list shows it."""
        return " ".join([self.run_id, *self.tags])


class TensorBoard:
    def open(self, run: LoggedRun) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # A folder per label set under tb/: TensorBoard names the run by its path, run id + labels.
        labels = re.sub(r"[^\w=.,+-]", "_", ",".join(run.tags)) or "run"
        self.writer = SummaryWriter(str(run.directory / TENSORBOARD_FOLDER / labels), purge_step=run.start_step)
        indented = "".join("    " + line for line in yaml.safe_dump(run.config).splitlines(True))
        self.writer.add_text("config", indented, run.start_step)  # indented: Markdown shows it as code
        self.writer.add_text("labels", run.name, run.start_step)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()  # live: readers see each epoch as it ends, not every two minutes

    def close(self) -> None:
        self.writer.close()


class WandB:
    def open(self, run: LoggedRun) -> None:
        import wandb

        # wandb.init replaces sys.exit and sys.excepthook for the whole process (its exit hooks: a
        # sys.exit() then exits 0, not None): the harness's process keeps its own.
        hooks = sys.exit, sys.excepthook
        try:
            # The study's project, and its group too: a run synced into another project keeps its study.
            self.run = wandb.init(project=run.study, group=run.study, id=run.run_id, name=run.name,
                                  tags=[tag[:64] for tag in run.tags],  # W&B refuses a longer tag
                                  config=run.config, dir=str(run.directory), resume="allow",
                                  settings=wandb.Settings(console="off"))  # the harness's output stays its own
        finally:
            sys.exit, sys.excepthook = hooks

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self.run.log(scalars, step=step)

    def close(self) -> None:
        self.run.finish()


LOGGERS = {"tensorboard": TensorBoard, "wandb": WandB}


class Loggers:
    """A run's loggers, fed the curves and steps rows as train.py writes them (the lists only grow):
    each row's values are logged once, and those the last logged row gains later (the probe's top-1
    in the last epoch's row) when they come."""

    def __init__(self, loggers: dict, logged: tuple[list[dict], list[dict]] = ([], [])):
        self.active = dict(loggers)  # name -> logger
        self.logged = {table: _mark(rows) for table, rows in zip(("curves", "steps"), logged)}

    def open(self, run: LoggedRun) -> None:
        self._each("open", run)

    def log(self, curves: list[dict], steps: list[dict]) -> None:
        if not self.active:  # none asked for, or not rank 0: not even the rows' bookkeeping
            return
        fresh = []
        for table, rows in (("curves", curves), ("steps", steps)):
            count, last_keys = self.logged[table]
            for i in range(max(count - 1, 0), len(rows)):  # the last logged row again, then the new ones
                seen = last_keys if i == count - 1 else ()
                values = {f"{table}/{k}": float(v) for k, v in rows[i].items() if k not in seen and _scalar(k, v)}
                if values:
                    fresh.append((rows[i]["step"], values))
            self.logged[table] = _mark(rows)
        for step, values in sorted(fresh, key=lambda f: f[0]):  # W&B's step only goes forward
            self._each("log", step, values)

    def close(self) -> None:
        self._each("close")
        self.active.clear()

    def __enter__(self) -> Loggers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _each(self, what: str, *args) -> None:
        for name, logger in list(self.active.items()):
            try:
                getattr(logger, what)(*args)
            except Exception as err:  # noqa: BLE001 - a logger never fails the run
                warnings.warn(f"runtime.loggers: {name} failed to {what} ({type(err).__name__}: {err}); "
                              f"the run goes on without it", RuntimeWarning, stacklevel=3)  # where train.py called
                del self.active[name]


def _mark(rows: list[dict]) -> tuple[int, set]:
    """How many rows are logged, and the keys of the last one."""
    return len(rows), set(rows[-1]) if rows else set()


def _scalar(key: str, value) -> bool:
    return key not in ("epoch", "step") and isinstance(value, numbers.Real) and math.isfinite(value)


def open_loggers(names, directory: Path, run_id: str, labels: dict | None, config: dict,
                 logged: tuple[list[dict], list[dict]] = ([], [])) -> Loggers:
    """The loggers `names` opened on the run in `directory`; `logged`: the curves and steps rows a
    checkpoint restored, which the process that trained them logged."""
    loggers = Loggers({name: LOGGERS[name]() for name in dict.fromkeys(names)}, logged)
    if loggers.active:
        start = max((row["step"] + 1 for rows in logged for row in rows), default=0)
        loggers.open(LoggedRun(Path(directory), run_id, labels or {}, config, start))
    return loggers
