"""Tables built from run outputs: the weekly time series and the per-run summary."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.experiments.runner import RunOutput
from sim.model.ledger import METRICS

ID_COLUMNS: tuple[str, ...] = ("scenario", "variant", "replication", "seed", "week")
"""Columns identifying a row of ``timeseries.parquet``."""

SUMMARY_METRICS: tuple[str, ...] = (
    "revenue",
    "gross_margin",
    "contribution_margin",
    "cost_to_serve",
    "churned_customers",
    "churn_rate_annual",
    "conflict_incidents",
    "active_customers_end",
    "distributors_active_end",
    "ecommerce_revenue_share",
    "sell_in_units",
    "sell_through_units",
    "channel_inventory_units_end",
    "npv_contribution",
)
"""Columns of ``summary.csv`` after the run identifiers (SPEC §6)."""

_SUMMED = (
    "revenue",
    "gross_margin",
    "contribution_margin",
    "cost_to_serve",
    "conflict_incidents",
    "sell_in_units",
    "sell_through_units",
)


def run_frame(
    scenario_name: str, output: RunOutput, extra: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Weekly rows of one run, with identifiers (and sweep columns in ``extra``)."""
    key = output.key
    weeks = len(next(iter(output.weekly.values())))
    ids: dict[str, object] = {
        "scenario": scenario_name,
        "variant": key.variant,
        "replication": key.replication,
        "seed": key.seed,
    }
    if key.sample is not None:
        ids["sample"] = key.sample
    frame = pd.DataFrame({**ids, **dict(extra or {})}, index=range(weeks))
    frame["week"] = np.arange(1, weeks + 1, dtype=np.int32)
    return pd.concat([frame, pd.DataFrame({m: output.weekly[m] for m in METRICS})], axis=1)


def summarise(timeseries: pd.DataFrame, discount_rate_annual: float) -> pd.DataFrame:
    """One row per run over the horizon (SPEC §6 ``summary.csv``).

    ``churn_rate_annual`` annualises the share of accounts ever active that churned:
    ``1 - (1 - churned / (active_end + churned)) ** (52 / weeks)``. ``npv_contribution``
    discounts weekly contribution margin at ``discount_rate_annual``.
    """
    keys = [c for c in timeseries.columns if c not in METRICS and c != "week"]
    rows = []
    for ids, run in timeseries.sort_values("week").groupby(keys, sort=False, dropna=False):
        last = run.iloc[-1]
        weeks = len(run)
        churned = float(last["churned_customers"])
        ever = float(last["active_customers"]) + churned
        discount = (1.0 + discount_rate_annual) ** (-run["week"].to_numpy() / 52.0)
        revenue = float(run["revenue"].sum())
        row = dict(zip(keys, ids, strict=True))
        row.update({name: float(run[name].sum()) for name in _SUMMED})
        row.update(
            churned_customers=churned,
            churn_rate_annual=1.0 - (1.0 - churned / ever) ** (52.0 / weeks) if ever else 0.0,
            active_customers_end=float(last["active_customers"]),
            distributors_active_end=float(last["distributors_active"]),
            ecommerce_revenue_share=float(run["revenue_ecommerce"].sum()) / revenue
            if revenue
            else 0.0,
            channel_inventory_units_end=float(last["channel_inventory_units"]),
            npv_contribution=float((run["contribution_margin"].to_numpy() * discount).sum()),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, *SUMMARY_METRICS])
