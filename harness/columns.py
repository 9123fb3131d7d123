"""The names of the evaluation columns of curves.parquet, steps.parquet and summary.json, and the rule
for which columns are results: training writes them, the report and the claims read them, all from
here. The names in files never change, so that results written by any earlier version still read.

Torch-free: the report and planning-side code import it.
"""

from __future__ import annotations

from harness.config import DEFAULT_KNN

KNN = "knn_top1_"  # + a kNN protocol's name (the config's monitor.knn): its top-1


def knn(protocol: str) -> str:
    """The column of a kNN protocol's top-1, e.g. knn_top1_k200."""
    return KNN + protocol


def is_knn(column: str) -> bool:
    return column.startswith(KNN)


# The first default kNN protocol's: what a claim reads unless it names another metric.
DEFAULT_KNN_COLUMN = knn(DEFAULT_KNN[0].name)

# An evaluation's top-1, by probe.mode (config.PROBES; harness/evaluations.py): the linear probe on
# frozen features (harness/probe.py) and the paper's linear evaluation share linear_top1, what the
# papers' tables print as linear top-1 (the stage records which protocol measured it); fine-tuning a
# copy of the network (harness/finetune.py); distilling its fine-tuned teacher into a student.
LINEAR = "linear_top1"
FINETUNE = "finetune_top1"
DISTILL = "distill_top1"
PROBE = {"linear": LINEAR, "paper_linear": LINEAR, "finetune": FINETUNE, "distill": DISTILL}
PROBES = tuple(dict.fromkeys(PROBE.values()))

DIP = "_dip"


def dip(column: str) -> str:
    """A kNN column's curve's largest fall below its running maximum (report/results.py: MoCo v3's dips)."""
    return column + DIP

EPOCH_SECONDS = "epoch_seconds"  # an epoch's wall clock: the one column a rerun does not reproduce
NOT_RESULTS = ("epoch", "step", EPOCH_SECONDS)  # where a row sits, and how long it took


def is_result(column: str) -> bool:
    """Whether a curves column is a result of the run: summary.json's `final` holds it."""
    return column not in NOT_RESULTS


def is_accuracy(column: str) -> bool:
    """An evaluation's top-1 (kNN, linear probe, fine-tuning): summary.json's `best` keeps its maximum."""
    return is_knn(column) or column in PROBES
