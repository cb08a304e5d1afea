"""The manufacturer's weekly books and the metrics collected each week.

Flows (money, units, counts) are booked as they happen during a week; levels (customers,
stock, shares) are recorded when the week closes, and the derived metrics are computed from
them. Which metric is which, and how a derived one is computed, is declared once in
:mod:`sim.metrics`. Rows go into preallocated arrays, one per metric, so collection costs
nothing per buyer.
"""

from __future__ import annotations

import numpy as np

from sim.metrics import CONFLICT_TYPES, WEEKLY, Kind, weekly_names

FLOWS: tuple[str, ...] = weekly_names(Kind.FLOW)
"""Quantities summed over a week (money in currency units)."""

LEVELS: tuple[str, ...] = weekly_names(Kind.LEVEL)
"""Quantities read at the end of a week (``churned_customers`` is cumulative)."""

DERIVED: tuple[str, ...] = weekly_names(Kind.DERIVED)
"""Metrics computed from the others each week."""

METRICS: tuple[str, ...] = tuple(m.name for m in WEEKLY)
"""Every weekly metric, in output column order."""

__all__ = ["CONFLICT_TYPES", "DERIVED", "FLOWS", "LEVELS", "METRICS", "Ledger"]


class Ledger:
    """Books flows during a week and keeps one row of every metric per week, for the firm.

    Parameters
    ----------
    horizon_weeks
        Rows to keep.
    weight
        Real accounts each simulated one stands for (:class:`sim.model.sample.FirmSample`): the
        rows hold the sample's flows and levels times ``weight`` where they add up over
        accounts (:attr:`sim.metrics.Unit.scales_with_firm`), so they are the firm's.
    """

    def __init__(self, horizon_weeks: int, weight: float = 1.0) -> None:
        self._flow_index = {name: i for i, name in enumerate(FLOWS)}
        self._week_flows = np.zeros(len(FLOWS))
        self.rows = {name: np.zeros(horizon_weeks) for name in METRICS}
        self._weight = {m.name: weight if m.unit.scales_with_firm else 1.0 for m in WEEKLY}

    def book(self, name: str, amount: float) -> None:
        """Add ``amount`` to this week's flow ``name``."""
        self._week_flows[self._flow_index[name]] += amount

    def flow(self, name: str) -> float:
        """Running total of flow ``name`` in the current week."""
        return float(self._week_flows[self._flow_index[name]])

    def close_week(self, week: int, levels: dict[str, float]) -> None:
        """Record week ``week`` (1-based) and reset the flows."""
        values: dict[str, float] = {name: self.flow(name) for name in FLOWS}
        values.update((name, levels[name]) for name in LEVELS)
        for metric in WEEKLY:
            if metric.formula is not None:
                values[metric.name] = metric.formula(values)
        for name, column in self.rows.items():
            column[week - 1] = values[name] * self._weight[name]
        self._week_flows[:] = 0.0
