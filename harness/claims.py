"""Claims as data: what a paper's table says, in a form the report can check against the runs.

A study lists its claims under `report.claims`; each kind below reads the final metrics of the runs
it names and returns a Verdict with the numbers that decided it. A claim whose runs are missing,
failed or still running is "inconclusive", never silently decided.

`finals` is a DataFrame with one row per planned run: run_id, variant, seed, its grid values, status,
and the last logged value of each metric (loss, output_std, output_std_ref = 1/sqrt(d),
knn_top1_<protocol>, linear_top1 where a probe ran, chance). Claims over time (instability) also get
`curves` (one row per run and epoch) and, where runs wrote one, `steps` (one row per run and logged
step, from steps.parquet); both carry a run_id column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

import math

import pandas as pd
from pydantic import Field

from harness.config import Section

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
FINISHED = ("done", "diverged")


@dataclass(frozen=True)
class Verdict:
    claim: str
    outcome: str
    evidence: str


class _Claim(Section):
    reads_final_metric: ClassVar[bool] = True  # its `metric` is a final metric (instability reads curves)
    text: str
    min_seeds: int = Field(1, gt=0, description="finished runs needed per variant (or trend point) to decide")
    where: dict[str, Any] = Field({}, description="grid values the runs must have, e.g. {heads.bn: hidden}")

    def variants(self) -> list[str]:
        raise NotImplementedError

    def _select(self, finals: pd.DataFrame, variant: str | None, values: dict | None = None) -> pd.DataFrame:
        """The runs of `variant` (None: any) with the claim's `where` and these grid `values`."""
        rows = finals if variant is None else finals[finals["variant"] == variant]
        for key, value in {**self.where, **(values or {})}.items():
            rows = rows[rows[key].map(lambda v: same(v, value))] if key in rows else rows.iloc[0:0]
        return rows

    def _finished(self, rows: pd.DataFrame, what: str) -> tuple[pd.DataFrame | None, str]:
        """The runs if all are finished and there are enough seeds, else None and why not."""
        if rows.empty:
            return None, f"no runs of {what}" + (f" with {self.where}" if self.where else "")
        unfinished = rows[~rows["status"].isin(FINISHED)]
        if not unfinished.empty:
            states = ", ".join(sorted(set(unfinished["status"])))
            return None, f"{len(unfinished)} run(s) of {what} not finished ({states})"
        if len(rows) < self.min_seeds:
            return None, f"{len(rows)} seed(s) of {what}, {self.min_seeds} needed"
        metric = getattr(self, "metric", None) if self.reads_final_metric else None
        if metric is not None and (metric not in rows or rows[metric].isna().all()):
            return None, f"no run of {what} has {metric}"
        return rows, ""

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


def same(a, b) -> bool:
    """Grid values compare as numbers where both are numbers (1e-4 from one file, 0.0001 from another)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def is_accuracy(metric: str) -> bool:
    """kNN / linear top-1 and chance: stored as fractions, printed in percent."""
    return "top1" in metric or metric == "chance"


def show(metric: str, value: float) -> str:
    """A measured value as the report's tables print it: accuracies in percent."""
    if metric.endswith("_dip"):  # a fall of an accuracy: in points
        return show_gap(metric, value)
    return f"{100 * value:.1f}%" if is_accuracy(metric) else f"{value:.3f}"


def show_gap(metric: str, value: float) -> str:
    """A margin, tolerance or difference of `metric`: in percentage points (pt) for an accuracy."""
    return f"{100 * value:.3g} pt" if is_accuracy(metric) else f"{value:.3g}"


# The collapse monitors a collapse claim may read (harness/monitor.py): the std of z/||z|| (SimSiam's
# measure) or the same std before the projector's output BN (a non-affine output BN keeps the first
# near 1/sqrt(d) whatever the network computes).
STD_MEASURES = Literal["output_std", "output_std_pre_bn"]
MEASURE_LABELS = {"output_std": "output std", "output_std_pre_bn": "output std before the output BN"}


def _std_ratio(rows: pd.DataFrame, measure: str = "output_std") -> float:
    if measure not in rows:
        return math.nan
    return float((pd.to_numeric(rows[measure]) / pd.to_numeric(rows["output_std_ref"])).mean())


def _collapse_evidence(rows: pd.DataFrame, measure: str, rule: str) -> str:
    """The claim's measure against its rule, then the other monitors for the reader."""
    others = [f"{MEASURE_LABELS[m]} {_std_ratio(rows, m):.3f}" for m in MEASURE_LABELS if m != measure]
    if "output_rank" in rows and rows["output_rank"].notna().any():
        others.append(f"effective rank {float(pd.to_numeric(rows['output_rank']).mean()):.1f}")
    return f"{MEASURE_LABELS[measure]} = {_std_ratio(rows, measure):.3f} x 1/sqrt(d) ({rule}); " + ", ".join(others)


