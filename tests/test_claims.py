"""Each claim kind decides from the numbers: synthetic finals make it come out each way."""

import pandas as pd
import pytest
from pydantic import TypeAdapter

from harness.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim

claim = TypeAdapter(Claim).validate_python
REF = 0.0625  # 1/sqrt(256)


def finals(*rows):
    base = {"seed": 0, "status": "done", "output_std_ref": REF, "chance": 0.1}
    return pd.DataFrame([{**base, **r} for r in rows])


@pytest.mark.parametrize("std, knn, outcome", [(0.001, 0.11, REPRODUCED), (0.001, 0.8, NOT_REPRODUCED),
                                              (0.05, 0.11, NOT_REPRODUCED)])
def test_collapse(std, knn, outcome):
    c = claim({"kind": "collapse", "run": "a", "text": "t"})
    v = c.evaluate(finals({"variant": "a", "output_std": std, "knn_top1_k200": knn}))
    assert v.outcome == outcome and "1/sqrt(d)" in v.evidence


def test_collapse_on_std_alone():
    c = claim({"kind": "collapse", "run": "a", "text": "t", "knn_near_chance": None})
    assert c.evaluate(finals({"variant": "a", "output_std": 0.001, "knn_top1_k200": 0.9})).outcome == REPRODUCED


@pytest.mark.parametrize("std, outcome", [(0.06, REPRODUCED), (0.01, NOT_REPRODUCED)])
def test_no_collapse(std, outcome):
    c = claim({"kind": "no_collapse", "run": "a", "text": "t"})
    assert c.evaluate(finals({"variant": "a", "output_std": std})).outcome == outcome


@pytest.mark.parametrize("loss, std, outcome", [(-0.2, 0.06, REPRODUCED), (-0.85, 0.06, NOT_REPRODUCED),
                                               (-0.2, 0.001, NOT_REPRODUCED)])
def test_not_converge(loss, std, outcome):
    c = claim({"kind": "not_converge", "run": "f", "baseline": "b", "text": "t"})
    rows = finals({"variant": "f", "loss": loss, "output_std": std}, {"variant": "b", "loss": -0.9, "output_std": 0.06})
    assert c.evaluate(rows).outcome == outcome


@pytest.mark.parametrize("a, b, outcome", [(0.9, 0.8, REPRODUCED), (0.8, 0.9, NOT_REPRODUCED), (0.85, 0.84, NOT_REPRODUCED)])
def test_ordering_with_margin(a, b, outcome):
    c = claim({"kind": "ordering", "better": "a", "worse": "b", "margin": 0.02, "text": "t"})
    rows = finals({"variant": "a", "knn_top1_k200": a}, {"variant": "b", "knn_top1_k200": b})
    assert c.evaluate(rows).outcome == outcome


def test_ordering_uses_the_mean_over_seeds():
    c = claim({"kind": "ordering", "better": "a", "worse": "b", "text": "t"})
    rows = finals({"variant": "a", "knn_top1_k200": 0.9}, {"variant": "a", "seed": 1, "knn_top1_k200": 0.5},
                  {"variant": "b", "knn_top1_k200": 0.71})
    assert c.evaluate(rows).outcome == NOT_REPRODUCED  # mean 0.70 < 0.71


@pytest.mark.parametrize("status", ["missing", "failed", "partial"])
def test_unfinished_runs_make_a_claim_inconclusive(status):
    c = claim({"kind": "no_collapse", "run": "a", "text": "t"})
    v = c.evaluate(finals({"variant": "a", "output_std": 0.06, "status": status}))
    assert v.outcome == INCONCLUSIVE and status in v.evidence


def test_too_few_seeds_is_inconclusive():
    c = claim({"kind": "no_collapse", "run": "a", "text": "t", "min_seeds": 3})
    assert c.evaluate(finals({"variant": "a", "output_std": 0.06})).outcome == INCONCLUSIVE
