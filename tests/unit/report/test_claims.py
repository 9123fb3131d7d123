"""Each claim kind decides from the numbers: synthetic finals make it come out each way."""

import pandas as pd
import pytest
from pydantic import TypeAdapter

from harness.report.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Claim

claim = TypeAdapter(Claim).validate_python
REF = 0.0625  # 1/sqrt(256)


def finals(*rows):
    base = {"seed": 0, "status": "done", "output_std_ref": REF, "chance": 0.1}
    return pd.DataFrame([{**base, **r} for r in rows])


SEEDS = (0, 1, 2)
NOISE = (-0.002, 0.0, 0.002)  # a spread over seeds, so that intervals have a width


def seeds(variant: str, spread=NOISE, **values):
    """One row per seed: each metric (a float under a name without a dot: not a grid key) plus that
    seed's offset from `spread`."""
    def value(key, v, d):
        return v + d if isinstance(v, float) and "." not in key else v

    return [{"variant": variant, "seed": s, "run_id": f"{variant}-{s}",
             **{k: value(k, v, d) for k, v in values.items()}}
            for s, d in zip(SEEDS, spread)]


# -- claims on each run hold on every seed

@pytest.mark.parametrize("std, knn, outcome", [(0.001, 0.11, REPRODUCED), (0.001, 0.8, NOT_REPRODUCED),
                                              (0.05, 0.11, NOT_REPRODUCED)])
def test_collapse(std, knn, outcome):
    c = claim({"kind": "collapse", "run": "a", "text": "t"})
    v = c.evaluate(finals(*seeds("a", (0, 0, 0), output_std=std, knn_top1_k200=knn)))
    assert v.outcome == outcome and "1/sqrt(d)" in v.evidence and v.seeds == "3"


def test_collapse_on_std_alone():
    c = claim({"kind": "collapse", "run": "a", "text": "t", "knn_near_chance": None})
    rows = finals(*seeds("a", (0, 0, 0), output_std=0.001, knn_top1_k200=0.9))
    assert c.evaluate(rows).outcome == REPRODUCED


def test_a_collapse_on_some_seeds_only_is_inconclusive_and_names_them():
    c = claim({"kind": "collapse", "run": "a", "text": "t", "knn_near_chance": None})
    rows = finals(*seeds("a", (0.0, 0.05, 0.0), output_std=0.001))
    v = c.evaluate(rows)
    assert v.outcome == INCONCLUSIVE and v.interval == "2 of 3 seeds"
    assert "collapsed on 2 of 3 seed(s) (not on seed 1)" in v.evidence


@pytest.mark.parametrize("std, outcome", [(0.06, REPRODUCED), (0.01, NOT_REPRODUCED)])
def test_no_collapse(std, outcome):
    c = claim({"kind": "no_collapse", "run": "a", "text": "t"})
    assert c.evaluate(finals(*seeds("a", (0, 0, 0), output_std=std))).outcome == outcome


@pytest.mark.parametrize("loss, std, outcome", [(-0.2, 0.06, REPRODUCED), (-0.85, 0.06, NOT_REPRODUCED),
                                               (-0.2, 0.001, NOT_REPRODUCED), (-0.79, 0.06, INCONCLUSIVE)])
def test_not_converge(loss, std, outcome):
    # The loss above the baseline's by more than 0.1, with its interval over seeds; no seed collapsed.
    c = claim({"kind": "not_converge", "run": "f", "baseline": "b", "text": "t"})
    rows = finals(*seeds("f", (-0.02, 0.0, 0.02), loss=loss, output_std=std),
                  *seeds("b", (-0.02, 0.0, 0.02), loss=-0.9, output_std=0.06))
    assert c.evaluate(rows).outcome == outcome


# -- orderings: the interval of the difference of the means over seeds against the margin

@pytest.mark.parametrize("a, b, outcome", [
    (0.9, 0.8, REPRODUCED),  # well apart: the interval clears the margin
    (0.8, 0.9, NOT_REPRODUCED),  # reversed: it clears the other side
    (0.85, 0.84, NOT_REPRODUCED),  # a 1-point gap, clearly under the 2-point margin
    (0.8725, 0.85, INCONCLUSIVE),  # 2.25 points, within the seeds' spread of the margin
])  # fmt: skip
def test_ordering_with_margin(a, b, outcome):
    c = claim({"kind": "ordering", "better": "a", "worse": "b", "margin": 0.02, "text": "t"})
    rows = finals(*seeds("a", knn_top1_k200=a), *seeds("b", (0.002, -0.002, 0.0), knn_top1_k200=b))
    assert c.evaluate(rows).outcome == outcome


