"""The buyer rules: adoption, needs, the plan, the journey, experience and churn.

Every rule is a function of the population's columns, the scenario's parameters
(:class:`BuyerRules`) and a random generator or counter-based draw key; none reaches back
into the model. Rules touch only the buyers with something happening this week (needs, churn
checks and adoption checks are scheduled ahead with geometric waiting times: docs/ODD.md,
"Scheduling"). The channel logit is ``sim.model.choice``. Each function names the ODD section
it implements; ``sim/model/reference.py`` writes the same rules out buyer by buyer for docking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from sim.channels import CHANNELS, COMPETITOR, DISTRIBUTOR, ECOMMERCE, FIELD, INSIDE
from sim.model.draws import geometric, poisson, uniform, uniforms4
from sim.model.kernel import kernel
from sim.model.policy import ChannelPlan
from sim.model.population import (
    ACTIVE,
    CHURNED,
    NEVER,
    Population,
    geometric_weeks,
    put_cells,
    take_cells,
    weekly_probability,
)
from sim.model.week import Needs
from sim.scenario.schema import Scenario

RELATIONSHIP_HALF_LIFE_WEEKS = 26.0
"""Weeks for a channel relationship to halve without contact (assumption)."""
QUOTE_VALIDITY_WEEKS = 4
"""Weeks a quote is remembered when a contradicting offer arrives (assumption)."""
PRICE_TOLERANCE = 0.02
"""Price gap, as a fraction of list, that a buyer notices as a contradiction (assumption)."""
ORDER_LIFT = 0.10
"""Relationship gained with a channel per order through it (assumption)."""
INITIAL_RELATIONSHIP = 0.5
"""Relationship with the channels a buyer already uses at week 0 (assumption)."""
SATISFACTION_UPDATE = 0.1
"""Weight of the latest order in the running share of clean orders (assumption)."""


@dataclass(frozen=True)
class BuyerRules:
    """The scenario's buyer parameters as arrays, indexed by segment and channel.

    Attributes
    ----------
    preference
        (S, 4) alternative-specific constants of the channel logit (utility units).
    segment_open
        (S, 4) channels allowed to serve each segment before any plan.
    realisation
        (4,) price each channel charges, as a fraction of list.
    churn_hazard_annual
        Yearly churn hazard at zero effort, ``-ln(1 - base_churn_annual)``.
    churn_check_probability, adoption_check_probability
        Weekly probabilities of the thinning checks (the hazards' maxima).
    """

    preference: np.ndarray
    segment_open: np.ndarray
    realisation: np.ndarray
    churn_hazard_annual: float
    churn_check_probability: float
    adoption_check_probability: float
    market: Any  # the scenario's ``market`` block: choice, journey and effort weights, Bass p, q
    promotion_pass_through: float
    digital_ordering: bool

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> BuyerRules:
        """The rules of ``scenario``."""
        market = scenario.market
        segments = market.segments
        churn_hazard_annual = float(-np.log1p(-market.base_churn_annual))
        bass = market.ecommerce_adoption
        return cls(
            preference=np.array(
                [[getattr(s.channel_preference, c) for c in CHANNELS] for s in segments]
            ),
            segment_open=np.array([[c in s.channels for c in CHANNELS] for s in segments]),
            realisation=np.array(
                [getattr(scenario.channels, c).price_realisation for c in CHANNELS]
            ),
            churn_hazard_annual=churn_hazard_annual,
            churn_check_probability=float(
                weekly_probability(churn_hazard_annual * market.effort_churn_multiplier)
            ),
            adoption_check_probability=float(weekly_probability(bass.p + bass.q)),
            market=market,
            promotion_pass_through=scenario.distributors.promotion_pass_through,
            digital_ordering=scenario.distributors.digital_ordering,
        )


# --------------------------------------------------------------------------- set-up


def draw_initial_channels(
    pop: Population, probabilities: np.ndarray, rng: np.random.Generator
) -> None:
    """Draw each buyer x product's week-0 channel among our channels; seed relationships.

    A buyer starts with ``INITIAL_RELATIONSHIP`` with each channel it uses.
    """
    ours = probabilities[..., :COMPETITOR]
    # Sums along the short channel axis one channel at a time (same sequential adds).
    total = ours[..., 0].copy()
    for c in range(1, COMPETITOR):
        total += ours[..., c]
    ours = ours / np.maximum(total, 1e-300)[..., None]
    uniform = rng.random(ours.shape[:2])
    cumulative = ours[..., 0].copy()
    current = (cumulative < uniform).astype(np.int64)
    for c in range(1, COMPETITOR):
        cumulative += ours[..., c]
        current += cumulative < uniform
    bought = pop.units_per_order > 0
    pop.current_channel[:] = np.where(bought, np.minimum(current, COMPETITOR - 1), -1)
    for c in range(len(CHANNELS)):
        uses = (pop.current_channel == c).any(axis=1)
        pop.relationship[uses, c] = INITIAL_RELATIONSHIP


def schedule_hazard_checks(pop: Population, rules: BuyerRules, rng: np.random.Generator) -> None:
    """First churn and adoption checks of every buyer (thinning: ODD "Scheduling").

    Accounts with a purchase process (a dropout probability) churn by dropping out after
    orders (:func:`drop_out`) instead of by the weekly hazard: they get no churn checks.
    """
    pop.next_churn_check[:] = geometric_weeks(rng, rules.churn_check_probability, pop.size)
    pop.next_churn_check[pop.dropout > 0] = NEVER
    pop.next_adoption_check[:] = geometric_weeks(rng, rules.adoption_check_probability, pop.size)


def annual_value(
    pop: Population,
    rules: BuyerRules,
    list_price: np.ndarray,
    buyer: np.ndarray | None = None,
    product: np.ndarray | None = None,
) -> np.ndarray:
    """(N, P) annual spend of each buyer on each product at list price, or of (n,) pairs."""
    if buyer is not None and product is not None:
        units = take_cells(pop.units_per_order, buyer, product)
        return units * (52.0 * pop.orders_per_week[buyer]) * list_price[product]
    return pop.units_per_order * (52.0 * pop.orders_per_week)[:, None] * list_price


# --------------------------------------------------------------------------- phase 3: buyers


def adopt_ecommerce(pop: Population, rules: BuyerRules, week: int, key: np.ndarray) -> None:
    """Bass adoption by thinning: checks at the maximum hazard, accepted at the actual one.

    ``key``: the ``adoption`` stream's; a check of buyer ``b`` in week ``t`` draws
    ``uniforms4(key, b, t, 0, 0)``: the first for its acceptance, the second for the weeks to
    its next check.
    """
    active = pop.status == ACTIVE
    n_active = np.count_nonzero(active)
    share = np.count_nonzero(pop.adopter & active) / n_active if n_active else 0.0
    bass = rules.market.ecommerce_adoption
    hazard = float(weekly_probability(bass.p + bass.q * share))
    _adopt(
        pop.size,
        pop.next_adoption_check,
        pop.status,
        pop.adopter,
        week,
        key,
        rules.adoption_check_probability,
        hazard,
    )


@kernel
def _adopt(
    next_check: np.ndarray,
    status: np.ndarray,
    adopter: np.ndarray,
    week: int,
    key: np.ndarray,
    check_probability: float,
    hazard: float,
) -> None:
    for b in prange(len(next_check)):
        if next_check[b] != week:
            continue
        u_accept, u_gap, _, _ = uniforms4(key, b, week, 0, 0)
        if status[b] == ACTIVE and u_accept * check_probability < hazard:
            adopter[b] = True
        next_check[b] = min(NEVER, week + geometric(u_gap, check_probability))


def arriving_needs(
    pop: Population, rules: BuyerRules, week: int, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buyer, product, orders) of the needs due this week among active buyers (ODD §7.3).

    A line's orders arrive as a Poisson process at ``λ = orders_per_week``; a week with at
    least one is a need (the next comes after a geometric gap at ``1 - exp(-λ)``), and its
    number of orders is Poisson(λ) given at least one (:func:`orders_in_week`). ``key``: the
    ``needs`` stream's; the need of buyer ``b`` for product ``p`` in week ``t`` draws
    ``uniforms4(key, b, t, p, 0)``: the first for the gap, the next two for the orders.
    """
    n_products = pop.next_need.shape[1]
    flat = np.flatnonzero(pop.next_need.ravel() == week)
    orders = np.empty(len(flat), dtype=np.int64)
    active = np.empty(len(flat), dtype=bool)
    _arrivals(
        len(flat),
        flat,
        n_products,
        pop.orders_per_week,
        pop.status,
        pop.next_need.reshape(-1),  # a view: the kernel schedules the next needs in place
        week,
        key,
        orders,
        active,
    )
    buyer, product = np.divmod(flat, n_products)
    return np.compress(active, buyer), np.compress(active, product), np.compress(active, orders)


@njit(cache=True, inline="always")
def orders_in_week(rate: float, u_first: float, u_more: float) -> int:
    """Orders of a Poisson process at ``rate`` a week in a week known to have at least one.

    Exact: the first order comes at ``T`` ~ Exp(rate) truncated to the week (inverse CDF at
    ``u_first``), and the rest of the week holds Poisson(rate (1 - T)) more (at ``u_more``).
    """
    first = -np.log1p(u_first * np.expm1(-rate)) / max(rate, 1e-300)
    return 1 + poisson(rate * max(1.0 - first, 0.0), u_more)


@kernel
def _arrivals(
    flat: np.ndarray,
    n_products: int,
    orders_per_week: np.ndarray,
    status: np.ndarray,
    next_need: np.ndarray,
    week: int,
    key: np.ndarray,
    orders: np.ndarray,
    active: np.ndarray,
) -> None:
    for i in prange(len(flat)):
        b, p = flat[i] // n_products, flat[i] % n_products
        rate = orders_per_week[b]
        u_gap, u_first, u_more, _ = uniforms4(key, b, week, p, 0)
        next_need[flat[i]] = min(NEVER, week + geometric(u_gap, -np.expm1(-rate)))
        active[i] = status[b] == ACTIVE
        orders[i] = orders_in_week(rate, u_first, u_more) if active[i] else 0  # dropped


def follow_plan(
    pop: Population,
    rules: BuyerRules,
    plan: ChannelPlan,
    week: int,
    buyer: np.ndarray,
    product: np.ndarray,
    choice: np.ndarray,
    *,
    deal_protection_weeks: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Redirect the choices the channel plan has moved (ODD "Channel plan", "Deal registration").

    With deal registration (``deal_protection_weeks`` not None) a distributor registers each
    buyer x product line it wins that was not its own (the line's last order went through
    another channel, or it has none): ``registered_until = week + deal_protection_weeks - 1``.
    The plan does not move a registered line while it is protected. A buyer forced online
    adopts e-commerce; a forced switch adds effort.

    Returns
    -------
    channel
        The channel of each need.
    taken
        Whether the plan took it off the buyer's distributor this week.
    """
    channel, moved = plan.redirect(
        week, pop.segment[buyer], product, choice, pop.migration_key[buyer]
    )
    current = take_cells(pop.current_channel, buyer, product)
    if deal_protection_weeks is not None:
        registered = take_cells(pop.registered_until, buyer, product) >= week
        protected = moved & (choice == DISTRIBUTOR) & registered
        channel[protected] = DISTRIBUTOR
        moved &= ~protected
        won = np.flatnonzero((channel == DISTRIBUTOR) & (current != DISTRIBUTOR))
        until = np.full(len(won), week + deal_protection_weeks - 1, dtype=np.int16)
        put_cells(pop.registered_until, buyer[won], product[won], until)
    forced = buyer[moved]
    newly_online = forced[(channel[moved] == ECOMMERCE) & ~pop.adopter[forced]]
    pop.adopter[newly_online] = True
    effort = rules.market.choice.forced_switch_effort
    switched = moved & (current != channel)
    pop.effort[buyer[switched]] = np.minimum(1.0, pop.effort[buyer[switched]] + effort)
    return channel, switched & (current == DISTRIBUTOR)


def journey_touches(
    rules: BuyerRules,
    open_: np.ndarray,
    channel: np.ndarray,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
) -> np.ndarray:
    """(n, 4) other open channels the buyer also worked for the same need (ODD "Journey").

    ``key`` is the ``journey`` stream's counter key: channel ``c`` of the need of buyer ``b``
    for product ``p`` in week ``t`` is touched if the ``c``-th of ``uniforms4(key, b, t, p, 0)``
    is below ``extra_touch_prob``.
    """
    touched = np.empty_like(open_)
    probability = float(rules.market.journey.extra_touch_prob)
    _touch(len(buyer), open_, channel, buyer, product, week, key, probability, touched)
    return touched


@kernel
def _touch(
    open_: np.ndarray,
    channel: np.ndarray,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
    probability: float,
    touched: np.ndarray,
) -> None:
    for i in prange(len(buyer)):
        draws = uniforms4(key, buyer[i], week, product[i], 0)
        for c in range(COMPETITOR):
            touched[i, c] = open_[i, c] and c != channel[i] and draws[c] < probability


# --------------------------------------------------------------------------- phases 6 and 7


def remember_orders(pop: Population, needs: Needs, week: int) -> None:
    """After the orders: quotes of assisted direct channels, relationship lift, habit.

    A channel's relationship is lifted once a week however many orders went through it.
    """
    _remember(
        len(needs.buyer),
        buyer_runs(needs.buyer),
        needs.buyer,
        needs.product,
        needs.channel,
        needs.price,
        week,
        pop.quote_channel,
        pop.quote_price,
        pop.quote_week,
        pop.relationship,
        pop.current_channel,
    )


def live_with_experience(pop: Population, rules: BuyerRules, needs: Needs) -> None:
    """Effort rises with unresolved incidents and stock-outs, falls with clean orders (§7.7)."""
    effort = rules.market.effort
    _experience(
        len(needs.buyer),
        buyer_runs(needs.buyer),
        needs.buyer,
        needs.incidents,
        needs.filled,
        float(effort.per_conflict),
        float(effort.per_stockout),
        float(effort.recovery_per_order),
        pop.effort,
        pop.satisfaction,
    )


def buyer_runs(buyer: np.ndarray) -> np.ndarray:
    """(k + 1,) start of each buyer's run of needs, then ``len(buyer)``.

    The week's needs are ordered by buyer (they arrive in row order and are only ever
    filtered), so a buyer's needs are adjacent: compiled loops over runs update each buyer's
    state from one thread.
    """
    if np.any(buyer[1:] < buyer[:-1]):
        raise ValueError("needs are not ordered by buyer")
    starts = np.flatnonzero(np.diff(buyer)) + 1
    return np.concatenate([[0], starts, [len(buyer)]]) if len(buyer) else np.zeros(1, np.int64)


@kernel
def _remember(
    runs: np.ndarray,
    buyer: np.ndarray,
    product: np.ndarray,
    channel: np.ndarray,
    price: np.ndarray,
    week: int,
    quote_channel: np.ndarray,
    quote_price: np.ndarray,
    quote_week: np.ndarray,
    relationship: np.ndarray,
    current_channel: np.ndarray,
) -> None:
    for run in prange(len(runs) - 1):
        b = buyer[runs[run]]
        lifted = 0  # bit c: channel c already lifted this week
        for i in range(runs[run], runs[run + 1]):
            c = channel[i]
            if c in (FIELD, INSIDE):
                quote_channel[b] = c
                quote_price[b] = price[i]
                quote_week[b] = week
            if not lifted & (1 << c):
                relationship[b, c] += ORDER_LIFT * (1.0 - relationship[b, c])
                lifted |= 1 << c
            current_channel[b, product[i]] = c


@kernel
def _experience(
    runs: np.ndarray,
    buyer: np.ndarray,
    incidents: np.ndarray,
    filled: np.ndarray,
    per_conflict: float,
    per_stockout: float,
    recovery_per_order: float,
    effort: np.ndarray,
    satisfaction: np.ndarray,
) -> None:
    for run in prange(len(runs) - 1):
        b = buyer[runs[run]]
        friction = 0.0
        clean = False
        for i in range(runs[run], runs[run + 1]):
            need_friction = incidents[i] * per_conflict + (filled[i] < 1.0) * per_stockout
            friction += need_friction
            clean |= need_friction == 0.0
            satisfaction[b] += SATISFACTION_UPDATE * ((need_friction == 0.0) - satisfaction[b])
        effort[b] = min(1.0, effort[b] + friction)
        if clean:
            effort[b] *= 1.0 - recovery_per_order


def drop_out(pop: Population, rules: BuyerRules, needs: Needs, week: int, key: np.ndarray) -> None:
    """BG/NBD dropout: after each order, an account may stop buying for good.

    Its own probability ``p`` is raised by effort as the churn hazard is:
    ``p (1 + (m - 1) effort)`` with ``m = effort_churn_multiplier`` (capped at 1). An account
    that placed ``K`` orders this week (the most on any of its lines: the week's j-th orders
    of its lines ship together) stays with probability ``(1 - p (1 + (m - 1) effort)) ** K``,
    drawn as ``uniform(key, b, t, 0, DROPOUT_DRAW)`` with ``key`` the ``churn`` stream's.
    Only accounts with a purchase process have ``p > 0``.
    """
    _drop_out(
        len(needs.buyer),
        buyer_runs(needs.buyer),
        needs.buyer,
        needs.orders,
        pop.dropout,
        pop.effort,
        pop.status,
        pop.churn_week,
        week,
        key,
        rules.market.effort_churn_multiplier - 1.0,
    )


def churn(pop: Population, rules: BuyerRules, week: int, key: np.ndarray) -> None:
    """Churn by thinning: checks at the hazard for full effort, accepted at the buyer's own.

    Weekly hazard ``1 - exp(-h (1 + (m - 1) effort) / 52)`` with ``h = churn_hazard_annual``
    and ``m = effort_churn_multiplier``. ``key``: the ``churn`` stream's; a check of buyer
    ``b`` in week ``t`` draws ``uniforms4(key, b, t, 0, 0)``: the first for its acceptance,
    the second for the weeks to the next check.
    """
    _churn(
        pop.size,
        pop.next_churn_check,
        pop.status,
        pop.churn_week,
        pop.effort,
        week,
        key,
        rules.churn_check_probability,
        rules.churn_hazard_annual,
        rules.market.effort_churn_multiplier - 1.0,
    )


DROPOUT_DRAW = 1
"""Draw index of the dropout decision (a churn check uses the block at index 0)."""


@kernel
def _drop_out(
    runs: np.ndarray,
    buyer: np.ndarray,
    orders: np.ndarray,
    dropout: np.ndarray,
    effort: np.ndarray,
    status: np.ndarray,
    churn_week: np.ndarray,
    week: int,
    key: np.ndarray,
    effort_slope: float,
) -> None:
    for run in prange(len(runs) - 1):
        b = buyer[runs[run]]
        if dropout[b] <= 0.0 or status[b] != ACTIVE:
            continue
        most_orders = 0
        for i in range(runs[run], runs[run + 1]):
            most_orders = max(most_orders, orders[i])
        per_order = min(1.0, dropout[b] * (1.0 + effort_slope * effort[b]))
        if uniform(key, b, week, 0, DROPOUT_DRAW) < 1.0 - (1.0 - per_order) ** most_orders:
            status[b] = CHURNED
            churn_week[b] = week


@kernel
def _churn(
    next_check: np.ndarray,
    status: np.ndarray,
    churn_week: np.ndarray,
    effort: np.ndarray,
    week: int,
    key: np.ndarray,
    check_probability: float,
    hazard_annual: float,
    effort_slope: float,
) -> None:
    for b in prange(len(next_check)):
        if next_check[b] != week:
            continue
        hazard = -np.expm1(-hazard_annual * (1.0 + effort_slope * effort[b]) / 52.0)
        u_accept, u_gap, _, _ = uniforms4(key, b, week, 0, 0)
        if status[b] == ACTIVE and u_accept * check_probability < hazard:
            status[b] = CHURNED
            churn_week[b] = week
        next_check[b] = min(NEVER, week + geometric(u_gap, check_probability))
