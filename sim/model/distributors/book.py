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

from typing import TYPE_CHECKING

import numba
import numpy as np
from numba import njit, prange

from sim.channels import CHANNELS, DIRECT, DISTRIBUTOR
from sim.model.kernel import kernel
from sim.model.population import ACTIVE

if TYPE_CHECKING:
    from sim.model.distributors.network import DistributorNetwork

_DIRECT = np.array([CHANNELS.index(c) for c in DIRECT], dtype=np.int64)


def line_outlook(
    network: DistributorNetwork, week: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each distributor expects of its our-line book: keep, lowest keep, follow shares.

    Keep share = ``sum v x keep / sum v`` (``v`` the line's weekly value at list); lowest
    keep = that of its most threatened line (1 without a book); follow share = ``sum v x
    follow / sum v``.
    """
    pop, agents, cfg = network.pop, network.agents, network.cfg
    count = len(agents)
    keep, lowest, follow = np.ones(count), np.ones(count), np.zeros(count)
    if not count:
        return keep, lowest, follow
    protected_line, protected_keep = _protected_lines(network, week)
    book, kept, follows = np.zeros(count), np.zeros(count), np.zeros(count)
    parts = numba.get_num_threads()  # the sums do not depend on it
    _read_books(
        pop.size,
        parts,
        pop.status,
        pop.distributor,
        pop.segment,
        pop.current_channel,
        pop.alternative_line,
        network.weekly_value,
        pop.relationship,
        network.keep_table(week),
        protected_line,
        protected_keep,
        1.0 - np.array([x.line_share for x in agents]),
        float(cfg.follow_intercept),
        float(cfg.follow_weight),
        book,
        kept,
        lowest,
        follows,
    )
    has_book = book > 0
    keep[has_book] = kept[has_book]
    keep[has_book] /= book[has_book]
    follow[has_book] = follows[has_book] / book[has_book]
    return keep, lowest, follow


def _protected_lines(network: DistributorNetwork, week: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (row order) of the registered deals still protected, and their keep shares."""
    registered = network.pop.registered_until
    if not network.model.scenario.policy.deal_registration or registered.max() <= week:
        return np.empty(0, dtype=np.int64), np.empty(0)
    flat = np.flatnonzero(registered.reshape(-1) > week)
    buyer, product = np.divmod(flat, registered.shape[1])
    return flat, network.line_keep_share(week, buyer, product)


@kernel
def _read_books(
    parts: int,
    status: np.ndarray,
    distributor: np.ndarray,
    segment: np.ndarray,
    current_channel: np.ndarray,
    alternative_line: np.ndarray,
    weekly_value: np.ndarray,
    relationship: np.ndarray,
    keep_table: np.ndarray,
    protected_line: np.ndarray,
    protected_keep: np.ndarray,
    not_our_share: np.ndarray,
    follow_intercept: float,
    follow_weight: float,
    book: np.ndarray,
    kept: np.ndarray,
    lowest: np.ndarray,
    follows: np.ndarray,
) -> None:
    """Sum each distributor's book value, value x keep share and value x follow probability.

    ``follow = (1 - line_share) / (1 + exp(-(intercept + weight x (R_dist - max R_direct))))``.
    Part ``k`` of ``parts`` reads the books of distributors ``d = k mod parts``, each in row
    order, so every sum is the same whatever the number of parts or threads.
    """
    n_buyers, n_products = current_channel.shape
    for part in prange(parts):
        _read_part(
            part,
            parts,
            n_buyers,
            n_products,
            status,
            distributor,
            segment,
            current_channel,
            alternative_line,
            weekly_value,
            relationship,
            keep_table,
            protected_line,
            protected_keep,
            not_our_share,
            follow_intercept,
            follow_weight,
            book,
            kept,
            lowest,
            follows,
        )


@njit(cache=True, inline="always")
def _read_part(
    part: int,
    parts: int,
    n_buyers: int,
    n_products: int,
    status: np.ndarray,
    distributor: np.ndarray,
    segment: np.ndarray,
    current_channel: np.ndarray,
    alternative_line: np.ndarray,
    weekly_value: np.ndarray,
    relationship: np.ndarray,
    keep_table: np.ndarray,
    protected_line: np.ndarray,
    protected_keep: np.ndarray,
    not_our_share: np.ndarray,
    follow_intercept: float,
    follow_weight: float,
    book: np.ndarray,
    kept: np.ndarray,
    lowest: np.ndarray,
    follows: np.ndarray,
) -> None:
    next_protected = 0
    for b in range(n_buyers):
        d = distributor[b]
        if d < 0 or d % parts != part or status[b] != ACTIVE:
            continue
        follow_odds = np.nan
        for p in range(n_products):
            line = b * n_products + p
            if current_channel[b, p] != DISTRIBUTOR or alternative_line[b, p]:
                continue
            while next_protected < len(protected_line) and protected_line[next_protected] < line:
                next_protected += 1
            if next_protected < len(protected_line) and protected_line[next_protected] == line:
                line_keep = protected_keep[next_protected]
            else:
                line_keep = keep_table[p, segment[b], d]
            if np.isnan(follow_odds):
                direct = relationship[b, _DIRECT[0]]
                for c in _DIRECT[1:]:
                    direct = max(direct, relationship[b, c])
                closeness = np.float64(relationship[b, DISTRIBUTOR]) - np.float64(direct)
                follow_odds = follow_intercept + follow_weight * closeness
            value = weekly_value[b, p]
            book[d] += value
            kept[d] += value * line_keep
            lowest[d] = min(lowest[d], line_keep)
            follows[d] += value * (not_our_share[d] / (1.0 + np.exp(-follow_odds)))
