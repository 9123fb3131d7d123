"""harness/report/intervals.py: how many seeds would likely decide an undecided interval."""

import numpy as np
import pytest
from scipy import stats

from harness.report.intervals import seeds_to_decide, welch


def test_seeds_to_decide_by_hand():
    # a = [1, 3], b = [0, 2]: variances 2 and 2, difference 1. With n a side: half-width
    # t_0.975(df) * sqrt(4 / n), Welch's df = (2 + 2)^2 (n - 1) / (2^2 + 2^2) = 2 (n - 1).
    def half(n):
        return stats.t.ppf(0.975, 2 * (n - 1)) * (4 / n) ** 0.5

    assert half(16) > 1 > half(17)  # 1.021 at 16, 0.988 at 17
    assert seeds_to_decide([1.0, 3.0], [0.0, 2.0], 0.0) == 17
    assert half(2) > 0.5 and seeds_to_decide([1.0, 3.0], [0.0, 2.0], 1.5) == next(n for n in range(2, 200) if half(n) < 0.5)
    assert seeds_to_decide([1.0, 3.0], [0.0, 2.0], 0.0, level=0.99) > 17  # a higher level needs more


def sample(n, mean, std):
    """n values with exactly this mean and sample std."""
    z = np.linspace(-1, 1, n)
    return mean + std * (z - z.mean()) / z.std(ddof=1)


def test_at_the_estimated_seeds_the_interval_decides_if_the_spread_stays():
    a, b, margin = [0.81, 0.76, 0.86], [0.80, 0.74, 0.77], 0.0
    interval = welch(a, b)
    assert interval.low <= margin < interval.high  # undecided at 3 seeds
    n = seeds_to_decide(a, b, margin)
    spread_a, spread_b = np.std(a, ddof=1), np.std(b, ddof=1)
    more = welch(sample(n, np.mean(a), spread_a), sample(n, np.mean(b), spread_b))
    fewer = welch(sample(n - 1, np.mean(a), spread_a), sample(n - 1, np.mean(b), spread_b))
    assert more.low > margin and fewer.low <= margin


def test_no_estimate_without_spread_two_seeds_or_a_difference_off_the_margin():
    assert seeds_to_decide([0.5, 0.5], [0.4, 0.4], 0.0) is None  # no spread: already decided
    assert seeds_to_decide([0.5], [0.4, 0.3], 0.0) is None
    assert seeds_to_decide([0.4, 0.6], [0.4, 0.6], 0.0) is None  # the difference is the margin: never
    assert seeds_to_decide([0.4, 0.6], [0.4, 0.6001], 0.0) is None  # more than MOST_SEEDS
