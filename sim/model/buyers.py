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
from typing import Any

import numpy as np

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
    everyone = np.arange(n)
    any_distributor = np.array([distributors])  # slot -1: the buyer's future distributor
    open_ = np.column_stack(
        [open_channels(pop, rules, everyone, any_distributor), np.ones(n, dtype=bool)]
    )
    no_promotion = np.zeros(n_products)
    resale = rules.realisation[DISTRIBUTOR : DISTRIBUTOR + 1]
    probabilities = np.zeros((n, n_products, COMPETITOR + 1))
    for p in range(n_products):
        product = np.full(n, p)
        prices = channel_prices(pop, rules, everyone, product, 0, no_promotion, resale)
        utility = utilities(pop, rules, everyone, product, prices)
        # Row max and row sum column by column: the same values as .max(axis=1) and
        # .sum(axis=1) (sequential adds), without numpy's slow reductions of a short axis.
        top = utility[:, 0].copy()
        for j in range(1, utility.shape[1]):
            np.maximum(top, utility[:, j], out=top)
        weights = np.where(open_, np.exp(utility - top[:, None]), 0.0)
        total = weights[:, 0].copy()
        for j in range(1, weights.shape[1]):
            total += weights[:, j]
        probabilities[:, p] = weights / total[:, None]
    return probabilities


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


def adopt_ecommerce(
    pop: Population, rules: BuyerRules, week: int, rng: np.random.Generator
) -> None:
    """Bass adoption by thinning: checks at the maximum hazard, accepted at the actual one."""
    due = np.flatnonzero(pop.next_adoption_check == week)
    pop.next_adoption_check[due] = np.minimum(
        week + geometric_weeks(rng, rules.adoption_check_probability, len(due)), NEVER
    )
    active = pop.status == ACTIVE
    n_active = np.count_nonzero(active)
    share = np.count_nonzero(pop.adopter & active) / n_active if n_active else 0.0
    bass = rules.market.ecommerce_adoption
    hazard = weekly_probability(bass.p + bass.q * share)
    accept = rng.random(len(due)) * rules.adoption_check_probability < hazard
    pop.adopter[due[accept & active[due]]] = True


def arriving_needs(
    pop: Population, rules: BuyerRules, week: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buyer, product, orders) of the needs due this week among active buyers.

    A line's orders arrive as a Poisson process at ``λ = orders_per_week``; a week with at
    least one is a need (the next comes after a geometric gap at ``1 - exp(-λ)``), and its
    number of orders is Poisson(λ) given at least one (:func:`orders_in_week`).
    """
    n_products = pop.next_need.shape[1]
    flat = np.flatnonzero(pop.next_need.ravel() == week)
    buyer, product = np.divmod(flat, n_products)
    rate = pop.orders_per_week[buyer]
    gap = geometric_weeks(rng, -np.expm1(-rate), len(flat))
    pop.next_need.ravel()[flat] = np.minimum(week + gap, NEVER)
    orders = orders_in_week(rate, rng)
    active = pop.status[buyer] == ACTIVE
    return np.compress(active, buyer), np.compress(active, product), np.compress(active, orders)


def orders_in_week(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Orders of a Poisson process at ``rate`` a week in a week known to have at least one.

    Exact: the first order comes at ``T`` ~ Exp(rate) truncated to the week (inverse CDF), and
    the rest of the week holds Poisson(rate (1 - T)) more.
    """
    u = rng.random(len(rate))
    first = -np.log1p(u * np.expm1(-rate)) / np.maximum(rate, 1e-300)
    return 1 + rng.poisson(rate * np.maximum(1.0 - first, 0.0))


def open_channels(
    pop: Population, rules: BuyerRules, buyer: np.ndarray, distributor_open: np.ndarray
) -> np.ndarray:
    """(n, 4) our channels that may serve each buyer.

    Its segment's channels, where it has a rep (field, inside) or an open distributor
    (``distributor_open[-1]`` is False: index -1 means no distributor).
    """
    open_ = np.take(rules.segment_open, pop.segment[buyer], axis=0)  # a new array
    open_[:, FIELD] &= pop.field_rep[buyer] >= 0
    open_[:, INSIDE] &= pop.inside_rep[buyer] >= 0
    open_[:, DISTRIBUTOR] &= distributor_open[pop.distributor[buyer]]
    return open_


