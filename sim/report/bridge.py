"""Margin bridge: why a variant's contribution margin differs from the baseline's.

Contribution margin is ``revenue - cogs - cost_to_serve - commissions - referral_fees -
campaign_costs`` (SPEC §3, phase 6), so its difference between two runs splits exactly into the
differences of those parts; the cost to serve is split by activity (order handling,
fulfilment, freight, credit, platform, sales force, coordination). Revenue and COGS are
further split into

- **volume** (churn, needs lost to competitors, inbound wins): the change in COGS, a measure of
  units shipped at cost that ignores price, valued at the baseline's gross markup,
  ``dCOGS * (R_b / COGS_b - 1)``;
- **channel mix and price realisation**: the rest of the gross-margin change,
  ``dR - dCOGS * R_b / COGS_b``, i.e. how much more (or less) revenue each unit of cost brings
  in: realised prices by channel, the distributor's margin on sell-in, discounts and offers,
  and product mix.

The drivers of each replication pair sum exactly to that pair's contribution-margin
difference; the bridge reports their means (and t intervals) over the paired replications,
so the bars also sum exactly to the mean difference in ``comparison.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.metrics import COST_ACTIVITIES, COST_FLOWS
from sim.results.stats import mean_ci

COSTS: tuple[str, ...] = (*COST_FLOWS, "commissions", "referral_fees", "campaign_costs")
"""Costs below gross margin, the cost to serve split by activity (``sim.metrics``)."""

COMPONENTS: tuple[str, ...] = ("revenue", "cogs", *COSTS, "contribution_margin")
"""Weekly flows summed over the horizon for the bridge."""

DRIVERS: dict[str, str] = {
    "volume": "Volume (churn, lost needs)",
    "mix_price": "Channel mix & price",
    **{f"cost_{a}": label for a, label in COST_ACTIVITIES.items()},
    "commissions": "Commissions",
    "referral_fees": "Referral fees",
    "campaign_costs": "Campaign costs",
}
"""Bridge drivers, in bar order, with their labels."""


def run_totals(timeseries: pd.DataFrame) -> pd.DataFrame:
    """Horizon totals of the bridge components, one row per (variant, replication)."""
    return timeseries.groupby(["variant", "replication"], sort=False)[list(COMPONENTS)].sum()


def bridge_by_replication(
    timeseries: pd.DataFrame, variant: str, *, reference: str = "baseline"
) -> pd.DataFrame:
    """Drivers of ``variant - reference`` for each paired replication.

    Returns
    -------
    DataFrame indexed by replication, one column per driver of :data:`DRIVERS` and
    ``total`` (the contribution-margin difference, equal to the sum of the drivers).
    """
    totals = run_totals(timeseries)
    base = totals.loc[reference]
    other = totals.loc[variant]
    common = base.index.intersection(other.index)
    base, other = base.loc[common], other.loc[common]
    diff = other - base
    cogs = base["cogs"].to_numpy()
    markup = np.divide(base["revenue"].to_numpy(), cogs, out=np.zeros_like(cogs), where=cogs != 0)
    volume = np.where(cogs != 0, diff["cogs"].to_numpy() * (markup - 1.0), 0.0)
    frame = pd.DataFrame(index=common)
    frame["volume"] = volume
    frame["mix_price"] = (diff["revenue"] - diff["cogs"]).to_numpy() - volume
    for name in COSTS:
        frame[name] = -diff[name].to_numpy()
    frame["total"] = diff["contribution_margin"].to_numpy()
    return frame


def margin_bridge(
    timeseries: pd.DataFrame, variant: str, *, reference: str = "baseline"
) -> pd.DataFrame:
    """Mean contribution-margin bridge of ``variant`` vs ``reference`` over replications.

    Returns
    -------
    DataFrame indexed by driver (then ``total``) with columns ``label, mean, ci_low,
    ci_high`` in currency units over the horizon. The driver means sum to the total mean.
    """
    per_run = bridge_by_replication(timeseries, variant, reference=reference)
    rows = []
    for name in [*DRIVERS, "total"]:
        mean, low, high = mean_ci(per_run[name].to_numpy())
        label = DRIVERS.get(name, "Contribution margin difference")
        rows.append({"driver": name, "label": label, "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows).set_index("driver")


def revenue_shift(
    timeseries: pd.DataFrame, variant: str, *, reference: str = "baseline"
) -> pd.Series:
    """Mean change in horizon revenue by channel, ``variant - reference`` (currency units)."""
    columns = [c for c in timeseries.columns if c.startswith("revenue_")]
    totals = timeseries.groupby(["variant", "replication"], sort=False)[columns].sum()
    base, other = totals.loc[reference], totals.loc[variant]
    common = base.index.intersection(other.index)
    return (other.loc[common] - base.loc[common]).mean()
