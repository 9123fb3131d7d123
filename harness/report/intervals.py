"""Confidence intervals over seeds, so that a verdict says how sure it is.

A claim that compares runs (an ordering, a step of a trend) compares two groups of seeds: the
difference of their means, with Welch's t interval (unequal variances; Welch-Satterthwaite degrees of
freedom). The seeds of two variants are treated as independent samples, as the papers' "mean of N
trials" are: the same seed in two variants shares its initialisation and data order, but the runs
part ways at the first step that differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

METHOD = "Welch's t"


@dataclass(frozen=True)
class Interval:
    estimate: float  # mean(a) - mean(b)
    low: float
    high: float
    level: float  # e.g. 0.95

    def above(self, threshold: float) -> bool:
        return self.low > threshold

    def below(self, threshold: float) -> bool:
        return self.high < threshold

    def within(self, low: float, high: float) -> bool:
        return self.low >= low and self.high <= high


def welch(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval | None:
    """The `level` confidence interval of mean(a) - mean(b); None with fewer than 2 values on a side."""
    from scipy import stats  # imported here: only reports need it

    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        return None
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / (len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (len(b) - 1)
    se2 = var_a / len(a) + var_b / len(b)
    estimate = mean_a - mean_b
    if se2 == 0:  # identical seeds on both sides (a deterministic outcome): the point itself
        return Interval(estimate, estimate, estimate, level)
    df = se2**2 / ((var_a / len(a)) ** 2 / (len(a) - 1) + (var_b / len(b)) ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2)
    return Interval(estimate, estimate - half, estimate + half, level)
