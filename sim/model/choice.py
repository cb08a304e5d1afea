"""The channel logit: which of our channels may serve a need, at what price, and the choice.

A need's utilities (ODD §7.3, "Open channels" to "Utility") are read from the population's
columns (:class:`ChoiceColumns`) and the week's terms (:class:`ChoiceTerms`: the segment
constants, prices, the open distributors and their resale prices, promotions); the choice is a
multinomial logit over the open channels and the competitor's line, drawn by inverse CDF from
counter-based uniforms (``sim.model.draws``). Compiled once for the week-0 probabilities, the
weekly choice and the prices the conflict rules compare.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from sim.channels import ASSISTED, COMPETITOR, DISTRIBUTOR, ECOMMERCE, FIELD, INSIDE
from sim.model.buyers import BuyerRules
from sim.model.draws import BLOCK, blocks, uniform
from sim.model.kernel import records_kernel
from sim.model.population import Population


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


def initial_channel_probabilities(
    pop: Population, rules: BuyerRules, *, distributors: bool
) -> np.ndarray:
    """(N, P, 5) logit probabilities of the four channels and the competitor at week 0.

    Before any buyer has a distributor, the distributor channel is open to every segment
    that allows it when the network has ``distributors``, at its price realisation.
    """
    terms = choice_terms(
        rules,
        distributor_open=np.array([distributors]),  # slot -1: the buyer's future distributor
        resale_price=rules.realisation[DISTRIBUTOR : DISTRIBUTOR + 1],
        sell_through_discount=np.zeros(pop.units_per_order.shape[1]),
    )
    return channel_probabilities(pop, terms)


def channel_probabilities(pop: Population, terms: ChoiceTerms) -> np.ndarray:
    """(N, P, 5) each buyer x product's logit probabilities under ``terms``, before any offer.

    The probabilities the weekly choice (:func:`choose_channels`) draws from, for a need of
    every product of every buyer, with the population's current channels, relationships and
    distributors.
    """
    n, n_products = pop.units_per_order.shape
    probabilities = np.empty((n, n_products, COMPETITOR + 1))
    _probabilities(n, ChoiceColumns.of(pop), terms, probabilities)
    return probabilities


@records_kernel
def _probabilities(cols: ChoiceColumns, terms: ChoiceTerms, probabilities: np.ndarray) -> None:
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


def choose_channels(
    pop: Population,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    distributor_probability
        (n,) the logit's probability of the distributor channel: what a distributor expects
        to win of its accounts' needs.
    """
    n = len(buyer)
    open_ = np.empty((n, COMPETITOR), dtype=bool)
    price = np.empty((n, COMPETITOR))
    choice = np.empty(n, dtype=np.int64)
    distributor_probability = np.empty(n)
    _choose(
        n,
        ChoiceColumns.of(pop),
        terms,
        buyer,
        product,
        week,
        key,
        (open_, price, choice, distributor_probability),
    )
    return open_, price, choice, distributor_probability


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


@records_kernel
def _choose(
    cols: ChoiceColumns,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    key: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    open_, price, choice, distributor_probability = out
    n = len(buyer)
    for block in prange(blocks(n)):
        # Rows are built in scratch arrays, then copied: a view of a row per need costs ten
        # times the need's arithmetic in the serial compilation.
        utility = np.empty(COMPETITOR + 1)
        weights = np.empty(COMPETITOR + 1)
        alternatives = np.ones(COMPETITOR + 1, dtype=np.bool_)  # the competitor is always open
        row_price = np.empty(COMPETITOR)
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            b, p = buyer[i], product[i]
            _open_row(cols, terms, b, alternatives)
            price_row(cols, terms, b, p, week, row_price)
            _utility_row(cols, terms, b, p, row_price, utility)
            for c in range(COMPETITOR):
                open_[i, c] = alternatives[c]
                price[i, c] = row_price[c]
            choice[i] = logit_draw(utility, alternatives, uniform(key, b, week, p, 0), weights)
            distributor_probability[i] = weights[DISTRIBUTOR] / weights.sum()


@records_kernel
def _prices(
    cols: ChoiceColumns,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    week: int,
    price: np.ndarray,
) -> None:
    n = len(buyer)
    for block in prange(blocks(n)):
        row_price = np.empty(COMPETITOR)
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            price_row(cols, terms, buyer[i], product[i], week, row_price)
            for c in range(COMPETITOR):
                price[i, c] = row_price[c]
