"""One path of a game: the model stepped round by round with some decisions put in.

:class:`Track` is what :mod:`sim.wargame.game` steps once per path (the game as played, the
model's own players, the game without a team); :func:`apply` puts a round's decisions into
the model through the owners of the rules they replace (a distributor's seat,
:meth:`~sim.model.distributors.network.DistributorNetwork.seat`; the firm's levers and the
competitor line's terms, :meth:`~sim.model.model.ChannelModel.amend`);
:func:`distributor_week` records each distributor's week for the firm (``distributors.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.model.distributors.business import DistributorStatus
from sim.model.model import ChannelModel
from sim.model.population import ACTIVE
from sim.scenario.schema import Scenario
from sim.wargame import roles
from sim.wargame.roles import Decision

Round = Mapping[str, Decision]
"""One round's decisions by role (a role absent or empty: the model's rule)."""


@dataclass
class Track:
    """The model stepped through some rounds, with each distributor's weeks recorded."""

    model: ChannelModel
    distributor_weeks: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, firm: Scenario) -> Track:
        """The model at week 0, on ``channel-sim run``'s first replication's random numbers."""
        return cls(ChannelModel(firm, np.random.SeedSequence(firm.seed, spawn_key=(0,))))

    def play(self, decisions: Round, weeks: int) -> None:
        """Put ``decisions`` into the model, then run ``weeks`` weeks."""
        apply(self.model, decisions)
        for _ in range(weeks):
            before = [len(a.line_profit_history) for a in self.model.distributors]
            self.model.step()
            self.distributor_weeks.extend(distributor_week(self.model, before))

    def timeseries(self) -> pd.DataFrame:
        """The weeks played: ``week`` and the weekly metrics, the firm's (as ``run``'s rows)."""
        weeks = self.model.week
        frame = pd.DataFrame({k: v[:weeks] for k, v in self.model.ledger.rows.items()})
        frame.insert(0, "week", np.arange(1, weeks + 1))
        return frame

    def distributors(self) -> pd.DataFrame:
        """Each distributor's weeks (:func:`distributor_week`)."""
        return pd.DataFrame(self.distributor_weeks, columns=DISTRIBUTOR_COLUMNS)


def apply(model: ChannelModel, decisions: Round) -> None:
    """Put one round's decisions into the model; what no decision sets stays the model's.

    Every distributor seat is set for the round (a team that does not decide hands its
    distributor back to the model); the manufacturer's and competitor's fields change the
    firm's scenario from the next week on, and stay changed until changed again.
    """
    firm = model.firm
    for seat in range(len(model.distributors)):  # last round's seats end with it
        model.network.seat(seat, None)
    for role, decision in decisions.items():
        d = roles.distributor_index(role)
        if d is None or not isinstance(decision, roles.DistributorDecision):
            continue
        exited = model.network.state.status[d] == DistributorStatus.EXITED
        play = roles.play_of(decision, firm) if decision.fields_set() else None
        model.network.seat(d, None if exited else play)
    changes: dict[str, Any] = {}
    for role in (roles.MANUFACTURER, roles.COMPETITOR):
        if role in decisions:
            changes.update(roles.scenario_changes(decisions[role]))
    if changes:
        model.amend(changes, source="the round's decisions")


DISTRIBUTOR_COLUMNS: tuple[str, ...] = (
    "week",
    "distributor",
    "status",
    "markup",
    "effort",
    "resale_price",
    "threat",
    "line_profit",
    "total_profit",
    "sales_recent",
    "demand_units",
    "accounts",
)
"""``distributors.csv``: money a week, the firm's (the sample's x its weight)."""


def distributor_week(model: ChannelModel, booked_before: Sequence[int]) -> list[dict[str, Any]]:
    """Each distributor's week just booked, for the firm (the sample's figures x weight).

    ``booked_before``: each one's weeks booked before this week (an exited one books none).

    ``line_profit``: its profit on our line; ``total_profit``: with its competitor line;
    ``sales_recent``: our line's weekly sales, its running average; ``demand_units``: units
    its accounts asked it for; ``accounts``: active accounts it serves; ``resale_price`` as a
    fraction of list.
    """
    weight, state, pop = model.sample.weight, model.network.state, model.population
    count = len(model.distributors)
    served = pop.distributor[(pop.status == ACTIVE) & (pop.distributor >= 0)]
    accounts = np.bincount(served, minlength=count)
    resale = model.network.resale_price
    rows = []
    for d, agent in enumerate(model.distributors):
        booked = len(agent.line_profit_history) > booked_before[d]
        rows.append(
            {
                "week": model.week,
                "distributor": d,
                "status": DistributorStatus(int(state.status[d])).name.lower(),
                "markup": float(state.markup[d]),
                "effort": float(state.effort[d]),
                "resale_price": float(resale[d]),
                "threat": float(state.threat[d]),
                "line_profit": _last(agent.line_profit_history, booked) * weight,
                "total_profit": _last(agent.total_profit_history, booked) * weight,
                "sales_recent": float(np.nan_to_num(state.revenue_recent[d])) * weight,
                "demand_units": float(state.week_demand_units[d].sum()) * weight,
                "accounts": float(accounts[d]) * weight,
            }
        )
    return rows


def _last(history: list[float], booked: bool) -> float:
    """The entry of a profit history booked this week (0 once the distributor books no more)."""
    return float(history[-1]) if booked else 0.0
