"""The dashboard's charts: policies A and B on the same axes, drawn to PNG bytes.

Drawn with matplotlib's object API on an Agg canvas (no pyplot), so a worker thread can
draw while the page stays responsive. Same palette and styling as the report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.report.figures import (
    CHANNEL_COLOURS,
    CHANNEL_LABELS,
    FLOWS,
    OKABE_ITO,
    SMOOTH_WEEKS,
    Money,
    new_figure,
    style,
)

SIDE_COLOURS: dict[str, str] = {"A": "#000000", "B": OKABE_ITO[4]}
"""Colour of each policy in single-metric panels (not used by any channel)."""

SIDE_STYLES: dict[str, str] = {"A": "-", "B": "--"}
"""Line style of each policy in the revenue-by-channel panel."""

PANELS: tuple[tuple[str, str, str], ...] = (
    ("contribution_margin", "Contribution margin / week", "thousand currency units"),
    ("cumulative_margin", "Cumulative contribution margin", "million currency units"),
    ("active_customers", "Active customers", "accounts"),
    ("distributors_active", "Distributors active", "distributors"),
    ("distributor_effort_mean", "Distributors' effort", "mean effort (0-1)"),
    ("conflict_incidents", "Conflict incidents / week", "incidents"),
    ("ecommerce_adopters_share", "E-commerce adopters", "share of active buyers"),
)
"""Single-metric panels after the revenue-by-channel one: metric, title, unit."""

SCALE = {"contribution_margin": 1e3, "cumulative_margin": 1e6}


def _series(frame: pd.DataFrame, metric: str) -> pd.Series:
    if metric == "cumulative_margin":
        return frame["contribution_margin"].cumsum() / SCALE[metric]
    values = frame[metric]
    if metric in FLOWS:
        values = values.rolling(SMOOTH_WEEKS, min_periods=1).mean()
    return values / SCALE.get(metric, 1.0)


def _difference(ax: Axes, a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Replace the cumulative-margin lines by one line: B minus A, with a zero line."""
    weeks = min(len(a), len(b))
    gap = (
        b["contribution_margin"].iloc[:weeks].cumsum().to_numpy()
        - a["contribution_margin"].iloc[:weeks].cumsum().to_numpy()
    )
    money = Money.for_values(gap)
    for line in list(ax.get_lines()):
        line.remove()
    x = a["week"].iloc[:weeks]
    ax.axhline(0, color="#555555", lw=1)
    ax.plot(x, gap / money.factor, color="#444444", lw=2.5, label="B − A")
    ax.fill_between(x, 0, gap / money.factor, color="#999999", alpha=0.3, lw=0)
    ax.relim()
    ax.autoscale_view()
    ax.set_title("Cumulative margin: B − A")
    ax.set_ylabel(money.unit)


def dashboard_figure(
    frames: Mapping[str, pd.DataFrame], *, horizon_weeks: int, names: Mapping[str, str]
) -> Figure:
    """Eight panels: revenue by channel, then :data:`PANELS`; one line per policy.

    A is drawn solid, B dashed; in the revenue panel colours are channels, elsewhere policies.

    Parameters
    ----------
    frames
        ``"A"``/``"B"`` -> weekly metrics so far (``LiveRun.frame()``).
    horizon_weeks
        The x axis spans the whole horizon, so lines grow week by week.
    names
        Legend label of each side.
    """
    with style():
        figure, axes = new_figure(17.0, 7.6, nrows=2, ncols=4)
        axes = axes.ravel()
        revenue = axes[0]
        for side, frame in frames.items():
            for channel, colour in CHANNEL_COLOURS.items():
                revenue.plot(
                    frame["week"],
                    _series(frame, f"revenue_{channel}") / 1e3,
                    color=colour,
                    linestyle=SIDE_STYLES.get(side, "-"),
                )
        revenue.set_title("Revenue by channel / week")
        revenue.set_ylabel("thousand currency units")
        for ax, (metric, title, unit) in zip(axes[1:], PANELS, strict=True):
            for side, frame in frames.items():
                ax.plot(
                    frame["week"],
                    _series(frame, metric),
                    color=SIDE_COLOURS.get(side, OKABE_ITO[2]),
                    linestyle=SIDE_STYLES.get(side, "-"),
                    label=names.get(side, side),
                )
            ax.set_title(title)
            ax.set_ylabel(unit)
            if metric == "cumulative_margin" and {"A", "B"} <= set(frames) and len(frames["A"]):
                _difference(ax, frames["A"], frames["B"])
            if metric == "distributors_active":
                ax.set_ylim(bottom=0)
            if metric == "ecommerce_adopters_share":
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
            elif metric.endswith("_mean"):
                ax.set_ylim(0, 1.05)
            else:
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        for ax in axes:
            ax.set_xlim(0, horizon_weeks)
            ax.set_xlabel("Week")
            ax.title.set_fontsize(13)
            ax.yaxis.label.set_fontsize(11)
            ax.xaxis.label.set_fontsize(11)
        handles, labels = axes[1].get_legend_handles_labels()
        for channel, colour in CHANNEL_COLOURS.items():
            handles.append(Line2D([], [], color=colour, lw=3))
            labels.append(CHANNEL_LABELS[channel])
        figure.legend(handles, labels, loc="outside upper center", ncols=len(handles), fontsize=12)
    return figure


def dashboard_png(
    frames: Mapping[str, pd.DataFrame],
    *,
    horizon_weeks: int,
    names: Mapping[str, str],
    dpi: int = 90,
) -> bytes:
    """:func:`dashboard_figure` as PNG bytes."""
    figure = dashboard_figure(frames, horizon_weeks=horizon_weeks, names=names)
    buffer = io.BytesIO()
    with style():
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def nan_to_dash(value: float, fmt: str) -> str:
    """Format a number (no "-0.00"), or an en dash for NaN."""
    if value is None or not np.isfinite(value):
        return "–"
    text = format(value, fmt)
    if not text.strip("+-0.,"):  # rounds to zero: drop the sign
        text = format(0.0, fmt.lstrip("+"))
    return text
