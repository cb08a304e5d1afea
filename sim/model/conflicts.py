"""Phase 5, conflict: the incidents of each week's needs, and the orchestrator that resolves some.

A ``conflict_incident`` has one of the types in :data:`sim.model.ledger.CONFLICT_TYPES`. Under
orchestration the orchestrator's data records each touch of a need with probability
``policy.orchestration_coverage``; it sees an incident only when every touch the incident
involves is recorded, and resolves the seen incidents up to its capacity
(``policy.orchestration_capacity_weekly`` a week), so the share resolved falls with load
(docs/ODD.md §7.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from sim.channels import ASSISTED, ECOMMERCE, FIELD, INSIDE
from sim.model.books import Books
from sim.model.buyers import PRICE_TOLERANCE
from sim.model.choice import ChoiceColumns, ChoiceTerms, choice_terms, price_row
from sim.model.draws import BLOCK, blocks, uniform, uniforms4
from sim.model.kernel import records_kernel
from sim.model.ledger import CONFLICT_TYPES
from sim.model.population import Population, put_cells
from sim.model.reps import Rep
from sim.model.week import Needs, World
from sim.scenario.schema import Scenario

CONFLICT_REP_CALLS = 0.1
"""Calls' worth of a rep's selling time one unresolved conflict in the rep's accounts eats
(assumption: a tenth of a call spent sorting it out)."""


class Orchestrator:
    """Records conflict incidents and resolves those its data sees, up to its capacity.

    Parameters
    ----------
    scenario
        Its ``policy.coordination``, ``policy.orchestration_coverage`` (share of touches
        recorded) and ``policy.orchestration_capacity_weekly`` (incidents resolved a week).
    rng
        The ``orchestration`` stream.
    books
        Where incidents are counted.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator, books: Books) -> None:
        policy = scenario.policy
        orchestrated = policy.coordination == "orchestrated"
        self.coverage = policy.orchestration_coverage if orchestrated else 0.0
        """Share of touches the orchestrator's data records (0 in a siloed firm)."""
        self.capacity = policy.orchestration_capacity_weekly if orchestrated else 0.0
        """Incidents it can resolve a week, in the sample (0 in a siloed firm)."""
        self.rng = rng
        self.books = books

        self.left = self._week_capacity()
        """Capacity left this week (campaign clashes in phase 2 use it before phase 5)."""

    def _week_capacity(self) -> int:
        """A week's capacity in whole incidents (fractional capacity rounded without bias)."""
        return int(np.floor(self.capacity + self.rng.random()))

    def _take(self, seen: np.ndarray) -> np.ndarray:
        """Which of the ``seen`` incident positions get resolved: at most the capacity left."""
        if len(seen) <= self.left:
            self.left -= len(seen)
            return seen
        chosen = self.rng.choice(seen, self.left, replace=False)
        self.left = 0
        return chosen

    def resolve(self, outcome: np.ndarray) -> None:
        """Resolve the ``SEEN`` incidents of ``outcome`` up to the capacity left, in place.

        When more are seen than it can handle, a random subset the size of the capacity left
        is resolved and the rest stay ``UNRESOLVED``: ``resolved = min(seen, capacity)``.
        Closes the orchestrator's week (phase 5): the next week's capacity is set.
        """
        flat = outcome.reshape(-1)
        seen = np.flatnonzero(flat == SEEN)
        flat[seen] = UNRESOLVED
        flat[self._take(seen)] = RESOLVED
        self.left = self._week_capacity()

    def record(self, kind: str, buyers: np.ndarray) -> np.ndarray:
        """Record two-touch incidents of ``kind`` for ``buyers``; return which stay unresolved.

        Seen when both touches are recorded (probability ``coverage ** 2``), then resolved
        within the capacity left this week.
        """
        recorded = self.rng.random((len(buyers), 2)) < self.coverage
        seen = np.flatnonzero(recorded.all(axis=1))
        unresolved = np.ones(len(buyers), dtype=bool)
        unresolved[self._take(seen)] = False
        count = int(np.count_nonzero(unresolved))
        self.books.count_conflicts(kind, count, len(buyers) - count)
        return unresolved

    def count(self, kind: str, outcome: np.ndarray) -> None:
        """Count incidents of ``kind`` from each need's ``RESOLVED`` / ``UNRESOLVED`` outcome."""
        tally = np.bincount(outcome, minlength=UNRESOLVED + 1)
        self.books.count_conflicts(kind, int(tally[UNRESOLVED]), int(tally[RESOLVED]))

    def record_unresolvable(self, kind: str, count: int) -> None:
        """Record ``count`` incidents of ``kind`` no orchestrator can resolve."""
        self.books.count_conflicts(kind, count, 0)


NONE, RESOLVED, UNRESOLVED, SEEN = 0, 1, 2, 3
"""Outcome of each conflict type for a need (:data:`CONFLICT_TYPES` order); ``SEEN``: the
orchestrator's data saw it, before its capacity decides (:meth:`Orchestrator.resolve`)."""
DOUBLE_COVERAGE, CONTRADICTORY_PRICE, REPEATED_INFORMATION, REP_VS_WEB_CREDIT = range(4)
PULL_DRAW = len(CONFLICT_TYPES)
"""Draw index of a rep's pull of a web order (after one draw per conflict type)."""
RECORD_DRAW = PULL_DRAW + 1
"""Draw index of the four uniforms that decide which channels' touches the data records."""


