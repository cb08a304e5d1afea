"""Reps, distributors and campaigns: the players that react, as Mesa agents.

Each agent keeps its own state and acts on the buyer population's columns through vectorised
numpy operations over its own accounts; the weekly order of phases lives in ``model.py``.
What an agent uses of its model is the small :class:`World` interface: the week, the buyers
and their rules, the books, the orchestrator, the random streams and the territories that
hand out won accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Protocol

import mesa
import numpy as np

from sim.model.buyers import PRICE_TOLERANCE, QUOTE_VALIDITY_WEEKS, RELATIONSHIP_HALF_LIFE_WEEKS
from sim.model.costs import ServiceCosts
from sim.model.population import ACTIVE, take_cells, weekly_probability
from sim.scenario.schema import CHANNELS, Campaign, RepTeam

if TYPE_CHECKING:
    from sim.model.books import Books
    from sim.model.buyers import BuyerRules
    from sim.model.conflicts import Orchestrator
    from sim.model.policy import ChannelPlan
    from sim.model.population import Population
    from sim.scenario.schema import Distributors as DistributorsConfig
    from sim.scenario.schema import Scenario


class Territories(Protocol):
    """Who hands a won account to its reps (:class:`sim.model.territories.Territories`)."""

    def win_prospects(self, rep: Rep | None, count: int) -> None:
        """Make up to ``count`` prospects active accounts, won by ``rep`` (None: inbound)."""


class World(Protocol):
    """What the agents (and the conflict rules) see of the model."""

    week: int
    scenario: Scenario
    population: Population
    rules: BuyerRules
    books: Books
    orchestrator: Orchestrator
    territories: Territories
    streams: dict[str, np.random.Generator]
    keys: dict[str, np.ndarray]  # counter-based draw keys of the streams (sim.model.draws)
    sell_in_discount: np.ndarray
    sell_through_discount: np.ndarray
    resale_price: np.ndarray
    reps: Sequence[Rep]
    distributors: Sequence[Distributor]


class Rep(mesa.Agent):
    """A field or inside sales rep.

    Capacity is ``calls_per_week x selling_time`` calls; non-selling work eats the rest, and
    conflicts in the rep's accounts eat into it further (``CONFLICT_REP_CALLS`` calls per
    unresolved incident, :mod:`sim.model.conflicts`). A share ``prospecting_share`` of calls
    works leads (referral leads first, then outbound); the rest call accounts, chosen by habit
    (large accounts, weighted by spend) or, for a share ``reps.next_best_action_share``, by
    next-best-action score. The rep is headcount: paid whatever it does (``Books.rep_week``).
    """

    model: World

    def __init__(self, model: World, kind: str, team: RepTeam, index: int) -> None:
        super().__init__(model)
        self.kind = kind
        self.channel = CHANNELS.index(kind)
        self.team = team
        self.index = index
        self.accounts = np.empty(0, dtype=np.int64)
        self.selling_time = team.selling_time
        self.conflict_calls = 0.0
        self.pipeline_referrals = 0
        self.calls_made = 0

    @property
    def capacity_calls(self) -> float:
        """Selling calls a week before conflicts: full-time calls x selling-time share."""
        return self.team.calls_per_week * self.selling_time

    def lose_selling_calls(self, calls: float) -> None:
        """Give up ``calls`` calls' worth of this week's time to conflicts in the rep's accounts."""
        self.conflict_calls += calls

    def take_accounts(self, accounts: np.ndarray) -> None:
        """Add won or allocated ``accounts`` to the rep's book."""
        self.accounts = np.concatenate([self.accounts, accounts])

    def step(self) -> None:
        """Spend this week's selling calls on accounts and prospects."""
        model = self.model
        rng = model.streams["reps"]
        calls = max(0.0, self.capacity_calls - self.conflict_calls)
        calls = int(np.floor(calls + rng.random()))  # unbiased rounding
        self.conflict_calls = 0.0
        prospecting = int(rng.binomial(calls, self.team.prospecting_share))
        called = self._call_accounts(calls - prospecting, rng)
        self.calls_made = len(called) + prospecting
        self._prospect(prospecting, rng)
        model.books.rep_week(
            self.channel,
            self.team,
            capacity_calls=self.capacity_calls,
            called_segments=model.population.segment[called].astype(np.int64),
            prospecting_calls=prospecting,
        )

    def _call_accounts(self, calls: int, rng: np.random.Generator) -> np.ndarray:
        """Call up to ``calls`` active accounts, at most once each; return those called.

        A share ``reps.next_best_action_share`` of the calls goes to the best-scored accounts,
        the rest by habit.
        """
        model = self.model
        pop = model.population
        accounts = self.accounts[pop.status[self.accounts] == ACTIVE]
        if calls <= 0 or len(accounts) == 0:
            return np.empty(0, dtype=np.int64)
        calls = min(calls, len(accounts))
        targeted = int(rng.binomial(calls, model.scenario.reps.next_best_action_share))
        pop.age_relationships(accounts, model.week, RELATIONSHIP_HALF_LIFE_WEEKS)
        spend = pop.spend_annual[accounts].astype(float)
        # Next-best action: under-served, at-risk, high-potential accounts first.
        score = (
            spend * (1.0 - pop.relationship[accounts, self.channel]) * (1.0 + pop.effort[accounts])
        )
        best = np.argpartition(-score, targeted - 1)[:targeted] if targeted else np.empty(0, int)
        rest = np.setdiff1d(np.arange(len(accounts)), best, assume_unique=True)
        habit = (
            rng.choice(
                rest, size=calls - targeted, replace=False, p=spend[rest] / spend[rest].sum()
            )
            if calls > targeted
            else np.empty(0, dtype=np.int64)
        )
        called = accounts[np.concatenate([best, habit]).astype(np.int64)]
        lift = self.team.call_lift
        pop.relationship[called, self.channel] += lift * (
            1.0 - pop.relationship[called, self.channel]
        )
        pop.effort[called] *= 1.0 - model.rules.market.effort.recovery_per_order
        pop.quote_channel[called] = self.channel
        pop.quote_price[called] = model.rules.realisation[self.channel]
        pop.quote_week[called] = model.week
        return called

    def _prospect(self, calls: int, rng: np.random.Generator) -> None:
        model = self.model
        pop = model.population
        active = self.accounts[pop.status[self.accounts] == ACTIVE]
        rate = pop.satisfaction[active].sum() * model.rules.market.referrals_per_account_annual
        self.pipeline_referrals += int(rng.poisson(rate / 52.0))
        referral = min(calls, self.pipeline_referrals)
        outbound = calls - referral
        self.pipeline_referrals -= referral
        reps = model.scenario.reps
        won_referral = int(rng.binomial(referral, reps.referral.conversion))
        won_outbound = int(rng.binomial(outbound, reps.outbound.conversion))
        model.books.prospecting(
            referral=referral,
            outbound=outbound,
            won_referral=won_referral,
            won_outbound=won_outbound,
        )
        if won_referral + won_outbound:
            model.territories.win_prospects(self, won_referral + won_outbound)


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

    def __init__(
        self,
        model: World,
        index: int,
        forecast_units: np.ndarray,
        size_weight: float,
        share_expected: float,
    ) -> None:
        super().__init__(model)
        cfg = model.scenario.distributors
        rng = model.streams["setup"]
        self.cfg = cfg
        self.index = index
        self.size_weight = size_weight
        """Its share of the distributor-buying accounts, drawn lognormal (``size_sigma``)."""
        mean = cfg.line_share_mean
        self.line_share = float(
            rng.beta(mean * LINE_SHARE_CONCENTRATION, (1.0 - mean) * LINE_SHARE_CONCENTRATION)
        )
        """Our line's share of its sales: its dependence on us."""
        self.status = DistributorStatus.ACTIVE
        self.forecast_units = forecast_units.astype(float)
        # Stock between reorder point and order-up-to level, so restocks are not synchronised.
        cover = rng.uniform(cfg.reorder_weeks_cover, cfg.target_weeks_cover)
        self.stock_units = cover * self.forecast_units
        list_price = model.books.list_price
        self.unit_cost = list_price * (1.0 - cfg.margin)
        """(P,) what it pays us per unit: our wholesale price (before promotions)."""
        self.share_seen: float | None = min(MAX_SHARE_SEEN, share_expected)
        """Its share of its accounts' needs (value at list), smoothed; at first the week-0
        logit's expectation."""
        self.markup = self._target_markup(model.rules.realisation[CHANNELS.index("distributor")])
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
        self.service_costs = ServiceCosts.from_rates(
            cfg.cost_to_serve, model.scenario.discount_rate_annual
        )
        """What serving its buyers' orders costs it (``distributors.cost_to_serve``): order
        handling, picking per line, freight with a minimum per shipment, credit and
        collection; paid out of its margin (:meth:`invoice`)."""
        # This week's facts, reset when the week is booked.
        self.week_demand_units = np.zeros_like(self.forecast_units)
        self.week_sold_units = np.zeros_like(self.forecast_units)
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

    def fill(self, demand_units: np.ndarray) -> np.ndarray:
        """Serve this week's demand from stock; return the filled share per product."""
        self.week_demand_units = demand_units
        sold = np.minimum(self.stock_units, demand_units)
        self.stock_units = self.stock_units - sold
        self.week_sold_units = sold
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(demand_units > 0, sold / demand_units, 1.0)

    def step(
        self, keep_share: float = 1.0, lowest_keep: float = 1.0, follow_share: float = 0.0
    ) -> None:
        """Weekly update after orders: P&L, threat, markup, effort, status, then restock.

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
            return
        self._book_week()
        self.threat = 1.0 - keep_share
        self._set_markup()
        self._decide(keep_share, lowest_keep, follow_share)
        if self.active:
            self._restock()

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

    def _restock(self) -> None:
        discount = self.model.sell_in_discount
        self.forecast_units = 0.8 * self.forecast_units + 0.2 * self.week_demand_units
        forward_weeks = np.minimum(
            self.cfg.max_forward_buy_weeks, self.cfg.forward_buy_weeks_per_discount * discount
        )
        target = (self.cfg.target_weeks_cover + forward_weeks) * self.forecast_units
        below = self.stock_units < self.cfg.reorder_weeks_cover * self.forecast_units
        order = np.where(below | (forward_weeks > 0), np.maximum(target - self.stock_units, 0), 0)
        self.stock_units = self.stock_units + order
        self.model.books.sell_in(self, order, discount, self.model.week)


# --------------------------------------------------------------------------- the network


def resale_prices(distributors: Sequence[Distributor], rules: BuyerRules) -> np.ndarray:
    """(D + 1,) each distributor's resale price as a fraction of list; last slot: no distributor.

    The last slot (index -1) is the distributor channel's price realisation.
    """
    realisation = rules.realisation[CHANNELS.index("distributor")]
    return np.array([*(d.resale_price for d in distributors), realisation])


def follow_probability(
    pop: Population, cfg: DistributorsConfig, buyer: np.ndarray, line_share: np.ndarray
) -> np.ndarray:
    """Probability that a line follows its exiting distributor to the competitor's line.

    ``(1 - line_share) / (1 + exp(-(follow_intercept + follow_weight x (R_dist - R_us))))``:
    rising with the buyer's relationship with the distributor channel, falling with that with
    our strongest direct channel, and only as far as the distributor has an alternative line
    (``1 - line_share``, its sales that are not ours).
    """
    relationship = np.take(pop.relationship, buyer, axis=0)
    channel = [relationship[:, c] for c in range(len(CHANNELS))]
    distributor = channel.pop(CHANNELS.index("distributor"))
    # Column by column: numpy reduces a short last axis slowly.
    direct = np.maximum(np.maximum(channel[0], channel[1]), channel[2])
    closeness = distributor.astype(float) - direct.astype(float)
    odds = cfg.follow_intercept + cfg.follow_weight * closeness
    return (1.0 - line_share) / (1.0 + np.exp(-odds))


def line_keep_share(
    distributors: Sequence[Distributor],
    pop: Population,
    plan: ChannelPlan,
    week: int,
    buyer: np.ndarray,
    product: np.ndarray,
) -> np.ndarray:
    """Expected share of the planning horizon ``T`` each buyer x product line stays ours.

    ``sum_{k=1..T} (1 - q(k)) (1 - h)^(k - 1) / T``: ``h`` its distributor's measured loss
    rate, ``q(k)`` the chance the plan has moved it within ``k`` weeks. For a line still
    unmoved, what the plan has announced for its product x segment
    (:meth:`ChannelPlan.announced`). For a deal the distributor registered, 0 while it is
    protected (``week + k <= registered_until``), then the share of its product x segment the
    plan has moved by ``week + k`` (:func:`planned_share`): the distributor does not know in
    which order the plan takes lines, so nothing tells it the protected line is not among them.
    """
    cfg = distributors[0].cfg
    horizon = cfg.planning_horizon_weeks
    source = CHANNELS.index("distributor")
    loss_rate = np.array([x.loss_rate_weekly for x in distributors])
    # (T, D): chance a line is still there k - 1 weeks on, at its distributor's loss rate.
    survival = (1.0 - np.minimum(loss_rate, 1.0)) ** np.arange(horizon)[:, None]
    d = pop.distributor[buyer]
    keep = survival.sum(axis=0)[d]
    cell_product, cell_segment, moved_within = plan.announced(week, horizon, source)
    kept_weeks = (1.0 - moved_within) @ survival  # (C, D)
    segment = pop.segment[buyer]
    protected_weeks = take_cells(pop.registered_until, buyer, product).astype(np.int64) - week
    protected = protected_weeks > 0
    moved_by = planned_share(plan, week, horizon, source) if protected.any() else {}
    ahead = np.arange(1, horizon + 1)
    for c in range(len(cell_product)):
        cell = (product == cell_product[c]) & (segment == cell_segment[c])
        rows = np.flatnonzero(cell & ~protected)
        keep[rows] = kept_weeks[c, d[rows]]
        rows = np.flatnonzero(cell & protected)
        if len(rows):
            share = moved_by[int(cell_product[c]), int(cell_segment[c])]
            moved = np.where(ahead > protected_weeks[rows, None], share, 0.0)  # (n, T)
            keep[rows] = ((1.0 - moved) * survival[:, d[rows]].T).sum(axis=1)
    return keep / horizon


def planned_share(
    plan: ChannelPlan, week: int, horizon: int, source: int
) -> dict[tuple[int, int], np.ndarray]:
    """Share of each product x segment the plan has moved off ``source`` by each week ahead.

    Returns
    -------
    (T,) shares by ``week + 1 .. week + horizon`` from the rows started by ``week``, keyed by
    (product, segment).
    """
    started = np.flatnonzero((plan.source == source) & (plan.start_week <= week))
    moved = np.array([plan.moved_share(week + k) for k in range(1, horizon + 1)])  # (T, rows)
    cells: dict[tuple[int, int], np.ndarray] = {}
    for i in started.tolist():
        key = (int(plan.product[i]), int(plan.segment[i]))
        cells[key] = cells.get(key, np.zeros(horizon)) + moved[:, i]
    return {key: np.minimum(share, 1.0) for key, share in cells.items()}


def line_outlook(
    distributors: Sequence[Distributor],
    pop: Population,
    plan: ChannelPlan,
    week: int,
    weekly_value: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each distributor expects of its our-line book: keep, lowest keep, follow shares.

    Its book is the buyer x product lines of its active accounts last bought through it and
    not converted. Keep share = ``sum v x keep / sum v`` (:func:`line_keep_share`, ``v`` the
    line's weekly value at list); lowest keep = that of its most threatened line (1 without a
    book); follow share = ``sum v x follow / sum v`` (:func:`follow_probability`).

    Parameters
    ----------
    weekly_value
        (N, P) expected weekly value of each buyer x product at list.
    """
    count = len(distributors)
    keep, lowest, follow = np.ones(count), np.ones(count), np.zeros(count)
    if not count:
        return keep, lowest, follow
    on_book = (
        (pop.current_channel == CHANNELS.index("distributor"))
        & ~pop.alternative_line
        & ((pop.distributor >= 0) & (pop.status == ACTIVE))[:, None]
    )
    buyer, product = np.nonzero(on_book)
    d = pop.distributor[buyer]
    value = take_cells(weekly_value, buyer, product)
    line_keep = line_keep_share(distributors, pop, plan, week, buyer, product)
    book = np.bincount(d, weights=value, minlength=count)
    has_book = book > 0
    keep[has_book] = np.bincount(d, weights=value * line_keep, minlength=count)[has_book]
    keep[has_book] /= book[has_book]
    np.minimum.at(lowest, d, line_keep)
    line_share = np.array([x.line_share for x in distributors])
    follows = value * follow_probability(pop, distributors[0].cfg, buyer, line_share[d])
    follow[has_book] = np.bincount(d, weights=follows, minlength=count)[has_book] / book[has_book]
    return keep, lowest, follow


