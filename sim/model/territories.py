"""Who serves which account: reps' books of accounts and each buyer's distributor.

Allocation rules (``reps.*.min_account_spend_annual``) decide which accounts a team covers; a
covered account gets one rep of the team at random, a won account stays with the rep who won it.
Distributors' accounts are the distributor network's (``sim.model.distributors``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.channels import REP_CHANNELS
from sim.model.population import ACTIVE, ENTERING, PROSPECT, Population
from sim.model.reps import Rep
from sim.scenario.schema import Scenario


class Territories:
    """The account allocation of one run.

    Parameters
    ----------
    scenario
        Team sizes and allocation rules.
    pop
        The buyers.
    reps
        Field reps first, then inside reps (index = position within each team).
    rng
        The ``reps`` stream (accounts won and inbound).
    """

    def __init__(
        self, scenario: Scenario, pop: Population, reps: Sequence[Rep], rng: np.random.Generator
    ) -> None:
        self.scenario = scenario
        self.pop = pop
        self.reps = reps
        self.rng = rng
        entering = np.flatnonzero(pop.status == ENTERING)
        order = np.argsort(pop.entry_week[entering], kind="stable")
        self._entrants = entering[order]
        """Customer-base accounts still to enter, by entry week."""
        self._entry_weeks = pop.entry_week[self._entrants]

    def _teams(self) -> list[tuple[str, np.ndarray, Sequence[Rep]]]:
        """(kind, the population's rep column, the team's reps) for each rep channel."""
        teams, start = [], 0
        for kind in REP_CHANNELS:
            count = getattr(self.scenario.reps, kind).count
            teams.append((kind, getattr(self.pop, f"{kind}_rep"), self.reps[start : start + count]))
            start += count
        return teams

    def allocate_accounts(self, rng: np.random.Generator) -> None:
        """Give each active account one rep of every team whose allocation rule covers it."""
        pop = self.pop
        for kind, column, team_reps in self._teams():
            team = getattr(self.scenario.reps, kind)
            if not team_reps:
                continue
            covered = np.flatnonzero(pop.spend_annual >= team.min_account_spend_annual)
            covered = covered[pop.status[covered] == ACTIVE]
            column[covered] = rng.integers(team.count, size=len(covered))
            order = np.argsort(column[covered], kind="stable")
            books = np.split(
                covered[order], np.searchsorted(column[covered][order], np.arange(1, team.count))
            )
            for rep, accounts in zip(team_reps, books, strict=True):
                rep.accounts = accounts

    def win_prospects(self, rep: Rep | None, count: int) -> None:
        """Turn up to ``count`` prospects into active accounts, won by ``rep`` or inbound.

        New accounts are covered by the allocation rules; the winning rep keeps the account it
        won.
        """
        self._activate(np.flatnonzero(self.pop.status == PROSPECT)[:count], rep)

    def enter(self, week: int) -> None:
        """Activate the customer-base accounts whose first order falls in ``week``."""
        if self._entry_weeks.size:
            low, high = np.searchsorted(self._entry_weeks, [week, week + 1])
            if high > low:
                self._activate(self._entrants[low:high], None)

    def _activate(self, accounts: np.ndarray, rep: Rep | None) -> None:
        """Make ``accounts`` active; cover them by the allocation rules or give them to ``rep``."""
        pop = self.pop
        pop.status[accounts] = ACTIVE
        for kind, column, team_reps in self._teams():
            team = getattr(self.scenario.reps, kind)
            if rep is not None and rep.kind == kind:
                column[accounts] = rep.index
            elif team.count:
                covered = accounts[pop.spend_annual[accounts] >= team.min_account_spend_annual]
                column[covered] = self.rng.integers(team.count, size=len(covered))
            for i in np.unique(column[accounts][column[accounts] >= 0]):
                team_reps[i].take_accounts(accounts[column[accounts] == i])

    def inbound(self, initial_customers: int) -> None:
        """Win the week's inbound accounts: Poisson at ``market.inbound_accounts_annual``."""
        rate = self.scenario.market.inbound_accounts_annual * initial_customers
        if rate > 0:
            self.win_prospects(None, int(self.rng.poisson(rate / 52.0)))
