"""Field and inside sales reps, as Mesa agents: selling time spent on accounts and leads.

A rep's week (phase 4) spends its selling calls on its book of accounts, by habit or by
next-best-action score, and on leads (referral leads first, then outbound); the books charge
its headcount and calls (``Books.rep_week``). docs/ODD.md §7.4.
"""

from __future__ import annotations

import mesa
import numpy as np
from numba import njit

from sim.channels import CHANNELS
from sim.model.buyers import RELATIONSHIP_HALF_LIFE_WEEKS
from sim.model.population import ACTIVE
from sim.model.week import World
from sim.scenario.schema import RepTeam


class Rep(mesa.Agent):
    """A field or inside sales rep.

    Capacity is ``calls_per_week x selling_time`` calls; non-selling work eats the rest, and
    conflicts in the rep's accounts eat into it further (``CONFLICT_REP_CALLS`` calls per
    unresolved incident, :mod:`sim.model.conflicts`). A share ``prospecting_share`` of calls
    works leads (referral leads first, then outbound); the rest call accounts, chosen by habit
    (large accounts, weighted by spend) or, for a share ``reps.next_best_action_share``, by
    next-best-action score. The rep is headcount: paid whatever it does (``Books.rep_week``).
    """

    model: World

    def __init__(self, model: World, kind: str, team: RepTeam, index: int) -> None:
        super().__init__(model)
        self.kind = kind
        self.channel = CHANNELS.index(kind)
        self.team = team
        self.index = index
        self.accounts = np.empty(0, dtype=np.int64)
        self.selling_time = team.selling_time
        self.conflict_calls = 0.0
        self.pipeline_referrals = 0
        self.calls_made = 0

    @property
    def capacity_calls(self) -> float:
        """Selling calls a week before conflicts: full-time calls x selling-time share."""
        return self.team.calls_per_week * self.selling_time

    def lose_selling_calls(self, calls: float) -> None:
        """Give up ``calls`` calls' worth of this week's time to conflicts in the rep's accounts."""
        self.conflict_calls += calls

    def take_accounts(self, accounts: np.ndarray) -> None:
        """Add won or allocated ``accounts`` to the rep's book."""
        self.accounts = np.concatenate([self.accounts, accounts])

    def step(self) -> None:
        """Spend this week's selling calls on accounts and prospects."""
        model = self.model
        rng = model.streams["reps"]
        calls = max(0.0, self.capacity_calls - self.conflict_calls)
        calls = int(np.floor(calls + rng.random()))  # unbiased rounding
        self.conflict_calls = 0.0
        prospecting = int(rng.binomial(calls, self.team.prospecting_share))
        pop = model.population
        active = self.accounts[pop.status[self.accounts] == ACTIVE]
        called = self._call_accounts(active, calls - prospecting, rng)
        self.calls_made = len(called) + prospecting
        self._prospect(active, prospecting, rng)
        model.books.rep_week(
            self.channel,
            self.team,
            capacity_calls=self.capacity_calls,
            called_segments=model.population.segment[called].astype(np.int64),
            prospecting_calls=prospecting,
        )

    def _call_accounts(
        self, accounts: np.ndarray, calls: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Call up to ``calls`` of its active ``accounts``, at most once each; return those called.

        A share ``reps.next_best_action_share`` of the calls goes to the best-scored accounts,
        the rest by habit.
        """
        model = self.model
        pop = model.population
        if calls <= 0 or len(accounts) == 0:
            return np.empty(0, dtype=np.int64)
        calls = min(calls, len(accounts))
        targeted = int(rng.binomial(calls, model.scenario.reps.next_best_action_share))
        pop.age_relationships(accounts, model.week, RELATIONSHIP_HALF_LIFE_WEEKS)
        spend = pop.spend_annual[accounts].astype(float)
        best, rest = self._best_scored(accounts, spend, targeted)
        habit = (
            rest[weighted_sample(rng, spend[rest] / spend[rest].sum(), calls - targeted)]
            if calls > targeted
            else np.empty(0, dtype=np.int64)
        )
        called = accounts[np.concatenate([best, habit]).astype(np.int64)]
        rules = model.rules
        _record_calls(
            called,
            self.channel,
            np.float32(self.team.call_lift),
            np.float32(1.0 - rules.market.effort.recovery_per_order),
            np.float32(rules.realisation[self.channel]),
            model.week,
            pop.relationship,
            pop.effort,
            pop.quote_channel,
            pop.quote_price,
            pop.quote_week,
        )
        return called

    def _best_scored(
        self, accounts: np.ndarray, spend: np.ndarray, targeted: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``accounts`` of the ``targeted`` best-scored accounts, and the rest.

        Next-best action: under-served, at-risk, high-potential accounts first (score
        ``spend x (1 - relationship with the rep's channel) x (1 + effort)``).
        """
        everyone = np.arange(len(accounts))
        if not targeted:
            return np.empty(0, dtype=np.int64), everyone
        pop = self.model.population
        score = (
            spend * (1.0 - pop.relationship[accounts, self.channel]) * (1.0 + pop.effort[accounts])
        )
        best = np.argpartition(-score, targeted - 1)[:targeted]
        return best, np.setdiff1d(everyone, best, assume_unique=True)

    def _prospect(self, active: np.ndarray, calls: int, rng: np.random.Generator) -> None:
        """Work ``calls`` leads: referrals from its satisfied ``active`` accounts first."""
        model = self.model
        pop = model.population
        rate = pop.satisfaction[active].sum() * model.rules.market.referrals_per_account_annual
        self.pipeline_referrals += int(rng.poisson(rate / 52.0))
        referral = min(calls, self.pipeline_referrals)
        outbound = calls - referral
        self.pipeline_referrals -= referral
        reps = model.scenario.reps
        won_referral = int(rng.binomial(referral, reps.referral.conversion))
        won_outbound = int(rng.binomial(outbound, reps.outbound.conversion))
        model.books.prospecting(
            referral=referral,
            outbound=outbound,
            won_referral=won_referral,
            won_outbound=won_outbound,
        )
        if won_referral + won_outbound:
            model.territories.win_prospects(self, won_referral + won_outbound)


def weighted_sample(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """``size`` distinct indices drawn with probabilities ``p``, without replacement.

    The algorithm and the draws of ``rng.choice(len(p), size, replace=False, p=p)`` (numpy's
    ``Generator.choice``: rounds of uniforms against the CDF of the indices not yet drawn,
    each round keeping the first hit of each new index), without its input checks and with
    the rounds compiled: the same indices from the same stream.
    """
    found = np.empty(size, dtype=np.int64)
    remaining = p.copy()
    drawn = 0
    while drawn < size:
        drawn = _sample_round(remaining, rng.random(size - drawn), found, drawn)
    return found


@njit(cache=True)
def _sample_round(p: np.ndarray, uniforms: np.ndarray, found: np.ndarray, drawn: int) -> int:
    """One round: zero the drawn indices, search the CDF, append the new ones; the count."""
    for i in range(drawn):
        p[found[i]] = 0.0
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    hits = np.searchsorted(cdf, uniforms, side="right")
    seen = np.zeros(len(p), dtype=np.bool_)
    for i in range(drawn):
        seen[found[i]] = True
    for hit in hits:
        if not seen[hit]:
            seen[hit] = True
            found[drawn] = hit
            drawn += 1
    return drawn


@njit(cache=True)
def _record_calls(
    called: np.ndarray,
    channel: int,
    lift: np.float32,
    effort_kept: np.float32,
    price: np.float32,
    week: int,
    relationship: np.ndarray,
    effort: np.ndarray,
    quote_channel: np.ndarray,
    quote_price: np.ndarray,
    quote_week: np.ndarray,
) -> None:
    """A call lifts the relationship with the rep's channel, eases effort, leaves a quote.

    In float32, as the columns are: ``R += lift (1 - R)``, ``effort *= 1 - recovery``.
    """
    one = np.float32(1.0)
    for b in called:
        relationship[b, channel] += lift * (one - relationship[b, channel])
        effort[b] *= effort_kept
        quote_channel[b] = channel
        quote_price[b] = price
        quote_week[b] = week
