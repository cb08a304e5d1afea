"""The dashboard's charts: policies A and B on the same axes, one small PNG per panel.

Each panel is its own figure, drawn with matplotlib's object API on an Agg canvas (no
pyplot), so a worker thread can draw while the page stays responsive; the page lays the
panels out in a grid that wraps (four across on a wide screen, two on a projector), so a panel
is never shrunk far below the size it is drawn at and its text stays readable from the back of
a room. The legend is the page's own (:func:`legend`), in text. Titles and units come from the
metric catalogue (:mod:`sim.metrics`); palette and styling are the report's.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim import metrics
from sim.metrics import Unit
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
"""Line style of each policy (in the revenue-by-channel panel too)."""

PANEL_INCHES = (4.2, 3.3)
"""Width and height a panel is drawn at (inches; at :data:`DPI`, 378 x 297 px)."""

DPI = 90
"""Pixels per inch of the panels' PNGs."""

MIN_PANEL_PX = 320
"""The narrowest the page shows a panel (CSS px): at most 15% below its drawn width."""

FONT_PT: dict[str, float] = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
}
"""Type sizes (points): 13 pt at 90 dpi is 16 px drawn, 13.9 px at the narrowest panel."""

TITLE_CHARACTERS = 30
"""A title longer than this wraps onto a second line."""

CUMULATIVE = "cumulative_margin"
"""The one panel that is not a weekly metric: contribution margin summed week by week."""


@dataclass(frozen=True)
class Panel:
    """One chart: a weekly metric (or :data:`CUMULATIVE`), its title and its axis unit."""

    metric: str
    title: str
    unit: str
    scale: float = 1.0


def _panel(metric: str, *, scale: float = 1.0) -> Panel:
    """Title and unit from the metric catalogue; flows are per week."""
    entry = metrics.WEEKLY_BY_NAME[metric]
    title = entry.label + (" / week" if metric in FLOWS else "")
    if entry.unit is Unit.CURRENCY:
        unit = {1e3: "thousand currency units", 1e6: "million currency units"}.get(
            scale, "currency units"
        )
    elif entry.unit is Unit.SHARE:
        unit = "%"
    else:
        unit = entry.unit.value
    return Panel(metric, title, unit, scale)


REVENUE = Panel("revenue", "Revenue by channel / week", "thousand currency units", 1e3)
"""The first panel: one line per channel and policy."""

PANELS: tuple[Panel, ...] = (
    _panel("contribution_margin", scale=1e3),
    Panel(
        CUMULATIVE,
        f"Cumulative {metrics.label('contribution_margin').lower()}",
        "million currency units",
        1e6,
    ),
    _panel("active_customers"),
    _panel("distributors_active"),
    _panel("distributor_effort_mean"),
    _panel("conflict_incidents"),
    _panel("ecommerce_adopters_share"),
)
"""Single-metric panels after the revenue-by-channel one."""


def _series(frame: pd.DataFrame, panel: Panel) -> pd.Series:
    if panel.metric == CUMULATIVE:
        return frame["contribution_margin"].cumsum() / panel.scale
    values = frame[panel.metric]
    if panel.metric in FLOWS:
        values = values.rolling(SMOOTH_WEEKS, min_periods=1).mean()
    return values / panel.scale


def _difference(ax: Axes, a: pd.DataFrame, b: pd.DataFrame) -> str:
    """Draw B minus A of the cumulative margin with a zero line; return the axis unit."""
    weeks = min(len(a), len(b))
    gap = (
        b["contribution_margin"].iloc[:weeks].cumsum().to_numpy()
        - a["contribution_margin"].iloc[:weeks].cumsum().to_numpy()
    )
    money = Money.for_values(gap)
    x = a["week"].iloc[:weeks]
    ax.axhline(0, color="#555555", lw=1)
    ax.plot(x, gap / money.factor, color="#444444", lw=2.5, label="B − A")
    ax.fill_between(x, 0, gap / money.factor, color="#999999", alpha=0.3, lw=0)
    return money.unit


def _figure() -> tuple[Figure, Axes]:
    return new_figure(*PANEL_INCHES)


