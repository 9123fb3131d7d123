"""The report's figures, in one style (seaborn's whitegrid theme, one palette rule, PNG at 110 dpi).

- curves_figure: metrics over epochs, one line per hue value, mean over seeds with a ± sd band
  (SimSiam Fig. 2 with hue = variant; MoCo v3 Fig. 1 with hue = batch size).
- sweep_figure: final metrics over a swept axis, log2 x for batch sizes, with the paper's numbers
  in a panel of their own (SimSiam Table 2, BYOL Table 16, BYOL Table 5a's tau).
- steps_figure: a per-step monitor (gradient norm) above kNN accuracy on the same step axis, so
  spikes can be seen to precede dips (MoCo v3 Fig. 4).

Means and bands are computed with pandas and drawn with matplotlib: on 1,000 runs x 800 epochs
that is far faster than seaborn's per-point bootstrap machinery.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

from harness import store  # noqa: E402
from harness.report.metrics import metric  # noqa: E402

STYLE = {"style": "whitegrid", "context": "paper"}
PANEL = (3.6, 2.6)  # inches per panel (plot area)


def plain(text: str) -> str:
    """Text for matplotlib with '$' escaped, so a title from a study file is never parsed as math."""
    return str(text).replace("$", r"\$")


# Fixed margins in inches (the panels' size never depends on their labels): matplotlib's
# tight_layout would draw every figure an extra time to measure it, half the cost of a report.
MARGIN = {"left": 0.8, "right": 0.25, "top": 0.5, "bottom": 0.55, "wspace": 0.85, "hspace": 0.3}


def _figure(ncols: int, nrows: int = 1, sharex: bool = False, panel: tuple[float, float] = PANEL):
    sns.set_theme(**STYLE)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), sharex=sharex, squeeze=False)
    fig.harness_grid = (nrows, ncols, panel)  # read back by _save
    return fig, axes.ravel()


def _legend(fig, axes, hue: str | None) -> float:
    """One legend for the whole figure, below the panels; returns the height in inches it takes."""
    entries = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(text, handle)
    handles, labels = list(entries.values()), list(entries)
    if not hue or not handles:
        return 0.0
    ncol = min(len(handles), 4 if max(len(t) for t in labels) < 30 else 2)
    rows = -(-len(handles) // ncol)
    fig.legend(handles, labels, title=plain(hue), loc="lower center", ncol=ncol, fontsize=8, title_fontsize=8,
               frameon=False)
    return 0.1 + 0.17 * (rows + 1)


def _save(fig, path: Path, title: str, legend: float = 0.0) -> Path:
    """Lay the panels out with MARGIN, the legend below them, and write a PNG atomically."""
    nrows, ncols, (pw, ph) = fig.harness_grid
    m = MARGIN
    width = m["left"] + m["right"] + ncols * pw + (ncols - 1) * m["wspace"]
    height = m["top"] + m["bottom"] + legend + nrows * ph + (nrows - 1) * m["hspace"]
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=m["left"] / width, right=1 - m["right"] / width, top=1 - m["top"] / height,
                        bottom=(m["bottom"] + legend) / height, wspace=m["wspace"] / pw, hspace=m["hspace"] / ph)
    fig.suptitle(plain(title), y=1 - 0.12 / height, va="top")
    sink = io.BytesIO()
    fig.savefig(sink, format="png", dpi=110)
    plt.close(fig)
    store.atomic_write_bytes(path, sink.getvalue())
    return path


def _scaled(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The column in the unit it is plotted in: accuracies, stored as fractions, in %."""
    scale = metric(column).scale
    if column in frame and scale != 1:
        return frame.assign(**{column: pd.to_numeric(frame[column], errors="coerce") * scale})
    return frame


def ylabel(column: str) -> str:
    return plain(metric(column).heading)


