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

    if len(a) < 2 or len(b) < 2:
        return None
    (mean_a, var_a), (mean_b, var_b) = _mean_var(a), _mean_var(b)
    se2 = var_a / len(a) + var_b / len(b)
    estimate = mean_a - mean_b
    if se2 == 0:  # identical seeds on both sides (a deterministic outcome): the point itself
        return Interval(estimate, estimate, estimate, level)
    df = se2**2 / ((var_a / len(a)) ** 2 / (len(a) - 1) + (var_b / len(b)) ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2)
    return Interval(estimate, estimate - half, estimate + half, level)


# How many seeds would likely decide an undecided interval, as reports and the README state it.
MOST_SEEDS = 1000  # searched up to this many per side; beyond it, "more than"
DECIDING_RULE = ("the fewest seeds n per side at which the interval's half-width, with the observed stds, falls "
                 "below the observed difference's distance to the margin (an estimate: new seeds move the means "
                 "and stds too)")


def seeds_to_decide(a: Sequence[float], b: Sequence[float], threshold: float, level: float = 0.95) -> int | None:
    """DECIDING_RULE for mean(a) - mean(b) against `threshold`: the n per side (n seeds on each side,
    the observed sample stds, Welch's degrees of freedom at n) whose half-width t * sqrt((var_a + var_b) / n)
    falls below |mean(a) - mean(b) - threshold|; None when no n up to MOST_SEEDS does (the difference
    sits on the threshold), a side has fewer than 2 values, or neither side spreads."""
    from scipy import stats  # imported here: only reports need it

    if len(a) < 2 or len(b) < 2:
        return None
    (mean_a, var_a), (mean_b, var_b) = _mean_var(a), _mean_var(b)
    distance = abs(mean_a - mean_b - threshold)
    if var_a + var_b == 0:  # no spread: the interval is the point, and decides at any n
        return None
    for n in range(2, MOST_SEEDS + 1):
        df = (var_a + var_b) ** 2 * (n - 1) / (var_a**2 + var_b**2)
        if stats.t.ppf(0.5 + level / 2, df) * math.sqrt((var_a + var_b) / n) < distance:
            return n
    return None


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample variance (n - 1) of at least 2 values."""
    values = [float(x) for x in values]
    mean = sum(values) / len(values)
    return mean, sum((x - mean) ** 2 for x in values) / (len(values) - 1)
