"""The metric catalogue: every output metric declared once, read by every table and figure.

Two views of a run come out of the engine (SPEC §6):

- **weekly metrics**, the columns of ``timeseries.parquet`` after the identifiers, in
  catalogue order. A *flow* is summed over the week as it is booked (money in currency units,
  units, counts); a *level* is read when the week closes (``churned_customers`` is
  cumulative); a *derived* metric is computed from that week's other metrics.
- **summary metrics**, the columns of ``summary.csv`` after the identifiers, in catalogue
  order: each one says how a run's weeks reduce to one number over the horizon (the total of a
  weekly metric, its value at the end, or a per-run computation such as an NPV).

The ledger, the summary table, the command line's headline table, the report and the
dashboard all read these declarations. Adding a metric is one entry here plus, for a flow or
a level, the line of the engine that books or reads it.

This module imports nothing from the engine, so results and reports can use it without
loading mesa.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sim.channels import CHANNELS

if TYPE_CHECKING:
    import pandas as pd


class Kind(StrEnum):
    """How a weekly metric comes to be, or that a metric is a per-run summary."""

    FLOW = "flow"
    """Summed over the week as it is booked."""
    LEVEL = "level"
    """Read at the end of the week."""
    DERIVED = "derived"
    """Computed from the week's other metrics when the week closes."""
    SUMMARY = "summary"
    """One number per run over the whole horizon."""


class Unit(StrEnum):
    """What a metric counts; tables and figures choose their format by it."""

    CURRENCY = "currency units"
    UNITS = "units"
    ACCOUNTS = "accounts"
    DISTRIBUTORS = "distributors"
    INCIDENTS = "incidents"
    LEADS = "leads"
    LINES = "lines (buyer x product)"
    SHARE = "share (0-1)"
    SCORE = "score (0-1)"
    RATIO = "ratio"

    @property
    def scales_with_firm(self) -> bool:
        """Whether a sample's value is multiplied by the accounts each sampled one stands for.

        Money and what counts accounts, units, incidents or leads add up over accounts; every
        distributor and rep of the firm is simulated, and shares and scores do not add up
        (:mod:`sim.model.sample`).
        """
        return self not in (Unit.DISTRIBUTORS, Unit.SHARE, Unit.SCORE, Unit.RATIO)

    @property
    def bounds(self) -> tuple[float, float]:
        """The values a metric of this unit can take: ``(low, high)``, infinite if unbounded.

        Shares and scores lie in [0, 1]; counts (units, accounts, distributors, incidents,
        leads, lines) are never negative; money and ratios (one sum over another that may
        change sign) can have either sign. Intervals of a mean stay within these bounds
        (:func:`sim.results.stats.mean_ci`).
        """
        if self in (Unit.SHARE, Unit.SCORE):
            return (0.0, 1.0)
        if self in (Unit.CURRENCY, Unit.RATIO):
            return (-math.inf, math.inf)
        return (0.0, math.inf)


@dataclass(frozen=True)
class Metric:
    """One weekly metric (a column of ``timeseries.parquet``).

    Attributes
    ----------
    name
        Column name (fixed by SPEC §6 where it is listed there).
    label
        Words for a reader, without the unit.
    unit
        What it counts.
    kind
        :attr:`Kind.FLOW`, :attr:`Kind.LEVEL` or :attr:`Kind.DERIVED`.
    formula
        For a derived metric: its value from the week's values computed so far (flows,
        levels and the derived metrics declared before it).
    """

    name: str
    label: str
    unit: Unit
    kind: Kind
    formula: Callable[[Mapping[str, float]], float] | None = None


@dataclass(frozen=True)
class SummaryMetric:
    """One per-run number over the horizon (a column of ``summary.csv``).

    Attributes
    ----------
    name, label, unit
        As for :class:`Metric`.
    over_horizon
        Its value from one run's weekly rows (in week order) and the annual discount rate.
    better
        +1 where more is better for the manufacturer, -1 where less is, 0 where neither.
    headline
        Whether the command line's summary table shows it.
    """

    name: str
    label: str
    unit: Unit
    over_horizon: Callable[[pd.DataFrame, float], float]
    better: int = 0
    headline: bool = False
    kind: Kind = Kind.SUMMARY


CONFLICT_TYPES: tuple[str, ...] = (
    "double_coverage",
    "contradictory_price",
    "repeated_information",
    "rep_vs_web_credit",
    "account_taken_direct",
)
"""Kinds of ``conflict_incident`` (docs/ODD.md, "Conflict")."""

