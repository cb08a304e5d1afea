"""Figures of a results folder: the weekly story of each variant and the comparison.

Every figure is a :class:`matplotlib.figure.Figure` drawn on its own Agg canvas: nothing here
touches ``pyplot`` or the global backend, so importing ``sim`` has no side effects and figures
can be built in a server or a test.

Lines are means across replications; shaded bands span the 5th to 95th percentile of the
replications at each week. Weekly flows (money, units, incidents) are smoothed with a 4-week
moving average within each run before the bands are taken; levels (customers, stock, shares)
are not. Colours are the Okabe-Ito palette, safe for colour-blind readers.

References
----------
Okabe, M. and Ito, K. (2008). Color Universal Design (CUD): how to make figures and
presentations that are friendly to colorblind people. https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim import channels, metrics
from sim.metrics import CONFLICT_TYPES, WEEKLY, Kind
from sim.report.bridge import margin_bridge, revenue_shift

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow (kept last: weak on white)
    "#000000",  # black
)
"""Colour-blind-safe palette (Okabe & Ito 2008)."""

CHANNEL_COLOURS: dict[str, str] = channels.COLOURS
"""One fixed colour per channel in every figure (``sim.channels``)."""

CHANNEL_LABELS: dict[str, str] = channels.LABELS

SMOOTH_WEEKS = 4
"""Window of the moving average applied to weekly flows (weeks)."""

BAND = (0.05, 0.95)
"""Quantiles of the replications shaded around each mean line."""

RC: dict[str, Any] = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.titleweight": "bold",
    "axes.labelsize": 13,
    "legend.fontsize": 11,
    "legend.frameon": False,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.2,
    "svg.fonttype": "none",
    "figure.dpi": 100,
}
"""Local style: large type for projectors, light grid, no top/right spines."""

FLOWS: frozenset[str] = frozenset(m.name for m in WEEKLY if m.kind in (Kind.FLOW, Kind.DERIVED))
"""Weekly flows (smoothed); every other metric is a level read at the week's end."""


@dataclass(frozen=True)
class Money:
    """A scale for currency amounts: divide by ``factor``, say ``unit`` in labels."""

    factor: float
    unit: str

    @classmethod
    def for_values(cls, values: Iterable[float]) -> Money:
        """Thousands or millions of currency units, whichever reads better."""
        peak = max((abs(v) for v in values if np.isfinite(v)), default=0.0)
        if peak >= 2e6:
            return cls(1e6, "million currency units")
        if peak >= 2e3:
            return cls(1e3, "thousand currency units")
        return cls(1.0, "currency units")


@contextmanager
def style() -> Any:
    """Apply the local style (:data:`RC`) inside a ``with`` block."""
    with mpl.rc_context(cast(Any, RC)):  # matplotlib types rc keys as a Literal
        yield


