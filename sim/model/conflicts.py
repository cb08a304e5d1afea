"""Phase 5, conflict: the incidents of each week's needs, and the orchestrator that resolves some.

A ``conflict_incident`` has one of the types in :data:`sim.model.ledger.CONFLICT_TYPES`. Under
orchestration each resolvable incident is seen and resolved with probability
``policy.orchestration_coverage`` (docs/ODD.md, "Conflict").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.model.agents import Rep, World
from sim.model.books import Books
from sim.model.buyers import PRICE_TOLERANCE, Needs, channel_prices
from sim.model.population import (
    ASSISTED,
    ECOMMERCE,
    FIELD,
    INSIDE,
    Population,
    put_cells,
    rows_any,
)
from sim.scenario.schema import Scenario

CONFLICT_REP_CALLS = 0.1
"""Calls' worth of a rep's selling time one unresolved conflict in the rep's accounts eats
(assumption: a tenth of a call spent sorting it out)."""


class Orchestrator:
    """Records conflict incidents and resolves a share of them.

    Parameters
    ----------
    scenario
        Its ``policy.coordination`` and ``policy.orchestration_coverage`` set the resolved share.
    rng
        The ``orchestration`` stream.
    books
        Where incidents are counted.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator, books: Books) -> None:
        policy = scenario.policy
        self.coverage = (
            policy.orchestration_coverage if policy.coordination == "orchestrated" else 0.0
        )
        """Share of resolvable incidents resolved (0 in a siloed firm)."""
        self.rng = rng
        self.books = books

    def record(self, kind: str, buyers: np.ndarray, *, resolvable: bool = True) -> np.ndarray:
        """Record incidents of ``kind`` for ``buyers``; return which stay unresolved."""
        share = self.coverage if resolvable else 0.0
        resolved = self.rng.random(len(buyers)) < share
        unresolved = int(np.count_nonzero(~resolved))
        self.books.count_conflicts(kind, unresolved, len(resolved) - unresolved)
        return ~resolved


def find_conflicts(needs: Needs, world: World) -> None:
    """Find this week's incidents by type, add the unresolved ones to the needs (phase 5).

    Double coverage wastes the duplicate calls and the reps' time; a channel-specific rep may
    pull an e-commerce order back to the rep's channel; the plan takes accounts off a
    distributor.
    """
    pop, rules, scenario = world.population, world.rules, world.scenario
    orchestrator, books, reps = world.orchestrator, world.books, world.reps
    b, channel, touched = needs.buyer, needs.channel, needs.touched
    assisted = ASSISTED[channel]

    def incident(kind: str, mask: np.ndarray) -> np.ndarray:
        unresolved = np.zeros(len(b), dtype=bool)
        unresolved[mask] = orchestrator.record(kind, b[mask])
        needs.incidents += unresolved
        return unresolved

    wasted = incident("double_coverage", assisted & rows_any(touched & ASSISTED))
    books.calls(touched[wasted][:, [FIELD, INSIDE]].sum(axis=0))
    charge_rep_time(pop, reps, b[wasted], field_count=scenario.reps.field.count)

    prices = channel_prices(
        pop, rules, b, needs.product, world.week, world.sell_through_discount, world.resale_price
    )
    # The buyer saw a lower price from another of our channels than the one it pays.
    undercut = prices < needs.price[:, None] - PRICE_TOLERANCE
    incident("contradictory_price", rows_any(touched & undercut))
    incident("repeated_information", assisted & rows_any(touched))

    if scenario.policy.rep_compensation == "channel_specific":
        has_rep = (pop.field_rep[b] >= 0) | (pop.inside_rep[b] >= 0)
        fight = incident("rep_vs_web_credit", (channel == ECOMMERCE) & has_rep)
        pulled = fight & (orchestrator.rng.random(len(b)) < scenario.reps.resist_web_orders)
        rep_channel = np.where(pop.field_rep[b] >= 0, FIELD, INSIDE)
        channel[pulled] = rep_channel[pulled]
        needs.price[pulled] = rules.realisation[rep_channel[pulled]]
        charge_rep_time(pop, reps, b[pulled], field_count=scenario.reps.field.count)
        books.calls(np.bincount(rep_channel[pulled], minlength=2)[:2])

    record_accounts_taken(needs, pop, orchestrator, world.week)


def record_accounts_taken(
    needs: Needs, pop: Population, orchestrator: Orchestrator, week: int
) -> None:
    """Record buyer x product lines the channel plan moved off a distributor.

    Each is an incident and marks the line as moved (it may earn the distributor a referral
    fee). The distributor reads the threat from its sales and the announced plan (§7.8).
    """
    d = pop.distributor[needs.buyer]
    taken = np.flatnonzero(needs.taken & (d >= 0))
    orchestrator.record("account_taken_direct", needs.buyer[taken], resolvable=False)
    needs.incidents[taken] += 1
    put_cells(
        pop.moved_off_distributor_week,
        needs.buyer[taken],
        needs.product[taken],
        np.full(len(taken), week),
    )


def charge_rep_time(
    pop: Population, reps: Sequence[Rep], buyers: np.ndarray, *, field_count: int
) -> None:
    """Unresolved conflicts cost the accounts' reps selling time (``CONFLICT_REP_CALLS``)."""
    for column, offset in ((pop.field_rep, 0), (pop.inside_rep, field_count)):
        rep = column[buyers]
        rep = rep[rep >= 0]
        team = reps[offset:]
        totals = np.bincount(rep, minlength=len(team))
        for i in np.flatnonzero(totals).tolist():
            team[i].lose_selling_calls(CONFLICT_REP_CALLS * float(totals[i]))
