"""The plain reference: one Mesa agent per buyer, the buyer rules written out one by one.

This is the docking reference (Axtell, Axelrod, Epstein & Cohen 1996, "Aligning simulation
models") for the vectorised engine in :mod:`sim.model.buyers`, and the "plain" side of the
throughput comparison in ``benchmarks/engine.py``. It is deliberately readable and slow: every
buyer is a :class:`mesa.Agent`, every week every buyer runs its own rules with scalar
arithmetic, and nothing is vectorised or scheduled ahead.

It implements the **buyer rules** of the model (docs/ODD.md, phases 3, 5 (buyer side), 6 and 7),
rule by rule against :mod:`sim.model.buyers`, with the same constants (imported from there):

- needs arrive per product as a weekly Bernoulli process at ``1 - exp(-orders_per_year / 52)``,
  each with a Poisson number (at least one) of orders (``buyers.arriving_needs`` draws the same
  process as geometric waiting times);
- e-commerce adoption spreads by a Bass process, weekly hazard
  ``1 - exp(-(p + q * adopters_share) / 52)`` with the share among active buyers
  (``buyers.adopt_ecommerce``, by thinning);
- each need is placed by a multinomial logit over the open channels and the competitor's
  line: segment preference, realised price, relationship, habit, effort, adoption
  (``sim.model.choice.choose_channels``: open channels, prices, utilities, the draw);
- the journey touches other open channels (``buyers.journey_touches``); double coverage,
  contradicting prices, repeated information and (with channel-specific pay) a rep pulling a web
  order back are conflict incidents that add effort unless an orchestrator resolves them
  (``sim.model.conflicts.find_conflicts``);
- orders book revenue at the channel's realised price (``Books.orders``), lift the relationship
  with the channel and set the habit (``buyers.remember_orders``); relationships fade with a
  ``RELATIONSHIP_HALF_LIFE_WEEKS`` half-life (``Population.age_relationships``);
- effort rises with unresolved incidents and falls with clean orders
  (``buyers.live_with_experience``); churn is a weekly hazard from ``base_churn_annual``
  multiplied up to ``effort_churn_multiplier`` at full effort (``buyers.churn``).

What it leaves out, so that docking runs switch them off in both implementations: reps'
calls and prospecting (reps only define who can be served by field and inside sales),
distributors (stock, prices, effort, retaliation, exit; use
``distributors.accounts_per_distributor=0``), campaigns, channel plans, trade promotions,
prospects and inbound accounts.
"""

from __future__ import annotations

import math
import random

import mesa
import numpy as np

from sim import channels
from sim.channels import CHANNELS, COMPETITOR, DISTRIBUTOR, ECOMMERCE, FIELD, INSIDE
from sim.model.buyers import (
    INITIAL_RELATIONSHIP,
    ORDER_LIFT,
    PRICE_TOLERANCE,
    RELATIONSHIP_HALF_LIFE_WEEKS,
)
from sim.scenario.schema import Scenario

ASSISTED = tuple(bool(a) for a in channels.ASSISTED)
"""``sim.channels.ASSISTED`` as plain booleans (scalar code, no numpy)."""

DOCKING_OVERRIDES: tuple[str, ...] = (
    "market.prospects=0",
    "market.inbound_accounts_annual=0",
    "distributors.accounts_per_distributor=0",
    "reps.field.calls_per_week=1e-6",
    "reps.inside.calls_per_week=1e-6",
    "reps.inside.min_account_spend_annual=0",
    "campaigns=[]",
    "policy.channel_plan=[]",
    "policy.trade_promotions=[]",
)
"""``--set`` overrides that reduce a scenario to the buyer rules both implementations share.

No prospects, no inbound accounts, no distributors, no campaigns, no channel plan or trade
promotion; reps exist (so field and inside sales are open to the accounts they cover, and inside
sales covers every account) but make no calls (``calls_per_week`` ~ 0 gives zero calls a week
with probability ~1 - 3e-7).
"""


def weekly_probability(rate_annual: float) -> float:
    """Probability of at least one event in a week for a Poisson rate per year."""
    return 1.0 - math.exp(-rate_annual / 52.0)


def orders_in_week(rate: float, rng: random.Random) -> int:
    """Orders of a Poisson process at ``rate`` a week in a week known to have at least one.

    The first order's time is drawn from its truncated exponential; the rest of the week holds
    a Poisson number more (Knuth's product of uniforms).
    """
    first = -math.log1p(rng.random() * math.expm1(-rate)) / rate
    limit, product, more = math.exp(-rate * (1.0 - first)), rng.random(), 0
    while product > limit:
        more += 1
        product *= rng.random()
    return 1 + more