def test_means_closer_than_their_spread_are_inconclusive_and_apart_they_decide():
    c = claim({"kind": "ordering", "better": "a", "worse": "b", "text": "t"})
    noisy = (-0.05, 0.0, 0.05)
    close_ = finals(*seeds("a", noisy, knn_top1_k200=0.81), *seeds("b", noisy, knn_top1_k200=0.80))
    v = c.evaluate(close_)
    assert v.outcome == INCONCLUSIVE and v.seeds == "3 / 3" and v.interval.startswith("+1.0 pt [")
    apart = finals(*seeds("a", noisy, knn_top1_k200=0.95), *seeds("b", noisy, knn_top1_k200=0.60))
    assert c.evaluate(apart).outcome == REPRODUCED
    assert c.model_copy(update={"better": "b", "worse": "a"}).evaluate(apart).outcome == NOT_REPRODUCED


def test_the_interval_is_welchs_as_scipy_computes_it():
    from scipy import stats

    from harness.report.intervals import welch

    a, b = [0.91, 0.86, 0.88, 0.90], [0.80, 0.87, 0.82]
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    got = welch(a, b, 0.95)
    assert got.estimate == pytest.approx(sum(a) / 4 - sum(b) / 3)
    assert (got.low, got.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    wider = welch(a, b, 0.99)
    assert wider.low < got.low and wider.high > got.high
    # by hand: 2 and 2 values of variance 2: se = sqrt(2/2 + 2/2), df = 2, t_0.975(2) = 4.3027
    hand = welch([1.0, 3.0], [0.0, 2.0], 0.95)
    half = 4.3027 * 2**0.5
    assert (hand.low, hand.high) == (pytest.approx(1 - half, abs=1e-3), pytest.approx(1 + half, abs=1e-3))
    assert welch([1.0], [0.0, 1.0]) is None


def test_a_claims_confidence_level_is_its_own():
    # a 3-point gap, seeds +-1 point: 95% interval [+0.7, +5.3], 99% [-0.8, +6.8]
    rows = finals(*seeds("a", (-0.01, 0.0, 0.01), knn_top1_k200=0.83),
                  *seeds("b", (-0.01, 0.0, 0.01), knn_top1_k200=0.80))
    at_95 = claim({"kind": "ordering", "better": "a", "worse": "b", "text": "t"}).evaluate(rows)
    at_99 = claim({"kind": "ordering", "better": "a", "worse": "b", "text": "t", "confidence": 0.99}).evaluate(rows)
    assert "95% interval (Welch's t)" in at_95.evidence and "99% interval" in at_99.evidence
    assert at_95.outcome == REPRODUCED and at_99.outcome == INCONCLUSIVE


def test_evidence_prints_accuracies_in_percent_as_the_tables_do():
    c = claim({"kind": "ordering", "better": "a", "worse": "b", "margin": 0.02, "text": "t"})
    rows = finals(*seeds("a", knn_top1_k200=0.851), *seeds("b", knn_top1_k200=0.758))
    evidence = c.evaluate(rows).evidence
    assert evidence.startswith("knn_top1_k200: a 85.1% vs b 75.8% (3 / 3 seeds); difference +9.3 pt [")
    assert "reproduced if above 2 pt" in evidence
    loss = claim({"kind": "ordering", "better": "a", "worse": "b", "metric": "loss", "text": "t"})
    assert "a 0.851 vs b 0.758" in loss.evaluate(rows.assign(loss=rows["knn_top1_k200"])).evidence


@pytest.mark.parametrize("status", ["missing", "failed", "partial"])
def test_unfinished_runs_make_a_claim_inconclusive(status):
    c = claim({"kind": "no_collapse", "run": "a", "text": "t"})
    v = c.evaluate(finals(*seeds("a", (0, 0, 0), output_std=0.06, status=status)))
    assert v.outcome == INCONCLUSIVE and status in v.evidence


def test_too_few_seeds_is_inconclusive_and_says_why():
    c = claim({"kind": "no_collapse", "run": "a", "text": "t"})  # 3 seeds by default
    v = c.evaluate(finals(*seeds("a", (0, 0), output_std=0.06)))
    assert v.outcome == INCONCLUSIVE and "2 finished seed(s) of 'a', 3 needed" in v.evidence
    one = claim({"kind": "no_collapse", "run": "a", "text": "t", "min_seeds": 1})
    assert one.evaluate(finals(*seeds("a", (0,), output_std=0.06))).outcome == REPRODUCED
    # an ordering on one seed a side has no interval: inconclusive whatever min_seeds says
    ordering = claim({"kind": "ordering", "better": "a", "worse": "b", "text": "t", "min_seeds": 1})
    rows = finals(*seeds("a", (0,), knn_top1_k200=0.9), *seeds("b", (0,), knn_top1_k200=0.1))
    assert ordering.evaluate(rows).outcome == INCONCLUSIVE


@pytest.mark.parametrize("kind", [
    {"kind": "no_collapse", "run": "a"},
    {"kind": "collapse", "run": "a", "knn_near_chance": None},
    {"kind": "ordering", "better": "a", "worse": "b"},
    {"kind": "not_converge", "run": "a", "baseline": "b"},
])
def test_a_seed_whose_summary_lacks_what_the_claim_reads_is_not_counted(kind):
    """A finished run's summary without final metrics (e.g. just {"status": "done"}) is no seed."""
    a = seeds("a", output_std=0.06, knn_top1_k200=0.9, loss=0.5)
    bare = [{k: v for k, v in row.items() if k in ("variant", "seed", "run_id")} for row in a[:1]]
    b = seeds("b", output_std=0.06, knn_top1_k200=0.5, loss=-0.5)
    c = claim({**kind, "text": "t"})
    v = c.evaluate(finals(*bare, *a[1:], *b))
    assert v.outcome == INCONCLUSIVE
    assert "2 of 3 finished seed(s) of 'a' have " in v.evidence and "in their summary, 3 needed" in v.evidence
    two = claim({**kind, "text": "t", "min_seeds": 2}).evaluate(finals(*bare, *a[1:], *b))
    assert two.seeds.split(" / ")[0] == "2" and two.outcome != INCONCLUSIVE


# -- trend: monotone over a grid axis (or over variants in a given order), with a tolerance

def sweep(values, axis="optim.batch_size", variant="a", spread=(-0.002, 0.0, 0.002), **extra):
    return finals(*(row for x, y in values for row in seeds(variant, spread, **{axis: x, "knn_top1_k200": y}, **extra)))


@pytest.mark.parametrize("points, direction, outcome", [
    ([(64, 0.60), (128, 0.70), (256, 0.80)], "increasing", REPRODUCED),
    ([(64, 0.60), (128, 0.597), (256, 0.80)], "increasing", REPRODUCED),  # a 0.003 dip is within tolerance
    ([(64, 0.60), (128, 0.50), (256, 0.80)], "increasing", NOT_REPRODUCED),  # a 0.1 dip is not
    ([(64, 0.60), (128, 0.603), (256, 0.603)], "increasing", NOT_REPRODUCED),  # no rise beyond tolerance
    ([(64, 0.60), (128, 0.61), (256, 0.613)], "increasing", INCONCLUSIVE),  # a rise of 1.3: near the tolerance
    ([(64, 0.80), (128, 0.70), (256, 0.60)], "decreasing", REPRODUCED),
    ([(64, 0.60), (128, 0.70), (256, 0.80)], "decreasing", NOT_REPRODUCED),
    ([(64, 0.70), (128, 0.703), (256, 0.698)], "flat", REPRODUCED),
    ([(64, 0.70), (128, 0.75), (256, 0.70)], "flat", NOT_REPRODUCED),
    ([(64, 0.70), (128, 0.708), (256, 0.70)], "flat", INCONCLUSIVE),
])  # fmt: skip
def test_trend(points, direction, outcome):
    c = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": direction,
               "tolerance": 0.01, "text": "t"})
    v = c.evaluate(sweep(points))
    assert v.outcome == outcome, v.evidence
    assert f"64: {points[0][1]:.1%}" in v.evidence  # accuracies in percent, as the report's tables print them
    assert "(3 / 3 / 3 seeds)" in v.evidence