def palette(values: list) -> dict:
    """Ordered numbers (batch sizes, tau) get a sequential palette; names a qualitative one."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and len(values) > 1:
        colors = sns.color_palette("viridis", len(values))
        return dict(zip(sorted(values), colors))
    colors = sns.color_palette("deep" if len(values) <= 10 else "husl", len(values))
    return dict(zip(values, colors))


def _empty(ax, text: str = "no data yet") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def _lines(ax, frame: pd.DataFrame, x: str, y: str, hue: str | None, colors: dict, order: list) -> bool:
    """One line per hue value: the mean of y over seeds at each x, with a ± sd band."""
    frame = frame[[c for c in dict.fromkeys([x, y, hue]) if c]].dropna(subset=[y])
    if frame.empty:
        return False
    keys = [hue, x] if hue else [x]
    stats = frame.groupby(keys, observed=True, sort=True)[y].agg(["mean", "std"]).reset_index()
    for value in order if hue else [None]:
        part = stats[stats[hue] == value] if hue else stats
        if part.empty:
            continue
        color = colors.get(value, None) if hue else None
        xs, mean, sd = part[x].to_numpy(), part["mean"].to_numpy(), part["std"].fillna(0).to_numpy()
        ax.plot(xs, mean, color=color, lw=1.4, label=plain(value) if hue else None, marker="o" if len(xs) < 12 else None, ms=3)
        if (sd > 0).any():
            ax.fill_between(xs, mean - sd, mean + sd, color=color, alpha=0.18, lw=0)
    return True


def curves_figure(curves: pd.DataFrame, hue: str, order: list, metrics: list[str], path: Path, title: str,
                  std_ref: float | None = None) -> Path:
    fig, axes = _figure(len(metrics))
    colors = palette(order)
    for ax, column in zip(axes, metrics):
        # epoch 0 is the random encoder: it has kNN values only, no training loss or std
        frame = curves if metric(column).accuracy else curves[curves["epoch"] > 0]
        if column not in frame or not _lines(ax, _scaled(frame, column), "epoch", column, hue, colors, order):
            _empty(ax)
        if column in ("output_std", "output_std_pre_bn") and std_ref:
            ax.axhline(std_ref, ls="--", c="gray", lw=1)
            ax.annotate("1/√d", (1, std_ref), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        fontsize=8, color="gray")
            ax.set_ylim(0, max(ax.get_ylim()[1], std_ref * 1.2))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel(column))
    return _save(fig, path, title, _legend(fig, axes, hue))


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else plain(value)


def _set_xscale(ax, xscale: str, values: list) -> None:
    """log2/log10: ticks at the swept values; categorical: evenly spaced, in the given order."""
    if xscale in ("log2", "log10"):
        ax.set_xscale("log", base=2 if xscale == "log2" else 10)
        ax.xaxis.set_major_locator(FixedLocator(values))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([_tick(v) for v in values])
    elif xscale == "categorical":
        ax.set_xticks(range(len(values)), [_tick(v) for v in values])


def sweep_figure(finals: pd.DataFrame, x: str, x_values: list, hue: str | None, order: list, metrics: list[str],
                 xscale: str, paper: dict | None, paper_label: str, path: Path, title: str) -> Path:
    """`finals` has finished runs only; `paper` maps hue value -> [(x, number), ...] or is None."""
    panels = metrics + ([paper_label] if paper else [])
    fig, axes = _figure(len(panels))
    colors = palette(order) if hue else {}
    position = {v: i for i, v in enumerate(x_values)}
    frame = finals.copy()
    if xscale == "categorical":
        frame[x] = frame[x].map(position)
    for ax, column in zip(axes, metrics):
        if column not in frame or not _lines(ax, _scaled(frame, column), x, column, hue, colors, order):
            _empty(ax)
        ax.set_ylabel(ylabel(column))
    if paper:
        ax = axes[len(metrics)]
        if len({tuple(points) for points in paper.values()}) == 1:
            paper = {None: next(iter(paper.values()))}  # the paper did not vary the hue axis: one line
        for value, points in paper.items():
            xs = [position[p] if xscale == "categorical" else p for p, _ in points]
            ax.plot(xs, [n for _, n in points], color=colors.get(value, "black"), marker="s", ms=4,
                    lw=1.2, ls="--", label=plain(value) if value is not None else None)
        ax.set_ylabel(plain(paper_label))
    for ax in axes:
        _set_xscale(ax, xscale, x_values)
        ax.set_xlabel(plain(x))
    return _save(fig, path, title, _legend(fig, axes, hue))


def steps_figure(steps: pd.DataFrame, curves: pd.DataFrame, hue: str, order: list, monitor: str, knn: str,
                 path: Path, title: str, logy: bool) -> Path:
    """Top: `monitor` per step from steps.parquet. Bottom: `knn` per step where steps.parquet has it,
    otherwise the per-epoch kNN placed at each epoch's last step (curves' `step` column)."""
    fig, axes = _figure(1, 2, sharex=True, panel=(PANEL[0] * 2.2, PANEL[1] * 0.8))
    colors = palette(order)
    drawn = steps is not None and monitor in steps and _lines(axes[0], steps, "step", monitor, hue, colors, order)
    if not drawn:
        _empty(axes[0], f"no per-step {monitor} (steps.parquet)")
    elif logy:
        axes[0].set_yscale("log")
    axes[0].set_ylabel(ylabel(monitor))
    source = steps if steps is not None and knn in steps and steps[knn].notna().any() else curves
    if knn not in source or not _lines(axes[1], _scaled(source, knn), "step", knn, hue, colors, order):
        _empty(axes[1])
    axes[1].set_ylabel(ylabel(knn))
    axes[1].set_xlabel("step")
    return _save(fig, path, title, _legend(fig, axes, hue))


def hue_order(values) -> list:
    """Distinct values in first-seen order (the study's order), numbers sorted."""
    seen = list(dict.fromkeys(v for v in values if not (isinstance(v, float) and np.isnan(v))))
    if seen and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return sorted(seen)
    return seen
