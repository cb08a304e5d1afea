"""The buyer rules: adoption, needs, channel choice, the journey, experience and churn.

Every rule is a function of the population's columns, the scenario's parameters
(:class:`BuyerRules`) and a random generator; none reaches back into the model. Rules touch only
the buyers with something happening this week (needs, churn checks and adoption checks are
scheduled ahead with geometric waiting times: docs/ODD.md, "Scheduling"). Each function names
the ODD section it implements; ``sim/model/reference.py`` writes the same rules out buyer by
buyer for docking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange

from sim.model.draws import uniform, uniforms4
from sim.model.kernel import kernel
from sim.model.policy import ChannelPlan
from sim.model.population import (
    ACTIVE,
    ASSISTED,
    CHURNED,
    DISTRIBUTOR,
    ECOMMERCE,
    FIELD,
    INSIDE,
    NEVER,
    Population,
    geometric_weeks,
    put_cells,
    take_cells,
    weekly_probability,
)
from sim.scenario.schema import CHANNELS, Scenario

COMPETITOR = len(CHANNELS)
"""Index of the outside option (a competitor's line) in the choice arrays."""

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


class ChoiceColumns(NamedTuple):
    """The population columns the channel choice reads (the arrays themselves, no copies)."""

    segment: np.ndarray
    field_rep: np.ndarray
    inside_rep: np.ndarray
    distributor: np.ndarray
    effort: np.ndarray
    relationship: np.ndarray
    current_channel: np.ndarray
    adopter: np.ndarray
    offer_channel: np.ndarray
    offer_until: np.ndarray
    offer_products: np.ndarray
    offer_discount: np.ndarray

    @classmethod
    def of(cls, pop: Population) -> ChoiceColumns:
        """The columns of ``pop``."""
        return cls(*(getattr(pop, name) for name in cls._fields))


class ChoiceTerms(NamedTuple):
    """The week's terms of the channel logit (ODD §7.3, "Open channels" to "Utility").

    ``distributor_open`` and ``resale_price`` have one entry per distributor, then the slot that
    index -1 (no distributor) reads; ``promotion_cut`` is the share a sell-through promotion
    takes off the distributor's price, per product. The rest are ``market.choice`` weights
    (utility units); ``digital_ordering_utility`` is 0 unless ``distributors.digital_ordering``.
    """

    preference: np.ndarray  # (S, 4)
    segment_open: np.ndarray  # (S, 4) bool
    realisation: np.ndarray  # (4,) fraction of list
    distributor_open: np.ndarray  # (D + 1,) bool
    resale_price: np.ndarray  # (D + 1,) fraction of list
    promotion_cut: np.ndarray  # (P,)
    price_weight: float
    relationship_weight: float
    effort_weight: float
    habit_weight: float
    non_adopter_ecommerce_penalty: float
    digital_ordering_utility: float
    competitor_utility: float


def choice_terms(
    rules: BuyerRules,
    *,
    distributor_open: np.ndarray,
    resale_price: np.ndarray,
    sell_through_discount: np.ndarray,
) -> ChoiceTerms:
    """The logit's terms this week: the rules, the open distributors, their prices, promotions."""
    choice = rules.market.choice
    return ChoiceTerms(
        preference=rules.preference.astype(float),
        segment_open=rules.segment_open,
        realisation=rules.realisation.astype(float),
        distributor_open=np.asarray(distributor_open, dtype=bool),
        resale_price=np.asarray(resale_price, dtype=float),
        promotion_cut=rules.promotion_pass_through * np.asarray(sell_through_discount, float),
        price_weight=float(choice.price_weight),
        relationship_weight=float(choice.relationship_weight),
        effort_weight=float(choice.effort_weight),
        habit_weight=float(choice.habit_weight),
        non_adopter_ecommerce_penalty=float(choice.non_adopter_ecommerce_penalty),
        digital_ordering_utility=float(choice.digital_ordering_utility)
        if rules.digital_ordering
        else 0.0,
        competitor_utility=float(choice.competitor_utility),
    )


@dataclass
class Needs:
    """The week's needs that reached one of our channels (one row per buyer x product)."""

    buyer: np.ndarray
    product: np.ndarray
    units: np.ndarray
    orders: np.ndarray  # orders of the line this week (>= 1; units cover all of them)
    channel: np.ndarray
    price: np.ndarray  # fraction of list the buyer pays
    touched: np.ndarray  # (n, 4) other channels worked for the same need
    filled: np.ndarray  # share of units delivered
    incidents: np.ndarray  # unresolved conflicts per need
    taken: np.ndarray  # the plan moved this buyer x product off its distributor this week

    def keep(self, rows: np.ndarray) -> None:
        """Keep only the needs where ``rows`` is True."""
        for name in ("buyer", "product", "units", "orders", "channel", "price", "taken"):
            setattr(self, name, getattr(self, name)[rows])
        self.touched = np.compress(rows, self.touched, axis=0)
        self.filled = self.filled[rows]
        self.incidents = self.incidents[rows]


# --------------------------------------------------------------------------- set-up


def initial_channel_probabilities(
    pop: Population, rules: BuyerRules, *, distributors: bool
) -> np.ndarray:
    """(N, P, 5) logit probabilities of the four channels and the competitor at week 0.

    Before any buyer has a distributor, the distributor channel is open to every segment
    that allows it when the network has ``distributors``, at its price realisation.
    """
    n, n_products = pop.units_per_order.shape
    terms = choice_terms(
        rules,
        distributor_open=np.array([distributors]),  # slot -1: the buyer's future distributor
        resale_price=rules.realisation[DISTRIBUTOR : DISTRIBUTOR + 1],
        sell_through_discount=np.zeros(n_products),
    )
    probabilities = np.empty((n, n_products, COMPETITOR + 1))
    _initial_probabilities(n, ChoiceColumns.of(pop), terms, probabilities)
    return probabilities


@kernel
def _initial_probabilities(
    cols: ChoiceColumns, terms: ChoiceTerms, probabilities: np.ndarray
) -> None:
    n, n_products, k = probabilities.shape
    for block in prange(blocks(n)):
        alternatives = np.ones(k, dtype=np.bool_)
        price = np.empty(COMPETITOR)
        utility = np.empty(k)
        for b in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            _open_row(cols, terms, b, alternatives)
            for p in range(n_products):
                price_row(cols, terms, b, p, 0, price)
                _utility_row(cols, terms, b, p, price, utility)
                total = logit_weights(utility, alternatives, probabilities[b, p])
                probabilities[b, p] /= total


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
    orders_a_year = 52.0 * pop.orders_per_week
    if buyer is not None:
        return pop.units_per_order[buyer, product] * orders_a_year[buyer] * list_price[product]
    return pop.units_per_order * orders_a_year[:, None] * list_price


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


@njit(cache=True, inline="always")
def geometric(u: float, p: float) -> int:
    """Weeks (>= 1) to the next event of a weekly Bernoulli(``p``) process; NEVER if p = 0.

    Inverse CDF of the geometric distribution at ``u`` in [0, 1).
    """
    if p <= 0.0:
        return NEVER
    return min(NEVER, int(np.floor(np.log1p(-u) / np.log1p(-p))) + 1)


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
def poisson(mean: float, u: float) -> int:
    """Poisson(``mean``) by inverting its CDF at ``u`` in [0, 1).

    Sequential search: the weekly means here are around 1 or less.
    """
    k = 0
    probability = np.exp(-mean)
    cumulative = probability
    while u >= cumulative and probability > 0.0:
        k += 1
        probability *= mean / k
        cumulative += probability
    return k


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


def choose_channels(
    pop: Population,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each need's open channels, their prices and the logit's choice (ODD §7.3).

    ``key`` is the ``choice`` stream's counter key: the need of buyer ``b`` for product ``p``
    in week ``t`` draws ``uniform(key, b, t, p, 0)``, whatever thread serves it.

    Returns
    -------
    open_
        (n, 4) our channels that may serve each need.
    price
        (n, 4) price each channel would charge, as a fraction of list.
    choice
        (n,) the chosen channel, ``COMPETITOR`` for the competitor's line.
    """
    n = len(buyer)
    open_ = np.empty((n, COMPETITOR), dtype=bool)
    price = np.empty((n, COMPETITOR))
    choice = np.empty(n, dtype=np.int64)
    _choose(n, ChoiceColumns.of(pop), terms, buyer, product, week, key, open_, price, choice)
    return open_, price, choice


def channel_prices(
    pop: Population,
    rules: BuyerRules,
    buyer: np.ndarray,
    product: np.ndarray | int,
    week: int,
    sell_through_discount: np.ndarray,
    resale_price: np.ndarray,
) -> np.ndarray:
    """(n, 4) price each channel would charge, as a fraction of list (ODD §7.3, "Prices").

    The distributor channel charges the buyer's own distributor's resale price
    (``resale_price``: one per distributor, then the slot index -1 reads for buyers without
    one). A sell-through promotion lowers it by the passed-through share of the discount; a
    campaign offer lowers the offering channel's price on the products it covers.
    """
    terms = choice_terms(
        rules,
        distributor_open=np.ones(len(resale_price), dtype=bool),
        resale_price=resale_price,
        sell_through_discount=sell_through_discount,
    )
    product = np.broadcast_to(np.asarray(product, dtype=np.int64), np.shape(buyer))
    price = np.empty((len(buyer), COMPETITOR))
    _prices(len(buyer), ChoiceColumns.of(pop), terms, buyer, product, week, price)
    return price


BLOCK = 2048
"""Needs per parallel block. Blocks run on whichever thread is free; every draw is a function
of the need (counter-based), so results do not depend on which thread ran what."""


@njit(cache=True, inline="always")
def blocks(n: int) -> int:
    """Blocks of ``BLOCK`` items covering ``n``."""
    return (n + BLOCK - 1) // BLOCK


@njit(cache=True, inline="always")
def _open_row(cols: ChoiceColumns, terms: ChoiceTerms, b: int, out: np.ndarray) -> None:
    """Channels open to buyer ``b``: its segment's, where it has a rep or an open distributor."""
    segment = cols.segment[b]
    for c in range(COMPETITOR):
        out[c] = terms.segment_open[segment, c]
    out[FIELD] = out[FIELD] and cols.field_rep[b] >= 0
    out[INSIDE] = out[INSIDE] and cols.inside_rep[b] >= 0
    out[DISTRIBUTOR] = out[DISTRIBUTOR] and terms.distributor_open[cols.distributor[b]]


@njit(cache=True, inline="always")
def price_row(
    cols: ChoiceColumns, terms: ChoiceTerms, b: int, p: int, week: int, out: np.ndarray
) -> None:
    """Prices of the four channels for buyer ``b``'s need of product ``p``."""
    for c in range(COMPETITOR):
        out[c] = terms.realisation[c]
    out[DISTRIBUTOR] = terms.resale_price[cols.distributor[b]] * (1.0 - terms.promotion_cut[p])
    offer = cols.offer_channel[b]
    covered = (cols.offer_products[b] >> np.uint64(p)) & np.uint64(1)
    if offer >= 0 and cols.offer_until[b] >= week and covered:
        out[offer] *= 1.0 - cols.offer_discount[b]


@njit(cache=True, inline="always")
def _utility_row(
    cols: ChoiceColumns, terms: ChoiceTerms, b: int, p: int, price: np.ndarray, out: np.ndarray
) -> None:
    """Utilities of the four channels and the competitor (ODD §7.3, "Utility")."""
    segment = cols.segment[b]
    effort = np.float64(cols.effort[b])
    for c in range(COMPETITOR):
        out[c] = (
            terms.preference[segment, c]
            - terms.price_weight * (price[c] - 1.0)
            + terms.relationship_weight * cols.relationship[b, c]
        )
        if ASSISTED[c]:
            out[c] -= terms.effort_weight * effort
    habit = cols.current_channel[b, p]
    if habit >= 0:
        out[habit] += terms.habit_weight
    if cols.adopter[b]:
        out[DISTRIBUTOR] += terms.digital_ordering_utility
    else:
        out[ECOMMERCE] -= terms.non_adopter_ecommerce_penalty
    out[COMPETITOR] = terms.competitor_utility + terms.effort_weight * effort


@njit(cache=True, inline="always")
def logit_weights(utility: np.ndarray, open_: np.ndarray, out: np.ndarray) -> float:
    """``exp(U_c - max U)`` over the open alternatives into ``out`` (0 if closed); their sum.

    The sum is 0 when nothing is open.
    """
    top = -np.inf
    for j in range(len(utility)):
        if open_[j] and utility[j] > top:
            top = utility[j]
    total = 0.0
    for j in range(len(utility)):
        out[j] = np.exp(utility[j] - top) if open_[j] else 0.0
        total += out[j]
    return total


@njit(cache=True, inline="always")
def logit_draw(utility: np.ndarray, open_: np.ndarray, uniform: float, weights: np.ndarray) -> int:
    """One multinomial-logit choice by inverse CDF with ``uniform`` in [0, 1); -1 if none open.

    ``weights`` is scratch space of the same length as ``utility``.
    """
    total = logit_weights(utility, open_, weights)
    target = uniform * total
    cumulative = 0.0
    chosen = -1
    for j in range(len(utility)):
        if weights[j] > 0.0:
            cumulative += weights[j]
            chosen = j
            if target < cumulative:
                break
    return chosen


@kernel
def _choose(
    cols: ChoiceColumns,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
    open_: np.ndarray,
    price: np.ndarray,
    choice: np.ndarray,
) -> None:
    n = len(buyer)
    for block in prange(blocks(n)):
        utility = np.empty(COMPETITOR + 1)
        weights = np.empty(COMPETITOR + 1)
        alternatives = np.ones(COMPETITOR + 1, dtype=np.bool_)  # the competitor is always open
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            b, p = buyer[i], product[i]
            _open_row(cols, terms, b, open_[i])
            price_row(cols, terms, b, p, week, price[i])
            _utility_row(cols, terms, b, p, price[i], utility)
            alternatives[:COMPETITOR] = open_[i]
            choice[i] = logit_draw(utility, alternatives, uniform(key, b, week, p, 0), weights)


@kernel
def _prices(
    cols: ChoiceColumns,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    price: np.ndarray,
) -> None:
    for i in prange(len(buyer)):
        price_row(cols, terms, buyer[i], product[i], week, price[i])


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


def lose(pop: Population, buyers: np.ndarray, week: int) -> None:
    """Lose ``buyers`` to a competitor."""
    pop.status[buyers] = CHURNED
    pop.churn_week[buyers] = week