CONTRIBUTION_COSTS: tuple[str, ...] = (
    "cost_to_serve",
    "commissions",
    "referral_fees",
    "campaign_costs",
)
"""Costs below gross margin: ``contribution_margin = gross_margin - sum of these`` (SPEC §3)."""

COST_ACTIVITIES: dict[str, str] = {
    "order_handling": "Order handling",
    "fulfilment": "Fulfilment (pick and pack)",
    "freight": "Freight",
    "credit": "Credit and collection",
    "platform": "E-commerce platform",
    "sales_force": "Sales force (headcount and calls)",
    "coordination": "Orchestration and targeting",
}
"""Activities of the cost to serve (docs/ODD.md, "Cost to serve"); weekly flows ``cost_<name>``
sum to ``cost_to_serve``."""

COST_FLOWS: tuple[str, ...] = tuple(f"cost_{a}" for a in COST_ACTIVITIES)


def _flow(name: str, label: str, unit: Unit) -> Metric:
    return Metric(name, label, unit, Kind.FLOW)


def _level(name: str, label: str, unit: Unit) -> Metric:
    return Metric(name, label, unit, Kind.LEVEL)


WEEKLY: tuple[Metric, ...] = (
    Metric(
        "revenue",
        "Revenue",
        Unit.CURRENCY,
        Kind.DERIVED,
        lambda week: sum(week[f"revenue_{c}"] for c in CHANNELS),
    ),
    Metric(
        "gross_margin",
        "Gross margin",
        Unit.CURRENCY,
        Kind.DERIVED,
        lambda week: week["revenue"] - week["cogs"],
    ),
    Metric(
        "cost_to_serve",
        "Cost to serve",
        Unit.CURRENCY,
        Kind.DERIVED,
        lambda week: sum(week[c] for c in COST_FLOWS),
    ),
    Metric(
        "contribution_margin",
        "Contribution margin",
        Unit.CURRENCY,
        Kind.DERIVED,
        lambda week: week["gross_margin"] - sum(week[c] for c in CONTRIBUTION_COSTS),
    ),
    Metric(
        "conflict_incidents",
        "Conflict incidents",
        Unit.INCIDENTS,
        Kind.DERIVED,
        lambda week: sum(week[f"conflicts_{t}"] for t in CONFLICT_TYPES),
    ),
    _flow("revenue_field", "Revenue, field sales", Unit.CURRENCY),
    _flow("revenue_inside", "Revenue, inside sales", Unit.CURRENCY),
    _flow("revenue_distributor", "Revenue, distributors (sell-in)", Unit.CURRENCY),
    _flow("revenue_ecommerce", "Revenue, e-commerce", Unit.CURRENCY),
    _flow("cogs", "Cost of goods sold", Unit.CURRENCY),
    *(
        _flow(f"cost_{a}", f"Cost to serve: {label.lower()}", Unit.CURRENCY)
        for a, label in COST_ACTIVITIES.items()
    ),
    _flow("commissions", "Commissions", Unit.CURRENCY),
    _flow("referral_fees", "Referral fees", Unit.CURRENCY),
    _flow("campaign_costs", "Campaign costs", Unit.CURRENCY),
    _flow("sell_in_units", "Sell-in", Unit.UNITS),
    _flow("sell_through_units", "Sell-through", Unit.UNITS),
    _flow("channel_inventory_removed_units", "Channel stock removed", Unit.UNITS),
    _flow("lost_to_competitor_units", "Lost to competitors", Unit.UNITS),
    _flow("stockout_units", "Stock-outs", Unit.UNITS),
    _flow("conflicts_double_coverage", "Double coverage", Unit.INCIDENTS),
    _flow("conflicts_contradictory_price", "Contradictory price", Unit.INCIDENTS),
    _flow("conflicts_repeated_information", "Repeated information", Unit.INCIDENTS),
    _flow("conflicts_rep_vs_web_credit", "Rep vs web credit", Unit.INCIDENTS),
    _flow("conflicts_account_taken_direct", "Account taken direct", Unit.INCIDENTS),
    _flow("conflicts_resolved", "Conflicts resolved", Unit.INCIDENTS),
    _flow("leads_referral", "Referral leads", Unit.LEADS),
    _flow("leads_outbound", "Outbound leads", Unit.LEADS),
    _flow("won_referral", "Referral leads won", Unit.LEADS),
    _flow("won_outbound", "Outbound leads won", Unit.LEADS),
    _level("active_customers", "Active customers", Unit.ACCOUNTS),
    _level("churned_customers", "Customers churned (cumulative)", Unit.ACCOUNTS),
    _level(
        "customers_lost_to_competitor_lines",
        "Active accounts with every line on a competitor's line (in churned)",
        Unit.ACCOUNTS,
    ),
    _level("distributors_active", "Distributors active", Unit.DISTRIBUTORS),
    _level("distributors_retaliating", "Distributors retaliating", Unit.DISTRIBUTORS),
    _level("distributor_effort_mean", "Distributors' effort", Unit.SCORE),
    _level("distributor_threat_mean", "Distributors' perceived threat", Unit.SCORE),
    _level(
        "distributor_markup_mean",
        "Distributors' markup over our wholesale price (active ones)",
        Unit.SHARE,
    ),
    _level(
        "distributor_gross_margin_mean",
        "Distributors' gross margin on our line (active ones)",
        Unit.SHARE,
    ),
    _level("distributor_profit", "Distributors' operating profit on our line", Unit.CURRENCY),
    _level("distributors_exited", "Distributors exited (cumulative)", Unit.DISTRIBUTORS),
    _level(
        "lines_lost_to_competitor",
        "Lines distributors moved to competitors' lines (cumulative)",
        Unit.LINES,
    ),
    _level("channel_inventory_units", "Channel inventory", Unit.UNITS),
    _level("ecommerce_adopters_share", "E-commerce adopters among active buyers", Unit.SHARE),
    _level("customer_effort_mean", "Customer effort", Unit.SCORE),
    _level("rep_selling_time", "Reps' selling time used", Unit.SHARE),
    _level("customer_equity", "Customer equity of the active accounts", Unit.CURRENCY),
)
"""Weekly metrics in ``timeseries.parquet`` column order."""