def channel_prices(
    pop: Population,
    rules: BuyerRules,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    sell_through_discount: np.ndarray,
    resale_price: np.ndarray,
) -> np.ndarray:
    """(n, 4) price each channel would charge, as a fraction of list.

    The distributor channel charges the buyer's own distributor's resale price
    (``resale_price``: one per distributor, then the slot index -1 reads for buyers without
    one). A sell-through promotion lowers it by the passed-through share of the discount; a
    campaign offer lowers the offering channel's price on the products it covers.
    """
    price = np.tile(rules.realisation, (len(buyer), 1))
    price[:, DISTRIBUTOR] = resale_price[pop.distributor[buyer]]
    if sell_through_discount.any():  # otherwise a multiplication by exactly 1
        price[:, DISTRIBUTOR] *= 1.0 - rules.promotion_pass_through * sell_through_discount[product]
    has_offer = (pop.offer_channel[buyer] >= 0) & (pop.offer_until[buyer] >= week)
    rows = np.flatnonzero(has_offer)
    covered = (pop.offer_products[buyer[rows]] >> product[rows].astype(np.uint64)) & np.uint64(1)
    rows = rows[covered.astype(bool)]
    price[rows, pop.offer_channel[buyer[rows]]] *= 1.0 - pop.offer_discount[buyer[rows]]
    return price


def utilities(
    pop: Population,
    rules: BuyerRules,
    buyer: np.ndarray,
    product: np.ndarray,
    prices: np.ndarray,
) -> np.ndarray:
    """(n, 5) logit utilities of the four channels and the competitor's line (ODD "Choice")."""
    choice = rules.market.choice
    effort = pop.effort[buyer, None].astype(float)
    utility = np.empty((len(buyer), COMPETITOR + 1))
    utility[:, :COMPETITOR] = (
        # np.take(..., axis=0) gathers rows ~4x faster than fancy indexing, same values
        np.take(rules.preference, pop.segment[buyer], axis=0)
        - choice.price_weight * (prices - 1.0)
        + choice.relationship_weight * np.take(pop.relationship, buyer, axis=0)
        - choice.effort_weight * effort * ASSISTED
    )
    current = take_cells(pop.current_channel, buyer, product)
    habit = np.flatnonzero(current >= 0)
    put_cells(
        utility,
        habit,
        current[habit],
        take_cells(utility, habit, current[habit]) + choice.habit_weight,
    )
    utility[:, ECOMMERCE] -= choice.non_adopter_ecommerce_penalty * ~pop.adopter[buyer]
    if rules.digital_ordering:
        utility[:, DISTRIBUTOR] += choice.digital_ordering_utility * pop.adopter[buyer]
    utility[:, COMPETITOR] = choice.competitor_utility + choice.effort_weight * effort[:, 0]
    return utility


