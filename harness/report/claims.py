"""Claims as data: what a paper's table says, in a form the report can check against the runs.

A study lists its claims under `report.claims`; each kind below reads the final metrics of the runs
it names and returns a Verdict with the numbers that decided it and how sure they are:

- claims on each run (collapse, no_collapse, instability) must hold on every seed: "reproduced" when
  they hold on all, "not reproduced" when on none, and "inconclusive" naming the seeds that broke
  them otherwise;
- claims that compare runs (ordering, trend, not_converge) compare means over seeds with a
  confidence interval of their difference (intervals.py: Welch's t, 95% unless the claim's
  `confidence` says otherwise): "reproduced" when the interval clears the claim's margin,
  "not reproduced" when it clears the other side, and "inconclusive (N seeds, interval ...)" when it
  straddles it.

A claim whose runs are missing, failed or still running, or that has fewer finished seeds than its
`min_seeds` (3 by default), is inconclusive and says why: never silently decided.

`finals` is a DataFrame with one row per planned run: run_id, variant, seed, its grid values, status,
and the last logged value of each metric (loss, the collapse monitors, output_std_ref = 1/sqrt(d),
knn_top1_<protocol>, linear_top1, finetune_top1 or distill_top1 where an evaluation ran, chance, <kNN metric>_dip). Claims over time
(instability) also get `curves` (one row per run and epoch) and, where runs wrote one, `steps` (one
row per run and logged step, from steps.parquet); both carry a run_id column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import pandas as pd
from pydantic import Field

from harness.columns import DEFAULT_KNN_COLUMN
from harness.config import Section
from harness.report.intervals import METHOD, MOST_SEEDS, Interval, seeds_to_decide, welch
from harness.report.metrics import metric
from harness.report.results import matching, run_dip
from harness.spec import same
from harness.store import FINISHED

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"


@dataclass(frozen=True)
class Verdict:
    claim: str
    outcome: str
    evidence: str
    seeds: str = ""  # the finished seeds behind it, e.g. "3" or "3 / 5" (per group)
    interval: str = ""  # the decisive interval or count, e.g. "+9.3 pt [+5.1, +13.5]", "3 of 3 seeds"


class _Claim(Section):
    text: str
    min_seeds: int = Field(3, gt=0, description="finished seeds needed per variant (or trend point) to decide")
    confidence: float = Field(0.95, gt=0, lt=1, description="level of the intervals over seeds")
    where: dict[str, Any] = Field({}, description="grid values the runs must have, e.g. {heads.bn: hidden}")

    def variants(self) -> list[str]:
        raise NotImplementedError

    def final_metric(self) -> str | None:
        """The final metric the claim reads, if any: its runs must have it."""
        return getattr(self, "metric", None)

    def reads(self, rows: pd.DataFrame) -> list[str]:
        """The columns of `finals` the claim reads on these runs: a run counts as a seed only when its
        summary has each of them."""
        return [m for m in [self.final_metric()] if m is not None]

    def _select(self, finals: pd.DataFrame, variant: str | None, values: dict | None = None) -> pd.DataFrame:
        """The runs of `variant` (None: any) with the claim's `where` and these grid `values`."""
        rows = finals if variant is None else finals[finals["variant"] == variant]
        return matching(rows, {**self.where, **(values or {})})

    def _finished(self, rows: pd.DataFrame, what: str) -> tuple[pd.DataFrame | None, str]:
        """The runs if all are finished and there are enough seeds, else None and why not."""
        if rows.empty:
            return None, f"no runs of {what}" + (f" with {self.where}" if self.where else "")
        unfinished = rows[~rows["status"].isin(FINISHED)]
        if not unfinished.empty:
            states = ", ".join(sorted(set(unfinished["status"])))
            return None, f"{len(unfinished)} run(s) of {what} not finished ({states})"
        if len(rows) < self.min_seeds:
            return None, f"{len(rows)} finished seed(s) of {what}, {self.min_seeds} needed"
        columns = self.reads(rows)
        absent = next((c for c in columns if c not in rows or rows[c].isna().all()), None)
        if absent is not None:
            return None, f"no run of {what} has {absent}"
        measured = rows.dropna(subset=columns)
        if len(measured) < self.min_seeds:
            return None, (f"{len(measured)} of {len(rows)} finished seed(s) of {what} have {', '.join(columns)} "
                          f"in their summary, {self.min_seeds} needed")
        return measured, ""

    def _runs(self, finals: pd.DataFrame, variant: str) -> tuple[pd.DataFrame | None, str]:
        """The finished runs of a variant, or None and why the claim cannot be decided."""
        return self._finished(self._select(finals, variant), repr(variant))

    def evaluate(self, finals: pd.DataFrame, curves: pd.DataFrame | None = None,
                 steps: pd.DataFrame | None = None) -> Verdict:
        runs = {}
        for variant in self.variants():
            rows, why = self._runs(finals, variant)
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            runs[variant] = rows
        return self.decide(runs)

    def decide(self, runs: dict[str, pd.DataFrame]) -> Verdict:
        raise NotImplementedError

    def _compare(self, a: pd.Series, b: pd.Series) -> Interval | None:
        return welch(pd.to_numeric(a).dropna(), pd.to_numeric(b).dropna(), self.confidence)