WEEKLY_BY_NAME: dict[str, Metric] = {m.name: m for m in WEEKLY}


def _total(name: str, **options: Any) -> SummaryMetric:
    """The sum of a weekly metric over the horizon, under the same name."""
    weekly = WEEKLY_BY_NAME[name]
    return SummaryMetric(
        name, weekly.label, weekly.unit, lambda run, _rate: float(run[name].sum()), **options
    )


def _end(weekly_name: str, name: str, label: str, **options: Any) -> SummaryMetric:
    """A weekly level's value in the last week."""
    unit = WEEKLY_BY_NAME[weekly_name].unit
    return SummaryMetric(
        name, label, unit, lambda run, _rate: float(run[weekly_name].iloc[-1]), **options
    )


def churn_rate_annual(run: pd.DataFrame, _rate: float) -> float:
    """Annualised share of the accounts ever active that churned.

    ``1 - (1 - churned / (active_end + churned)) ** (52 / weeks)``.
    """
    churned = float(run["churned_customers"].iloc[-1])
    ever = float(run["active_customers"].iloc[-1]) + churned
    return 1.0 - (1.0 - churned / ever) ** (52.0 / len(run)) if ever else 0.0


def distributor_exit_share(run: pd.DataFrame, _rate: float) -> float:
    """Share of the network's distributors that dropped our line by the horizon (0 if none)."""
    exited = float(run["distributors_exited"].iloc[-1])
    network = exited + float(run["distributors_active"].iloc[-1])
    return exited / network if network else 0.0


def ecommerce_revenue_share(run: pd.DataFrame, _rate: float) -> float:
    """E-commerce revenue over all revenue, over the horizon (0 without revenue)."""
    revenue = float(run["revenue"].sum())
    return float(run["revenue_ecommerce"].sum()) / revenue if revenue else 0.0


def npv_contribution(run: pd.DataFrame, discount_rate_annual: float) -> float:
    """Weekly contribution margin discounted by ``(1 + rate) ** (-week / 52)``, summed."""
    discount = (1.0 + discount_rate_annual) ** (-run["week"].to_numpy() / 52.0)
    return float((run["contribution_margin"].to_numpy() * discount).sum())


def customer_equity_end(run: pd.DataFrame, _rate: float) -> float:
    """Customer equity in the last week, in that week's money (docs/ODD.md, "Terminal value")."""
    return float(run["customer_equity"].iloc[-1])


