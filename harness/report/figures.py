"""Figures from the curves, in one style: SimSiam Figure 2's three panels (training loss, output
std, kNN accuracy over epochs), one line per table row, mean over seeds with a +- sd band."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from harness.store import atomic_write_bytes  # noqa: E402

STYLE = {"style": "whitegrid", "context": "paper"}


def curves_figure(curves: pd.DataFrame, hue: str, knn_metric: str, path: Path, title: str) -> Path:
    sns.set_theme(**STYLE)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    trained = curves[curves["epoch"] > 0]  # epoch 0 (the random encoder) has a kNN value only
    panels = [
        (trained, "loss", "training loss"),
        (trained, "output_std", "output std of z/||z||"),
        (curves.dropna(subset=[knn_metric]) if knn_metric in curves else curves, knn_metric,
         knn_metric.replace("_", " ")),
    ]
    for ax, (frame, column, label) in zip(axes, panels):
        if column in frame and not frame.empty:
            sns.lineplot(data=frame, x="epoch", y=column, hue=hue, errorbar="sd", ax=ax, legend=ax is axes[0])
        ax.set_ylabel(label)
    if "output_std_ref" in curves and curves["output_std_ref"].notna().any():
        axes[1].axhline(curves["output_std_ref"].dropna().iloc[0], ls="--", c="gray", lw=1, label="1/√d")
    axes[1].set_ylim(bottom=0)
    if axes[0].get_legend():
        sns.move_legend(axes[0], "upper right", fontsize=7, title=None)
    fig.suptitle(title)
    fig.tight_layout()
    sink = io.BytesIO()
    fig.savefig(sink, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, sink.getvalue())
    return path