class Collapse(_Claim):
    """The output std (`measure`) falls toward 0 (below `std_below` x 1/sqrt(d)) and, if
    `knn_near_chance` is set, kNN accuracy ends within that margin of chance."""

    kind: Literal["collapse"]
    run: str
    measure: STD_MEASURES = "output_std"
    std_below: float = Field(0.1, gt=0)
    knn_near_chance: float | None = Field(0.05, ge=0)
    metric: str = "knn_top1_k200"

    def variants(self):
        return [self.run]

    def decide(self, runs):
        rows = runs[self.run]
        ratio = _std_ratio(rows, self.measure)
        ok = ratio < self.std_below
        evidence = _collapse_evidence(rows, self.measure, f"collapse below {self.std_below}")
        if self.knn_near_chance is not None:
            knn, chance = float(rows[self.metric].mean()), float(rows["chance"].mean())
            ok = ok and knn <= chance + self.knn_near_chance
            evidence += (f"; {self.metric} = {show(self.metric, knn)} vs chance {show('chance', chance)} "
                         f"(needs <= chance + {show_gap(self.metric, self.knn_near_chance)})")
        return Verdict(self.text, REPRODUCED if ok else NOT_REPRODUCED, evidence)


class NoCollapse(_Claim):
    """The output std (`measure`) stays near 1/sqrt(d): at least `std_above` x 1/sqrt(d)."""

    kind: Literal["no_collapse"]
    run: str
    measure: STD_MEASURES = "output_std"
    std_above: float = Field(0.5, gt=0)

    def variants(self):
        return [self.run]

    def decide(self, runs):
        rows = runs[self.run]
        outcome = REPRODUCED if _std_ratio(rows, self.measure) >= self.std_above else NOT_REPRODUCED
        return Verdict(self.text, outcome, _collapse_evidence(rows, self.measure, f"needs >= {self.std_above}"))


class NotConverge(_Claim):
    """The run's final loss stays at least `loss_margin` above the baseline's, without collapsing."""

    kind: Literal["not_converge"]
    run: str
    baseline: str
    loss_margin: float = Field(0.1, ge=0)
    std_above: float = Field(0.5, gt=0)

    def variants(self):
        return [self.run, self.baseline]

    def decide(self, runs):
        loss, base = float(runs[self.run]["loss"].mean()), float(runs[self.baseline]["loss"].mean())
        ratio = _std_ratio(runs[self.run])
        ok = loss >= base + self.loss_margin and ratio >= self.std_above
        evidence = (
            f"final loss {loss:.3f} vs {self.baseline} {base:.3f} (needs +{self.loss_margin}); "
            f"output std = {ratio:.3f} x 1/sqrt(d) (not a collapse if >= {self.std_above})"
        )
        return Verdict(self.text, REPRODUCED if ok else NOT_REPRODUCED, evidence)


class Ordering(_Claim):
    """Variant `better` beats `worse` on `metric` by more than `margin` (means over seeds). Each side
    may add grid values to the claim's `where` (`better_where`, `worse_where`): two points of one
    variant, e.g. MoCo v3 Fig. 2's lr 1.0e-4 against 0.5e-4."""

    kind: Literal["ordering"]
    better: str
    worse: str
    better_where: dict[str, Any] = {}
    worse_where: dict[str, Any] = {}
    metric: str = "knn_top1_k200"
    margin: float = Field(0.0, ge=0)

    def variants(self):
        return [self.better, self.worse]

    def evaluate(self, finals, curves=None, steps=None):
        runs = {}
        for side, variant, values in (("better", self.better, self.better_where), ("worse", self.worse, self.worse_where)):
            what = repr(variant) + "".join(f" {k}={v}" for k, v in values.items())
            rows, why = self._finished(self._select(finals, variant, values), what)
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            runs[side] = (what, rows)
        return self.decide(runs)

    def decide(self, runs):
        (better, hi_rows), (worse, lo_rows) = runs["better"], runs["worse"]
        hi, lo = float(hi_rows[self.metric].mean()), float(lo_rows[self.metric].mean())
        outcome = REPRODUCED if hi > lo + self.margin else NOT_REPRODUCED
        evidence = (f"{self.metric}: {better.strip(chr(39))} {show(self.metric, hi)} vs {worse.strip(chr(39))} "
                    f"{show(self.metric, lo)} (needs a margin > {show_gap(self.metric, self.margin)})")
        return Verdict(self.text, outcome, evidence)