def npv_contribution_with_terminal(run: pd.DataFrame, discount_rate_annual: float) -> float:
    """``npv_contribution`` plus ``customer_equity_end`` discounted from the last week to 0."""
    return npv_contribution(run, discount_rate_annual) + terminal_value(run, discount_rate_annual)


def terminal_value_share(run: pd.DataFrame, discount_rate_annual: float) -> float:
    """The discounted terminal value's share of ``npv_contribution_with_terminal``.

    NaN when that is 0; above 1 when the NPV of the weeks simulated is negative.
    """
    total = npv_contribution_with_terminal(run, discount_rate_annual)
    return terminal_value(run, discount_rate_annual) / total if total else math.nan


def terminal_value(run: pd.DataFrame, discount_rate_annual: float) -> float:
    """``customer_equity_end`` discounted from the last week to week 0."""
    weeks = float(run["week"].iloc[-1])
    discount = (1.0 + discount_rate_annual) ** (-weeks / 52.0)
    return customer_equity_end(run, discount_rate_annual) * discount


SUMMARY: tuple[SummaryMetric, ...] = (
    _total("revenue", better=1, headline=True),
    _total("gross_margin", better=1),
    _total("contribution_margin", better=1, headline=True),
    _total("cost_to_serve", better=-1, headline=True),
    _end("churned_customers", "churned_customers", "Customers churned", better=-1),
    SummaryMetric(
        "churn_rate_annual",
        "Churn rate per year",
        Unit.SHARE,
        churn_rate_annual,
        better=-1,
        headline=True,
    ),
    _total("conflict_incidents", better=-1, headline=True),
    _end("active_customers", "active_customers_end", "Active customers at end", better=1),
    _end(
        "distributors_active",
        "distributors_active_end",
        "Distributors active at end",
        better=1,
        headline=True,
    ),
    SummaryMetric(
        "ecommerce_revenue_share",
        "E-commerce revenue share",
        Unit.SHARE,
        ecommerce_revenue_share,
        headline=True,
    ),
    _total("sell_in_units"),
    _total("sell_through_units"),
    _end(
        "channel_inventory_units",
        "channel_inventory_units_end",
        "Channel inventory at end",
        headline=True,
    ),
    SummaryMetric(
        "npv_contribution",
        "NPV of contribution",
        Unit.CURRENCY,
        npv_contribution,
        better=1,
        headline=True,
    ),
    SummaryMetric(
        "customer_equity_end",
        "Customer equity at the horizon",
        Unit.CURRENCY,
        customer_equity_end,
        better=1,
    ),
    SummaryMetric(
        "npv_contribution_with_terminal",
        "NPV of contribution with terminal value",
        Unit.CURRENCY,
        npv_contribution_with_terminal,
        better=1,
        headline=True,
    ),
    SummaryMetric(
        "distributor_exit_share",
        "Share of distributors exited",
        Unit.SHARE,
        distributor_exit_share,
        better=-1,
        headline=True,
    ),
    _end(
        "lines_lost_to_competitor",
        "lines_lost_to_competitor",
        "Lines lost to competitors' lines",
        better=-1,
    ),
    SummaryMetric(
        "terminal_value_share",
        "Terminal value's share of the NPV",
        Unit.RATIO,
        terminal_value_share,
    ),
    SummaryMetric(
        "terminal_value",
        "Terminal value (customer equity, discounted)",
        Unit.CURRENCY,
        terminal_value,
        better=1,
        headline=True,
    ),
    _end(
        "customers_lost_to_competitor_lines",
        "customers_lost_to_competitor_lines_end",
        "Customers lost to competitors' lines (in churned)",
        better=-1,
    ),
)
"""Per-run metrics in ``summary.csv`` column order (SPEC §6)."""

SUMMARY_BY_NAME: dict[str, SummaryMetric] = {m.name: m for m in SUMMARY}


def weekly_names(kind: Kind) -> tuple[str, ...]:
    """Names of the weekly metrics of one kind, in column order."""
    return tuple(m.name for m in WEEKLY if m.kind is kind)


def label(name: str) -> str:
    """A reader's label for a weekly or summary metric (summary first)."""
    metric = SUMMARY_BY_NAME.get(name) or WEEKLY_BY_NAME[name]
    return metric.label


def summarise_run(run: pd.DataFrame, discount_rate_annual: float) -> dict[str, float]:
    """Every summary metric of one run's weekly rows (in week order)."""
    return {m.name: m.over_horizon(run, discount_rate_annual) for m in SUMMARY}
