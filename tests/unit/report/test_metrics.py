from harness.columns import PROBES, knn
from harness.report.metrics import metric


def test_every_evaluation_column_reads_as_a_top1_in_percent():
    # An evaluation's column (linear, fine-tuned, distilled) and a kNN one print 0.904 as 90.4% and a
    # difference in points, as the papers' tables do.
    for column in (*PROBES, knn("k200")):
        named = metric(column)
        assert named.accuracy and named.unit == "%", column
        assert named.interval(0.019, -0.037, 0.074) == "+1.9 pt [-3.7, +7.4]", column
