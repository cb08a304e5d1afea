"""Reps, distributors and campaigns: the players that react, as Mesa agents.

Each agent keeps its own state and acts on the buyer population's columns through vectorised
numpy operations over its own accounts; the weekly order of phases lives in ``model.py``.
What an agent uses of its model is the small :class:`World` interface: the week, the buyers
and their rules, the books, the orchestrator, the random streams and the territories that
hand out won accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Protocol

import mesa
import numpy as np

from sim.model.buyers import PRICE_TOLERANCE, QUOTE_VALIDITY_WEEKS, RELATIONSHIP_HALF_LIFE_WEEKS
from sim.model.costs import ServiceCosts
from sim.model.population import ACTIVE, weekly_probability
from sim.scenario.schema import CHANNELS, Campaign, RepTeam

if TYPE_CHECKING:
    from sim.model.books import Books
    from sim.model.buyers import BuyerRules
    from sim.model.conflicts import Orchestrator
    from sim.model.population import Population
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
    sell_in_discount: np.ndarray
    sell_through_discount: np.ndarray
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


class Distributor(mesa.Agent):
    """An independent distributor carrying the manufacturer's line.

    Holds stock per product, sells through to its accounts, restocks (sell-in) with an
    order-up-to policy in weeks of cover, forward-buys in sell-in promotions, perceives the
    threat of accounts moved direct, adjusts its effort, retaliates and may exit.
    """

    model: World

    def __init__(self, model: World, index: int, forecast_units: np.ndarray) -> None:
        super().__init__(model)
        cfg = model.scenario.distributors
        self.cfg = cfg
        self.index = index
        self.status = DistributorStatus.ACTIVE
        self.forecast_units = forecast_units.astype(float)
        # Stock between reorder point and order-up-to level, so restocks are not synchronised.
        cover = model.streams["setup"].uniform(cfg.reorder_weeks_cover, cfg.target_weeks_cover)
        self.stock_units = cover * self.forecast_units
        self.effort = 1.0
        self.threat = 0.0
        self.book_value_annual = 0.0
        self.moved_value = np.zeros(cfg.threat_window_weeks)
        self.line_profit_history: list[float] = []
        self.reference_profit: float | None = None
        self.bad_weeks = 0
        self.week_demand_units = np.zeros_like(self.forecast_units)
        self.week_sold_units = np.zeros_like(self.forecast_units)
        self.week_income = 0.0
        self.service_costs = ServiceCosts.from_rates(
            cfg.cost_to_serve, model.scenario.discount_rate_annual
        )
        """What serving its buyers' orders costs it (``distributors.cost_to_serve``): order
        handling, picking per line, freight with a minimum per shipment, credit and
        collection; paid out of its margin (:meth:`bear`)."""
        self.week_cost_to_serve = 0.0

    @property
    def active(self) -> bool:
        """Still carrying the line (active or retaliating)."""
        return self.status is not DistributorStatus.EXITED

    @property
    def retaliating(self) -> bool:
        """Steering its accounts' needs to a competitor's line."""
        return self.status is DistributorStatus.RETALIATING

    def receive(self, amount: float) -> None:
        """Income from us this week: rebates, referral fees, promotion savings."""
        self.week_income += amount

    def bear(self, amount: float) -> None:
        """Its cost of serving its buyers' orders this week (computed by the books)."""
        self.week_cost_to_serve += amount

    def fill(self, demand_units: np.ndarray) -> np.ndarray:
        """Serve this week's demand from stock; return the filled share per product."""
        self.week_demand_units = demand_units
        sold = np.minimum(self.stock_units, demand_units)
        self.stock_units = self.stock_units - sold
        self.week_sold_units = sold
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(demand_units > 0, sold / demand_units, 1.0)

    def step(self) -> None:
        """Weekly update after orders: profit, threat, effort, status, then restock.

        An exit writes the stock off; the model hands the accounts on (``Territories``).
        """
        if not self.active:
            return
        self._book_line_profit()
        week = self.model.week
        window_slot = week % self.cfg.threat_window_weeks
        moved = self.moved_value.sum()
        self.threat = moved / (self.book_value_annual + moved) if moved > 0 else 0.0
        self.moved_value[(window_slot + 1) % self.cfg.threat_window_weeks] = 0.0
        policy = self.model.scenario.policy
        target = (
            1.0
            - self.cfg.threat_sensitivity * self.threat
            + self.cfg.referral_fee_effort * policy.distributor_referral_fee
            + self.cfg.deal_registration_effort * policy.deal_registration
        )
        self.effort += self.cfg.effort_adjust_rate * (min(1.0, max(0.0, target)) - self.effort)
        self._update_status()
        if self.active:
            self._restock()

    def record_moved(self, value_annual: float, week: int) -> None:
        """Move the annual value of accounts taken direct this week from the book to the window.

        A referral fee pays back ``fee / margin`` of the margin lost on a moved account, so only
        the uncompensated share of its value counts as threat.
        """
        self.book_value_annual -= value_annual
        fee = self.model.scenario.policy.distributor_referral_fee
        uncompensated = 1.0 - min(1.0, fee / self.cfg.margin) if self.cfg.margin else 0.0
        self.moved_value[week % self.cfg.threat_window_weeks] += value_annual * uncompensated

    def _book_line_profit(self) -> None:
        books = self.model.books
        margin_value = (self.week_sold_units * books.list_price).sum() * self.cfg.margin
        carrying = (
            (self.stock_units * books.sell_in_price).sum() * self.cfg.carrying_cost_annual / 52
        )
        profit = margin_value + self.week_income - carrying - self.week_cost_to_serve
        self.week_income = 0.0
        self.week_cost_to_serve = 0.0
        self.line_profit_history.append(profit)

    def _update_status(self) -> None:
        history = self.line_profit_history
        window = self.cfg.threat_window_weeks
        recent = float(np.mean(history[-window:]))
        if self.reference_profit is None:
            if len(history) >= window:
                self.reference_profit = recent
        else:
            # The reference adapts: a slow decline is absorbed, a sudden one is a loss.
            gap = recent - self.reference_profit
            self.reference_profit += gap / self.cfg.profit_adaptation_weeks
        losing = (
            self.reference_profit is not None
            and recent < self.cfg.exit_profit_ratio * self.reference_profit
        )
        self.bad_weeks = self.bad_weeks + 1 if losing or self.threat > self.cfg.exit_threat else 0
        if self.bad_weeks >= self.cfg.exit_after_weeks:
            self.status = DistributorStatus.EXITED
            self.model.books.written_off(float(self.stock_units.sum()))
            self.stock_units = np.zeros_like(self.stock_units)
        elif self.threat > self.cfg.retaliation_threat:
            self.status = DistributorStatus.RETALIATING
        elif self.threat < 0.5 * self.cfg.retaliation_threat:
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


def keep_our_line(
    distributors: Sequence[Distributor],
    distributor: np.ndarray,
    at_distributor: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """False for needs a distributor sells from a competitor's line instead of ours.

    A need placed with distributor ``d`` leaks with probability
    ``effort_leak x (1 - effort_d) + retaliation_steer x [d retaliates]``.
    """
    rows = np.flatnonzero(at_distributor)
    keep = np.ones(len(at_distributor), dtype=bool)
    if not distributors:
        return keep
    cfg = distributors[0].cfg
    d = distributor[rows]
    effort = np.array([x.effort for x in distributors])
    retaliating = np.array([x.retaliating for x in distributors])
    leak = cfg.effort_leak * (1.0 - effort[d]) + cfg.retaliation_steer * retaliating[d]
    keep[rows] = rng.random(len(rows)) >= leak
    return keep


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