class Trend(_Claim):
    """`metric` (mean over seeds) moves one way along `axis`, a grid key or "variant", in the order of
    `values` (default: the values present, sorted). increasing: no step between neighbours falls by
    more than `tolerance`, and the last value exceeds the first by more than `tolerance`;
    decreasing: the mirror image; flat: max - min stays within `tolerance`. `run` names the variant
    the trend is read in (needed when the study has several and `axis` is a grid key)."""

    kind: Literal["trend"]
    axis: str
    direction: Literal["increasing", "decreasing", "flat"]
    run: str | None = None
    values: list[Any] | None = Field(None, min_length=2)
    metric: str = "knn_top1_k200"
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
        means = []
        for value in values:
            rows, why = self._finished(self._select(scope, None, {self.axis: value}), f"{self.axis}={value}")
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            means.append(float(rows[self.metric].mean()))
        steps_ = [b - a for a, b in zip(means, means[1:])]
        series = ", ".join(f"{v}: {show(self.metric, m)}" for v, m in zip(values, means))
        tol, gap = self.tolerance, lambda value: show_gap(self.metric, value)
        if self.direction == "flat":
            spread = max(means) - min(means)
            ok, why = spread <= tol, f"range {gap(spread)} (flat if <= {gap(tol)})"
        else:
            sign = 1 if self.direction == "increasing" else -1
            worst, total = min(sign * d for d in steps_), sign * (means[-1] - means[0])
            ok = worst >= -tol and total > tol
            word = "rise" if sign > 0 else "fall"
            step = sign * worst  # the step most against the direction, signed as the metric moved
            why = f"worst step {'+' if step >= 0 else ''}{gap(step)}, total {word} {gap(total)} (tolerance {gap(tol)})"
        return Verdict(self.text, REPRODUCED if ok else NOT_REPRODUCED, f"{self.metric} over {self.axis}: {series}; {why}")


def largest_dip(series: pd.DataFrame, x: str, metric: str) -> tuple[float, str]:
    """The largest fall of `metric` below its running maximum, and where it happened."""
    series = series.dropna(subset=[metric]).sort_values(x)
    if len(series) < 2:
        return 0.0, "fewer than 2 points"
    values = series[metric].to_numpy(dtype=float)
    peak = pd.Series(values).cummax().to_numpy()
    i = int((peak - values).argmax())
    j = int(values[: i + 1].argmax())
    xs = series[x].to_numpy()
    where = f"{show(metric, values[j])} at {x} {xs[j]} -> {show(metric, values[i])} at {x} {xs[i]}"
    return float(peak[i] - values[i]), where


class Instability(_Claim):
    """`metric` dips: it falls more than `dip_above` below its running maximum during training
    (MoCo v3 Fig. 1). The dips are read per run from the finer of its records (steps.parquet where
    the run logged `metric` every few steps, the per-epoch curves); the largest dip of each run,
    averaged over seeds, is compared with `dip_above`. With `expect: stable` the claim is the opposite: no such dip."""

    reads_final_metric: ClassVar[bool] = False
    kind: Literal["instability"]
    run: str
    metric: str = "knn_top1_k200"
    dip_above: float = Field(0.05, gt=0)
    expect: Literal["dips", "stable"] = "dips"

    def variants(self):
        return [self.run]

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
        mean = sum(dips) / len(dips)
        dipped = mean > self.dip_above
        ok = dipped if self.expect == "dips" else not dipped
        limit = show_gap(self.metric, self.dip_above)
        rule = f"dips if > {limit}" if self.expect == "dips" else f"stable if <= {limit}"
        evidence = (f"largest {self.metric} dip below its running max, mean over {len(dips)} run(s) "
                    f"{show_gap(self.metric, mean)} ({rule}); " + "; ".join(details[:4])
                    + (f"; and {len(details) - 4} more run(s)" if len(details) > 4 else ""))
        return Verdict(self.text, REPRODUCED if ok else NOT_REPRODUCED, evidence)


def run_dip(curves: pd.DataFrame | None, steps: pd.DataFrame | None, run_id: str, metric: str):
    """(largest dip, where, source) of one run's `metric` over training, read from the finer of its
    records: steps.parquet (kNN every few steps) or the per-epoch curves; None if neither has it."""
    records = [(_per_run(frame, run_id, metric, x), x, source)
               for frame, x, source in ((steps, "step", "steps.parquet"), (curves, "epoch", "curves"))]
    records = [r for r in records if r[0] is not None]
    if not records:
        return None
    frame, x, source = max(records, key=lambda r: len(r[0]))  # steps first on a tie
    return (*largest_dip(frame, x, metric), source)


def _per_run(frame: pd.DataFrame | None, run_id: str, metric: str, x: str) -> pd.DataFrame | None:
    if frame is None or frame.empty or metric not in frame or x not in frame:
        return None
    rows = frame[frame["run_id"] == run_id]
    rows = rows[rows[metric].notna()]
    return rows if len(rows) else None


Claim = Annotated[Union[Collapse, NoCollapse, NotConverge, Ordering, Trend, Instability], Field(discriminator="kind")]