class Buyer(mesa.Agent):
    """One buyer account with its own state, deciding for itself each week."""

    def __init__(self, model: ReferenceModel, segment: int) -> None:
        super().__init__(model)
        sc = model.scenario
        rng = model.random
        spec = sc.market.segments[segment]
        self.segment = segment
        sigma = spec.spend_sigma
        self.spend_annual = spec.spend_annual * rng.lognormvariate(-0.5 * sigma**2, sigma)
        self.orders_per_week = spec.orders_per_year / 52.0
        self.need_probability = weekly_probability(spec.orders_per_year)
        # An order's size makes the expected annual spend equal the spend potential.
        self.units_per_order = [
            self.spend_annual * spec.product_mix.get(product.name, 0.0)
            / spec.orders_per_year / product.list_price
            for product in sc.products
        ]  # fmt: skip
        self.active = True
        self.adopter = rng.random() < spec.digital_adopters_initial
        self.effort = 0.0
        self.has_field_rep = sc.reps.field.count > 0 and (
            self.spend_annual >= sc.reps.field.min_account_spend_annual
        )
        self.has_inside_rep = sc.reps.inside.count > 0 and (
            self.spend_annual >= sc.reps.inside.min_account_spend_annual
        )
        self.relationship = [0.0] * len(CHANNELS)
        self.open_ = self.open_channels()
        self.current_channel: list[int | None] = [None] * len(sc.products)
        self.revenue_week = 0.0

    # ---------------------------------------------------------------- what the buyer sees

    def open_channels(self) -> list[int]:
        """Our channels that may serve this buyer (fixed: reps and distributors do not change)."""
        allowed = self.model.scenario.market.segments[self.segment].channels
        open_ = []
        for c, name in enumerate(CHANNELS):
            if name not in allowed:
                continue
            if c == FIELD and not self.has_field_rep:
                continue
            if c == INSIDE and not self.has_inside_rep:
                continue
            if c == DISTRIBUTOR and self.model.scenario.distributors.accounts_per_distributor == 0:
                continue
            open_.append(c)
        return open_

    def utility(self, channel: int, product: int) -> float:
        """Systematic utility of placing a need for ``product`` with ``channel``."""
        sc = self.model.scenario
        choice = sc.market.choice
        if channel == COMPETITOR:
            return choice.competitor_utility + choice.effort_weight * self.effort
        u = self.model.preference[self.segment][channel] - choice.price_weight * (
            self.model.price[channel] - 1.0
        )
        u += choice.relationship_weight * self.relationship[channel]
        if ASSISTED[channel]:
            u -= choice.effort_weight * self.effort
        if self.current_channel[product] == channel:
            u += choice.habit_weight
        if channel == ECOMMERCE and not self.adopter:
            u -= choice.non_adopter_ecommerce_penalty
        if channel == DISTRIBUTOR and sc.distributors.digital_ordering and self.adopter:
            u += choice.digital_ordering_utility
        return u

    def choose(self, alternatives: list[int], product: int) -> int:
        """Draw one alternative by the multinomial logit."""
        utilities = [self.utility(a, product) for a in alternatives]
        top = max(utilities)
        weights = [math.exp(u - top) for u in utilities]
        draw = self.model.random.random() * sum(weights)
        for alternative, weight in zip(alternatives, weights, strict=True):
            draw -= weight
            if draw < 0:
                return alternative
        return alternatives[-1]

    # ---------------------------------------------------------------- the week

    def consider_adopting(self, adopters_share: float) -> None:
        """Bass adoption of e-commerce."""
        if self.active and not self.adopter:
            bass = self.model.scenario.market.ecommerce_adoption
            hazard = weekly_probability(bass.p + bass.q * adopters_share)
            self.adopter = self.model.random.random() < hazard

    def step(self) -> None:
        """Age relationships, then place this week's needs and live with the experience."""
        self.revenue_week = 0.0
        if not self.active:
            return
        fade = 2.0 ** (-1.0 / RELATIONSHIP_HALF_LIFE_WEEKS)
        self.relationship = [r * fade for r in self.relationship]
        model = self.model
        rng = model.random
        sc = model.scenario
        lifted: set[int] = set()
        friction = 0.0
        clean_order = False
        for product, units in enumerate(self.units_per_order):
            if units <= 0 or rng.random() >= self.need_probability:
                continue
            open_ = self.open_
            channel = self.choose([*open_, COMPETITOR], product)
            if channel == COMPETITOR:
                continue
            price = model.price[channel]
            touched = [
                c
                for c in open_
                if c != channel and rng.random() < sc.market.journey.extra_touch_prob
            ]
            incidents = self.incidents(channel, price, touched)
            if (
                channel == ECOMMERCE
                and sc.policy.rep_compensation == "channel_specific"
                and (self.has_field_rep or self.has_inside_rep)
                and model.unresolved()
            ):
                incidents += 1  # the rep fights for the credit of a web order
                if rng.random() < sc.reps.resist_web_orders:
                    channel = FIELD if self.has_field_rep else INSIDE
                    price = model.price[channel]
            orders = orders_in_week(self.orders_per_week, rng)
            self.revenue_week += orders * units * sc.products[product].list_price * price
            lifted.add(channel)
            self.current_channel[product] = channel
            if incidents:
                friction += incidents * sc.market.effort.per_conflict
            else:
                clean_order = True
        # One order's worth of relationship per channel used this week.
        for channel in lifted:
            self.relationship[channel] += ORDER_LIFT * (1.0 - self.relationship[channel])
        self.effort = min(1.0, self.effort + friction)
        if clean_order:
            self.effort *= 1.0 - sc.market.effort.recovery_per_order

    def incidents(self, channel: int, price: float, touched: list[int]) -> int:
        """Unresolved conflict incidents of one need served by ``channel`` at ``price``."""
        model = self.model
        count = 0
        if ASSISTED[channel] and any(ASSISTED[c] for c in touched) and model.unresolved():
            count += 1  # double coverage
        if any(model.price[c] < price - PRICE_TOLERANCE for c in touched) and model.unresolved():
            count += 1  # contradictory price
        if ASSISTED[channel] and touched and model.unresolved():
            count += 1  # repeated information
        return count

    def consider_churning(self) -> None:
        """Weekly churn hazard, multiplied as effort rises."""
        if not self.active:
            return
        market = self.model.scenario.market
        rate = -math.log1p(-market.base_churn_annual)
        multiplier = 1.0 + (market.effort_churn_multiplier - 1.0) * self.effort
        if self.model.random.random() < weekly_probability(rate * multiplier):
            self.active = False


