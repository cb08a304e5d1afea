"""Customer equity: what the accounts still active are worth beyond the current week.

A plan that loses accounts late must not look free because the horizon ends. Each active
account ``i`` is worth its expected weekly contribution ``m_i`` at its current channel mix,
kept while it survives its weekly churn hazard ``h_i`` and discounted at ``d = (1 + r) **
(-1 / 52)`` a week (docs/ODD.md, "Terminal value")::

    CE = sum_i m_i * sum_{k >= 1} a_i ** k = sum_i m_i * min(a_i / (1 - a_i), K),
    a_i = (1 - h_i) d,

with ``K`` a century of weeks, a cap that binds only with neither churn nor discounting.

``m_i = sum_p u_ip λ_i w_ps c_psk``: units per order ``u``, orders a week ``λ``, the
share ``w`` of the segment's needs for the product that we win (not lost to a competitor's
line), and the contribution per unit ``c`` of the product x segment x channel line ``k`` the
account last ordered through, from the channel P&L so far (its costs that no line carries,
such as headcount and platforms, are fixed and left out). ``h_i`` is the account's churn hazard
at its effort now (``buyers.churn``), or, for an account with a purchase process, the chance
that it drops out after one of the orders it places in a week (``buyers.drop_out``).
"""

from __future__ import annotations

import numpy as np

from sim.model.books import PNL_ITEMS, Books
from sim.model.buyers import BuyerRules
from sim.model.population import ACTIVE, Population, weekly_probability

HORIZON_WEEKS = 100 * 52
"""Cap on an account's annuity, in weeks of contribution (a century)."""

_COSTS = [i for i, name in enumerate(PNL_ITEMS) if name not in ("units", "revenue", "cogs")]


def line_contribution_per_unit(books: Books) -> np.ndarray:
    """(P, S, C) contribution margin per unit of each line so far (0 where none sold)."""
    lines = books.pnl[:, :-1, :-1, :-1]
    units = lines[PNL_ITEMS.index("units")]
    margin = (
        lines[PNL_ITEMS.index("revenue")]
        - lines[PNL_ITEMS.index("cogs")]
        - lines[_COSTS].sum(axis=0)
    )
    return np.divide(margin, units, out=np.zeros_like(margin), where=units > 0)


def win_share(books: Books) -> np.ndarray:
    """(P, S) share of needs' units we served so far (1 before any need)."""
    served = books.pnl[PNL_ITEMS.index("units"), :-1, :-1, :-1].sum(axis=2)
    demand = served + books.lost_units_by_line[:-1, :-1]
    return np.divide(served, demand, out=np.ones_like(served), where=demand > 0)


def weekly_hazard(pop: Population, rules: BuyerRules, buyers: np.ndarray) -> np.ndarray:
    """Probability that each of ``buyers`` is lost in a week, at its effort now."""
    multiplier = 1.0 + (rules.market.effort_churn_multiplier - 1.0) * pop.effort[buyers]
    churn = weekly_probability(rules.churn_hazard_annual * multiplier)
    dropout = pop.dropout[buyers]
    if not dropout.any():
        return churn
    rows = np.flatnonzero(dropout > 0)
    lines = (pop.units_per_order[buyers[rows]] > 0).sum(axis=1)
    stays = expected_power_of_orders(
        1.0 - np.minimum(dropout[rows] * multiplier[rows], 1.0),
        pop.orders_per_week[buyers[rows]],
        lines,
    )
    hazard = churn.copy()
    hazard[rows] = 1.0 - stays
    return hazard


def expected_power_of_orders(s: np.ndarray, rate: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """``E[s ** K]`` for ``K`` the most orders on any of ``lines`` Poisson(``rate``) lines.

    ``P(K <= j) = F(j) ** lines`` with ``F`` the Poisson CDF, so
    ``E[s ** K] = sum_j s ** j (F(j) ** lines - F(j - 1) ** lines)``, summed over ``j`` until
    the tail is below double precision (the Poisson terms by their recurrence).
    """
    expected = np.zeros(len(rate))
    term = np.exp(-rate)  # P(one line has j orders), from j = 0
    cdf, below, power = term.copy(), np.zeros(len(rate)), np.ones(len(rate))
    top = float(rate.max()) + 12.0 * np.sqrt(float(rate.max())) + 20.0 if len(rate) else 0.0
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
    """Discounted expected future contribution of the active accounts, in this week's money.

    ``Σ_i Σ_p u_ip q_i A_i w_ps c_psk`` is summed line by line: each product's expected units
    weighted by the accounts' annuities ``A_i`` are totalled per segment x channel (one
    bincount over the buyers per product), then valued at the line's contribution per unit.
    """
    active = pop.status == ACTIVE
    if not active.any():
        return 0.0
    per_unit = line_contribution_per_unit(books) * win_share(books)[:, :, None]
    n_products, n_segments, n_channels = per_unit.shape
    keep = (1.0 - weekly_hazard(pop, rules, np.arange(pop.size))) * (
        1.0 + discount_rate_annual
    ) ** (-1 / 52)
    weight = np.where(active, pop.orders_per_week * annuity(keep), 0.0)
    # Slot 0 of each segment takes the lines never bought (channel -1): worth nothing.
    base = pop.segment.astype(np.intp) * (n_channels + 1) + 1
    value = np.zeros((n_segments, n_channels + 1))
    total = 0.0
    for p in range(n_products):
        units = np.bincount(
            base + pop.current_channel[:, p],
            weights=pop.units_per_order[:, p] * weight,
            minlength=value.size,
        ).reshape(value.shape)
        total += float((units[:, 1:] * per_unit[p]).sum())
    return total


def annuity(keep: np.ndarray) -> np.ndarray:
    """``Σ_{k>=1} keep ** k = keep / (1 - keep)``, capped at ``HORIZON_WEEKS``.

    The cap only binds without churn or discounting, where the sum would not converge.
    """
    with np.errstate(divide="ignore"):
        return np.minimum(keep / (1.0 - keep), HORIZON_WEEKS)