def find_conflicts(needs: Needs, world: World) -> None:
    """Find this week's incidents by type, add the unresolved ones to the needs (phase 5).

    Double coverage wastes the duplicate calls and the reps' time; a channel-specific rep may
    pull an e-commerce order back to the rep's channel; the plan takes accounts off a
    distributor. Each need's incidents and pull come from the compiled :func:`_incidents`.
    """
    pop, rules, scenario = world.population, world.rules, world.scenario
    orchestrator, books, reps = world.orchestrator, world.books, world.reps
    b, channel = needs.buyer, needs.channel
    terms = choice_terms(
        rules,
        distributor_open=np.ones(len(world.resale_price), dtype=bool),
        resale_price=world.resale_price,
        sell_through_discount=world.sell_through_discount,
    )
    channel_specific = scenario.policy.rep_compensation == "channel_specific"
    outcome = np.zeros((len(b), len(CONFLICT_TYPES)), dtype=np.int8)
    pulled = np.zeros(len(b), dtype=bool)
    _incidents(
        len(b),
        ChoiceColumns.of(pop),
        terms,
        needs.buyer,
        needs.product,
        channel,
        needs.price,
        needs.touched,
        world.week,
        world.keys["orchestration"],
        Odds(orchestrator.coverage, scenario.reps.resist_web_orders, channel_specific),
        outcome,
        pulled,
    )
    orchestrator.resolve(outcome)
    pulled &= outcome[:, REP_VS_WEB_CREDIT] == UNRESOLVED
    for kind in CONFLICT_TYPES[: REP_VS_WEB_CREDIT + channel_specific]:
        unresolved = outcome[:, CONFLICT_TYPES.index(kind)] == UNRESOLVED
        needs.incidents += unresolved
        orchestrator.count(kind, outcome[:, CONFLICT_TYPES.index(kind)])
    wasted = outcome[:, DOUBLE_COVERAGE] == UNRESOLVED
    books.calls(needs.touched[wasted][:, [FIELD, INSIDE]].sum(axis=0))
    charge_rep_time(pop, reps, b[wasted], field_count=scenario.reps.field.count)
    if pulled.any():
        rep_channel = np.where(pop.field_rep[b[pulled]] >= 0, FIELD, INSIDE)
        channel[pulled] = rep_channel
        needs.price[pulled] = rules.realisation[rep_channel]
        charge_rep_time(pop, reps, b[pulled], field_count=scenario.reps.field.count)
        books.calls(np.bincount(rep_channel, minlength=2)[:2])
    record_accounts_taken(needs, pop, orchestrator, world.week)


class Odds(NamedTuple):
    """Probabilities the conflict rules draw against."""

    coverage: float  # a touch is recorded by the orchestrator's data (0 when siloed)
    resist_web_orders: float  # a rep who fights a web order pulls it back
    channel_specific: bool  # reps are paid by channel: they fight web orders


@njit(cache=True, inline="always")
def _settle(seen: bool) -> int:
    """An incident: ``SEEN`` if every touch it involves is recorded, else ``UNRESOLVED``."""
    return SEEN if seen else UNRESOLVED


@records_kernel
def _incidents(
    cols: ChoiceColumns,
    terms: ChoiceTerms,
    buyer: np.ndarray,
    product: np.ndarray,
    channel: np.ndarray,
    paid: np.ndarray,
    touched: np.ndarray,
    week: int,
    key: np.ndarray,
    odds: Odds,
    outcome: np.ndarray,
    pulled: np.ndarray,
) -> None:
    """Each need's incidents (ODD §7.5); draws ``uniform(key, b, week, p, type)``."""
    n = len(buyer)
    for block in prange(blocks(n)):
        price = np.empty(len(ASSISTED))
        recorded = np.empty(len(ASSISTED), dtype=np.bool_)
        for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
            b, p, c = buyer[i], product[i], channel[i]
            draws = uniforms4(key, b, week, p, RECORD_DRAW)
            for k in range(len(ASSISTED)):
                recorded[k] = draws[k] < odds.coverage
            worked_another = other_assisted = undercut = False
            journey_seen = recorded[c]  # the order's touch and every other touch recorded
            for k in range(len(ASSISTED)):
                if touched[i, k]:
                    worked_another = True
                    other_assisted |= ASSISTED[k]
                    journey_seen &= recorded[k]
            if worked_another:
                price_row(cols, terms, b, p, week, price)
                for k in range(len(ASSISTED)):
                    undercut |= touched[i, k] and price[k] < paid[i] - PRICE_TOLERANCE
            if ASSISTED[c] and other_assisted:
                outcome[i, DOUBLE_COVERAGE] = _settle(journey_seen)
            if undercut:
                outcome[i, CONTRADICTORY_PRICE] = _settle(journey_seen)
            if ASSISTED[c] and worked_another:
                outcome[i, REPEATED_INFORMATION] = _settle(journey_seen)
            has_rep = cols.field_rep[b] >= 0 or cols.inside_rep[b] >= 0
            if odds.channel_specific and c == ECOMMERCE and has_rep:
                rep_channel = FIELD if cols.field_rep[b] >= 0 else INSIDE
                outcome[i, REP_VS_WEB_CREDIT] = _settle(recorded[c] and recorded[rep_channel])
                # the rep pulls the order back unless the orchestrator resolves the fight
                pulled[i] = uniform(key, b, week, p, PULL_DRAW) < odds.resist_web_orders


def record_accounts_taken(
    needs: Needs, pop: Population, orchestrator: Orchestrator, week: int
) -> None:
    """Record buyer x product lines the channel plan moved off a distributor.

    Each is an incident and marks the line as moved (it may earn the distributor a referral
    fee). The distributor reads the threat from its sales and the announced plan (§7.8).
    """
    d = pop.distributor[needs.buyer]
    taken = np.flatnonzero(needs.taken & (d >= 0))
    orchestrator.record_unresolvable("account_taken_direct", len(taken))
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
