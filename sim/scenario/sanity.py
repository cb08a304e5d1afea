"""Does the firm look like a firm, and can the sample answer? Warnings, not errors.

A scenario may be valid key by key and still describe an implausible firm: 3,000 accounts
with the baseline's 60 reps, or 200 accounts per distributor. :func:`firm_warnings` compares
the firm's ratios with the baseline's own (``scenarios/baseline.yaml``, checked by
``tests/test_sample.py``) and says which keys to change; it also says when the sample a run
simulates (``market.sample_share``) is too small to show the distributors' reactions.
"""

from __future__ import annotations

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

SMALL_SAMPLE_ACCOUNTS_PER_DISTRIBUTOR = 30
"""Below this many simulated accounts per distributor on average, a distributor's P&L rests on
too few accounts to show its reaction."""


def firm_warnings(scenario: Scenario) -> list[str]:
    """Plain-language warnings about the firm's size and the sample, naming the keys."""
    return [*_ratio_warnings(scenario), *_sample_warnings(scenario)]


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


def _sample_warnings(scenario: Scenario) -> list[str]:
    market, density = scenario.market, scenario.distributors.accounts_per_distributor
    if not density or market.sample_share == 1.0:
        return []
    simulated = density * market.sample_share
    if simulated >= SMALL_SAMPLE_ACCOUNTS_PER_DISTRIBUTOR:
        return []
    return [
        f"market.sample_share {market.sample_share:g} simulates {simulated:.0f} accounts per "
        f"distributor on average (fewer than {SMALL_SAMPLE_ACCOUNTS_PER_DISTRIBUTOR}): the "
        "distributors' P&L and decisions rest on too few accounts to answer; raise "
        f"market.sample_share to at least "
        f"{min(1.0, SMALL_SAMPLE_ACCOUNTS_PER_DISTRIBUTOR / density):.2g}"
    ]