def test_trend_reads_the_mean_over_seeds_in_the_given_order():
    rows = sweep([(64, 0.5), (128, 0.6), (256, 0.7)], spread=(-0.01, 0.0, 0.01))
    c = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": "increasing", "text": "t"})
    assert c.evaluate(rows).outcome == REPRODUCED
    backwards = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "values": [256, 128, 64],
                       "direction": "increasing", "text": "t"})
    assert backwards.evaluate(rows).outcome == NOT_REPRODUCED


def test_trend_over_variants():
    rows = finals(*seeds("none", knn_top1_k200=0.3), *seeds("hidden", knn_top1_k200=0.6),
                  *seeds("all", knn_top1_k200=0.7))
    up = claim({"kind": "trend", "axis": "variant", "values": ["none", "hidden", "all"], "direction": "increasing",
                "text": "t"})
    assert up.evaluate(rows).outcome == REPRODUCED
    assert up.variants() == ["none", "hidden", "all"]


@pytest.mark.parametrize("status", ["missing", "failed"])
def test_trend_with_a_point_unfinished_is_inconclusive(status):
    rows = sweep([(64, 0.6), (128, 0.7), (256, 0.8)])
    rows.loc[4, "status"] = status  # a seed of batch 128
    c = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": "increasing", "text": "t"})
    v = c.evaluate(rows)
    assert v.outcome == INCONCLUSIVE and "optim.batch_size=128" in v.evidence


