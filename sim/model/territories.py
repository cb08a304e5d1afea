"""Who serves which account: reps' books of accounts and each buyer's distributor.

Allocation rules (``reps.*.min_account_spend_annual``) decide which accounts a team covers; a
covered account gets one rep of the team at random, a won account stays with the rep who won it.
Buyers who bought through a distributor at week 0 have one, drawn by the distributors' sizes;
when a distributor exits, the lines it served may follow it to its competitor line and its
accounts re-home (docs/ODD.md §7.8, "Exit").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from sim.model.agents import Distributor, Rep, follow_probability
from sim.model.population import ACTIVE, DISTRIBUTOR, ENTERING, PROSPECT, Population
from sim.scenario.schema import Scenario


class Territories:
    """The account allocation of one run.

    Parameters
    ----------
    scenario
        Team sizes and allocation rules, distributor count and exit share.
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
        self.distributors: Sequence[Distributor] = ()
        self.size_weight = np.empty(0)
        entering = np.flatnonzero(pop.status == ENTERING)
        order = np.argsort(pop.entry_week[entering], kind="stable")
        self._entrants = entering[order]
        """Customer-base accounts still to enter, by entry week."""
        self._entry_weeks = pop.entry_week[self._entrants]

    def _teams(self) -> list[tuple[str, np.ndarray, Sequence[Rep]]]:
        """(kind, the population's rep column, the team's reps) for field and inside."""
        n_field = self.scenario.reps.field.count
        return [
            ("field", self.pop.field_rep, self.reps[:n_field]),
            ("inside", self.pop.inside_rep, self.reps[n_field:]),
        ]

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

    def assign_distributors(self, rng: np.random.Generator) -> np.ndarray:
        """Give the buyers who bought through a distributor at week 0 one; return which are open.

        The network has ``round(accounts / accounts_per_distributor)`` distributors (at least
        one; none at density 0), each with a lognormal size weight (``size_sigma``, stratified
        by quantile so a small network has the large network's size mix); a buyer
        with a week-0 line through the distributor channel joins one with probability
        proportional to its weight, the others have none. The returned array has one slot per
        distributor plus a closed one, which index -1 (no distributor) reads.
        """
        cfg, pop = self.scenario.distributors, self.pop
        accounts = int(np.count_nonzero(pop.status != PROSPECT))
        count = (
            max(1, round(accounts / cfg.accounts_per_distributor))
            if cfg.accounts_per_distributor
            else 0
        )
        # Stratified lognormal draws (one per 1/D quantile band, in random order): the same
        # size distribution at any simulated scale, five distributors or five hundred.
        quantile = (rng.permutation(count) + rng.random(count)) / max(count, 1)
        weight = np.exp(cfg.size_sigma * special.ndtri(quantile))
        self.size_weight = weight / weight.sum() if count else weight
        """(D,) each distributor's expected share of the distributor-buying accounts."""
        uses = np.flatnonzero((pop.current_channel == DISTRIBUTOR).any(axis=1))
        if count:
            pop.distributor[uses] = rng.choice(count, size=len(uses), p=self.size_weight)
        return np.append(np.ones(count, dtype=bool), False)

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

    def release(
        self,
        distributor: Distributor,
        week: int,
        distributor_open: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Hand on an exiting distributor's accounts (docs/ODD.md §7.8, "Exit").

        Only its own lines are touched: each buyer x product line last bought through it
        follows it to its competitor line with :func:`follow_probability` (lost to us for
        good); its accounts move to a remaining distributor (by size weight), lose their
        relationship with the distributor channel and gain ``rehome_effort``, so each re-homes
        with the new distributor or one of our direct channels by its own choice (``rng``: the
        ``churn`` stream).
        """
        pop, cfg = self.pop, self.scenario.distributors
        distributor_open[distributor.index] = False
        accounts = np.flatnonzero(pop.distributor == distributor.index)
        lines = (pop.current_channel[accounts] == DISTRIBUTOR) & ~pop.alternative_line[accounts]
        row, product = np.nonzero(lines)
        served = accounts[row]
        line_share = np.full(len(served), distributor.line_share)
        follows = rng.random(len(served)) < follow_probability(pop, cfg, served, line_share)
        pop.alternative_line[served[follows], product[follows]] = True
        # Lines moved off it earned it referral fees, the deals it registered were its own;
        # its successor never served them.
        pop.moved_off_distributor_week[accounts] = -1
        pop.registered_until[accounts] = -1
        pop.relationship[accounts, DISTRIBUTOR] = 0.0
        active = accounts[pop.status[accounts] == ACTIVE]
        pop.effort[active] = np.minimum(1.0, pop.effort[active] + cfg.rehome_effort)
        remaining = np.array([d.index for d in self.distributors if d.active], dtype=np.int64)
        if len(remaining):
            weight = self.size_weight[remaining] / self.size_weight[remaining].sum()
            pop.distributor[accounts] = rng.choice(remaining, size=len(accounts), p=weight)
        else:
            pop.distributor[accounts] = -1