class ReferenceModel(mesa.Model):
    """The buyer rules of the channel model with one :class:`Buyer` agent per account.

    Parameters
    ----------
    scenario
        A validated scenario (the parts listed in the module docstring are ignored).
    seed
        Root of the model's randomness. Mesa's ``Model.random`` (Python's generator, seeded from
        a numpy generator on ``seed``) draws every scalar: a numpy scalar draw costs ~20x more
        and would make the plain implementation look slower than plain code needs to be.

    """

    def __init__(self, scenario: Scenario, seed: int | np.random.SeedSequence) -> None:
        super().__init__(rng=np.random.default_rng(seed))
        self.scenario = scenario
        self.week = 0
        self.price = [getattr(scenario.channels, c).price_realisation for c in CHANNELS]
        self.preference = [
            [getattr(s.channel_preference, c) for c in CHANNELS] for s in scenario.market.segments
        ]
        self.orchestration_share = (
            scenario.policy.orchestration_coverage
            if scenario.policy.coordination == "orchestrated"
            else 0.0
        )
        shares = [s.share for s in scenario.market.segments]
        self.buyers = [
            Buyer(self, self.random.choices(range(len(shares)), weights=shares)[0])
            for _ in range(scenario.market.buyers)
        ]
        for buyer in self.buyers:
            self._draw_initial_channels(buyer)
        weeks = scenario.horizon_weeks
        self.rows = {
            name: np.zeros(weeks)
            for name in (
                "revenue",
                "active_customers",
                "churned_customers",
                "ecommerce_adopters_share",
                "customer_effort_mean",
            )
        }

    def _draw_initial_channels(self, buyer: Buyer) -> None:
        """Week-0 channel per product, by the logit among our channels; seed relationships."""
        open_ = buyer.open_
        for product, units in enumerate(buyer.units_per_order):
            if units > 0:
                buyer.current_channel[product] = buyer.choose(open_, product)
        for channel in set(buyer.current_channel):
            if channel is not None:
                buyer.relationship[channel] = INITIAL_RELATIONSHIP

    def unresolved(self) -> bool:
        """Whether a conflict incident escapes the orchestrator."""
        return self.random.random() >= self.orchestration_share

    def adopters_share(self) -> float:
        """Share of e-commerce adopters among active buyers."""
        active = [b for b in self.buyers if b.active]
        return sum(b.adopter for b in active) / len(active) if active else 0.0

    def step(self) -> None:
        """One week: adoption, needs and orders, churn, then collect."""
        self.week += 1
        share = self.adopters_share()
        for buyer in self.buyers:
            buyer.consider_adopting(share)
        for buyer in self.buyers:
            buyer.step()
        for buyer in self.buyers:
            buyer.consider_churning()
        active = [b for b in self.buyers if b.active]
        row = self.week - 1
        self.rows["revenue"][row] = sum(b.revenue_week for b in self.buyers)
        self.rows["active_customers"][row] = len(active)
        self.rows["churned_customers"][row] = len(self.buyers) - len(active)
        self.rows["ecommerce_adopters_share"][row] = self.adopters_share()
        self.rows["customer_effort_mean"][row] = (
            sum(b.effort for b in active) / len(active) if active else 0.0
        )

    def run(self) -> None:
        """Step through the whole horizon."""
        while self.week < self.scenario.horizon_weeks:
            self.step()
