"""The strategist's channel P&L: contribution per line, variant vs baseline, paired.

Reads ``channel_pnl.csv`` (SPEC §6). Each line's horizon contribution margin is compared
between a variant and the reference replication by replication (common random numbers), so the
interval is the paired one of ``comparison.csv``. What no single line carries (the rows with
``all``) is pooled in two rows, so the rows still add up to the total:

- "distributor channel stock and restocks" (the rows ``product x all x distributor``): the
  sell-in not yet sold through (revenue and COGS of the stock the distributors added), and our
  cost of serving the distributors, their restock orders. A distributor line (a buyer's
  sell-through) carries no cost to serve of ours: the distributor serves the buyer; what it
  costs us to serve the distributor is on this row (:func:`restock_share`);
- "not traceable to a line": rep headcount not spent on one line, platforms, orchestration,
  campaigns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.channels import CATALOGUE
from sim.results.stats import mean_ci

DISTRIBUTOR: str = next(c.name for c in CATALOGUE if c.partner)
"""The partner channel: its restocks are the channel-stock rows."""

LINE: tuple[str, ...] = ("product", "segment", "channel")
"""Columns naming a line of the P&L."""

UNTRACED = ("not traceable to a line", "", "")
"""Label of the row gathering the ``all`` rows but the channel stock's."""

STOCK = ("distributor channel stock and restocks", "", "")
"""Label of the row gathering the channel-stock rows (``product x all x distributor``)."""

POOLED = (STOCK, UNTRACED)
"""The rows that are no product x segment x channel line, in the order they are shown."""


def _stock_rows(channel_pnl: pd.DataFrame) -> pd.Series:
    """Whether each row is a product's channel-stock line (sell-in, restock costs)."""
    return (
        (channel_pnl["segment"] == "all")
        & (channel_pnl["channel"] == DISTRIBUTOR)
        & (channel_pnl["product"] != "all")
    )


def line_margins(channel_pnl: pd.DataFrame, column: str = "contribution_margin") -> pd.DataFrame:
    """``column`` per line (rows) and run (columns: variant, replication), ``all`` rows pooled.

    Lines missing from a run count as 0.
    """
    frame = channel_pnl.copy()
    stock = _stock_rows(frame)
    untraced = (frame[list(LINE)] == "all").any(axis=1) & ~stock
    for name, label, pooled in zip(LINE, UNTRACED, STOCK, strict=True):
        frame.loc[untraced, name] = label
        frame.loc[stock, name] = pooled
    table = frame.pivot_table(
        index=list(LINE), columns=["variant", "replication"], values=column, aggfunc="sum"
    )
    return table.fillna(0.0)


def line_comparison(
    channel_pnl: pd.DataFrame, variant: str, *, reference: str = "baseline"
) -> pd.DataFrame:
    """Each line's contribution margin: reference mean, variant mean, paired difference.

    Returns
    -------
    DataFrame indexed by line with columns ``reference, variant, difference, ci_low, ci_high``
    (currency units over the horizon), lines in the reference's order of contribution.
    """
    table = line_margins(channel_pnl)
    base, other = table[reference], table[variant]
    common = base.columns.intersection(other.columns)
    diff = other[common].to_numpy() - base[common].to_numpy()
    rows = [mean_ci(d) for d in diff]
    out = pd.DataFrame(rows, index=table.index, columns=["difference", "ci_low", "ci_high"])
    out.insert(0, "variant", other[common].mean(axis=1))
    out.insert(0, "reference", base[common].mean(axis=1))
    return out.sort_values("reference", ascending=False, key=np.abs)


def line_summary(channel_pnl: pd.DataFrame, variant: str) -> pd.DataFrame:
    """One variant's lines: mean revenue, cost to serve and contribution margin (with CI)."""
    rows = {}
    for column in ("revenue", "cost_to_serve", "contribution_margin"):
        rows[column] = line_margins(channel_pnl, column)[variant].mean(axis=1)
    margin = line_margins(channel_pnl)[variant]
    ci = [mean_ci(m)[1:] for m in margin.to_numpy()]
    out = pd.DataFrame(rows)
    out["ci_low"], out["ci_high"] = zip(*ci, strict=True) if ci else ((), ())
    return out.sort_values("contribution_margin", ascending=False, key=np.abs)


def restock_share(channel_pnl: pd.DataFrame, variant: str) -> float:
    """Our cost of serving the distributors (their restocks) over our sell-in to them.

    Means over the variant's replications of the channel-stock rows' cost to serve and of the
    distributor channel's revenue (the lines' sell-through at sell-in price plus the stock
    rows' sell-in not yet sold through: all of the sell-in); NaN without sell-in.
    """
    runs = channel_pnl[channel_pnl["variant"] == variant]
    count = runs.groupby([c for c in ("sample", "replication") if c in runs]).ngroups or 1
    cost = runs.loc[_stock_rows(runs), "cost_to_serve"].sum() / count
    sell_in = runs.loc[runs["channel"] == DISTRIBUTOR, "revenue"].sum() / count
    return float(cost / sell_in) if sell_in > 0 else float("nan")
