"""Each distributor's book of our lines, and what it expects of it (phase 8).

A distributor's book is the buyer x product lines of its active accounts last bought through
it and not converted to its competitor's line. Its outlook over the planning horizon: the keep
share (value-weighted :meth:`DistributorNetwork.line_keep_share`), the keep share of its most
threatened line, and the share that would follow it if it dropped our line (value-weighted
:meth:`DistributorNetwork.follow_probability`).

The book is read in one compiled pass over the buyers (:func:`_read_books`): a line's keep
share depends only on its distributor, product and segment (a table of at most D x P x S
values, built in numpy), except for a deal the distributor registered and still protects,
whose keep share is computed line by line; the follow probability depends on the buyer's
relationships, so it is evaluated once per buyer on a book. Lines are visited in row order and
summed in that order, the order ``numpy.bincount`` sums them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numba
import numpy as np
from numba import njit, prange

from sim.channels import CHANNELS, DIRECT, DISTRIBUTOR
from sim.model.kernel import records_kernel
from sim.model.population import ACTIVE

if TYPE_CHECKING:
    from sim.model.distributors.network import DistributorNetwork

_DIRECT = np.array([CHANNELS.index(c) for c in DIRECT], dtype=np.int64)


class BookColumns(NamedTuple):
    """What the pass reads of the buyers (the population's arrays, no copies)."""

    status: np.ndarray
    distributor: np.ndarray
    segment: np.ndarray
    current_channel: np.ndarray
    alternative_line: np.ndarray
    relationship: np.ndarray
    weekly_value: np.ndarray  # (N, P) expected weekly value at list


class BookTerms(NamedTuple):
    """The week's terms of a line's keep share and follow probability."""

    keep_table: np.ndarray  # (P, S, D) keep share of an unprotected line
    protected_line: np.ndarray  # flat indices (row order) of protected registered deals
    protected_keep: np.ndarray  # their keep shares
    not_our_share: np.ndarray  # (D,) 1 - line_share: how far lines can follow it
    follow_intercept: float
    follow_weight: float


def line_outlook(
    network: DistributorNetwork, week: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What each distributor expects of its our-line book: keep, lowest keep, follow shares.

    Keep share = ``sum v x keep / sum v`` (``v`` the line's weekly value at list); lowest
    keep = that of its most threatened line (1 without a book); follow share = ``sum v x
    follow / sum v``; and the book's value ``sum v``, what its lines are expected to order a
    week at list.
    """
    pop, cfg = network.pop, network.cfg
    count = len(network.agents)
    keep, lowest, follow = np.ones(count), np.ones(count), np.zeros(count)
    if not count:
        return keep, lowest, follow, np.zeros(count)
    columns = BookColumns(
        pop.status,
        pop.distributor,
        pop.segment,
        pop.current_channel,
        pop.alternative_line,
        pop.relationship,
        network.weekly_value,
    )
    terms = BookTerms(
        network.keep_table(week),
        *_protected_lines(network, week),
        1.0 - network.state.line_share,
        float(cfg.follow_intercept),
        float(cfg.follow_weight),
    )
    sums = np.zeros((3, count))  # book value, value x keep, value x follow
    parts = numba.get_num_threads()  # the sums do not depend on it
    _read_books(pop.size, parts, columns, terms, sums, lowest)
    book, kept, follows = sums
    has_book = book > 0
    keep[has_book] = kept[has_book]
    keep[has_book] /= book[has_book]
    follow[has_book] = follows[has_book] / book[has_book]
    return keep, lowest, follow, book


def _protected_lines(network: DistributorNetwork, week: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (row order) of the registered deals still protected, and their keep shares."""
    registered = network.pop.registered_until
    if not network.model.scenario.policy.deal_registration or registered.max() <= week:
        return np.empty(0, dtype=np.int64), np.empty(0)
    flat = np.flatnonzero(registered.reshape(-1) > week)
    buyer, product = np.divmod(flat, registered.shape[1])
    return flat, network.line_keep_share(week, buyer, product)


@records_kernel
def _read_books(
    parts: int, columns: BookColumns, terms: BookTerms, sums: np.ndarray, lowest: np.ndarray
) -> None:
    """Sum each distributor's book value, value x keep share and value x follow probability.

    ``follow = (1 - line_share) / (1 + exp(-(intercept + weight x (R_dist - max R_direct))))``.
    Part ``k`` of ``parts`` reads the books of distributors ``d = k mod parts``, each in row
    order, so every sum is the same whatever the number of parts or threads.
    """
    for part in prange(parts):
        _read_part(part, parts, columns, terms, sums, lowest)


@njit(cache=True, inline="always")
def _read_part(
    part: int,
    parts: int,
    columns: BookColumns,
    terms: BookTerms,
    sums: np.ndarray,
    lowest: np.ndarray,
) -> None:
    c, t = columns, terms
    n_buyers, n_products = c.current_channel.shape
    protected = t.protected_line
    next_protected = 0
    for b in range(n_buyers):
        d = c.distributor[b]
        if d < 0 or d % parts != part or c.status[b] != ACTIVE:
            continue
        follow_odds = np.nan
        for p in range(n_products):
            line = b * n_products + p
            if c.current_channel[b, p] != DISTRIBUTOR or c.alternative_line[b, p]:
                continue
            while next_protected < len(protected) and protected[next_protected] < line:
                next_protected += 1
            if next_protected < len(protected) and protected[next_protected] == line:
                line_keep = t.protected_keep[next_protected]
            else:
                line_keep = t.keep_table[p, c.segment[b], d]
            if np.isnan(follow_odds):
                direct = c.relationship[b, _DIRECT[0]]
                for channel in _DIRECT[1:]:
                    direct = max(direct, c.relationship[b, channel])
                closeness = np.float64(c.relationship[b, DISTRIBUTOR]) - np.float64(direct)
                follow_odds = t.follow_intercept + t.follow_weight * closeness
            value = c.weekly_value[b, p]
            sums[0, d] += value
            sums[1, d] += value * line_keep
            lowest[d] = min(lowest[d], line_keep)
            sums[2, d] += value * (t.not_our_share[d] / (1.0 + np.exp(-follow_odds)))
