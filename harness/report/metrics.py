"""What a metric is, for every place a report shows one: the table's columns, the figures' axes and the
claims' evidence all read `metric(column)`. The columns' names are harness/columns.py's.

Accuracies (kNN and linear top-1, chance) are stored as fractions and shown in percent; a difference
or a dip of an accuracy is in percentage points (pt). A column not named here is shown as its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.columns import DIP, DISTILL, FINETUNE, KNN, LINEAR, is_knn


@dataclass(frozen=True)
class Metric:
    column: str  # as in curves.parquet, steps.parquet or the finals
    label: str  # what it is, e.g. "kNN k200 top-1"
    unit: str = ""  # "%", "pt", "× 1/√d" or none
    digits: int = 3  # decimals in a table cell and a claim's evidence
    accuracy: bool = False  # a fraction of correct answers: x100 on every axis, table and evidence

    @property
    def scale(self) -> float:
        return 100.0 if self.accuracy else 1.0

    @property
    def heading(self) -> str:
        """The label with its unit: a table's column or line, a figure's axis."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def value(self, value: float) -> str:
        """One measured value: '85.1%', '12 pt' for a dip, '0.123'."""
        if self.unit == "pt":
            return self.gap(value)
        return f"{self.scale * value:.{self.digits}f}" + ("%" if self.accuracy else "")

    def gap(self, value: float) -> str:
        """A margin, tolerance or difference: '2 pt' for an accuracy."""
        return f"{self.scale * value:.3g}" + (" pt" if self.accuracy else "")

    def interval(self, estimate: float, low: float, high: float) -> str:
        """A difference and its interval: '+9.3 pt [+5.1, +13.5]'."""
        sign = lambda v: f"{self.scale * v:+.{self.digits}f}"  # noqa: E731
        return f"{sign(estimate)}{' pt' if self.accuracy else ''} [{sign(low)}, {sign(high)}]"


NAMED = {
    LINEAR: Metric(LINEAR, "linear top-1", "%", 1, True),
    FINETUNE: Metric(FINETUNE, "fine-tuned top-1", "%", 1, True),
    DISTILL: Metric(DISTILL, "distilled student's top-1", "%", 1, True),
    "chance": Metric("chance", "chance", "%", 1, True),
    "loss": Metric("loss", "training loss"),
    "output_std": Metric("output_std", "output std of z/‖z‖", digits=4),
    "output_std_pre_bn": Metric("output_std_pre_bn", "output std before the output BN", digits=4),
    "output_std_ratio": Metric("output_std_ratio", "output std", "× 1/√d", 2),
    "output_std_pre_bn_ratio": Metric("output_std_pre_bn_ratio", "std before output BN", "× 1/√d", 2),
    "output_rank": Metric("output_rank", "effective rank", digits=1),
    "grad_norm": Metric("grad_norm", "gradient norm"),
    "grad_norm_first": Metric("grad_norm_first", "first layer's gradient norm"),
    "grad_norm_last": Metric("grad_norm_last", "last layer's gradient norm"),
    "lr": Metric("lr", "learning rate", digits=4),
}


def metric(column: str) -> Metric:
    if is_knn(column) and column.endswith(DIP):
        return Metric(column, f"kNN {column.removeprefix(KNN).removesuffix(DIP)} largest dip", "pt", 1, True)
    if is_knn(column):
        return Metric(column, f"kNN {column.removeprefix(KNN)} top-1", "%", 1, True)
    return NAMED.get(column, Metric(column, column.replace("_", " ")))
