"""Customer equity: what our customers are worth beyond the current week.

A plan that loses accounts late must not look free because the horizon ends. Each customer
``i`` (an active account with a line still bought from us) is worth its expected weekly
contribution ``m_i`` at its current channel mix, less its share ``f`` of the costs no line
carries, kept while it survives its weekly churn hazard ``h_i`` and discounted at ``d = (1 +
r) ** (-1 / 52)`` a week (docs/ODD.md, "Terminal value")::

    CE = sum_i (m_i - f) * sum_{k >= 1} a_i ** k = sum_i (m_i - f) * min(a_i / (1 - a_i), K),
    a_i = (1 - h_i) d,

with ``K`` a century of weeks, a cap that binds only with neither churn nor discounting.

``m_i = sum_p u_ip λ_i w_ps c_psk`` over the lines still ours (a line a distributor moved to
its competitor's line earns us nothing): units per order ``u``, orders a week ``λ``, the
share ``w`` of the segment's needs for the product that we win on those lines, and the
contribution per unit ``c`` of the product x segment x channel line ``k`` the account last
ordered through, from the channel P&L so far; a distributor line also carries its restocks'
cost to serve per unit sold in. ``f`` is the recent weekly cost no line carries (headcount,
platforms, coordination, campaigns; :meth:`Books.recent_fixed_cost_weekly`) per customer: in
the long run the firm's fixed costs scale with its customers (assumption). ``h_i`` is the
account's churn hazard at its effort now (``buyers.churn``), or, for an account with a
purchase process, the chance that it drops out after one of the orders it places in a week
(``buyers.drop_out``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.channels import DISTRIBUTOR
from sim.model.books import ALL, COST_ITEMS, PNL_ITEMS, Books
from sim.model.buyers import BuyerRules
from sim.model.population import Population

HORIZON_WEEKS = 100 * 52
"""Cap on an account's annuity, in weeks of contribution (a century)."""


def line_contribution_per_unit(books: Books) -> np.ndarray:
    """(P, S, C) contribution margin per unit of each line so far (0 where none sold).

    A distributor line also carries :func:`restock_cost_per_unit`: its sell-through is
    restocked, and each restock costs us to serve.
    """
    lines = books.pnl[:, :-1, :-1, :-1]
    units = lines[PNL_ITEMS.index("units")]
    margin = (
        lines[PNL_ITEMS.index("revenue")]
        - lines[PNL_ITEMS.index("cogs")]
        - lines[COST_ITEMS].sum(axis=0)
    )
    per_unit = np.divide(margin, units, out=np.zeros_like(margin), where=units > 0)
    per_unit[:, :, DISTRIBUTOR] -= restock_cost_per_unit(books)[:, None] * (
        units[:, :, DISTRIBUTOR] > 0
    )
    return per_unit


def restock_cost_per_unit(books: Books) -> np.ndarray:
    """(P,) our cost to serve the distributors' restocks per unit sold in, so far.

    Restocks post to each product's channel-stock line (segment ``all``), and sell-through
    moves units from it to the buyers' lines: the product's distributor units over every
    segment slot are its sell-in.
    """
    channel = books.pnl[:, :-1, :, DISTRIBUTOR]
    sold_in = channel[PNL_ITEMS.index("units")].sum(axis=1)
    costs = channel[COST_ITEMS, :, ALL].sum(axis=0)
    return np.divide(costs, sold_in, out=np.zeros_like(costs), where=sold_in > 0)


def win_share(books: Books) -> np.ndarray:
    """(P, S) share of needs' units we served so far (1 before any need)."""
    served = books.pnl[PNL_ITEMS.index("units"), :-1, :-1, :-1].sum(axis=2)
    demand = served + books.lost_units_by_line[:-1, :-1]
    return np.divide(served, demand, out=np.ones_like(served), where=demand > 0)


def weekly_hazard(
    pop: Population, rules: BuyerRules, buyers: np.ndarray, *, cutoff_rate: float | None = None
) -> np.ndarray:
    """Probability that each of ``buyers`` is lost in a week, at its effort now (float32).

    ``cutoff_rate``: the order rate that sets where the dropout sum stops
    (:func:`expected_power_of_orders`); by default the highest among ``buyers``' with a dropout.
    """
    slope = np.float32(rules.market.effort_churn_multiplier - 1.0)
    hazard = -np.expm1(
        _churn_exponent(pop.effort, buyers, slope, np.float32(rules.churn_hazard_annual))
    )
    dropout = pop.dropout[buyers]
    rows = np.flatnonzero(dropout > 0)
    if not len(rows):
        return hazard
    with_dropout = buyers[rows]
    multiplier = 1.0 + slope * pop.effort[with_dropout]
    lines = (pop.units_per_order[with_dropout] > 0).sum(axis=1)
    stays = expected_power_of_orders(
        1.0 - np.minimum(dropout[rows] * multiplier, 1.0),
        pop.orders_per_week[with_dropout],
        lines,
        cutoff_rate=cutoff_rate,
    )
    hazard[rows] = 1.0 - stays
    return hazard


@njit(cache=True)
def _churn_exponent(
    effort: np.ndarray, buyers: np.ndarray, slope: np.float32, hazard_annual: np.float32
) -> np.ndarray:
    """``-h (1 + slope x effort) / 52`` of each of ``buyers``, in float32 (numpy's order).

    ``weekly_probability`` of the annual churn hazard is ``-expm1`` of it; ``expm1`` stays with
    numpy (its SIMD ``expm1`` and the C library's differ in the last bit).
    """
    out = np.empty(len(buyers), dtype=np.float32)
    one, weeks = np.float32(1.0), np.float32(52.0)
    for k in range(len(buyers)):
        out[k] = -(hazard_annual * (one + slope * effort[buyers[k]])) / weeks
    return out


