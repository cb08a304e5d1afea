"""One distributor, as a Mesa agent: its P&L, resale price, stock, threat and decisions.

The network's weekly phases (``sim.model.distributors.network``) hand each distributor what
happened to it this week (sales, costs, income, the demand it saw); :meth:`Distributor.step`
then books its week and decides (docs/ODD.md §7.8): the threat it reads, its markup, its push
of our line, retaliation and exit, and its restock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

import mesa
import numpy as np

from sim.channels import DISTRIBUTOR
from sim.model.week import World


class DistributorStatus(Enum):
    """Where a distributor stands with our line."""

    ACTIVE = "active"
    RETALIATING = "retaliating"
    EXITED = "exited"


LINE_SHARE_CONCENTRATION = 8.0
"""Concentration (a + b) of the Beta a distributor's dependence on our line is drawn from
(assumption: shares mostly within +-0.15 of the mean)."""


MAX_SHARE_SEEN = 0.99
"""Cap on the share of its accounts' needs a distributor sees itself win, so the markup rule's
``1 / (1 - s)`` stays finite."""


@dataclass
class DistributorStock:
    """The network's per-product quantities, one row per distributor, units.

    Each :class:`Distributor` reads and writes its own row (:class:`_Row`); the network's
    phases act on all rows at once (e.g. filling the week's demand from stock).
    """

    stock_units: np.ndarray  # (D, P) on hand
    forecast_units: np.ndarray  # (D, P) weekly demand it plans for
    week_demand_units: np.ndarray  # (D, P) demand placed with it this week
    week_sold_units: np.ndarray  # (D, P) sold this week (demand met from stock)

    @classmethod
    def empty(cls, distributors: int, products: int) -> DistributorStock:
        """Zeros for ``distributors`` x ``products``."""
        return cls(*(np.zeros((distributors, products)) for _ in fields(cls)))


class _Row:
    """A distributor's row of one of the network's :class:`DistributorStock` arrays."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, agent: Distributor, owner: type | None = None) -> np.ndarray:
        return getattr(agent.stock, self.name)[agent.index]

    def __set__(self, agent: Distributor, value: np.ndarray) -> None:
        getattr(agent.stock, self.name)[agent.index] = value


class Distributor(mesa.Agent):
    """An independent distributor: a business carrying our line and a competitor's.

    It buys our line at the wholesale price ``list x (1 - margin)``, resells it at a markup it
    adapts to the demand it sees, holds stock (order-up-to policy in weeks of cover, forward
    buying in sell-in promotions) and keeps a P&L across its portfolio: our line, and the
    competitor's line, whose base sales follow from its dependence on us (``line_share``) and
    grow with the lines it converts. From what it sees (its sales against its own trend, the
    moves announced to it) it reads the threat to our line, and from its own P&L it decides its
    push of our line, whether converting lines to the competitor pays (retaliation) and whether
    to drop our line (exit). docs/ODD.md §7.8.
    """

    model: World
    stock_units = _Row()
    forecast_units = _Row()
    week_demand_units = _Row()
    week_sold_units = _Row()

    def __init__(
        self,
        model: World,
        index: int,
        stock: DistributorStock,
        size_weight: float,
        share_expected: float,
    ) -> None:
        super().__init__(model)
        cfg = model.scenario.distributors
        rng = model.streams["setup"]
        self.cfg = cfg
        self.index = index
        self.stock = stock
        """The network's stock record; this distributor's is row ``index`` (its forecast
        there is the demand expected of its accounts at week 0)."""
        self.size_weight = size_weight
        """Its share of the distributor-buying accounts, drawn lognormal (``size_sigma``)."""
        mean = cfg.line_share_mean
        self.line_share = float(
            rng.beta(mean * LINE_SHARE_CONCENTRATION, (1.0 - mean) * LINE_SHARE_CONCENTRATION)
        )
        """Our line's share of its sales: its dependence on us."""
        self.status = DistributorStatus.ACTIVE
        # Stock between reorder point and order-up-to level, so restocks are not synchronised.
        cover = rng.uniform(cfg.reorder_weeks_cover, cfg.target_weeks_cover)
        self.stock_units = cover * self.forecast_units
        list_price = model.books.list_price
        self.unit_cost = list_price * (1.0 - cfg.margin)
        """(P,) what it pays us per unit: our wholesale price (before promotions)."""
        self.share_seen: float | None = min(MAX_SHARE_SEEN, share_expected)
        """Its share of its accounts' needs (value at list), smoothed; at first the week-0
        logit's expectation."""
        self.markup = self._target_markup(model.rules.realisation[DISTRIBUTOR])
        """Resale price over our wholesale price, minus 1: it starts at its target markup."""
        our_weekly = float(self.forecast_units @ list_price) * self.resale_price
        self.line_fixed_cost_weekly = cfg.line_fixed_cost_share * our_weekly
        """Fixed cost of carrying our line (line management, training, systems), money a
        week; shed when it drops the line."""
        self.alternative_base_weekly = our_weekly * (1.0 - self.line_share) / self.line_share
        """Weekly sales of the competitor's line before any conversion, money."""
        self.effort = 1.0
        self.threat = 0.0
        self.loss_rate_weekly = 0.0
        self.exit_weeks = 0
        self.weeks_seen = 0
        self.convert_below = 0.0
        """Keep share below which converting a line to the competitor's pays it (0: none)."""
        # This week's facts, reset when the week is booked.
        self.week_revenue = 0.0
        self.week_cost_to_serve = 0.0
        self.week_income = 0.0
        self.week_alternative_revenue = 0.0
        self.week_conversion_cost = 0.0
        self.week_offered_value = 0.0
        self.week_won_value = 0.0
        # Running averages (None until the first week is booked).
        self.sales_recent: float | None = None
        self.sales_trend: float | None = None
        self.sales_variance: float | None = None
        self.revenue_recent: float | None = None
        self.cost_recent: float | None = None
        self.profit_recent: float | None = None
        self.cost_rate = 0.0
        """Its cost to serve per unit of sales (recent averages over its first
        ``threat_window_weeks``, then fixed: its cost structure), the same on either line."""
        self.line_profit_history: list[float] = []
        """Weekly profit of our line: resale revenue - what it paid us - its cost to serve -
        carrying cost + income from us."""
        self.total_profit_history: list[float] = []
        """Weekly profit across its portfolio: our line plus the competitor's line."""

    @property
    def active(self) -> bool:
        """Still carrying the line (active or retaliating)."""
        return self.status is not DistributorStatus.EXITED

    @property
    def retaliating(self) -> bool:
        """Converting its accounts' lines to a competitor's."""
        return self.status is DistributorStatus.RETALIATING

    @property
    def resale_price(self) -> float:
        """Its price to buyers as a fraction of list: wholesale x (1 + markup)."""
        return (1.0 - self.cfg.margin) * (1.0 + self.markup)

    @property
    def alternative_margin_rate(self) -> float:
        """Its gross margin on the competitor's line, share of resale.

        It sells both lines at the same price to its buyers and buys the competitor's at
        ``list x (1 - alternative_margin)``, so price competition squeezes both margins.
        """
        return 1.0 - (1.0 - self.cfg.alternative_margin) / self.resale_price

    def receive(self, amount: float) -> None:
        """Income from us this week: rebates, referral fees, promotion savings."""
        self.week_income += amount

    def invoice(self, revenue: float, cost_to_serve: float) -> None:
        """Our line's sales to its buyers this week and what serving them cost it."""
        self.week_revenue += revenue
        self.week_cost_to_serve += cost_to_serve

    def sell_alternative(self, revenue: float, conversion_cost: float) -> None:
        """Sales of the competitor's line on converted lines, and the cost of converting."""
        self.week_alternative_revenue += revenue
        self.week_conversion_cost += conversion_cost

    def observe(self, offered_value: float, won_value: float) -> None:
        """Its accounts' needs it could serve this week (value at list), and those it won."""
        self.week_offered_value += offered_value
        self.week_won_value += won_value

    def step(
        self, keep_share: float = 1.0, lowest_keep: float = 1.0, follow_share: float = 0.0
    ) -> np.ndarray | None:
        """Weekly update after orders: P&L, threat, markup, effort, status, then restock.

        Returns the units it restocks (None once it has left our line).

        Parameters
        ----------
        keep_share
            Expected share of its our-line book's sales over the planning horizon that stays
            with it, at its loss rate and the moves announced (:func:`line_outlook`).
        lowest_keep
            The same for its most threatened line.
        follow_share
            Expected share of that book that would follow it to the competitor's line if it
            dropped ours (:func:`follow_probability`).
        """
        if not self.active:
            return None
        self._book_week()
        self.threat = 1.0 - keep_share
        self._set_markup()
        self._decide(keep_share, lowest_keep, follow_share)
        return self._restock() if self.active else None

    # ------------------------------------------------------------------ P&L and what it sees

    def _book_week(self) -> None:
        """Book the week's P&L and update its running averages and loss rate."""
        cfg = self.cfg
        stock_value = float(self.stock_units @ self.unit_cost)
        our = (
            self.week_revenue
            - float(self.week_sold_units @ self.unit_cost)
            - self.week_cost_to_serve
            - stock_value * cfg.carrying_cost_annual / 52.0
            - self.line_fixed_cost_weekly
            + self.week_income
        )
        revenue = self._average("revenue_recent", self.week_revenue, cfg.threat_window_weeks)
        cost = self._average("cost_recent", self.week_cost_to_serve, cfg.threat_window_weeks)
        if revenue > 0 and self.weeks_seen < cfg.threat_window_weeks:
            # Measured over its first weeks, then kept: the cost structure both lines share.
            self.cost_rate = cost / revenue
        alternative = (self.alternative_base_weekly + self.week_alternative_revenue) * (
            self.alternative_margin_rate - self.cost_rate
        ) - self.week_conversion_cost
        self.line_profit_history.append(our)
        self.total_profit_history.append(our + alternative)
        self._average("profit_recent", our, cfg.threat_window_weeks)
        # Sales of the lines it serves, converted ones included: its own conversions are not
        # volume leaving.
        sales = self.week_revenue + self.week_alternative_revenue
        fast = self._average("sales_recent", sales, cfg.threat_window_weeks)
        slow = self._average("sales_trend", sales, cfg.trend_weeks)
        self.loss_rate_weekly = self._loss_rate(sales, fast, slow)
        if self.week_offered_value > 0:
            share = min(MAX_SHARE_SEEN, self.week_won_value / self.week_offered_value)
            self._average("share_seen", share, cfg.threat_window_weeks)
        self.weeks_seen += 1
        self.week_revenue = self.week_cost_to_serve = self.week_income = 0.0
        self.week_alternative_revenue = self.week_conversion_cost = 0.0
        self.week_offered_value = self.week_won_value = 0.0

    def _loss_rate(self, sales: float, fast: float, slow: float) -> float:
        """Weekly rate at which its volume is leaving, read from its two sales averages.

        Volume falling at rate ``g`` a week puts an average with time constant ``tau`` about
        ``tau`` weeks behind, so ``ln(slow / fast) = g (trend_weeks - threat_window_weeks)``.
        It reads a decline only beyond twice the noise of its recent average (standard error
        from the weekly relative deviations from that average, over ``2 threat_window_weeks -
        1`` effective weeks), so a small distributor's week-to-week swings are not a threat.
        """
        cfg = self.cfg
        if fast <= 0 or slow <= 0:
            return 0.0
        deviation = (sales / fast - 1.0) ** 2
        variance = self._average("sales_variance", deviation, cfg.trend_weeks)
        noise = 2.0 * float(np.sqrt(variance / (2.0 * cfg.threat_window_weeks - 1.0)))
        decline = float(np.log(slow / fast)) - noise
        return max(0.0, decline) / (cfg.trend_weeks - cfg.threat_window_weeks)

    def _average(self, name: str, value: float, weeks: float) -> float:
        """Exponential average ``name`` with time constant ``weeks``, started at its first value."""
        old = getattr(self, name)
        new = value if old is None else old + (value - old) / weeks
        setattr(self, name, new)
        return new

    def _set_markup(self) -> None:
        """Move the markup toward the inverse-elasticity markup of logit demand.

        With buyers' price weight ``beta`` (utility per unit of price as a fraction of list)
        and the share ``s`` of its accounts' needs it wins, its demand's price elasticity is
        ``-beta p (1 - s)``; the profit-maximising price satisfies ``p - w = 1 / (beta (1 -
        s))``, i.e. markup ``1 / (beta w (1 - s))`` over the wholesale price ``w``.
        """
        self.markup += self.cfg.markup_adjust_rate * (self._target_markup() - self.markup)

    def _target_markup(self, resale_price: float | None = None) -> float:
        """The inverse-elasticity markup ``1 / (beta w (1 - s))``.

        Without price-sensitive buyers: the current markup, or the one that resells at
        ``resale_price`` (as a fraction of list).
        """
        beta = self.model.rules.market.choice.price_weight
        wholesale = 1.0 - self.cfg.margin
        if self.share_seen is not None and beta > 0 and wholesale > 0:
            return 1.0 / (beta * wholesale * (1.0 - self.share_seen))
        if resale_price is not None:
            return resale_price / wholesale - 1.0 if wholesale > 0 else 0.0
        return self.markup

    # ------------------------------------------------------------------ decisions

    def _decide(self, keep_share: float, lowest_keep: float, follow_share: float) -> None:
        """Effort, retaliation and exit from its own P&L (ODD §7.8, "Decisions").

        Per unit of sales over the horizon, a line left on our line is worth ``v(k) = r k + f
        (1 - k)``: its variable profit rate ``r`` for the share ``k`` of the horizon it stays
        (its keep share), then the referral fee ``f`` on its direct revenue once we have moved
        it. Converted to the competitor's line it is worth ``a``, that line's margin less its
        cost to serve and the conversion cost, for the whole horizon. Converting pays on lines
        with ``v(k) < a``, i.e. ``k < (a - f) / (r - f)`` (:attr:`convert_below`): it
        retaliates while its most threatened line is one. Its push of our line moves toward
        ``v(k) / a`` over its book (1 at most); it drops our line when the book's value,
        less the line's fixed cost, falls below what the lines that would follow it earn on
        the competitor's line.
        """
        cfg = self.cfg
        if self.weeks_seen < cfg.threat_window_weeks or not self.revenue_recent:
            return
        assert self.profit_recent is not None
        fee = self.model.scenario.policy.distributor_referral_fee
        # Per unit of sales, before the line's fixed cost (the same whichever line it pushes).
        variable = self.profit_recent + self.line_fixed_cost_weekly
        rate = variable / self.revenue_recent
        alternative = self.alternative_margin_rate - self.cost_rate - cfg.conversion_cost
        worth = rate * keep_share + fee * (1.0 - keep_share)
        self.convert_below = (alternative - fee) / (rate - fee) if rate > fee else np.inf
        target = 1.0 if alternative <= 0 else min(1.0, max(0.0, worth / alternative))
        self.effort += cfg.effort_adjust_rate * (target - self.effort)
        horizon = cfg.planning_horizon_weeks
        stay = (worth * self.revenue_recent - self.line_fixed_cost_weekly) * horizon
        # Its stock is sold down or returned (assumption), so it does not weigh on the choice.
        leave = follow_share * self.revenue_recent * horizon * alternative
        self.exit_weeks = self.exit_weeks + 1 if leave > stay else 0
        if self.exit_weeks >= cfg.exit_after_weeks:
            self.status = DistributorStatus.EXITED
            self.model.books.written_off(float(self.stock_units.sum()))
            self.stock_units = np.zeros_like(self.stock_units)
        elif lowest_keep < self.convert_below:
            self.status = DistributorStatus.RETALIATING
        else:
            self.status = DistributorStatus.ACTIVE

    def _restock(self) -> np.ndarray:
        """Order up to the target cover (more in a sell-in promotion); return the units ordered.

        The network books the week's restocks as our sell-in (``Books.sell_in``).
        """
        discount = self.model.sell_in_discount
        self.forecast_units = 0.8 * self.forecast_units + 0.2 * self.week_demand_units
        forward_weeks = np.minimum(
            self.cfg.max_forward_buy_weeks, self.cfg.forward_buy_weeks_per_discount * discount
        )
        target = (self.cfg.target_weeks_cover + forward_weeks) * self.forecast_units
        below = self.stock_units < self.cfg.reorder_weeks_cover * self.forecast_units
        order = np.where(below | (forward_weeks > 0), np.maximum(target - self.stock_units, 0), 0)
        self.stock_units = self.stock_units + order
        return order