def panel_figures(
    frames: Mapping[str, pd.DataFrame], *, horizon_weeks: int, names: Mapping[str, str]
) -> list[Figure]:
    """Eight figures: revenue by channel, then :data:`PANELS`; one line per policy.

    A is drawn solid, B dashed; in the revenue panel colours are channels, elsewhere policies.
    With both A and B, the cumulative margin panel shows B minus A.

    Parameters
    ----------
    frames
        ``"A"``/``"B"`` -> weekly metrics so far (``LiveRun.frame()``).
    horizon_weeks
        The x axis spans the whole horizon, so lines grow week by week.
    names
        Label of each side's lines.
    """
    out: list[Figure] = []
    with _style():
        figure, ax = _figure()
        for side, frame in frames.items():
            for channel, colour in CHANNEL_COLOURS.items():
                ax.plot(
                    frame["week"],
                    _series(frame, Panel(f"revenue_{channel}", "", "", REVENUE.scale)),
                    color=colour,
                    linestyle=SIDE_STYLES.get(side, "-"),
                    label=f"{names.get(side, side)}, {CHANNEL_LABELS[channel]}",
                )
        _finish(ax, REVENUE.title, REVENUE.unit, horizon_weeks)
        out.append(figure)
        both = {"A", "B"} <= set(frames) and len(frames["A"]) > 0
        for panel in PANELS:
            figure, ax = _figure()
            title, unit = panel.title, panel.unit
            if panel.metric == CUMULATIVE and both:
                unit = _difference(ax, frames["A"], frames["B"])
                title = f"{title}: B − A"
            else:
                for side, frame in frames.items():
                    ax.plot(
                        frame["week"],
                        _series(frame, panel),
                        color=SIDE_COLOURS.get(side, OKABE_ITO[2]),
                        linestyle=SIDE_STYLES.get(side, "-"),
                        label=names.get(side, side),
                    )
            _axis_format(ax, panel)
            _finish(ax, title, unit, horizon_weeks)
            out.append(figure)
    return out


def _axis_format(ax: Axes, panel: Panel) -> None:
    unit = metrics.WEEKLY_BY_NAME[panel.metric].unit if panel.metric != CUMULATIVE else None
    if panel.metric == "distributors_active":
        ax.set_ylim(bottom=0)
    if unit is Unit.SHARE:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    elif unit is Unit.SCORE:
        ax.set_ylim(0, 1.05)
    elif panel.metric == CUMULATIVE:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _finish(ax: Axes, title: str, unit: str, horizon_weeks: int) -> None:
    ax.set_title("\n".join(textwrap.wrap(title, TITLE_CHARACTERS)))
    ax.set_ylabel(unit)
    ax.set_xlabel("Week")
    ax.set_xlim(0, horizon_weeks)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))


@contextmanager
def _style() -> Iterator[None]:
    """The report's style with the panels' type sizes (:data:`FONT_PT`)."""
    with style(), mpl.rc_context(cast(Any, FONT_PT)):
        yield


def panel_pngs(
    frames: Mapping[str, pd.DataFrame], *, horizon_weeks: int, names: Mapping[str, str]
) -> list[bytes]:
    """:func:`panel_figures` as PNG bytes, at :data:`DPI`."""
    out = []
    with _style():
        for figure in panel_figures(frames, horizon_weeks=horizon_weeks, names=names):
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=DPI)
            out.append(buffer.getvalue())
    return out


def legend(names: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """The charts' legend: ``(text, colour, CSS border style)`` per line kind.

    The policies (A solid, B dashed) and the channels' colours in the revenue panel.
    """
    sides = [
        (names.get(side, side), SIDE_COLOURS[side], "solid" if style == "-" else "dashed")
        for side, style in SIDE_STYLES.items()
        if side in names
    ]
    channels = [(CHANNEL_LABELS[c], colour, "solid") for c, colour in CHANNEL_COLOURS.items()]
    return sides + channels


def nan_to_dash(value: float, fmt: str) -> str:
    """Format a number (no "-0.00"), or an en dash for NaN."""
    if value is None or not np.isfinite(value):
        return "–"
    text = format(value, fmt)
    if not text.strip("+-0.,"):  # rounds to zero: drop the sign
        text = format(0.0, fmt.lstrip("+"))
    return text