def show(column: str, value: float) -> str:
    """A measured value as the evidence prints it: accuracies in percent, their dips in points."""
    return metric(column).value(value)


def show_gap(column: str, value: float) -> str:
    """A margin, tolerance or difference of `column`: in percentage points (pt) for an accuracy."""
    return metric(column).gap(value)


def show_interval(column: str, interval: Interval) -> str:
    """'+9.3 pt [+5.1, +13.5]': a difference and its interval, in the metric's units."""
    return metric(column).interval(interval.estimate, interval.low, interval.high)


def _decide_interval(interval: Interval | None, margin: float) -> str:
    """Reproduced when the interval is above the margin, not reproduced when it is at or below it."""
    if interval is None:
        return INCONCLUSIVE
    if interval.above(margin):
        return REPRODUCED
    return NOT_REPRODUCED if interval.high <= margin else INCONCLUSIVE


def _seeds_to_decide(undecided: list[tuple[pd.Series, pd.Series, float]], level: float) -> str:
    """What an inconclusive comparison adds to its evidence: the seeds per side that would likely decide
    each of its undecided intervals (a, b, threshold), the most of them (intervals.DECIDING_RULE)."""
    needs = [seeds_to_decide(pd.to_numeric(a).dropna(), pd.to_numeric(b).dropna(), t, level) for a, b, t in undecided]
    if not needs:
        return ""
    most = f"more than {MOST_SEEDS}" if None in needs else f"~{max(needs)}"
    return f"; {most} seeds a side would likely decide it at the observed spread (an estimate)"


def _per_seed(text: str, rows: pd.DataFrame, holds: pd.Series, what: str, evidence: str) -> Verdict:
    """A claim on each run: reproduced if it holds on every seed, not reproduced if on none,
    inconclusive (naming the seeds that broke it) otherwise."""
    n, held = len(rows), int(holds.sum())
    broke = sorted(int(s) for s in rows.loc[~holds.to_numpy(), "seed"])
    outcome = REPRODUCED if held == n else NOT_REPRODUCED if held == 0 else INCONCLUSIVE
    tally = f"{what} on {held} of {n} seed(s)" + (f" (not on seed {', '.join(map(str, broke))})" if 0 < held < n else "")
    return Verdict(text, outcome, f"{tally}; {evidence}", seeds=str(n), interval=f"{held} of {n} seeds")


# The collapse monitors a collapse claim may read (harness/monitor.py): the std of z/||z|| (SimSiam's
# measure) or the same std before the projector's output BN. "auto" (the default) reads the first,
# except on runs whose output BN has no learnable scale (config.Heads.output_bn_fixes_std: MoCo v3's
# heads): that BN keeps the first near 1/sqrt(d) whatever the network computes, so it reads the second.
STD_MEASURES = Literal["auto", "output_std", "output_std_pre_bn"]
MEASURE_LABELS = {"output_std": "output std", "output_std_pre_bn": "output std before the output BN"}


def _measure(rows: pd.DataFrame, measure: str) -> str:
    """The monitor an "auto" claim reads on these runs (they share their heads in every study;
    where they do not, the std before the BN, which sees a collapse either way)."""
    if measure != "auto":
        return measure
    fixed = rows["output_bn_fixes_std"] if "output_bn_fixes_std" in rows else pd.Series(False, index=rows.index)
    return "output_std_pre_bn" if fixed.astype(bool).any() else "output_std"


def _std_columns(rows: pd.DataFrame, measure: str = "auto") -> list[str]:
    """What a std ratio reads: the measure and 1/sqrt(d)."""
    return [_measure(rows, measure), "output_std_ref"]


def _std_ratios(rows: pd.DataFrame, measure: str = "auto") -> pd.Series:
    measure = _measure(rows, measure)
    if measure not in rows:
        return pd.Series(math.nan, index=rows.index)
    return pd.to_numeric(rows[measure]) / pd.to_numeric(rows["output_std_ref"])