def serve_from_stock(
    distributors: Sequence[Distributor],
    distributor: np.ndarray,
    product: np.ndarray,
    units: np.ndarray,
) -> np.ndarray:
    """Each distributor fills its week's demand from stock; return the filled share per need.

    Every distributor sees its demand, zero included: its forecast and profit use it.
    """
    if not distributors:
        return np.ones(len(units))
    n_products = len(distributors[0].stock_units)
    demand = np.bincount(
        distributor * n_products + product, weights=units, minlength=len(distributors) * n_products
    ).reshape(len(distributors), n_products)
    fill = np.vstack(
        [d.fill(demand[i]) if d.active else np.ones(n_products) for i, d in enumerate(distributors)]
    )
    return fill[distributor, product]


def steer_needs(
    distributors: Sequence[Distributor],
    distributor: np.ndarray,
    at_distributor: np.ndarray,
    line_keep: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Which needs placed with a distributor go to a competitor's line instead of ours.

    With one uniform ``u`` per need placed with distributor ``d``: it is *converted* (the
    line moves to the competitor's line for good) if converting that line pays ``d`` (its
    keep share ``line_keep`` is below ``d``'s :attr:`Distributor.convert_below`) and ``u <
    retaliation_steer`` (the push succeeds); otherwise it *leaks* (this need only) if ``u``
    falls in the next ``effort_leak x (1 - effort_d)``.

    Returns
    -------
    keep
        False for needs lost to us (converted or leaked).
    converted
        True for needs whose line is converted.
    """
    rows = np.flatnonzero(at_distributor)
    keep = np.ones(len(at_distributor), dtype=bool)
    converted = np.zeros(len(at_distributor), dtype=bool)
    if not distributors:
        return keep, converted
    cfg = distributors[0].cfg
    d = distributor[rows]
    effort = np.array([x.effort for x in distributors])
    below = np.array([x.convert_below for x in distributors])
    steer = cfg.retaliation_steer * (line_keep[rows] < below[d])
    u = rng.random(len(rows))
    converted[rows] = u < steer
    keep[rows] = u >= steer + cfg.effort_leak * (1.0 - effort[d])
    return keep, converted


def credit_distributors(
    distributors: Sequence[Distributor],
    distributor: np.ndarray,
    amounts: np.ndarray,
    credit: Callable[..., None],
) -> None:
    """Sum ``amounts`` ((n, k)) per distributor; call ``credit(distributor, *its k totals)``.

    E.g. ``credit=Distributor.invoice`` with revenue and cost to serve per need.
    """
    if not len(distributor) or not distributors:
        return
    totals = np.stack(
        [np.bincount(distributor, weights=a, minlength=len(distributors)) for a in amounts.T],
        axis=1,
    )
    for i in np.flatnonzero(totals.any(axis=1)).tolist():
        credit(distributors[i], *(float(x) for x in totals[i]))


class CampaignAgent(mesa.Agent):
    """A marketing campaign: touches buyers of its segments while it runs.

    Email campaigns skip do-not-email buyers. Touched non-adopters may adopt e-commerce
    (Bass ``p`` raised by ``adoption_boost_annual``); an offer cuts the price in the nudged
    channel and, in a siloed firm, can undercut a quote the buyer already holds.
    """

    model: World

    def __init__(self, model: World, spec: Campaign) -> None:
        super().__init__(model)
        self.spec = spec
        segments = [s.name for s in model.scenario.market.segments]
        chosen = spec.segments or segments
        self.segment_mask = np.isin(np.arange(len(segments)), [segments.index(s) for s in chosen])
        self.channel = CHANNELS.index(spec.channel)
        products = [p.name for p in model.scenario.products]
        offered = spec.products or products
        self.product_bits = np.uint64(sum(1 << products.index(p) for p in offered))

    def running(self, week: int) -> bool:
        """True in the campaign's weeks."""
        return self.spec.start_week <= week < self.spec.start_week + self.spec.weeks

    def step(self) -> None:
        """Touch this week's share of the target buyers."""
        model = self.model
        if not self.running(model.week):
            return
        pop = model.population
        rng = model.streams["campaigns"]
        eligible = (pop.status == ACTIVE) & self.segment_mask[pop.segment]
        if self.spec.medium == "email":
            eligible &= ~pop.do_not_email
        candidates = np.flatnonzero(eligible)
        touched = candidates[rng.random(len(candidates)) < self.spec.reach]
        model.books.campaign(self.spec.cost_weekly)
        if self.spec.adoption_boost_annual > 0:
            extra = weekly_probability(self.spec.adoption_boost_annual)
            newcomers = touched[~pop.adopter[touched]]
            pop.adopter[newcomers[rng.random(len(newcomers)) < extra]] = True
        if self.spec.offer_discount > 0:
            self._make_offer(touched)

    def _make_offer(self, touched: np.ndarray) -> None:
        model = self.model
        pop = model.population
        offer_price = model.rules.realisation[self.channel] * (1.0 - self.spec.offer_discount)
        recent = model.week - pop.quote_week[touched] <= QUOTE_VALIDITY_WEEKS
        contradicts = (
            recent
            & (pop.quote_channel[touched] >= 0)
            & (pop.quote_channel[touched] != self.channel)
            & (pop.quote_price[touched] > offer_price + PRICE_TOLERANCE)
        )
        clash = touched[contradicts]
        unresolved = model.orchestrator.record("contradictory_price", clash)
        # A resolved clash means the orchestrator aligned the offer: that buyer gets none.
        receives = np.setdiff1d(touched, clash[~unresolved], assume_unique=True)
        pop.offer_channel[receives] = self.channel
        pop.offer_discount[receives] = self.spec.offer_discount
        pop.offer_until[receives] = model.week + self.spec.offer_weeks - 1
        pop.offer_products[receives] = self.product_bits
