"""The manufacturer's weekly books and the metrics collected each week.

Flows (money, units, counts) are booked as they happen during a week; levels (customers,
stock, shares) are recorded when the week closes. Rows go into preallocated arrays, one per
metric, so collection costs nothing per buyer.
"""

from __future__ import annotations

import numpy as np

from sim.scenario.schema import CHANNELS

CONFLICT_TYPES: tuple[str, ...] = (
    "double_coverage",
    "contradictory_price",
    "repeated_information",
    "rep_vs_web_credit",
    "account_taken_direct",
)
"""Kinds of ``conflict_incident`` (docs/ODD.md, "Conflict")."""

FLOWS: tuple[str, ...] = (
    *(f"revenue_{c}" for c in CHANNELS),
    "cogs",
    "cost_to_serve",
    "commissions",
    "referral_fees",
    "campaign_costs",
    "sell_in_units",
    "sell_through_units",
    "channel_inventory_removed_units",
    "lost_to_competitor_units",
    "stockout_units",
    *(f"conflicts_{t}" for t in CONFLICT_TYPES),
    "conflicts_resolved",
    "leads_referral",
    "leads_outbound",
    "won_referral",
    "won_outbound",
)
"""Quantities summed over a week (money in currency units)."""

LEVELS: tuple[str, ...] = (
    "active_customers",
    "churned_customers",
    "distributors_active",
    "distributors_retaliating",
    "distributor_effort_mean",
    "distributor_threat_mean",
    "channel_inventory_units",
    "ecommerce_adopters_share",
    "customer_effort_mean",
    "rep_selling_time",
)
"""Quantities read at the end of a week (``churned_customers`` is cumulative)."""

DERIVED: tuple[str, ...] = ("revenue", "gross_margin", "contribution_margin", "conflict_incidents")
"""Metrics computed from the others each week."""

METRICS: tuple[str, ...] = (*DERIVED, *FLOWS, *LEVELS)
"""Every weekly metric, in output column order."""


class Ledger:
    """Books flows during a week and keeps one row of every metric per week."""

    def __init__(self, horizon_weeks: int) -> None:
        self._flow_index = {name: i for i, name in enumerate(FLOWS)}
        self._week_flows = np.zeros(len(FLOWS))
        self.rows = {name: np.zeros(horizon_weeks) for name in METRICS}

    def book(self, name: str, amount: float) -> None:
        """Add ``amount`` to this week's flow ``name``."""
        self._week_flows[self._flow_index[name]] += amount

    def flow(self, name: str) -> float:
        """Running total of flow ``name`` in the current week."""
        return float(self._week_flows[self._flow_index[name]])

    def close_week(self, week: int, levels: dict[str, float]) -> None:
        """Record week ``week`` (1-based) and reset the flows."""
        row = week - 1
        for name, i in self._flow_index.items():
            self.rows[name][row] = self._week_flows[i]
        for name in LEVELS:
            self.rows[name][row] = levels[name]
        revenue = sum(self.flow(f"revenue_{c}") for c in CHANNELS)
        gross_margin = revenue - self.flow("cogs")
        self.rows["revenue"][row] = revenue
        self.rows["gross_margin"][row] = gross_margin
        self.rows["contribution_margin"][row] = gross_margin - sum(
            self.flow(name)
            for name in ("cost_to_serve", "commissions", "referral_fees", "campaign_costs")
        )
        self.rows["conflict_incidents"][row] = sum(
            self.flow(f"conflicts_{t}") for t in CONFLICT_TYPES
        )
        self._week_flows[:] = 0.0
