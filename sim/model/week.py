"""What every phase of a week shares: the week's needs and the world the agents see.

:class:`Needs` is the week's record of the needs that reached one of our channels, written by
the buyers' phase and read and amended by the responses, the conflict rules, the books and the
experience rules. :class:`World` is what an agent (a rep, a distributor, a campaign) and the
conflict rules may read of the model; it is a protocol, so this module imports no owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sim.model.books import Books
    from sim.model.buyers import BuyerRules
    from sim.model.conflicts import Orchestrator
    from sim.model.policy import ChannelPlan
    from sim.model.population import Population
    from sim.model.reps import Rep
    from sim.model.sample import FirmSample
    from sim.scenario.schema import Scenario


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
            setattr(self, name, np.compress(rows, getattr(self, name)))
        self.touched = np.compress(rows, self.touched, axis=0)
        self.filled = np.compress(rows, self.filled)
        self.incidents = np.compress(rows, self.incidents)


class Territories(Protocol):
    """Who hands a won account to its reps (:class:`sim.model.territories.Territories`)."""

    def win_prospects(self, rep: Rep | None, count: int) -> None:
        """Make up to ``count`` prospects active accounts, won by ``rep`` (None: inbound)."""


class World(Protocol):
    """What the agents (and the conflict rules) see of the model."""

    week: int
    scenario: Scenario
    sample: FirmSample
    population: Population
    rules: BuyerRules
    plan: ChannelPlan
    books: Books
    orchestrator: Orchestrator
    territories: Territories
    streams: dict[str, np.random.Generator]
    keys: dict[str, np.ndarray]  # counter-based draw keys of the streams (sim.model.draws)
    sell_in_discount: np.ndarray
    sell_through_discount: np.ndarray
    resale_price: np.ndarray
    reps: Sequence[Rep]
