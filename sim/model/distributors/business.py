"""Each distributor as a business, over arrays: its week's P&L, threat, markup and decisions.

:class:`DistributorState` holds the network's distributors as columns, one row each; the
rules of their weekly update (docs/ODD.md §7.8) act on the rows of the active ones at once:

- :func:`book_week`: the week's P&L on our line and on the competitor's, the running averages
  and the loss rate it reads from its sales;
- :func:`set_markup`: the resale price's markup moves toward the inverse-elasticity markup of
  the demand it sees;
- :func:`decide`: its push of our line (effort), retaliation and exit, from its own P&L;
- :func:`restock`: order-up-to restocking, with forward buying in a sell-in promotion.

Each is the same arithmetic, element by element, as one distributor's would be, so one
distributor's result does not depend on how many others there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from sim.scenario.schema import Distributors as DistributorsConfig


class DistributorStatus(IntEnum):
    """Where a distributor stands with our line."""

    ACTIVE = 0
    RETALIATING = 1
    EXITED = 2


LINE_SHARE_CONCENTRATION = 8.0
"""Concentration (a + b) of the Beta a distributor's dependence on our line is drawn from
(assumption: shares mostly within +-0.15 of the mean)."""

MAX_SHARE_SEEN = 0.99
"""Cap on the share of its accounts' needs a distributor sees itself win, so the markup rule's
``1 / (1 - s)`` stays finite."""


@dataclass
class DistributorState:
    """The distributors' state, one row per distributor (``(D,)``, or ``(D, P)`` by product).

    Money in currency units a week unless stated; running averages are NaN until the first
    week is booked.
    """

    status: np.ndarray  # int8 DistributorStatus
    line_share: np.ndarray  # our line's share of its sales: its dependence on us
    size_weight: np.ndarray  # its share of the distributor-buying accounts
    markup: np.ndarray  # resale price over our wholesale price, minus 1
    line_fixed_cost_weekly: np.ndarray  # cost of carrying our line; shed when it drops it
    alternative_base_weekly: np.ndarray  # competitor line's sales before any conversion
    effort: np.ndarray  # its push of our line, 0..1
    threat: np.ndarray  # 1 - the keep share of its book
    loss_rate_weekly: np.ndarray  # rate at which it reads its volume leaving
    exit_weeks: np.ndarray  # int: consecutive weeks leaving has paid more than staying
    weeks_seen: np.ndarray  # int: weeks booked
    convert_below: np.ndarray  # keep share below which converting a line pays it
    cost_rate: np.ndarray  # its cost to serve per unit of sales (its cost structure)
    share_seen: np.ndarray  # smoothed share of its accounts' needs (value at list) it wins
    sales_recent: np.ndarray  # its sales, averaged over threat_window_weeks
    sales_trend: np.ndarray  # its sales, averaged over trend_weeks
    sales_variance: np.ndarray  # squared relative deviation of sales from sales_recent
    revenue_recent: np.ndarray  # our line's resale revenue, averaged
    cost_recent: np.ndarray  # its cost to serve our line's buyers, averaged
    profit_recent: np.ndarray  # our line's profit, averaged
    referral_recent: np.ndarray  # referral fees from us on lines moved off it, averaged
    # This week's facts, reset when the week is booked.
    week_revenue: np.ndarray  # our line's sales to its buyers
    week_cost_to_serve: np.ndarray  # what serving them cost it
    week_income: np.ndarray  # from us: rebates, referral fees, promotion savings
    week_referral_income: np.ndarray  # the referral fees among them
    week_alternative_revenue: np.ndarray  # competitor line's sales on converted lines
    week_conversion_cost: np.ndarray  # the cost of converting lines
    week_offered_value: np.ndarray  # its accounts' needs it could serve, value at list
    week_won_value: np.ndarray  # those that chose it
    week_expected_won_value: np.ndarray  # those the logit gave it, in expectation
    # By product, units.
    stock_units: np.ndarray  # (D, P) on hand
    forecast_units: np.ndarray  # (D, P) weekly demand it plans for
    week_demand_units: np.ndarray  # (D, P) demand placed with it this week
    week_sold_units: np.ndarray  # (D, P) sold this week (demand met from stock)

    @classmethod
    def empty(cls, distributors: int, products: int) -> DistributorState:
        """State for ``distributors`` x ``products``: zeros, averages not yet started."""
        columns = {f.name: np.zeros(distributors) for f in fields(cls)}
        for name in ("status", "exit_weeks", "weeks_seen"):
            columns[name] = np.zeros(distributors, dtype=np.int64)
        averages = ("sales_recent", "sales_trend", "sales_variance", "revenue_recent")
        for name in (*averages, "cost_recent", "profit_recent", "referral_recent"):
            columns[name] = np.full(distributors, np.nan)
        for name in ("stock_units", "forecast_units", "week_demand_units", "week_sold_units"):
            columns[name] = np.zeros((distributors, products))
        return cls(**columns)

    def resale_price(self, cfg: DistributorsConfig, rows: np.ndarray | slice | int) -> np.ndarray:
        """Its price to buyers as a fraction of list: wholesale x (1 + markup)."""
        return (1.0 - cfg.margin) * (1.0 + self.markup[rows])

    def alternative_margin_rate(
        self, cfg: DistributorsConfig, rows: np.ndarray | slice | int
    ) -> np.ndarray:
        """Its gross margin on the competitor's line, share of resale.

        It sells both lines at the same price to its buyers and buys the competitor's at
        ``list x (1 - alternative_margin)``, so price competition squeezes both margins.
        """
        return 1.0 - (1.0 - cfg.alternative_margin) / self.resale_price(cfg, rows)


def _average(column: np.ndarray, rows: np.ndarray, value: np.ndarray, weeks: float) -> np.ndarray:
    """Exponential average with time constant ``weeks``, started at its first value."""
    old = column[rows]
    new = np.where(np.isnan(old), value, old + (value - old) / weeks)
    column[rows] = new
    return new


class WeekPnl(NamedTuple):
    """The active distributors' week on our line, as their controllers would report it.

    Attributes
    ----------
    gross_margin_mean
        Mean over those that sold of ``1 - cost of goods sold / resale revenue``.
    operating_profit
        Their total operating profit on our line: resale revenue - cost of goods sold at our
        sell-in price - cost to serve - carrying cost - the line's fixed cost - the shared
        overhead allocated to it (``overhead_share`` of its sales) + income from us. Money a
        week, for the distributors' sampled accounts.
    """

    gross_margin_mean: float
    operating_profit: float


def week_pnl(
    state: DistributorState, rows: np.ndarray, cfg: DistributorsConfig, unit_cost: np.ndarray
) -> WeekPnl:
    """The week's P&L of ``rows`` on our line (:class:`WeekPnl`), before it is booked."""
    revenue = state.week_revenue[rows]
    gross, contribution = _line_week(state, rows, cfg, unit_cost)
    selling = revenue > 0
    margin = float(np.mean(gross[selling] / revenue[selling])) if selling.any() else 0.0
    return WeekPnl(margin, float((contribution - cfg.overhead_share * revenue).sum()))