def test_trend_with_too_few_seeds_or_values_is_inconclusive():
    rows = sweep([(64, 0.6), (128, 0.7)], spread=(0.0, 0.0))
    c = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": "increasing", "text": "t"})
    assert c.evaluate(rows).outcome == INCONCLUSIVE
    assert c.evaluate(sweep([(64, 0.6)])).outcome == INCONCLUSIVE


# -- instability: kNN dips below its running maximum, from steps.parquet when a run has it

def curve(run_id, values, x="epoch"):
    return pd.DataFrame({"run_id": run_id, x: range(len(values)), "knn_top1_k200": values})


DIPPY = [0.2, 0.5, 0.7, 0.45, 0.72, 0.75]  # falls 0.25 below its running max at x=3
SMOOTH = [0.2, 0.5, 0.7, 0.69, 0.72, 0.75]


@pytest.mark.parametrize("values, expect, outcome", [(DIPPY, "dips", REPRODUCED), (SMOOTH, "dips", NOT_REPRODUCED),
                                                     (SMOOTH, "stable", REPRODUCED), (DIPPY, "stable", NOT_REPRODUCED)])
def test_instability_from_curves(values, expect, outcome):
    c = claim({"kind": "instability", "run": "a", "dip_above": 0.1, "expect": expect, "text": "t", "min_seeds": 1})
    v = c.evaluate(finals({"variant": "a", "run_id": "r1"}), curves=curve("r1", values))
    assert v.outcome == outcome and "curves" in v.evidence


def test_instability_prefers_steps_over_epochs():
    c = claim({"kind": "instability", "run": "a", "dip_above": 0.1, "text": "t", "min_seeds": 1})
    rows = finals({"variant": "a", "run_id": "r1"})
    # per epoch the dip is invisible; per step it shows
    v = c.evaluate(rows, curves=curve("r1", SMOOTH), steps=curve("r1", DIPPY, x="step"))
    assert v.outcome == REPRODUCED and "steps.parquet" in v.evidence and "25 pt" in v.evidence


def test_instability_must_dip_on_every_seed():
    c = claim({"kind": "instability", "run": "a", "dip_above": 0.15, "text": "t", "min_seeds": 2})
    rows = finals({"variant": "a", "run_id": "r1"}, {"variant": "a", "run_id": "r2", "seed": 1})
    mixed = pd.concat([curve("r1", DIPPY), curve("r2", SMOOTH)])  # dips 0.25 and 0.01
    v = c.evaluate(rows, curves=mixed)
    assert v.outcome == INCONCLUSIVE and "(not on seed 1)" in v.evidence
    both = pd.concat([curve("r1", DIPPY), curve("r2", DIPPY)])
    assert c.evaluate(rows, curves=both).outcome == REPRODUCED