def choose_channels(
    utility: np.ndarray, open_channels: np.ndarray, uniform: np.ndarray
) -> np.ndarray:
    """Sample one choice per row of a multinomial logit.

    Parameters
    ----------
    utility
        (n, k) systematic utilities.
    open_channels
        (n, k) booleans; closed alternatives have probability 0.
    uniform
        (n,) uniforms in [0, 1), one per choice (inverse-CDF sampling keeps common random
        numbers aligned across policies).

    Returns
    -------
    (n,) index of the chosen alternative, or -1 where nothing is open.

    """
    # Column by column on (n,) arrays: the same sums in the same order as a row-wise cumsum
    # (so the same choices), without numpy's slow reductions along a short last axis.
    n, k = utility.shape
    columns = np.where(open_channels, utility, -np.inf).T
    top = columns[0].copy()
    for j in range(1, k):
        np.maximum(top, columns[j], out=top)
    top[~np.isfinite(top)] = 0.0
    cumulative = np.empty((k, n))
    weight = np.empty(n)
    np.exp(np.subtract(columns[0], top, out=cumulative[0]), out=cumulative[0])
    for j in range(1, k):
        np.exp(np.subtract(columns[j], top, out=weight), out=weight)
        np.add(cumulative[j - 1], weight, out=cumulative[j])
    total = cumulative[-1]
    choice = (cumulative < uniform * total).sum(axis=0)
    return np.where(total > 0, np.minimum(choice, k - 1), -1)


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
    rules: BuyerRules, open_: np.ndarray, channel: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n, 4) other open channels the buyer also worked for the same need (ODD "Journey")."""
    touched = open_ & (rng.random(open_.shape) < rules.market.journey.extra_touch_prob)
    touched[np.arange(len(channel)), channel] = False
    return touched


# --------------------------------------------------------------------------- phases 6 and 7


def remember_orders(pop: Population, needs: Needs, week: int) -> None:
    """After the orders: quotes of assisted direct channels, relationship lift, habit."""
    b, c = needs.buyer, needs.channel
    assisted_direct = np.flatnonzero((c == FIELD) | (c == INSIDE))
    quoted = b[assisted_direct]
    pop.quote_channel[quoted] = c[assisted_direct]
    pop.quote_price[quoted] = needs.price[assisted_direct]
    pop.quote_week[quoted] = week
    rel = take_cells(pop.relationship, b, c)
    put_cells(pop.relationship, b, c, rel + ORDER_LIFT * (1.0 - rel))
    put_cells(pop.current_channel, b, needs.product, c)


def live_with_experience(pop: Population, rules: BuyerRules, needs: Needs) -> None:
    """Effort rises with unresolved incidents and stock-outs, falls with clean orders."""
    effort_cfg = rules.market.effort
    stockout = needs.filled < 1.0
    friction = needs.incidents * effort_cfg.per_conflict + stockout * effort_cfg.per_stockout
    rough = friction > 0
    b = needs.buyer
    np.add.at(pop.effort, b[rough], friction[rough].astype(np.float32))
    np.minimum(pop.effort, 1.0, out=pop.effort)
    pop.effort[b[~rough]] *= 1.0 - effort_cfg.recovery_per_order
    pop.satisfaction[b] += SATISFACTION_UPDATE * ((~rough).astype(np.float32) - pop.satisfaction[b])


def drop_out(
    pop: Population, rules: BuyerRules, needs: Needs, week: int, rng: np.random.Generator
) -> None:
    """BG/NBD dropout: after each order, an account may stop buying for good.

    Its own probability ``p`` is raised by effort as the churn hazard is:
    ``p (1 + (m - 1) effort)`` with ``m = effort_churn_multiplier`` (capped at 1). An account
    that placed ``K`` orders this week (the most on any of its lines: the week's j-th orders
    of its lines ship together) stays with probability ``(1 - p (1 + (m - 1) effort)) ** K``.
    Only accounts with a purchase process have ``p > 0``.
    """
    ordered, line = np.unique(needs.buyer, return_inverse=True)
    orders = np.zeros(len(ordered), dtype=np.int64)
    np.maximum.at(orders, line.reshape(-1), needs.orders)
    keep = pop.dropout[ordered] > 0
    ordered, orders = ordered[keep], orders[keep]
    if len(ordered) == 0:
        return
    multiplier = 1.0 + (rules.market.effort_churn_multiplier - 1.0) * pop.effort[ordered]
    stays = (1.0 - np.minimum(pop.dropout[ordered] * multiplier, 1.0)) ** orders
    leaves = rng.random(len(ordered)) < 1.0 - stays
    lose(pop, ordered[leaves & (pop.status[ordered] == ACTIVE)], week)


def churn(pop: Population, rules: BuyerRules, week: int, rng: np.random.Generator) -> None:
    """Churn by thinning: checks at the hazard for full effort, accepted at the buyer's own.

    Weekly hazard ``1 - exp(-h (1 + (m - 1) effort) / 52)`` with ``h = churn_hazard_annual``
    and ``m = effort_churn_multiplier``.
    """
    due = np.flatnonzero(pop.next_churn_check == week)
    pop.next_churn_check[due] = np.minimum(
        week + geometric_weeks(rng, rules.churn_check_probability, len(due)), NEVER
    )
    multiplier = 1.0 + (rules.market.effort_churn_multiplier - 1.0) * pop.effort[due]
    hazard = weekly_probability(rules.churn_hazard_annual * multiplier)
    leaves = (rng.random(len(due)) * rules.churn_check_probability < hazard) & (
        pop.status[due] == ACTIVE
    )
    lose(pop, due[leaves], week)


def lose(pop: Population, buyers: np.ndarray, week: int) -> None:
    """Lose ``buyers`` to a competitor."""
    pop.status[buyers] = CHURNED
    pop.churn_week[buyers] = week