def _collapse_evidence(rows: pd.DataFrame, measure: str, rule: str) -> str:
    """The claim's measure (mean, and per seed) against its rule, then the other monitors."""
    measure = _measure(rows, measure)
    ratios = _std_ratios(rows, measure)
    per_seed = ", ".join(f"{r:.3f}" for r in ratios)
    others = [f"{MEASURE_LABELS[m]} {_std_ratios(rows, m).mean():.3f}" for m in MEASURE_LABELS if m != measure]
    if "output_rank" in rows and rows["output_rank"].notna().any():
        others.append(f"effective rank {float(pd.to_numeric(rows['output_rank']).mean()):.1f}")
    return (f"{MEASURE_LABELS[measure]} = {ratios.mean():.3f} x 1/sqrt(d) (per seed {per_seed}; {rule}); "
            + ", ".join(others))


class Collapse(_Claim):
    """The output std (`measure`) falls toward 0 (below `std_below` x 1/sqrt(d)) and, if
    `knn_near_chance` is set, kNN accuracy ends within that margin of chance: on every seed."""

    kind: Literal["collapse"]
    run: str
    measure: STD_MEASURES = "auto"
    std_below: float = Field(0.1, gt=0)
    knn_near_chance: float | None = Field(0.05, ge=0)
    metric: str = DEFAULT_KNN_COLUMN

    def variants(self):
        return [self.run]

    def final_metric(self):
        return self.metric if self.knn_near_chance is not None else None

    def reads(self, rows):
        return _std_columns(rows, self.measure) + ([self.metric, "chance"] if self.knn_near_chance is not None else [])

    def decide(self, runs):
        rows = runs[self.run]
        holds = _std_ratios(rows, self.measure) < self.std_below
        evidence = _collapse_evidence(rows, self.measure, f"collapse below {self.std_below}")
        if self.knn_near_chance is not None:
            knn, chance = pd.to_numeric(rows[self.metric]), pd.to_numeric(rows["chance"])
            holds = holds & (knn <= chance + self.knn_near_chance)
            evidence += (f"; {self.metric} = {show(self.metric, knn.mean())} vs chance {show('chance', chance.mean())} "
                         f"(needs <= chance + {show_gap(self.metric, self.knn_near_chance)})")
        return _per_seed(self.text, rows, holds, "collapsed", evidence)


class NoCollapse(_Claim):
    """The output std (`measure`) stays near 1/sqrt(d): at least `std_above` x 1/sqrt(d), on every seed."""

    kind: Literal["no_collapse"]
    run: str
    measure: STD_MEASURES = "auto"
    std_above: float = Field(0.5, gt=0)

    def variants(self):
        return [self.run]

    def reads(self, rows):
        return _std_columns(rows, self.measure)

    def decide(self, runs):
        rows = runs[self.run]
        holds = _std_ratios(rows, self.measure) >= self.std_above
        evidence = _collapse_evidence(rows, self.measure, f"needs >= {self.std_above}")
        return _per_seed(self.text, rows, holds, "no collapse", evidence)


class NotConverge(_Claim):
    """The run's final loss stays above the baseline's by more than `loss_margin` (the interval of
    the difference clears it), without collapsing on any seed."""

    kind: Literal["not_converge"]
    run: str
    baseline: str
    loss_margin: float = Field(0.1, ge=0)
    std_above: float = Field(0.5, gt=0)

    def variants(self):
        return [self.run, self.baseline]

    def reads(self, rows):
        return ["loss", *_std_columns(rows)]

    def decide(self, runs):
        run, base = runs[self.run], runs[self.baseline]
        interval = self._compare(run["loss"], base["loss"])
        loss = _decide_interval(interval, self.loss_margin)
        spread = _std_ratios(run) >= self.std_above
        std = REPRODUCED if spread.all() else NOT_REPRODUCED if not spread.any() else INCONCLUSIVE
        outcome = (NOT_REPRODUCED if NOT_REPRODUCED in (loss, std)
                   else REPRODUCED if loss == std == REPRODUCED else INCONCLUSIVE)
        gap = show_interval("loss", interval) if interval else "no interval (1 seed)"
        evidence = (
            f"final loss {float(run['loss'].mean()):.3f} vs {self.baseline} {float(base['loss'].mean()):.3f} "
            f"({len(run)} / {len(base)} seeds): difference {gap}, {self._level()} (needs > +{self.loss_margin}); "
            f"output std >= {self.std_above} x 1/sqrt(d) on {int(spread.sum())} of {len(run)} seed(s)"
        )
        return Verdict(self.text, outcome, evidence, seeds=f"{len(run)} / {len(base)}",
                       interval=gap if interval else "")

    def _level(self) -> str:
        return f"{100 * self.confidence:g}% interval ({METHOD})"


