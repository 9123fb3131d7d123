"""The evaluation columns' names (harness/columns.py): what files written by any version hold, so they
never change; and the rule for which columns are results."""

import pyarrow.parquet as pq

from harness import columns
from harness.config import DEFAULT_KNN, PROBES

from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "legacy_results"  # written by main at a509ef7


def test_the_names_in_files_stay_as_they_are():
    assert columns.knn("k200") == columns.DEFAULT_KNN_COLUMN == "knn_top1_k200"
    assert [columns.knn(p.name) for p in DEFAULT_KNN] == ["knn_top1_k200", "knn_top1_k20"]
    assert columns.PROBE == {"linear": "linear_top1", "paper_linear": "linear_top1", "finetune": "finetune_top1",
                             "distill": "distill_top1"}
    assert columns.PROBES == ("linear_top1", "finetune_top1", "distill_top1")
    assert set(columns.PROBE) == set(PROBES)  # a column for each probe.mode
    assert columns.dip("knn_top1_k200") == "knn_top1_k200_dip"
    assert columns.EPOCH_SECONDS == "epoch_seconds"


def test_results_written_before_read_by_the_rule():
    # The SimSiam run of the results tree written at a509ef7: every column it has is one of these.
    names = pq.read_schema(FIXTURE / "legacy" / "61bf1b25b0dc" / "curves.parquet").names
    assert [c for c in names if columns.is_accuracy(c)] == ["knn_top1_k200", "knn_top1_k20", "linear_top1"]
    assert [c for c in names if not columns.is_result(c)] == ["epoch", "step", "epoch_seconds"]
    assert not columns.is_accuracy("loss") and columns.is_result("loss")
