"""The `report:` section of a study, the report's own: its schema (the paper table and its layout,
the claims, the figures), and check_report, which validates the section against the study's runs.
Planning leaves the section a mapping (spec.py); `harness` checks it here once the study is planned,
before anything is written, so a bad section is one line naming the key, as any bad input.

The table has one row per value of `report.rows` (a grid key or "variant"); with `report.columns`
set to another axis it is a pivot with that axis's values as columns (SimSiam Table 2's batch sizes).
`report.figures` lists the figures; without it a study gets the curves figure (SimSiam Fig. 2):

    figures:
      - {kind: curves, hue: optim.batch_size, metrics: [knn_top1_k200]}      # MoCo v3 Fig. 1
      - {kind: sweep, x: optim.batch_size, xscale: log2}                     # SimSiam Table 2
      - {kind: steps, metric: grad_norm}                                     # MoCo v3 Fig. 4

An axis is "variant", a grid key, or (for a hue) "series": the run's variant and grid values.
`harness run --dry-run` and `harness status` check the section: this module imports no plotting.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError

from harness.columns import LINEAR
from harness.config import Section
from harness.plan import Study
from harness.report.claims import Claim
from harness.report.reference import PaperNumbers
from harness.spec import SpecError, invalid


class _Figure(Section):
    where: dict[str, Any] = Field({}, description="grid values (or variant) the plotted runs must have")
    title: str | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="PNG file stem")

    def axes(self) -> list[str]:
        """The study axes this figure names (checked against the study when it is loaded)."""
        return []


class CurvesFigure(_Figure):
    """Metrics over epochs, one line per value of `hue`, the mean over seeds with a +- sd band.
    Default metrics: training loss, output std and the first kNN protocol (SimSiam Fig. 2)."""

    kind: Literal["curves"]
    hue: str = "series"
    metrics: list[str] | None = Field(None, min_length=1)

    def axes(self):
        return [self.hue]


class SweepFigure(_Figure):
    """Final metrics over a swept grid axis `x`, one line per value of `hue` (default: the variant
    when the study has several), mean +- sd over seeds; with `paper`, a panel of the paper's numbers
    over the same axis beside it. xscale log2 suits batch sizes (SimSiam Table 2, BYOL Table 16);
    categorical suits uneven values such as BYOL's tau (0, 0.9, 0.99, 0.999, 1)."""

    kind: Literal["sweep"]
    x: str
    hue: str | None = None
    metrics: list[str] | None = Field(None, min_length=1)
    xscale: Literal["linear", "log2", "log10", "categorical"] = "linear"
    paper: bool = True

    def axes(self):
        return [self.x] + ([self.hue] if self.hue else [])


class StepsFigure(_Figure):
    """A per-step monitor from steps.parquet (default: the gradient norm, MoCo v3 Fig. 4) above the
    kNN accuracy over the same steps, one line per value of `hue`: spikes in the first should line
    up with dips in the second. Runs without steps.parquet are named in the report's notes."""

    kind: Literal["steps"]
    metric: str = "grad_norm"
    knn: str | None = Field(None, description="kNN column (default: the first protocol)")
    hue: str = "series"
    logy: bool = True

    def axes(self):
        return [self.hue]


Figure = Annotated[Union[CurvesFigure, SweepFigure, StepsFigure], Field(discriminator="kind")]


class ReportSpec(Section):
    paper: str | None = Field(None, description="papers.yaml table, e.g. simsiam.table1_predictor")
    rows: str = Field("variant", description="'variant' or the grid key the table's rows follow")
    paper_key: str | None = Field(None, description="column of the paper's rows matched to `rows`")
    paper_value: str | dict[str, str] | list[str] = Field(
        LINEAR, description="paper field holding the number, {variant: field} (BYOL Table 16), or fields, a column each")
    claims: list[Claim] = []
    # The table's layout: a pivot, the metrics shown; and the figures.
    columns: str | None = Field(None, description="'variant' or a grid key whose values become columns")
    paper_column_key: str | None = Field(None, description="column of the paper's rows matched to `columns`")
    paper_label: str | dict[str, str] | None = Field(
        None, description="what the paper's numbers are, e.g. 'ImageNet linear top-1'; {field: label} for listed fields")
    metrics: list[str] | None = Field(None, min_length=1, description="table metrics (default: kNN, linear, std, loss)")
    figures: list[Figure] | None = Field(None, description="default: one curves figure, hue = series")


