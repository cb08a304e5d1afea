"""Each distributor's book of our lines, and what it expects of it (phase 8).

A distributor's book is the buyer x product lines of its active accounts last bought through
it and not converted to its competitor's line. Its outlook over the planning horizon: the keep
share (value-weighted :meth:`DistributorNetwork.line_keep_share`), the keep share of its most
threatened line, and the share that would follow it if it dropped our line (value-weighted
:meth:`DistributorNetwork.follow_probability`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.channels import DISTRIBUTOR
from sim.model.population import ACTIVE, take_cells

if TYPE_CHECKING:
    from sim.model.distributors.network import DistributorNetwork


def line_outlook(
    network: DistributorNetwork, week: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each distributor expects of its our-line book: keep, lowest keep, follow shares.

    Keep share = ``sum v x keep / sum v`` (``v`` the line's weekly value at list); lowest
    keep = that of its most threatened line (1 without a book); follow share = ``sum v x
    follow / sum v``.
    """
    pop, agents = network.pop, network.agents
    count = len(agents)
    keep, lowest, follow = np.ones(count), np.ones(count), np.zeros(count)
    if not count:
        return keep, lowest, follow
    on_book = (
        (pop.current_channel == DISTRIBUTOR)
        & ~pop.alternative_line
        & ((pop.distributor >= 0) & (pop.status == ACTIVE))[:, None]
    )
    buyer, product = np.nonzero(on_book)
    d = pop.distributor[buyer]
    value = take_cells(network.weekly_value, buyer, product)
    line_keep = network.line_keep_share(week, buyer, product)
    book = np.bincount(d, weights=value, minlength=count)
    has_book = book > 0
    keep[has_book] = np.bincount(d, weights=value * line_keep, minlength=count)[has_book]
    keep[has_book] /= book[has_book]
    np.minimum.at(lowest, d, line_keep)
    line_share = np.array([x.line_share for x in agents])
    follows = value * network.follow_probability(buyer, line_share[d])
    follow[has_book] = np.bincount(d, weights=follows, minlength=count)[has_book] / book[has_book]
    return keep, lowest, follow