def test_instability_without_curves_is_inconclusive():
    c = claim({"kind": "instability", "run": "a", "text": "t", "min_seeds": 1})
    assert c.evaluate(finals({"variant": "a", "run_id": "r1"})).outcome == INCONCLUSIVE
    unfinished = finals({"variant": "a", "run_id": "r1", "status": "partial"})
    assert c.evaluate(unfinished, curves=curve("r1", DIPPY)).outcome == INCONCLUSIVE


def test_collapse_reads_its_measure_and_shows_the_others():
    rows = finals(*seeds("a", (0, 0, 0), output_std=0.06, output_std_pre_bn=0.001, output_rank=1.02,
                         knn_top1_k200=0.5))
    paper_measure = claim({"kind": "collapse", "run": "a", "text": "t", "knn_near_chance": None})
    behind_bn = claim({"kind": "collapse", "run": "a", "text": "t", "knn_near_chance": None,
                       "measure": "output_std_pre_bn"})
    v = paper_measure.evaluate(rows)
    assert v.outcome == NOT_REPRODUCED
    assert "output std = 0.960 x 1/sqrt(d)" in v.evidence and "before the output BN 0.016" in v.evidence
    assert "effective rank 1.0" in v.evidence
    assert behind_bn.evaluate(rows).outcome == REPRODUCED
    assert claim({"kind": "no_collapse", "run": "a", "text": "t", "measure": "output_std_pre_bn"}).evaluate(
        rows).outcome == NOT_REPRODUCED


def test_by_default_a_collapse_claim_reads_behind_an_output_bn_without_a_scale():
    # Issue 11 / FIDELITY: behind a non-affine output BN (MoCo v3's heads) the std of z/||z|| reads
    # ~1/sqrt(d) whatever the network does, so a no-collapse claim on it held whatever happened.
    collapsed = dict(output_std=0.06, output_std_pre_bn=0.001, knn_top1_k200=0.5)
    no_collapse = claim({"kind": "no_collapse", "run": "a", "text": "t"})
    fixed = finals(*seeds("a", (0, 0, 0), output_bn_fixes_std=True, **collapsed))
    v = no_collapse.evaluate(fixed)
    assert v.outcome == NOT_REPRODUCED and "output std before the output BN = 0.016 x 1/sqrt(d)" in v.evidence
    # An affine output BN (or none) leaves the paper's measure meaningful: the default reads it.
    scaled = finals(*seeds("a", (0, 0, 0), output_bn_fixes_std=False, **collapsed))
    assert no_collapse.evaluate(scaled).outcome == REPRODUCED
    # A claim that names its measure reads that one.
    named = claim({"kind": "no_collapse", "run": "a", "text": "t", "measure": "output_std"})
    assert named.evaluate(fixed).outcome == REPRODUCED
    not_converge = claim({"kind": "not_converge", "run": "a", "baseline": "b", "text": "t"})
    rows = finals(*seeds("a", (0, 0, 0), output_bn_fixes_std=True, loss=-0.2, **collapsed),
                  *seeds("b", (0, 0, 0), output_bn_fixes_std=True, loss=-0.9, **collapsed))
    assert not_converge.evaluate(rows).outcome == NOT_REPRODUCED  # it collapsed behind the BN


def test_which_heads_fix_the_output_std():
    from harness.config import Heads

    assert Heads(bn="all", output_bn_affine=False).output_bn_fixes_std  # MoCo v3
    assert Heads(bn="hidden_and_projector_output", output_bn_affine=False).output_bn_fixes_std
    assert not Heads(bn="hidden_and_projector_output", output_bn_affine=True).output_bn_fixes_std  # SimSiam's paper
    assert not Heads(bn="hidden", output_bn_affine=False).output_bn_fixes_std  # BYOL: no output BN


def test_ordering_between_two_grid_points_of_one_variant():
    rows = finals(*seeds("default", **{"optim.base_lr": 1e-4, "linear_top1": 0.75}),
                  *seeds("default", **{"optim.base_lr": 0.5e-4, "linear_top1": 0.70}))
    c = claim({"kind": "ordering", "better": "default", "better_where": {"optim.base_lr": 1.0e-4},
               "worse": "default", "worse_where": {"optim.base_lr": 0.5e-4}, "metric": "linear_top1", "text": "t"})
    v = c.evaluate(rows)
    assert v.outcome == REPRODUCED and "optim.base_lr=0.0001 75.0%" in v.evidence
    flipped = c.model_copy(update={"better_where": {"optim.base_lr": 0.5e-4}, "worse_where": {"optim.base_lr": 1e-4}})
    assert flipped.evaluate(rows).outcome == NOT_REPRODUCED
    missing = c.model_copy(update={"worse_where": {"optim.base_lr": 2e-4}})
    assert missing.evaluate(rows).outcome == INCONCLUSIVE