def report_spec(study: Study) -> ReportSpec:
    """The study's report section, typed; SpecError (one line naming the key) if it does not parse."""
    try:
        return ReportSpec.model_validate(study.spec.report)
    except ValidationError as err:
        raise invalid(err, str(study.path), ReportSpec, "report.") from None


def study_axes(spec) -> list[str]:
    return ["variant", *spec.grid]


def axis_values(study: Study, axis: str) -> list:
    """The values an axis takes in the planned runs, in the study's order (variants as declared, grid
    values as listed): read from the runs, so a per-preset grid shows what this preset ran."""
    if axis == "variant":
        return list(study.spec.variants)
    return list(dict.fromkeys(dict(r.point)[axis] for r in study.runs if axis in dict(r.point)))


def all_axis_values(study: Study) -> dict[str, list]:
    """{axis: axis_values} for every axis of the study."""
    return {axis: axis_values(study, axis) for axis in study_axes(study.spec)}


def paper_numbers(study: Study, report: ReportSpec) -> PaperNumbers | None:
    """The published numbers of the study's paper table, for its axes; None without `paper`."""
    return PaperNumbers(report, all_axis_values(study)) if report.paper else None


def check_report(study: Study) -> ReportSpec:
    """The study's report section, validated against the study: every axis, variant and value it
    names is the study's, and each run finds at most one row of the paper's table. SpecError
    (one line, naming the file and the key) otherwise."""
    report = report_spec(study)
    try:
        _check(study, report, f"{study.path}: ")
    except ValueError as err:
        raise SpecError(str(err)) from None
    return report


def _check(study: Study, report: ReportSpec, where: str) -> None:
    spec, grid = study.spec, study.grid
    axes = study_axes(spec)
    if report.rows != "variant" and report.rows not in spec.grid:
        raise ValueError(f"{where}report.rows: {report.rows!r} is neither 'variant' nor a grid key")
    for i, claim in enumerate(report.claims):
        for name in claim.variants():
            if name not in spec.variants:
                raise ValueError(f"{where}report.claims[{i}]: unknown variant {name!r}")
        for key, value in claim.where.items():
            if value not in grid.get(key, []):
                raise ValueError(f"{where}report.claims[{i}].where: {key}={value!r} is not a grid value")
    if report.columns is not None:
        if report.columns not in axes:
            raise ValueError(f"{where}report.columns: {report.columns!r} is neither 'variant' nor a grid key")
        if report.columns == report.rows:
            raise ValueError(f"{where}report.columns: {report.columns!r} is already report.rows")
    if isinstance(report.paper_value, dict):
        for name in report.paper_value:
            if name not in spec.variants:
                raise ValueError(f"{where}report.paper_value: {name!r} is not a variant")
    for i, figure in enumerate(report.figures or []):
        for axis in figure.axes():
            if axis not in axes and not (axis == "series" and figure.kind != "sweep"):
                raise ValueError(f"{where}report.figures[{i}]: {axis!r} is not 'variant' or a grid key"
                                 + ("" if figure.kind == "sweep" else " or 'series'"))
        if figure.kind == "sweep" and figure.x == "variant":
            raise ValueError(f"{where}report.figures[{i}].x: a sweep runs over a grid key, not 'variant'")
        _check_where(spec, figure.where, f"{where}report.figures[{i}].where")
    for i, claim in enumerate(report.claims):
        if claim.kind != "trend":
            continue
        at = f"{where}report.claims[{i}]"
        if claim.axis not in axes:
            raise ValueError(f"{at}.axis: {claim.axis!r} is neither 'variant' nor a grid key")
        if claim.axis == "variant" and not claim.values:
            raise ValueError(f"{at}.values: a trend over 'variant' needs the variants in order")
        if claim.axis != "variant":
            if claim.run is None and len(spec.variants) > 1:
                raise ValueError(f"{at}.run: the study has several variants; name the one the trend is read in")
            for value in claim.values or []:
                if value not in spec.grid[claim.axis]:
                    raise ValueError(f"{at}.values: {value!r} is not a value of {claim.axis}")
    if report.paper:
        try:
            numbers = paper_numbers(study, report)
            for planned in study.runs:
                numbers.lookup(planned.labels())
        except (KeyError, ValueError) as err:
            raise ValueError(f"{where}report.paper: {err.args[0]}") from None


def _check_where(spec, where_: dict, at: str) -> None:
    for key, value in where_.items():
        allowed = list(spec.variants) if key == "variant" else spec.grid.get(key, [])
        if value not in allowed:
            raise ValueError(f"{at}: {key}={value!r} is not a {'variant' if key == 'variant' else 'grid value'}")
