"""What a refusal of bad input looks like: SpecError, one line naming the file and the key, as every
command prints it before exiting with status 2; and the exit statuses of runs that failed or
diverged. Light on purpose: the command line's parser uses it before anything else of the harness
is imported.
"""

from __future__ import annotations

from typing import Any

BAD_INPUT, FAILED_RUNS, DIVERGED_RUNS = 2, 3, 4  # exit statuses (cli.EXIT_STATUSES)

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