def test_a_trend_reads_the_values_this_preset_runs():
    # The paper's axis runs to 4096; a preset whose grid stops at 512 reads the trend over 256, 512.
    rows = finals(*(row for b in (64, 256, 512) for row in seeds("a", (0.0, 0.001, 0.002), b=b, knn_top1_k200=0.8)))
    c = claim({"kind": "trend", "run": "a", "axis": "b", "direction": "flat", "values": [256, 512, 1024, 4096],
               "tolerance": 0.01, "text": "t"})
    v = c.evaluate(rows)
    assert v.outcome == REPRODUCED and "256: 80.1%, 512: 80.1% (3 / 3 seeds)" in v.evidence and "1024" not in v.evidence
    one = claim({"kind": "trend", "run": "a", "axis": "b", "direction": "flat", "values": [512, 4096], "text": "t"})
    assert one.evaluate(rows).outcome == INCONCLUSIVE


def test_a_runs_dip_is_read_from_its_finer_record():
    from harness.report.results import run_dip

    curves = pd.DataFrame({"run_id": "r", "epoch": [0, 1, 2, 3], "knn_top1_k200": [0.2, 0.5, 0.6, 0.7]})
    steps = pd.DataFrame({"run_id": "r", "step": range(1, 9), "knn_top1_k200": [0.3, 0.5, 0.55, 0.6, 0.4, 0.62, 0.65, 0.7]})
    dip, where, source = run_dip(curves, steps, "r", "knn_top1_k200")
    assert dip == pytest.approx(0.2) and source == "steps.parquet" and "60.0% at step 4 -> 40.0% at step 5" in where
    assert run_dip(curves, None, "r", "knn_top1_k200")[:1] == (0.0,)
    coarse = steps.iloc[::4]  # two points: the per-epoch curves are finer
    assert run_dip(curves, coarse, "r", "knn_top1_k200")[2] == "curves"
    assert run_dip(curves, steps, "other", "knn_top1_k200") is None


def test_an_inconclusive_comparison_says_how_many_seeds_would_likely_decide_it():
    from harness.report.intervals import seeds_to_decide

    noisy = (-0.05, 0.0, 0.05)
    a, b = seeds("a", noisy, knn_top1_k200=0.81), seeds("b", noisy, knn_top1_k200=0.80)
    ordering = claim({"kind": "ordering", "better": "a", "worse": "b", "margin": 0.005, "text": "t"})
    n = seeds_to_decide([r["knn_top1_k200"] for r in a], [r["knn_top1_k200"] for r in b], 0.005)
    v = ordering.evaluate(finals(*a, *b))
    assert v.outcome == INCONCLUSIVE and n > 3
    assert v.evidence.endswith(f"; ~{n} seeds a side would likely decide it at the observed spread (an estimate)")
    apart = finals(*seeds("a", noisy, knn_top1_k200=0.95), *seeds("b", noisy, knn_top1_k200=0.60))
    assert "would likely decide" not in ordering.evaluate(apart).evidence

    rise = [(64, 0.60), (128, 0.61), (256, 0.613)]  # a total rise near the tolerance: undecided
    trend = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": "increasing",
                   "tolerance": 0.01, "text": "t"})
    v = trend.evaluate(sweep(rise))
    first, last = [[y + d for d in (-0.002, 0.0, 0.002)] for y in (0.60, 0.613)]
    assert v.outcome == INCONCLUSIVE
    assert f"; ~{seeds_to_decide(last, first, 0.01)} seeds a side would likely decide it" in v.evidence
    flat = claim({"kind": "trend", "run": "a", "axis": "optim.batch_size", "direction": "flat",
                  "tolerance": 0.01, "text": "t"}).evaluate(sweep([(64, 0.70), (128, 0.708), (256, 0.70)]))
    assert flat.outcome == INCONCLUSIVE and "would likely decide" not in flat.evidence  # flat: no estimate
