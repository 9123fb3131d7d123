"""Interrupted: a training loop stopped because `should_stop` asked it to, after writing its checkpoint.
Its own module so that both loops raise it (train.py: pretraining; supervised.py: the evaluations),
and the launcher catches one class (harness.train re-exports it)."""

from __future__ import annotations


class Interrupted(BaseException):
    """Stopped early on request after writing the checkpoint of `epoch`. A BaseException, like
    KeyboardInterrupt: a request to stop is not a failure of the run."""

    def __init__(self, epoch: int):
        super().__init__(f"stopped on request after epoch {epoch}")
        self.epoch = epoch
