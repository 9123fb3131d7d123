"""The papers' published numbers (reference/papers.yaml, a data file in the package).

They are printed beside the reproduced numbers and never used as results. Entries marked
M (derived) or L (from memory, unverified) are shown with that mark.
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml


@functools.cache
def papers() -> dict:
    text = resources.files("harness").joinpath("reference/papers.yaml").read_text()
    return yaml.safe_load(text)


def paper_table(ref: str) -> dict:
    """'simsiam.table1_predictor' -> that table's entry (rows, sure, note); KeyError names the ref."""
    paper, _, table = ref.partition(".")
    try:
        return papers()[paper][table]
    except KeyError:
        raise KeyError(f"papers.yaml has no table {ref!r}") from None


def citation(ref: str) -> str:
    return papers()[ref.partition(".")[0]].get("citation", "")