def reads_the_std(claim) -> bool:
    """Whether a claim reads the output std (a collapse, or its absence): the report's default curves
    then show the effective rank beside it."""
    return isinstance(claim, (Collapse, NoCollapse, NotConverge))


class Ordering(_Claim):
    """Variant `better` beats `worse` on `metric` by more than `margin`: the interval of the
    difference of their means over seeds lies above the margin. Each side may add grid values to the
    claim's `where` (`better_where`, `worse_where`): two points of one variant, e.g. MoCo v3 Fig. 2's
    lr 1.0e-4 against 0.5e-4."""

    kind: Literal["ordering"]
    better: str
    worse: str
    better_where: dict[str, Any] = {}
    worse_where: dict[str, Any] = {}
    metric: str = DEFAULT_KNN_COLUMN
    margin: float = Field(0.0, ge=0)

    def variants(self):
        return [self.better, self.worse]

    def evaluate(self, finals, curves=None, steps=None):
        sides = []
        for variant, values in ((self.better, self.better_where), (self.worse, self.worse_where)):
            what = repr(variant) + "".join(f" {k}={v}" for k, v in values.items())
            rows, why = self._finished(self._select(finals, variant, values), what)
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            sides.append((what.replace("'", ""), rows))
        (better, hi), (worse, lo) = sides
        interval = self._compare(hi[self.metric], lo[self.metric])
        outcome = _decide_interval(interval, self.margin)
        gap = show_interval(self.metric, interval) if interval else "no interval"
        evidence = (f"{self.metric}: {better} {show(self.metric, hi[self.metric].mean())} vs {worse} "
                    f"{show(self.metric, lo[self.metric].mean())} ({len(hi)} / {len(lo)} seeds); difference {gap}, "
                    f"{100 * self.confidence:g}% interval ({METHOD}); reproduced if above "
                    f"{show_gap(self.metric, self.margin)}, not reproduced if at or below it")
        if outcome == INCONCLUSIVE and interval:
            evidence += _seeds_to_decide([(hi[self.metric], lo[self.metric], self.margin)], self.confidence)
        return Verdict(self.text, outcome, evidence, seeds=f"{len(hi)} / {len(lo)}", interval=gap if interval else "")


