"""What a refusal of bad input looks like: SpecError, one line naming the file and the key, as every
command prints it before exiting with status 2; and the exit statuses of runs that failed or
diverged, or that a signal stopped. Light on purpose: the command line's parser uses it before
anything else of the harness is imported.
"""

from __future__ import annotations

import signal
from typing import Any

BAD_INPUT, FAILED_RUNS, DIVERGED_RUNS = 2, 3, 4  # exit statuses (cli.EXIT_STATUSES)
# The signals that stop the harness, and the conventional status of a process they ended: 128 + the
# signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports it.
INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}

# What str.splitlines (and a terminal, for the first few) breaks a line at, and how it is written instead.
LINE_BREAKS = {c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """The text with its line breaks escaped (a value may hold a newline)."""
    return text.translate(str.maketrans(LINE_BREAKS))


class SpecError(ValueError):
    """A study spec or an override is invalid. The message is one line naming file and key."""

    def __init__(self, message: str):
        super().__init__(one_line(message))  # whatever the spec's strings hold


def shown(value: Any, limit: int = 80) -> str:
    """A value as an error message quotes it: its repr, cut short (a grid axis may hold thousands)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM asked the harness to stop (cli.py raises it from its handler). A
    KeyboardInterrupt, not an Exception: no `except Exception` of a run takes it for the run's failure.
    The message is the one line the command line prints."""

    def __init__(self, signum: int, message: str = ""):
        self.signum = signum
        self.status = INTERRUPTED[signum]
        super().__init__(one_line(message or f"interrupted by {self.name}"))

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name
