"""Does the firm look like a firm, and can the sample answer? Warnings, not errors.

A scenario may be valid key by key and still describe an implausible firm: 3,000 accounts
with the baseline's 60 reps, or 200 accounts per distributor. :func:`firm_warnings` compares
the firm's ratios with the baseline's own (``scenarios/baseline.yaml``, checked by
``tests/test_sample.py``) and says which keys to change; it also says when the sample a run
simulates (``market.sample_share``) is too small to show the distributors' reactions.
"""

from __future__ import annotations

from scipy import special

from sim.scenario.schema import Scenario

BASELINE_RATIOS: dict[str, float] = {
    "accounts per field rep": 500.0,
    "accounts per inside rep": 1_000.0,
    "accounts per distributor": 1_000.0,
    "reps' cost per revenue": 0.011574,
}
"""The baseline firm's ratios: 20,000 accounts, 40 field and 20 inside reps, 1,000 accounts per
distributor, reps costing 1.16% of the accounts' expected spend."""

PLAUSIBLE_FACTOR = 3.0
"""A ratio more than this many times the baseline's, or less than its inverse, is warned of."""

SMALL_SAMPLE_ACCOUNTS = 30
"""Below this many simulated accounts, the smallest distributor's book moves in steps of too
many real accounts: its exits are over-stated (docs/ODD.md §7.12, measured at a tenth)."""


def firm_warnings(scenario: Scenario) -> list[str]:
    """Plain-language warnings about the firm's size and the sample, naming the keys."""
    return [*_ratio_warnings(scenario), *sample_warnings(scenario)]


def _ratios(scenario: Scenario) -> dict[str, tuple[float | None, str]]:
    """Each ratio of :data:`BASELINE_RATIOS` for ``scenario``, with the keys that set it.

    None where the firm has no such part (no field reps, no distributors).
    """
    market, reps = scenario.market, scenario.reps
    accounts = market.buyers
    spend = accounts * sum(s.share * s.spend_annual for s in market.segments)
    headcount = sum(t.count * t.loaded_cost_annual for t in (reps.field, reps.inside))
    density = scenario.distributors.accounts_per_distributor
    return {
        "accounts per field rep": (
            accounts / reps.field.count if reps.field.count else None,
            "market.buyers / reps.field.count",
        ),
        "accounts per inside rep": (
            accounts / reps.inside.count if reps.inside.count else None,
            "market.buyers / reps.inside.count",
        ),
        "accounts per distributor": (
            density or None,
            "distributors.accounts_per_distributor (or distributors.count)",
        ),
        "reps' cost per revenue": (
            headcount / spend if headcount and spend else None,
            "reps.*.count x reps.*.loaded_cost_annual / expected spend",
        ),
    }


def _ratio_warnings(scenario: Scenario) -> list[str]:
    odd = [
        f"{value:,.4g} {name} ({keys}; {value / BASELINE_RATIOS[name]:.2g}x the baseline's "
        f"{BASELINE_RATIOS[name]:,.4g})"
        for name, (value, keys) in _ratios(scenario).items()
        if value is not None
        and not 1 / PLAUSIBLE_FACTOR <= value / BASELINE_RATIOS[name] <= PLAUSIBLE_FACTOR
    ]
    if not odd:
        return []
    return [
        f"the firm of {scenario.market.buyers:,} accounts has {'; '.join(odd)}: a firm "
        "scales its reps and distributors with its accounts; to simulate a share of the same "
        "firm's accounts, set market.sample_share instead of market.buyers"
    ]


def sample_warnings(scenario: Scenario, sample_share: float | None = None) -> list[str]:
    """The warning that a sample is too small for the distributors' exits, if it is.

    ``sample_share``: the share simulated, ``market.sample_share`` if None (the dashboard asks
    of its slider's share before it builds the run).
    """
    market, cfg = scenario.market, scenario.distributors
    share = market.sample_share if sample_share is None else sample_share
    if not cfg.accounts_per_distributor or share == 1.0:
        return []
    count = max(1, round(market.buyers / cfg.accounts_per_distributor))
    smallest = market.buyers * smallest_distributor_share(count, cfg.size_sigma)
    simulated = smallest * share
    if simulated >= SMALL_SAMPLE_ACCOUNTS:
        return []
    return [
        f"market.sample_share {share:g} simulates about {simulated:.0f} accounts "
        f"of the smallest of the {count} distributors (fewer than {SMALL_SAMPLE_ACCOUNTS}): its "
        "P&L moves in steps of many real accounts, so distributors' exits are over-stated; "
        f"raise market.sample_share to at least {min(1.0, SMALL_SAMPLE_ACCOUNTS / smallest):.2g}"
    ]


def smallest_distributor_share(count: int, size_sigma: float) -> float:
    """Expected share of the accounts the smallest of ``count`` distributors holds.

    The network draws its sizes as lognormals stratified by quantile
    (``DistributorNetwork._assign``): the smallest from the lowest ``1 / count`` band, whose
    mean over the mean of all is ``count x Phi(Phi^-1(1 / count) - sigma)``, a share of
    ``Phi(Phi^-1(1 / count) - sigma)`` of the accounts.
    """
    if count == 1:
        return 1.0
    return float(special.ndtr(special.ndtri(1.0 / count) - size_sigma))