def expected_power_of_orders(
    s: np.ndarray, rate: np.ndarray, lines: np.ndarray, *, cutoff_rate: float | None = None
) -> np.ndarray:
    """``E[s ** K]`` for ``K`` the most orders on any of ``lines`` Poisson(``rate``) lines.

    ``P(K <= j) = F(j) ** lines`` with ``F`` the Poisson CDF, so
    ``E[s ** K] = sum_j s ** j (F(j) ** lines - F(j - 1) ** lines)``, summed over ``j`` until
    the tail is below double precision (the Poisson terms by their recurrence) at
    ``cutoff_rate`` (default: the highest ``rate``), so each value is independent of the others.
    """
    expected = np.zeros(len(rate))
    term = np.exp(-rate)  # P(one line has j orders), from j = 0
    cdf, below, power = term.copy(), np.zeros(len(rate)), np.ones(len(rate))
    most = float(rate.max()) if cutoff_rate is None and len(rate) else cutoff_rate
    top = most + 12.0 * np.sqrt(most) + 20.0 if len(rate) and most is not None else 0.0
    for j in range(int(top) + 1):
        at_most = cdf**lines
        expected += power * (at_most - below)
        below, power = at_most, power * s
        term = term * rate / (j + 1)
        cdf = cdf + term
    return expected + power * (1.0 - below)  # the vanishing tail, at its largest power


def customer_equity(
    pop: Population, rules: BuyerRules, books: Books, discount_rate_annual: float
) -> float:
    """Discounted expected future contribution of our customers, in this week's money.

    ``Σ_i Σ_p u_ip q_i A_i w_ps c_psk`` is summed line by line: each product's expected units
    weighted by the customers' annuities ``A_i`` are totalled per segment x channel (one
    compiled pass over the customers, :func:`_expected_units`), then valued at the line's
    contribution per unit; the costs no line carries are charged per customer, ``f Σ_i A_i``.
    """
    buyers, cutoff_rate = _customers(pop.customer_mask(), pop.dropout, pop.orders_per_week)
    if not len(buyers):
        return 0.0
    per_unit = line_contribution_per_unit(books) * win_share(books)[:, :, None]
    n_products, n_segments, n_channels = per_unit.shape
    hazard = weekly_hazard(
        pop, rules, buyers, cutoff_rate=cutoff_rate if cutoff_rate >= 0 else None
    )
    discount = np.float32((1.0 + discount_rate_annual) ** (-1 / 52))
    # Slot 0 of each segment takes the lines never bought (channel -1) and those on a
    # competitor's line: worth nothing to us.
    value, annuity_weeks = _expected_units(
        buyers,
        hazard,
        discount,
        (pop.orders_per_week, pop.units_per_order, pop.current_channel, pop.segment),
        pop.alternative_line,
        (n_products, n_segments, n_channels + 1),
    )
    total = 0.0
    for p in range(n_products):
        total += float((value[p][:, 1:] * per_unit[p]).sum())
    return total - books.recent_fixed_cost_weekly() / len(buyers) * annuity_weeks


@njit(cache=True)
def _customers(
    customer: np.ndarray, dropout: np.ndarray, orders_per_week: np.ndarray
) -> tuple[np.ndarray, float]:
    """The customers (ascending); the highest order rate of any account with a dropout.

    The rate is -1.0 when no account has one (it sets where the dropout sum stops for all).
    """
    buyers = np.empty(len(customer), dtype=np.int64)
    count = 0
    cutoff_rate = -1.0
    for b in range(len(customer)):
        if customer[b]:
            buyers[count] = b
            count += 1
        if dropout[b] > 0 and orders_per_week[b] > cutoff_rate:
            cutoff_rate = orders_per_week[b]
    return buyers[:count], cutoff_rate


@njit(cache=True, error_model="numpy")
def _expected_units(
    buyers: np.ndarray,
    hazard: np.ndarray,
    discount: np.float32,
    accounts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    alternative_line: np.ndarray,
    shape: tuple[int, int, int],
) -> tuple[np.ndarray, float]:
    """(P, S, C + 1) expected units a week x annuity of ``buyers``, by their current channel.

    ``accounts``: orders per week, units per order, current channel, segment; a line on a
    competitor's line (``alternative_line``) goes to slot 0 with the lines never bought. Each
    buyer's annuity is :func:`annuity` of ``keep = (1 - hazard) x discount`` in float32, as
    numpy computes it; each cell adds its buyers in ascending order from 0.0
    (``np.bincount``). Also returns the annuities' sum ``Σ_i A_i`` (weeks).
    """
    orders_per_week, units_per_order, current_channel, segment = accounts
    value = np.zeros(shape)
    annuity_weeks = 0.0
    one, cap = np.float32(1.0), np.float32(HORIZON_WEEKS)
    for k in range(len(buyers)):
        b = buyers[k]
        keep = (one - hazard[k]) * discount
        weeks = keep / (one - keep)
        weeks = cap if weeks > cap else weeks  # np.minimum: a NaN stays NaN
        annuity_weeks += np.float64(weeks)
        weight = orders_per_week[b] * np.float64(weeks)
        s = segment[b]
        for p in range(shape[0]):
            slot = 0 if alternative_line[b, p] else 1 + current_channel[b, p]
            value[p, s, slot] += units_per_order[b, p] * weight
    return value, annuity_weeks


def annuity(keep: np.ndarray) -> np.ndarray:
    """``Σ_{k>=1} keep ** k = keep / (1 - keep)``, capped at ``HORIZON_WEEKS``.

    The cap only binds without churn or discounting, where the sum would not converge.
    """
    with np.errstate(divide="ignore"):
        return np.minimum(keep / (1.0 - keep), HORIZON_WEEKS)