def _line_week(
    state: DistributorState, rows: np.ndarray, cfg: DistributorsConfig, unit_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(gross profit, contribution) of ``rows``' week on our line, money.

    Gross profit: resale revenue less what it paid us for what it sold. Contribution: less
    its cost to serve, the carrying cost of the stock left and the line's fixed cost, plus
    income from us: what dropping the line would lose it (the shared overhead stays).
    """
    s = state
    gross = s.week_revenue[rows] - (s.week_sold_units[rows] * unit_cost).sum(axis=1)
    stock_value = (s.stock_units[rows] * unit_cost).sum(axis=1)
    contribution = (
        gross
        - s.week_cost_to_serve[rows]
        - stock_value * cfg.carrying_cost_annual / 52.0
        - s.line_fixed_cost_weekly[rows]
        + s.week_income[rows]
    )
    return gross, contribution


def book_week(
    state: DistributorState,
    rows: np.ndarray,
    cfg: DistributorsConfig,
    unit_cost: np.ndarray,
    expected: tuple[np.ndarray, float],
) -> np.ndarray:
    """Book the week's P&L of ``rows``; update their running averages and loss rates.

    Our line's profit ``Π = R - w q_sold - C - h w S / 52 - F + I`` (resale revenue, what it
    paid us for what it sold, its cost to serve, carrying cost on the stock left, the line's
    fixed cost, income from us); the competitor line's ``(B + R_alt) (a - c) - K`` (base and
    converted sales at its margin less the cost rate, less the conversion cost). The running
    averages read the week as the firm's distributor would see it (:func:`_firm_noise`).

    Parameters
    ----------
    expected
        (``rows``' book value this week at their resale prices, the sample share ``s``).

    Returns
    -------
    (2, k) our line's profit and the portfolio's total profit this week, as booked.
    """
    s, window = state, cfg.threat_window_weeks
    revenue_week, cost_week = s.week_revenue[rows], s.week_cost_to_serve[rows]
    _, our = _line_week(state, rows, cfg, unit_cost)
    # The firm's noise: revenue moved toward its expectation, the rest moving with it.
    seen = _firm_noise(revenue_week, *expected)
    moved = seen - revenue_week
    margin_rate = 1.0 - 1.0 / (1.0 + s.markup[rows]) - s.cost_rate[rows]
    revenue = _average(s.revenue_recent, rows, seen, window)
    cost = _average(s.cost_recent, rows, cost_week + moved * s.cost_rate[rows], window)
    # Measured over its first weeks, then kept: the cost structure both lines share.
    learning = (revenue > 0) & (s.weeks_seen[rows] < window)
    s.cost_rate[rows[learning]] = cost[learning] / revenue[learning]
    alternative = (s.alternative_base_weekly[rows] + s.week_alternative_revenue[rows]) * (
        state.alternative_margin_rate(cfg, rows) - s.cost_rate[rows]
    ) - s.week_conversion_cost[rows]
    _average(s.profit_recent, rows, our + moved * margin_rate, window)
    _average(s.referral_recent, rows, s.week_referral_income[rows], window)
    # Sales of the lines it serves, converted ones included: its own conversions are not
    # volume leaving.
    sales = seen + s.week_alternative_revenue[rows]
    fast = _average(s.sales_recent, rows, sales, window)
    slow = _average(s.sales_trend, rows, sales, cfg.trend_weeks)
    s.loss_rate_weekly[rows] = _loss_rate(s, rows, cfg, sales, fast, slow)
    offered = s.week_offered_value[rows] > 0
    seen = rows[offered]
    won = _firm_noise(s.week_won_value[seen], s.week_expected_won_value[seen], expected[1])
    share = np.minimum(MAX_SHARE_SEEN, won / s.week_offered_value[seen])
    _average(s.share_seen, seen, share, window)
    s.weeks_seen[rows] += 1
    for name in (
        "week_revenue",
        "week_cost_to_serve",
        "week_income",
        "week_referral_income",
        "week_alternative_revenue",
        "week_conversion_cost",
        "week_offered_value",
        "week_won_value",
        "week_expected_won_value",
    ):
        getattr(s, name)[rows] = 0.0
    return np.stack([our, our + alternative])


def _firm_noise(revenue: np.ndarray, expected: np.ndarray, share: float) -> np.ndarray:
    """A week's revenue with the noise the firm's distributor sees, ``E + sqrt(s) (R - E)``.

    The firm's distributor sums its week over all its accounts; the sample's over a share
    ``s`` of them, each standing for ``1 / s``, so its week's revenue ``R`` strays from what its
    book is expected to order, ``E``, ``1 / sqrt(s)`` times as far relative to ``E``. Its
    decisions compare running averages with thresholds (exit, threat), so they would change
    with the sample; shrinking the deviation by ``sqrt(s)`` gives the firm's spread around
    the same expectation (docs/ODD.md §7.12). At ``s = 1``, ``R`` itself.
    """
    if share == 1.0:
        return revenue
    return expected + math.sqrt(share) * (revenue - expected)


def _loss_rate(
    state: DistributorState,
    rows: np.ndarray,
    cfg: DistributorsConfig,
    sales: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
) -> np.ndarray:
    """Weekly rate at which its volume is leaving, read from its two sales averages.

    Volume falling at rate ``g`` a week puts an average with time constant ``tau`` about
    ``tau`` weeks behind, so ``ln(slow / fast) = g (trend_weeks - threat_window_weeks)``. It
    reads a decline only beyond twice the noise of its recent average (standard error from
    the weekly relative deviations from that average, over ``2 threat_window_weeks - 1``
    effective weeks), so a small distributor's week-to-week swings are not a threat.
    """
    rate = np.zeros(len(rows))
    selling = np.flatnonzero((fast > 0) & (slow > 0))
    if not len(selling):
        return rate
    fast, slow = fast[selling], slow[selling]
    deviation = (sales[selling] / fast - 1.0) ** 2
    variance = _average(state.sales_variance, rows[selling], deviation, cfg.trend_weeks)
    noise = 2.0 * np.sqrt(variance / (2.0 * cfg.threat_window_weeks - 1.0))
    decline = np.log(slow / fast) - noise
    rate[selling] = np.maximum(0.0, decline) / (cfg.trend_weeks - cfg.threat_window_weeks)
    return rate


def target_markup(
    state: DistributorState, rows: np.ndarray, cfg: DistributorsConfig, price_weight: float
) -> np.ndarray:
    """The markup of the price that maximises its profit on our line: logit-Bertrand.

    Selling at price ``p`` (fraction of list) it earns ``p (1 - c) - w`` a unit: our wholesale
    price ``w`` and its cost to serve ``c`` per unit of sales (``cost_rate``). With buyers'
    price weight ``beta`` (utility per unit of price as a fraction of list) and the share ``s``
    of its accounts' needs it wins, logit demand falls at ``dq/dp = -beta q (1 - s)``, so the
    first-order condition ``(1 - c) q - beta q (1 - s) (p (1 - c) - w) = 0`` gives
    ``p* = w / (1 - c) + 1 / (beta (1 - s))``: its own costs passed on, plus the inverse
    elasticity. Over ``w``, the markup ``c / (1 - c) + 1 / (beta w (1 - s))``. Without
    price-sensitive buyers (or before it has seen a share): the current markup.
    """
    wholesale = 1.0 - cfg.margin
    share, cost = state.share_seen[rows], state.cost_rate[rows]
    if price_weight > 0 and wholesale > 0:
        target = cost / (1.0 - cost) + 1.0 / (price_weight * wholesale * (1.0 - share))
        return np.where(np.isnan(share), state.markup[rows], target)
    return state.markup[rows]


def set_markup(
    state: DistributorState, rows: np.ndarray, cfg: DistributorsConfig, price_weight: float
) -> None:
    """Move the markup of ``rows`` toward :func:`target_markup` at ``markup_adjust_rate``."""
    markup = state.markup[rows]
    target = target_markup(state, rows, cfg, price_weight)
    state.markup[rows] = markup + cfg.markup_adjust_rate * (target - markup)


def decide(
    state: DistributorState,
    rows: np.ndarray,
    cfg: DistributorsConfig,
    referral_fee: float,
    outlook: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Effort, retaliation and exit of ``rows`` from their own P&L (ODD §7.8, "Decisions").

    Per unit of sales over the horizon, a line left on our line is worth ``v(k) = r k + f (1 -
    k)``: its variable profit rate ``r`` for the share ``k`` of the horizon it stays (its keep
    share), then the referral fee ``f`` on its direct revenue once we have moved it. Converted
    to the competitor's line it is worth ``a``, that line's margin less its cost to serve and
    the conversion cost, for the whole horizon. Converting pays on lines with ``v(k) < a``,
    i.e. ``k < (a - f) / (r - f)`` (``convert_below``) while ``r > f``; with ``f >= r`` on
    every line if ``a > f``, else on none. It retaliates while its most threatened line is one.
    ``r`` leaves out the referral fees: income on lines it no longer sells. Its push of our
    line moves toward ``v(k) / a`` over its book (1 at most); it drops our line when the
    book's value, less the line's fixed cost, falls below what the lines that would follow it
    earn on the competitor's line. Only distributors with ``threat_window_weeks`` of figures
    and some revenue decide.

    Parameters
    ----------
    outlook
        (keep share, lowest keep share, follow share) of each of ``rows``' books.

    Returns
    -------
    The rows that drop our line this week.
    """
    s = state
    revenue = s.revenue_recent[rows]
    ready = (s.weeks_seen[rows] >= cfg.threat_window_weeks) & (revenue != 0) & ~np.isnan(revenue)
    rows = rows[ready]
    keep, lowest, follow = (x[ready] for x in outlook)
    revenue = revenue[ready]
    fixed = s.line_fixed_cost_weekly[rows]
    # Per unit of sales of the lines it still sells, before the line's fixed cost (the same
    # whichever line it pushes); the referral fees are income on lines it no longer sells,
    # valued in ``worth`` below, not margin on these.
    rate = (s.profit_recent[rows] - s.referral_recent[rows] + fixed) / revenue
    alternative = state.alternative_margin_rate(cfg, rows) - s.cost_rate[rows]
    alternative = alternative - cfg.conversion_cost
    worth = rate * keep + referral_fee * (1.0 - keep)
    with np.errstate(divide="ignore", invalid="ignore"):
        # With a fee above its margin, a moved line is worth more to it than a kept one: only
        # a competitor's line paying more than the fee makes converting pay (on any line).
        s.convert_below[rows] = np.where(
            rate > referral_fee,
            (alternative - referral_fee) / (rate - referral_fee),
            np.where(alternative > referral_fee, np.inf, -np.inf),
        )
        target = np.where(
            alternative <= 0, 1.0, np.minimum(1.0, np.maximum(0.0, worth / alternative))
        )
    s.effort[rows] += cfg.effort_adjust_rate * (target - s.effort[rows])
    horizon = cfg.planning_horizon_weeks
    stay = (worth * revenue - fixed) * horizon
    # Its stock is sold down or returned (assumption), so it does not weigh on the choice.
    leave = follow * revenue * horizon * alternative
    s.exit_weeks[rows] = np.where(leave > stay, s.exit_weeks[rows] + 1, 0)
    exits = s.exit_weeks[rows] >= cfg.exit_after_weeks
    retaliates = lowest < s.convert_below[rows]
    s.status[rows] = np.where(
        exits,
        DistributorStatus.EXITED,
        np.where(retaliates, DistributorStatus.RETALIATING, DistributorStatus.ACTIVE),
    )
    return rows[exits]


def restock(
    state: DistributorState, rows: np.ndarray, cfg: DistributorsConfig, discount: np.ndarray
) -> np.ndarray:
    """Order ``rows`` up to their target cover (more in a sell-in promotion); the units ordered.

    The forecast is smoothed toward the week's demand; a distributor below its reorder point
    (weeks of cover) orders up to ``target_weeks_cover``, and in a sell-in promotion every one
    buys ``min(max_forward_buy_weeks, forward_buy_weeks_per_discount x discount)`` weeks more.

    Returns
    -------
    (k, P) units ordered by each of ``rows``.
    """
    s = state
    forecast = 0.8 * s.forecast_units[rows] + 0.2 * s.week_demand_units[rows]
    s.forecast_units[rows] = forecast
    forward_weeks = np.minimum(
        cfg.max_forward_buy_weeks, cfg.forward_buy_weeks_per_discount * discount
    )
    target = (cfg.target_weeks_cover + forward_weeks) * forecast
    stock = s.stock_units[rows]
    below = stock < cfg.reorder_weeks_cover * forecast
    order = np.where(below | (forward_weeks > 0), np.maximum(target - stock, 0), 0)
    s.stock_units[rows] = stock + order
    return order