def new_figure(width: float = 11.0, height: float = 5.0, **subplots: Any) -> tuple[Figure, Any]:
    """A figure on its own Agg canvas (no pyplot) and its axes."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(**subplots)
    return figure, axes


def run_columns(timeseries: pd.DataFrame) -> list[str]:
    """Columns that identify one run (all identifiers but ``week``)."""
    candidates = ("scenario", "variant", "sample", "replication", "seed")
    return [c for c in candidates if c in timeseries.columns]


def per_run(
    timeseries: pd.DataFrame,
    metric: str,
    *,
    smooth: bool = True,
    cumulative: bool = False,
    discount_rate_annual: float | None = None,
) -> pd.DataFrame:
    """One column per run, one row per week, of ``metric`` (optionally transformed).

    Parameters
    ----------
    smooth
        Apply the :data:`SMOOTH_WEEKS` moving average if ``metric`` is a flow.
    cumulative
        Running sum over weeks (after discounting, if a rate is given).
    discount_rate_annual
        Discount week ``w`` by ``(1 + rate) ** (-w / 52)`` before the running sum (NPV).
    """
    wide = (
        timeseries.set_index([*run_columns(timeseries), "week"])[metric]
        .unstack(list(range(len(run_columns(timeseries)))))
        .sort_index()
    )
    if discount_rate_annual is not None:
        factor = (1.0 + discount_rate_annual) ** (-wide.index.to_numpy() / 52.0)
        wide = wide.mul(factor, axis=0)
    if cumulative:
        return wide.cumsum()
    if smooth and metric in FLOWS:
        return wide.rolling(SMOOTH_WEEKS, min_periods=1).mean()
    return wide


def bands(wide: pd.DataFrame) -> pd.DataFrame:
    """Mean and :data:`BAND` quantiles across the columns (runs) of ``wide``."""
    values = wide.to_numpy(dtype=float)
    if np.isnan(values).any():
        low, high = np.nanquantile(values, BAND, axis=1)
        mean = np.nanmean(values, axis=1)
    else:
        low, high = np.quantile(values, BAND, axis=1)
        mean = values.mean(axis=1)
    return pd.DataFrame({"mean": mean, "low": low, "high": high}, index=wide.index)


def plot_band(
    ax: Axes, band: pd.DataFrame, *, label: str, colour: str, scale: float = 1.0, **line: Any
) -> None:
    """A mean line with its shaded band (band omitted when there is one run)."""
    weeks = band.index.to_numpy()
    ax.plot(weeks, band["mean"] / scale, color=colour, label=label, **line)
    if not np.allclose(band["low"], band["high"], equal_nan=True):
        ax.fill_between(
            weeks, band["low"] / scale, band["high"] / scale, color=colour, alpha=0.2, lw=0
        )


def _thousands(ax: Axes) -> None:
    """Counts: whole-number ticks with thousands separators."""
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _percent(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))


def _weeks(ax: Axes) -> None:
    ax.set_xlabel("Week")
    ax.margins(x=0)


def _note(figure: Figure, runs: int, *, sweep: bool = False) -> None:
    noun = "runs (sweep samples × replications)" if sweep else "replications"
    text = (
        f"Lines: mean of {runs} {noun}; bands: 5–95% of them." if runs > 1 else "One run: no band."
    )
    _footnote(figure, text)


def _footnote(figure: Figure, text: str) -> None:
    """A small grey note at the top left, inside the constrained layout."""
    figure.suptitle(text, x=0.005, ha="left", fontsize=10, fontweight="normal", color="#555555")


# ------------------------------------------------------------------------------ one variant


def overview_figures(
    timeseries: pd.DataFrame, *, discount_rate_annual: float = 0.08
) -> dict[str, Figure]:
    """The weekly story of one variant (``timeseries`` holds that variant's runs only).

    Returns
    -------
    dict
        ``revenue_by_channel``, ``contribution_margin``, ``customers``, ``distributors``,
        ``channel_stock``, ``conflicts``, ``ecommerce`` -> Figure.
    """
    runs = timeseries.groupby(run_columns(timeseries)).ngroups
    with style():
        figures = {
            "revenue_by_channel": _revenue_by_channel(timeseries),
            "contribution_margin": _contribution_margin(timeseries, discount_rate_annual),
            "customers": _customers(timeseries),
            "distributors": _distributors(timeseries),
            "channel_stock": _channel_stock(timeseries),
            "conflicts": _conflicts(timeseries),
            "ecommerce": _ecommerce(timeseries),
        }
    for figure in figures.values():
        _note(figure, runs, sweep="sample" in timeseries.columns)
    return figures


def _revenue_by_channel(ts: pd.DataFrame) -> Figure:
    figure, ax = new_figure()
    series = {c: bands(per_run(ts, f"revenue_{c}")) for c in CHANNEL_COLOURS}
    money = Money.for_values(b["high"].max() for b in series.values())
    for channel, band in series.items():
        plot_band(
            ax,
            band,
            label=CHANNEL_LABELS[channel],
            colour=CHANNEL_COLOURS[channel],
            scale=money.factor,
        )
    ax.set_title("Revenue by channel")
    ax.set_ylabel(f"Revenue per week\n({money.unit})")
    _weeks(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def _contribution_margin(ts: pd.DataFrame, rate: float) -> Figure:
    figure, (weekly, npv) = new_figure(13.0, 5.0, ncols=2)
    band = bands(per_run(ts, "contribution_margin"))
    money = Money.for_values(band["high"])
    plot_band(weekly, band, label="Contribution margin", colour=OKABE_ITO[0], scale=money.factor)
    weekly.axhline(0, color="#333333", lw=0.8)
    weekly.set_title("Contribution margin per week")
    weekly.set_ylabel(f"Per week ({money.unit})")
    _weeks(weekly)
    npv_runs = per_run(ts, "contribution_margin", cumulative=True, discount_rate_annual=rate)
    cumulative = bands(npv_runs)
    money = Money.for_values(cumulative["high"])
    plot_band(npv, cumulative, label="NPV", colour=OKABE_ITO[2], scale=money.factor)
    npv.set_title(f"Cumulative NPV of contribution ({rate:.0%}/yr)")
    npv.set_ylabel(f"Discounted, cumulative\n({money.unit})")
    _weeks(npv)
    return figure


def _customers(ts: pd.DataFrame) -> Figure:
    figure, (active, churned) = new_figure(13.0, 5.0, ncols=2)
    plot_band(active, bands(per_run(ts, "active_customers")), label="Active", colour=OKABE_ITO[0])
    active.set_title("Active customers")
    active.set_ylabel("Accounts")
    _thousands(active)
    _weeks(active)
    plot_band(
        churned, bands(per_run(ts, "churned_customers")), label="Churned", colour=OKABE_ITO[3]
    )
    churned.set_title("Cumulative churn (lost to competitors)")
    churned.set_ylabel("Accounts churned since week 0")
    _thousands(churned)
    _weeks(churned)
    return figure


def _distributors(ts: pd.DataFrame) -> Figure:
    figure, (active, effort) = new_figure(13.0, 5.0, ncols=2)
    plot_band(
        active, bands(per_run(ts, "distributors_active")), label="Active", colour=OKABE_ITO[3]
    )
    if "distributors_retaliating" in ts:
        plot_band(
            active,
            bands(per_run(ts, "distributors_retaliating")),
            label="Retaliating",
            colour=OKABE_ITO[4],
            linestyle="--",
        )
        active.legend(loc="best")
    active.set_title("Distributors")
    active.set_ylabel("Distributors")
    active.set_ylim(bottom=0)
    _thousands(active)
    _weeks(active)
    plot_band(
        effort,
        bands(per_run(ts, "distributor_effort_mean")),
        label="Effort",
        colour=OKABE_ITO[1],
    )
    effort.set_title("Distributors' effort on our line")
    effort.set_ylabel("Mean effort of active distributors\n(0 = none, 1 = full push)")
    effort.set_ylim(0, 1.05)
    _weeks(effort)
    return figure


def _channel_stock(ts: pd.DataFrame) -> Figure:
    figure, (flows, stock) = new_figure(13.0, 5.0, ncols=2)
    plot_band(flows, bands(per_run(ts, "sell_in_units")), label="Sell-in", colour=OKABE_ITO[0])
    plot_band(
        flows,
        bands(per_run(ts, "sell_through_units")),
        label="Sell-through",
        colour=OKABE_ITO[1],
        linestyle="--",
    )
    flows.set_title("Sell-in vs sell-through")
    flows.set_ylabel("Units per week")
    flows.set_ylim(bottom=0)
    _thousands(flows)
    flows.legend(loc="best")
    _weeks(flows)
    plot_band(
        stock, bands(per_run(ts, "channel_inventory_units")), label="Stock", colour=OKABE_ITO[4]
    )
    stock.set_title("Channel inventory (distributors' stock)")
    stock.set_ylabel("Units on hand")
    stock.set_ylim(bottom=0)
    _thousands(stock)
    _weeks(stock)
    return figure


def _conflicts(ts: pd.DataFrame) -> Figure:
    figure, ax = new_figure()
    for colour, kind in zip(OKABE_ITO, CONFLICT_TYPES, strict=False):
        plot_band(
            ax,
            bands(per_run(ts, f"conflicts_{kind}")),
            label=metrics.label(f"conflicts_{kind}"),
            colour=colour,
        )
    ax.set_title("Conflict incidents by type")
    ax.set_ylabel("Incidents per week")
    ax.set_ylim(bottom=0)
    _thousands(ax)
    _weeks(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def _ecommerce(ts: pd.DataFrame) -> Figure:
    figure, ax = new_figure()
    plot_band(
        ax,
        bands(per_run(ts, "ecommerce_adopters_share")),
        label="Active buyers who order online (adopters)",
        colour=OKABE_ITO[2],
    )
    revenue = per_run(ts, "revenue")
    share = per_run(ts, "revenue_ecommerce") / revenue.where(revenue != 0)
    plot_band(
        ax,
        bands(share),
        label="E-commerce share of revenue",
        colour=OKABE_ITO[5],
        linestyle="--",
    )
    ax.set_title("E-commerce adoption")
    ax.set_ylabel("Share")
    ax.set_ylim(0, 1)
    _percent(ax)
    _weeks(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


# ------------------------------------------------------------------------------ comparison


def variant_colours(variants: Iterable[str]) -> dict[str, str]:
    """The reference variant in black, the others in Okabe-Ito order."""
    names = list(variants)
    palette = [c for c in OKABE_ITO if c not in ("#000000", "#F0E442")]
    colours = {names[0]: "#000000"} if names else {}
    for i, name in enumerate(names[1:]):
        colours[name] = palette[i % len(palette)]
    return colours


def comparison_figures(
    timeseries: pd.DataFrame, *, reference: str = "baseline", discount_rate_annual: float = 0.08
) -> dict[str, Figure]:
    """Every variant against the reference: margin over time, outcomes, bridge, revenue shift."""
    names = [reference, *[v for v in timeseries["variant"].unique() if v != reference]]
    colours = variant_colours(names)
    by_variant = {v: timeseries[timeseries["variant"] == v] for v in names}
    runs = by_variant[reference].groupby(run_columns(timeseries)).ngroups
    with style():
        figures = {
            "compare_contribution_margin": _compare_margin(
                by_variant, colours, discount_rate_annual
            ),
            "compare_outcomes": _compare_outcomes(by_variant, colours),
            "margin_bridge": _bridges(timeseries, names, reference),
            "revenue_shift": _revenue_shift(timeseries, names, reference, colours),
        }
    for name in ("compare_contribution_margin", "compare_outcomes"):
        _note(figures[name], runs)
    _footnote(figures["margin_bridge"], f"Means of {runs} paired replications; whiskers: 95% CI.")
    return figures


def _compare_margin(
    by_variant: Mapping[str, pd.DataFrame], colours: Mapping[str, str], rate: float
) -> Figure:
    figure, (weekly, npv) = new_figure(14.0, 5.5, ncols=2)
    weekly_bands = {v: bands(per_run(ts, "contribution_margin")) for v, ts in by_variant.items()}
    npv_bands = {
        v: bands(per_run(ts, "contribution_margin", cumulative=True, discount_rate_annual=rate))
        for v, ts in by_variant.items()
    }
    money = Money.for_values(b["high"].max() for b in weekly_bands.values())
    npv_money = Money.for_values(b["high"].max() for b in npv_bands.values())
    for variant, band in weekly_bands.items():
        plot_band(weekly, band, label=variant, colour=colours[variant], scale=money.factor)
        plot_band(
            npv, npv_bands[variant], label=variant, colour=colours[variant], scale=npv_money.factor
        )
    weekly.set_title("Contribution margin per week")
    weekly.set_ylabel(f"Per week ({money.unit})")
    npv.set_title(f"Cumulative NPV of contribution ({rate:.0%}/yr)")
    npv.set_ylabel(f"Discounted, cumulative\n({npv_money.unit})")
    for ax in (weekly, npv):
        _weeks(ax)
    npv.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="Variant")
    return figure


OUTCOMES: tuple[tuple[str, str, str], ...] = tuple(
    (name, metrics.label(name), ylabel)
    for name, ylabel in (
        ("active_customers", "Accounts"),
        ("distributors_active", "Distributors"),
        ("distributor_effort_mean", "Mean effort (0-1)"),
        ("conflict_incidents", "Incidents per week"),
        ("customer_effort_mean", "Mean effort of active buyers"),
        ("ecommerce_adopters_share", "Share of active buyers"),
    )
)
"""Panels of the outcomes comparison: metric, title, y label."""


def _compare_outcomes(by_variant: Mapping[str, pd.DataFrame], colours: Mapping[str, str]) -> Figure:
    figure, axes = new_figure(15.0, 8.5, nrows=2, ncols=3)
    for ax, (metric, title, ylabel) in zip(axes.ravel(), OUTCOMES, strict=True):
        for variant, ts in by_variant.items():
            plot_band(ax, bands(per_run(ts, metric)), label=variant, colour=colours[variant])
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        _weeks(ax)
        if metric == "ecommerce_adopters_share":
            _percent(ax)
        elif metric == "distributor_effort_mean":
            ax.set_ylim(0, 1.05)
        elif metric == "customer_effort_mean":
            ax.set_ylim(bottom=0)
        else:
            _thousands(ax)
            if metric == "distributors_active":
                ax.set_ylim(bottom=0)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", title="Variant")
    return figure


def _bridges(timeseries: pd.DataFrame, names: list[str], reference: str) -> Figure:
    variants = names[1:]
    tables = {v: margin_bridge(timeseries, v, reference=reference) for v in variants}
    money = Money.for_values(
        value
        for table in tables.values()
        for value in table[["mean", "ci_low", "ci_high"]].abs().max()
    )
    drivers = moving_drivers(tables.values())
    columns = min(2, max(1, len(variants)))
    rows = max(1, -(-len(variants) // columns))
    height = 1.0 + 0.42 * (len(drivers) + 1)
    figure, axes = new_figure(
        7.0 * columns, height * rows, nrows=rows, ncols=columns, squeeze=False, sharey=True
    )
    for ax in axes.ravel()[len(variants) :]:
        ax.set_visible(False)
    for ax, variant in zip(axes.ravel(), variants, strict=False):
        waterfall(ax, tables[variant].loc[[*drivers, "total"]], scale=money.factor)
        ax.set_title(f"{variant} vs {reference}")
        ax.set_xlabel(f"Contribution margin difference\n({money.unit}, whole horizon)")
    return figure


def moving_drivers(bridges: Iterable[pd.DataFrame]) -> list[str]:
    """The drivers (bridge rows but ``total``) that are not exactly zero in every bridge."""
    tables = list(bridges)
    drivers = [d for d in tables[0].index if d != "total"] if tables else []
    return [
        d
        for d in drivers
        if any((t.loc[d, ["mean", "ci_low", "ci_high"]].fillna(0) != 0).any() for t in tables)
    ]


def waterfall(ax: Axes, bridge: pd.DataFrame, *, scale: float = 1.0) -> list[float]:
    """Draw a margin bridge as a horizontal waterfall; return the bar lengths drawn (scaled).

    One row per driver, top to bottom, its label on the left where it has room; each bar
    floats from the running total; the last row is the total, from zero. Increases are
    bluish green, decreases vermillion, the total blue.
    """
    drivers = [d for d in bridge.index if d != "total"]
    heights = [float(bridge.loc[d, "mean"]) / scale for d in drivers]
    total = float(bridge.loc["total", "mean"]) / scale
    starts = np.concatenate([[0.0], np.cumsum(heights)[:-1]])
    colours = [OKABE_ITO[2] if h >= 0 else OKABE_ITO[3] for h in heights]
    y = np.arange(len(drivers) + 1)
    ax.barh(y[:-1], heights, left=starts, color=colours, height=0.7)
    ax.barh(y[-1], total, color=OKABE_ITO[0], height=0.7)
    low = (bridge["mean"] - bridge["ci_low"]).to_numpy() / scale
    high = (bridge["ci_high"] - bridge["mean"]).to_numpy() / scale
    ends = np.append(starts + np.array(heights), total)
    if np.isfinite(low).all():
        ax.errorbar(ends, y, xerr=[low, high], fmt="none", ecolor="#333333", capsize=3, lw=1.0)
    for yi, end in zip(y[:-1], ends[:-1], strict=True):
        ax.plot([end, end], [yi + 0.35, yi + 0.65], color="#777777", lw=0.8)
    ax.axvline(0, color="#333333", lw=0.8)
    labels = [bridge.loc[d, "label"] for d in drivers] + ["Total"]
    ax.set_yticks(y, labels, fontsize=11)
    ax.set_ylim(len(y) - 0.4, -0.6)  # first driver on top
    ax.grid(axis="y", visible=False)
    for yi, value, end in zip(y, [*heights, total], ends, strict=True):
        if abs(value) < 0.05 and yi < y[-1]:
            continue  # rounds to 0.0: the missing bar says it
        ax.annotate(
            _signed_one_decimal(value),
            (end, yi),
            xytext=(-6 if value < 0 else 6, 0),
            textcoords="offset points",
            ha="right" if value < 0 else "left",
            va="center",
            fontsize=10,
            fontweight="bold",
            color="#222222",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    ax.margins(x=0.18)
    return [*heights, total]


def _signed_one_decimal(value: float) -> str:
    """``+1.2`` / ``-0.3``; ``0.0`` without a sign when it rounds to zero."""
    return "0.0" if abs(value) < 0.05 else f"{value:+,.1f}"


def _revenue_shift(
    timeseries: pd.DataFrame, names: list[str], reference: str, colours: Mapping[str, str]
) -> Figure:
    variants = names[1:]
    shifts = pd.DataFrame({v: revenue_shift(timeseries, v, reference=reference) for v in variants})
    money = Money.for_values(shifts.abs().to_numpy().ravel())
    figure, ax = new_figure(12.0, 5.5)
    channels = [c for c in CHANNEL_COLOURS if f"revenue_{c}" in shifts.index]
    width = 0.8 / max(1, len(variants))
    x = np.arange(len(channels))
    for i, variant in enumerate(variants):
        values = [shifts.loc[f"revenue_{c}", variant] / money.factor for c in channels]
        ax.bar(
            x + (i - (len(variants) - 1) / 2) * width,
            values,
            width,
            label=variant,
            color=colours[variant],
        )
    ax.axhline(0, color="#333333", lw=0.8)
    ax.set_xticks(x, [CHANNEL_LABELS[c] for c in channels])
    ax.grid(axis="x", visible=False)
    ax.set_title(f"Where revenue moved: change by channel vs {reference}")
    ax.set_ylabel(f"Revenue difference, whole horizon\n({money.unit})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="Variant")
    return figure


# ------------------------------------------------------------------------------ saving


def save(figures: Mapping[str, Figure], folder: Path, *, prefix: str = "") -> dict[str, Path]:
    """Write each figure as PNG and SVG; return the PNG paths by figure name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    with style():
        for name, figure in figures.items():
            stem = folder / f"{prefix}{name}"
            figure.savefig(stem.with_suffix(".png"), dpi=120)
            figure.set_layout_engine("none")  # keep the layout just computed: faster SVG
            figure.savefig(stem.with_suffix(".svg"))
            written[f"{prefix}{name}"] = stem.with_suffix(".png")
    return written
