"""Whether the direct channel restrained distributor markups (issue 12; Chiang et al. 2003).

A direct channel can pay as a credible threat even with few direct sales: buyers' option to buy
direct makes the distributors' demand more price-elastic, so they resell at a lower markup over
our wholesale price. This section plots ``distributor_markup_mean`` week by week per variant
and reads, from replications paired with the reference variant, whether variants that reach
more buyers directly (a higher direct share of revenue) have lower markups.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.figures import bands, new_figure, per_run, plot_band, style, variant_colours
from sim.results.stats import mean_ci

LAST_WEEKS = 52
"""The window the paired differences are read over: the last year of the horizon (or all of
a shorter one), when a plan's moves have had time to show in the markups."""

DIRECT = ("revenue_field", "revenue_inside", "revenue_ecommerce")
"""Our direct channels: revenue through them is the direct channel's reach."""


def last_year_by_run(timeseries: pd.DataFrame, *, weeks: int = LAST_WEEKS) -> pd.DataFrame:
    """Mean markup and direct share of revenue per run over the last ``weeks`` weeks.

    Returns
    -------
    DataFrame indexed by (variant, replication) with ``markup`` (mean weekly
    ``distributor_markup_mean``, a share of our wholesale price) and ``direct_share`` (direct
    revenue / revenue, summed over the weeks).
    """
    last = timeseries[timeseries["week"] > timeseries["week"].max() - weeks]
    runs = last.groupby(["variant", "replication"])
    direct = runs[list(DIRECT)].sum().sum(axis=1)
    return pd.DataFrame(
        {
            "markup": runs["distributor_markup_mean"].mean(),
            "direct_share": direct / runs["revenue"].sum(),
        }
    )


def markup_differences(
    timeseries: pd.DataFrame, *, reference: str, weeks: int = LAST_WEEKS
) -> pd.DataFrame:
    """Each variant minus ``reference``, paired by replication, over the last ``weeks`` weeks.

    Returns
    -------
    DataFrame indexed by variant with, for ``markup`` and ``direct_share``, the mean paired
    difference and its 95% Student-t interval (``<name>``, ``<name>_low``, ``<name>_high``)
    and the number of pairs ``n``.
    """
    table = last_year_by_run(timeseries, weeks=weeks)
    base = table.loc[reference]
    rows = {}
    for variant in table.index.get_level_values("variant").unique():
        if variant == reference:
            continue
        other = table.loc[variant]
        common = base.index.intersection(other.index)
        row: dict[str, float] = {"n": len(common)}
        for name in ("markup", "direct_share"):
            difference = other.loc[common, name].to_numpy() - base.loc[common, name].to_numpy()
            row[name], row[f"{name}_low"], row[f"{name}_high"] = mean_ci(difference)
        rows[variant] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _direction(low: float, high: float) -> int:
    """+1 if a 95% interval lies above 0, -1 below, 0 if it holds 0 (or is undefined)."""
    return 1 if low > 0 else -1 if high < 0 else 0


def verdict(differences: pd.DataFrame, *, reference: str) -> list[str]:
    """Sentences, one per variant and a conclusion, read from :func:`markup_differences`.

    A difference counts where its 95% interval excludes 0. The Chiang effect appears if some
    variant reaches buyers directly more than ``reference`` and every such variant has a lower
    markup; a higher markup with more direct reach contradicts it.
    """
    lines: list[str] = []
    more_direct: list[str] = []
    lower: list[str] = []
    higher: list[str] = []
    for variant, row in differences.iterrows():
        reach = _direction(row["direct_share_low"], row["direct_share_high"])
        markup = _direction(row["markup_low"], row["markup_high"])
        lines.append(
            f"{variant} against {reference}: direct share of revenue {_pp(row, 'direct_share')}"
            f" ({REACH[reach]}); mean markup {_pp(row, 'markup')} ({MARKUP[markup]})."
        )
        if reach > 0:
            more_direct.append(str(variant))
            if markup < 0:
                lower.append(str(variant))
            elif markup > 0:
                higher.append(str(variant))
    pairs = int(differences["n"].min()) if len(differences) else 0
    if not more_direct:
        conclusion = (
            f"No variant reaches buyers directly more than {reference} beyond the noise of "
            f"{pairs} paired replications: this comparison cannot show whether the direct "
            "channel restrains markups."
        )
    elif higher:
        conclusion = (
            f"{', '.join(higher)} reach buyers directly more and their distributors charge a "
            "higher markup: the direct channel did not restrain markups here."
        )
    elif len(lower) == len(more_direct):
        conclusion = (
            "Every variant with more direct reach has a lower distributor markup: the direct "
            "channel restrained markups (the Chiang, Chhajed & Hess 2003 effect appeared)."
        )
    else:
        conclusion = (
            f"{len(lower)} of the {len(more_direct)} variants with more direct reach have a "
            "lower markup, the rest no difference distinguishable in "
            f"{pairs} paired replications: the effect is not established."
        )
    return [*lines, conclusion]


REACH = {1: "more direct reach", -1: "less direct reach", 0: "no distinguishable difference"}
MARKUP = {1: "higher", -1: "lower", 0: "no distinguishable difference"}


def _pp(row: pd.Series, name: str) -> str:
    """``+1.2 pp [0.3, 2.1]``: a paired difference of shares and its 95% interval."""
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    interval = "" if np.isnan(low) else f" [{low * 100:+.2f}, {high * 100:+.2f}]"
    return f"{row[name] * 100:+.2f} pp{interval}"


def markup_figure(timeseries: pd.DataFrame, *, reference: str) -> Figure:
    """Mean markup of active distributors, week by week, per variant (band: 5-95% of runs)."""
    names = [reference, *[v for v in timeseries["variant"].unique() if v != reference]]
    colours = variant_colours(names)
    with style():
        figure, ax = new_figure(11.0, 4.5)
        for name in names:
            wide = per_run(timeseries[timeseries["variant"] == name], "distributor_markup_mean")
            plot_band(ax, bands(wide), label=name, colour=colours[name])
        ax.set_title("Distributors' markup over our wholesale price (mean of active ones)")
        ax.set_xlabel("Week")
        ax.set_ylabel("Markup")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.margins(x=0)
        ax.legend(loc="best")
    return figure


def markup_section(timeseries: pd.DataFrame, *, reference: str, figure_html: str) -> str:
    """The report section: the figure, the paired differences in words, the window read."""
    differences = markup_differences(timeseries, reference=reference)
    weeks = min(LAST_WEEKS, int(timeseries["week"].max()))
    items = "".join(
        f"<li>{html.escape(line)}</li>" for line in verdict(differences, reference=reference)
    )
    return (
        f"{figure_html}<p>Paired differences against {html.escape(reference)} over the last "
        f"{weeks} weeks (mean, 95% CI): the mean markup of active distributors, and the direct "
        "channels' share of revenue (field, inside, e-commerce) as the direct reach.</p>"
        f"<ul>{items}</ul>"
    )
