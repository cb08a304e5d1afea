"""The strategist's channel P&L: contribution per line, variant vs baseline, paired.

Reads ``channel_pnl.csv`` (SPEC §6). Each line's horizon contribution margin is compared
between a variant and the reference replication by replication (common random numbers), so the
interval is the paired one of ``comparison.csv``. What no single line carries (the rows with
``all``: channel stock, restocks, headcount, platforms, orchestration, campaigns) is one row,
"not traceable to a line", so the rows still add up to the total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results.stats import mean_ci

LINE: tuple[str, ...] = ("product", "segment", "channel")
"""Columns naming a line of the P&L."""

UNTRACED = ("not traceable to a line", "", "")
"""Label of the row gathering the ``all`` rows."""


def line_margins(channel_pnl: pd.DataFrame, column: str = "contribution_margin") -> pd.DataFrame:
    """``column`` per line (rows) and run (columns: variant, replication), ``all`` rows pooled.

    Lines missing from a run count as 0.
    """
    frame = channel_pnl.copy()
    untraced = (frame[list(LINE)] == "all").any(axis=1)
    for name, label in zip(LINE, UNTRACED, strict=True):
        frame.loc[untraced, name] = label
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
