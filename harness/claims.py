"""Claims as data: what a paper's table says, in a form the report can check against the runs.

A study lists its claims under `report.claims`; each kind below reads the final metrics of the runs
it names and returns a Verdict with the numbers that decided it. A claim whose runs are missing,
failed or still running is "inconclusive", never silently decided.

`finals` is a DataFrame with one row per planned run: variant, seed, status, and the last logged
value of each metric (loss, output_std, output_std_ref = 1/sqrt(d), knn_top1_<protocol>, chance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

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
    text: str
    min_seeds: int = Field(1, gt=0, description="finished runs needed per variant to decide")
    where: dict[str, Any] = Field({}, description="grid values the runs must have, e.g. {heads.bn: hidden}")

    def variants(self) -> list[str]:
        raise NotImplementedError

    def _runs(self, finals: pd.DataFrame, variant: str) -> tuple[pd.DataFrame | None, str]:
        """The finished runs of a variant, or None and why the claim cannot be decided."""
        rows = finals[finals["variant"] == variant]
        for key, value in self.where.items():
            rows = rows[rows[key] == value] if key in rows else rows.iloc[0:0]
        if rows.empty:
            return None, f"no runs of {variant!r}" + (f" with {self.where}" if self.where else "")
        unfinished = rows[~rows["status"].isin(FINISHED)]
        if not unfinished.empty:
            states = ", ".join(sorted(set(unfinished["status"])))
            return None, f"{len(unfinished)} run(s) of {variant!r} not finished ({states})"
        if len(rows) < self.min_seeds:
            return None, f"{len(rows)} seed(s) of {variant!r}, {self.min_seeds} needed"
        return rows, ""

    def evaluate(self, finals: pd.DataFrame) -> Verdict:
        runs = {}
        for variant in self.variants():
            rows, why = self._runs(finals, variant)
            if rows is None:
                return Verdict(self.text, INCONCLUSIVE, why)
            runs[variant] = rows
        return self.decide(runs)

    def decide(self, runs: dict[str, pd.DataFrame]) -> Verdict:
        raise NotImplementedError


def _std_ratio(rows: pd.DataFrame) -> float:
    return float((rows["output_std"] / rows["output_std_ref"]).mean())


class Collapse(_Claim):
    """The output std falls toward 0 (below `std_below` x 1/sqrt(d)) and, if `knn_near_chance` is
    set, kNN accuracy ends within that margin of chance."""

    kind: Literal["collapse"]
    run: str
    std_below: float = Field(0.1, gt=0)
    knn_near_chance: float | None = Field(0.05, ge=0)
    metric: str = "knn_top1_k200"

    def variants(self):
        return [self.run]

    def decide(self, runs):
        rows = runs[self.run]
        ratio = _std_ratio(rows)
        ok = ratio < self.std_below
        evidence = f"output std = {ratio:.3f} x 1/sqrt(d) (collapse below {self.std_below})"
        if self.knn_near_chance is not None:
            knn, chance = float(rows[self.metric].mean()), float(rows["chance"].mean())
            ok = ok and knn <= chance + self.knn_near_chance
            evidence += f"; {self.metric} = {knn:.3f} vs chance {chance:.3f} (+{self.knn_near_chance})"
        return Verdict(self.text, REPRODUCED if ok else NOT_REPRODUCED, evidence)


class NoCollapse(_Claim):
    """The output std stays near 1/sqrt(d): at least `std_above` x 1/sqrt(d)."""

    kind: Literal["no_collapse"]
    run: str
    std_above: float = Field(0.5, gt=0)

    def variants(self):
        return [self.run]

    def decide(self, runs):
        ratio = _std_ratio(runs[self.run])
        outcome = REPRODUCED if ratio >= self.std_above else NOT_REPRODUCED
        return Verdict(self.text, outcome, f"output std = {ratio:.3f} x 1/sqrt(d) (needs >= {self.std_above})")


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
    """Variant `better` beats `worse` on `metric` by more than `margin` (means over seeds)."""

    kind: Literal["ordering"]
    better: str
    worse: str
    metric: str = "knn_top1_k200"
    margin: float = Field(0.0, ge=0)

    def variants(self):
        return [self.better, self.worse]

    def decide(self, runs):
        hi, lo = float(runs[self.better][self.metric].mean()), float(runs[self.worse][self.metric].mean())
        outcome = REPRODUCED if hi > lo + self.margin else NOT_REPRODUCED
        evidence = f"{self.metric}: {self.better} {hi:.3f} vs {self.worse} {lo:.3f} (margin {self.margin})"
        return Verdict(self.text, outcome, evidence)


Claim = Annotated[Union[Collapse, NoCollapse, NotConverge, Ordering], Field(discriminator="kind")]