class Trend(_Claim):
    """`metric` (mean over seeds) moves one way along `axis`, a grid key or "variant", in the order of
    `values` (default: the values present, sorted; at a preset that runs fewer, those it runs).
    increasing: no step between neighbours falls by more than `tolerance`, and the last value exceeds
    the first by more than `tolerance`; decreasing: the mirror image; flat: no two values differ by
    more than `tolerance`. Each difference is read with its interval over seeds: reproduced when all
    the intervals satisfy the rule, not reproduced when one of them clearly breaks it, inconclusive
    otherwise. `run` names the variant the trend is read in (needed when the study has several and
    `axis` is a grid key)."""

    kind: Literal["trend"]
    axis: str
    direction: Literal["increasing", "decreasing", "flat"]
    run: str | None = None
    values: list[Any] | None = Field(None, min_length=2)
    metric: str = DEFAULT_KNN_COLUMN
    tolerance: float = Field(0.0, ge=0)

    def variants(self):
        if self.axis == "variant":
            return list(self.values or [])
        return [self.run] if self.run else []

    def evaluate(self, finals, curves=None, steps=None):
        if self.axis not in finals:
            return Verdict(self.text, INCONCLUSIVE, f"no runs have the axis {self.axis!r}")
        variant = None if self.axis == "variant" else self.run
        scope = self._select(finals, variant)
        present = scope[self.axis].dropna().unique().tolist()
        # `values` at this preset: those the study's runs have (a preset_grid may run fewer).
        values = [v for v in self.values if any(same(v, p) for p in present)] if self.values else sorted(present)
        if len(values) < 2:
            return Verdict(self.text, INCONCLUSIVE, f"{len(values)} value(s) of {self.axis}, a trend needs 2")
        groups = []
        for value in values:
            rows, why = self._finished(self._select(scope, None, {self.axis: value}), f"{self.axis}={value}")
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            groups.append(pd.to_numeric(rows[self.metric]))
        series = ", ".join(f"{v}: {show(self.metric, g.mean())}" for v, g in zip(values, groups))
        seeds = " / ".join(str(len(g)) for g in groups)
        tol, gap = self.tolerance, lambda value: show_gap(self.metric, value)
        level = f"{100 * self.confidence:g}% intervals ({METHOD})"
        if self.direction == "flat":
            pairs = [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))]
            intervals = [self._compare(groups[j], groups[i]) for i, j in pairs]
            if any(iv is None for iv in intervals):
                return Verdict(self.text, INCONCLUSIVE, f"{self.metric} over {self.axis}: {series}; a value with "
                               "one seed has no interval", seeds=seeds)
            widest = max(intervals, key=lambda iv: max(abs(iv.low), abs(iv.high)))
            if all(iv.within(-tol, tol) for iv in intervals):
                outcome = REPRODUCED
            elif any(iv.above(tol) or iv.below(-tol) for iv in intervals):
                outcome = NOT_REPRODUCED
            else:
                outcome = INCONCLUSIVE
            decisive = show_interval(self.metric, widest)
            why = (f"the widest difference between two values {decisive}, {level}; flat if every one lies "
                   f"within +-{gap(tol)}")
        else:
            sign = 1 if self.direction == "increasing" else -1
            steps_ = [self._compare(sign * groups[k + 1], sign * groups[k]) for k in range(len(groups) - 1)]
            total = self._compare(sign * groups[-1], sign * groups[0])
            if total is None or any(iv is None for iv in steps_):
                return Verdict(self.text, INCONCLUSIVE, f"{self.metric} over {self.axis}: {series}; a value with "
                               "one seed has no interval", seeds=seeds)
            worst = min(steps_, key=lambda iv: iv.low)
            more = ""  # an inconclusive trend's seeds to decide it
            if all(iv.low >= -tol for iv in steps_) and total.above(tol):
                outcome = REPRODUCED
            elif any(iv.below(-tol) for iv in steps_) or total.high <= tol:
                outcome = NOT_REPRODUCED
            else:
                outcome = INCONCLUSIVE
                # The intervals that decide nothing yet: the total straddling tol, a step straddling -tol.
                undecided = [(sign * groups[-1], sign * groups[0], tol)] if not total.above(tol) else []
                undecided += [(sign * groups[k + 1], sign * groups[k], -tol)
                              for k, iv in enumerate(steps_) if iv.low < -tol and not iv.below(-tol)]
                more = _seeds_to_decide(undecided, self.confidence)
            word = "rise" if sign > 0 else "fall"
            decisive = show_interval(self.metric, total)
            why = (f"total {word} {decisive}, the step most against it {show_interval(self.metric, worst)}, "
                   f"{level} (a step may go back at most {gap(tol)}; the total must exceed it){more}")
        evidence = f"{self.metric} over {self.axis}: {series} ({seeds} seeds); {why}"
        return Verdict(self.text, outcome, evidence, seeds=seeds, interval=decisive)


class Instability(_Claim):
    """`metric` dips: on every seed it falls more than `dip_above` below its running maximum during
    training (MoCo v3 Fig. 1). The dips are read per run from the finer of its records (steps.parquet
    where the run logged `metric` every few steps, the per-epoch curves). With `expect: stable` the
    claim is the opposite: no such dip on any seed."""

    kind: Literal["instability"]
    run: str
    metric: str = DEFAULT_KNN_COLUMN
    dip_above: float = Field(0.05, gt=0)
    expect: Literal["dips", "stable"] = "dips"

    def variants(self):
        return [self.run]

    def final_metric(self):
        return None  # read over time, from the curves and steps.parquet

    def evaluate(self, finals, curves=None, steps=None):
        rows, why = self._runs(finals, self.run)
        if rows is None:
            return Verdict(self.text, INCONCLUSIVE, why)
        dips, details = [], []
        for run_id in rows["run_id"]:
            found = run_dip(curves, steps, run_id, self.metric)
            if found is None:
                return Verdict(self.text, INCONCLUSIVE, f"run {run_id} has no {self.metric} over time")
            dip, where, source = found
            dips.append(dip)
            details.append(f"{run_id}: {show_gap(self.metric, dip)} ({where}, {source})")
        dipped = pd.Series(dips, index=rows.index) > self.dip_above
        limit = show_gap(self.metric, self.dip_above)
        rule = f"dips if > {limit}" if self.expect == "dips" else f"stable if <= {limit}"
        evidence = (f"largest {self.metric} dip below its running max, mean {show_gap(self.metric, sum(dips) / len(dips))} "
                    f"({rule}); " + "; ".join(details[:4])
                    + (f"; and {len(details) - 4} more run(s)" if len(details) > 4 else ""))
        holds = dipped if self.expect == "dips" else ~dipped
        return _per_seed(self.text, rows, holds, "dips" if self.expect == "dips" else "stable", evidence)


Claim = Annotated[Union[Collapse, NoCollapse, NotConverge, Ordering, Trend, Instability], Field(discriminator="kind")]
