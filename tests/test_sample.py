"""One market at any sample size (issue 23, SPEC §7): ``market.sample_share`` simulates a share
of the firm's accounts as super-individuals (docs/ODD.md §7.11, "Sampling").

*Exactness*: a share of 1 is the firm itself (the fingerprints of every bundled scenario are
unchanged, ``scripts/fingerprint.py``); the sample's scenario scales exactly the declared keys;
every rep and distributor of the firm is simulated. *Invariance*, against the full firm as
the second, independent computation: firm revenue, contribution margin and churn, and the
paired effect of the ``direct_shift`` plan, agree within their intervals at shares 0.1 and
0.5 (Welch tests at alpha 0.05; the power of each is in its docstring).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.experiments.runner import simulate
from sim.model.model import ChannelModel
from sim.model.sample import FirmSample
from sim.results.runs import RunKey
from sim.results.tables import run_frame, summarise
from sim.scenario.loader import load_study, variant_of
from sim.scenario.sanity import BASELINE_RATIOS, firm_warnings, smallest_distributor_share

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
WEEKS = 52


@cache
def _summary(
    path: str, share: float, replications: int, variant: str | None = None
) -> pd.DataFrame:
    """Summary rows of ``replications`` runs of a bundled scenario (or its variant)."""
    study = load_study(SCENARIOS / path, [f"market.sample_share={share}", f"horizon_weeks={WEEKS}"])
    scenario = study.scenario
    if variant is not None:
        scenario = variant_of(scenario, variant, study.variants[variant])
    frames = [
        run_frame(
            scenario.name, simulate(scenario, RunKey(variant or "baseline", r, scenario.seed))
        )
        for r in range(replications)
    ]
    return summarise(pd.concat(frames), scenario.discount_rate_annual)


def test_a_full_share_is_the_firm_itself() -> None:
    study = load_study(SCENARIOS / "baseline.yaml")
    firm = study.scenario
    assert FirmSample.of(firm).scenario_of(firm) is firm
    assert FirmSample.of(firm).weight == 1.0


def test_the_sample_scales_exactly_the_firms_counts_and_capacities() -> None:
    firm = load_study(SCENARIOS / "direct_shift.yaml").scenario
    sample = FirmSample.of(
        firm.model_copy(update={"market": firm.market.model_copy(update={"sample_share": 0.1})})
    )
    assert (sample.accounts, sample.simulated) == (
        firm.market.buyers,
        round(firm.market.buyers * 0.1),
    )
    scaled = sample.scenario_of(firm)
    s = sample.share
    assert scaled.market.buyers == sample.simulated
    assert scaled.market.prospects == round(firm.market.prospects * s)
    for team in ("field", "inside"):
        ours, theirs = getattr(scaled.reps, team), getattr(firm.reps, team)
        assert ours.count == theirs.count  # every rep of the firm
        assert ours.calls_per_week == pytest.approx(theirs.calls_per_week * s)
        assert ours.loaded_cost_annual == pytest.approx(theirs.loaded_cost_annual * s)
        assert ours.variable_cost_per_call == theirs.variable_cost_per_call
    assert scaled.channels.ecommerce.fixed_cost_weekly == pytest.approx(
        firm.channels.ecommerce.fixed_cost_weekly * s
    )
    assert scaled.distributors.accounts_per_distributor == pytest.approx(
        firm.distributors.accounts_per_distributor * s
    )
    # per-order, per-unit and share keys are the firm's
    assert scaled.distributors.cost_to_serve == firm.distributors.cost_to_serve
    assert scaled.products == firm.products and scaled.market.segments == firm.market.segments
    assert scaled.policy.channel_plan == firm.policy.channel_plan


def test_every_rep_and_distributor_of_the_firm_is_simulated() -> None:
    for share in (0.1, 1.0):
        study = load_study(SCENARIOS / "baseline.yaml", [f"market.sample_share={share}"])
        model = ChannelModel(study.scenario, 1)
        firm = study.scenario
        assert len(model.distributors) == round(
            firm.market.buyers / firm.distributors.accounts_per_distributor
        )
        assert np.all(model.network.open[:-1])
        assert len(model.reps) == firm.reps.field.count + firm.reps.inside.count
        assert model.initial_customers == round(firm.market.buyers * share)
        # the firm's accounts at week 0, whatever the sample
        assert model.initial_levels()["active_customers"] == pytest.approx(firm.market.buyers)


TENTH_CHURN = pytest.param(
    "churn_rate_annual",
    0.1,
    marks=pytest.mark.xfail(
        strict=True,
        reason="at a tenth the smallest distributors hold a handful of simulated accounts and "
        "move more of them wholly to a competitor's line (lost customers, in churn): 11.8 % a "
        "year against 10.9 % (measured, 24 and 8 runs); the cause of the exit-share xfail below",
    ),
)


@pytest.mark.parametrize(
    ("metric", "share"),
    [
        *((m, s) for m in ("revenue", "contribution_margin") for s in (0.1, 0.5)),
        TENTH_CHURN,
        ("churn_rate_annual", 0.5),
    ],
)
def test_the_firm_gets_the_same_numbers_at_a_sample(share: float, metric: str) -> None:
    """Welch's t of the sample's runs against the full firm's, alpha 0.05 two-sided.

    Power, from the measured run-to-run spread over 52 weeks (revenue and margin: 2.4-2.6% of
    the mean at the full firm, 8 runs; 6.5-6.8% at 0.1, 24 runs; 3.6-4.1% at 0.5, 8 runs;
    churn: 0.16, 0.73 and 0.27 points): the standard error of the difference is ~1.6% of
    revenue and margin and 0.16 (0.1) or 0.11 (0.5) points of churn, so a bias of 5% of
    revenue or margin is found with probability ~0.9 (4%: ~0.7), one of 0.5 points of churn
    with ~0.9 or more.
    """
    firm = _summary("baseline.yaml", 1.0, 8)[metric]
    sample = _summary("baseline.yaml", share, 24 if share < 0.5 else 8)[metric]
    test = stats.ttest_ind(sample, firm, equal_var=False)
    assert test.pvalue > 0.05, (metric, share, sample.mean(), firm.mean())


def test_the_plans_effect_is_the_same_at_a_tenth() -> None:
    """The plan's paired effect on contribution (plan minus status quo, common random numbers)
    at a tenth of the accounts against the full firm's; Welch's t, alpha 0.05.

    Power: over 52 weeks the effect is -1.21 M with SD 0.18 M at the full firm (8 runs) and
    -1.23 M with SD 0.87 M at a tenth (24 runs), a standard error of the difference of 0.19 M:
    a difference of 0.61 M (half the effect) is found with probability ~0.9.
    """
    effects = []
    for share, n in ((1.0, 8), (0.1, 24)):
        plan = _summary("direct_shift.yaml", share, n)["contribution_margin"].to_numpy()
        still = _summary("direct_shift.yaml", share, n, "status_quo")["contribution_margin"]
        effects.append(plan - still.to_numpy())
    full, tenth = effects
    assert stats.ttest_ind(tenth, full, equal_var=False).pvalue > 0.05, (tenth.mean(), full.mean())


@pytest.mark.parametrize(
    "share",
    [
        0.5,
        pytest.param(
            0.1,
            marks=pytest.mark.xfail(
                strict=True,
                reason="defect (issue 20): at a tenth, 21% of distributors leave under the "
                "plan in 52 weeks against 4.4% at the full firm (5% at a half): the exits at "
                "a sample are of the smallest distributors (0.2-0.6% of the accounts), whose "
                "few simulated accounts make their books move in steps of many real ones",
            ),
        ),
    ],
)
def test_the_same_share_of_distributors_leaves_at_a_sample(share: float) -> None:
    """Share of distributors exited under the ``direct_shift`` plan, against the full firm's.

    Welch's t, alpha 0.05. Measured when written: 0.044 (SD 0.042) at the full firm (8 runs),
    0.05 (SD 0.053) at a half (8 runs), 0.21 (SD 0.069) at a tenth (24 runs). Power: a
    difference of 0.067 (1.3 of 20 distributors) at a half, 0.055 at a tenth, is found with
    probability ~0.8.
    """
    firm = _summary("direct_shift.yaml", 1.0, 8)["distributor_exit_share"]
    sample = _summary("direct_shift.yaml", share, 24 if share < 0.5 else 8)
    exits = sample["distributor_exit_share"]
    assert stats.ttest_ind(exits, firm, equal_var=False).pvalue > 0.05, (exits.mean(), firm.mean())


def test_baseline_ratios_are_the_baseline_files() -> None:
    """The plausibility reference, recomputed from ``scenarios/baseline.yaml``."""
    firm = load_study(SCENARIOS / "baseline.yaml").scenario
    market, reps = firm.market, firm.reps
    spend = market.buyers * sum(s.share * s.spend_annual for s in market.segments)
    cost = reps.field.count * reps.field.loaded_cost_annual
    cost += reps.inside.count * reps.inside.loaded_cost_annual
    assert (
        pytest.approx(
            {
                "accounts per field rep": market.buyers / reps.field.count,
                "accounts per inside rep": market.buyers / reps.inside.count,
                "accounts per distributor": firm.distributors.accounts_per_distributor,
                "reps' cost per revenue": cost / spend,
            },
            rel=1e-4,
        )
        == BASELINE_RATIOS
    )
    assert firm_warnings(firm) == []


def test_a_shrunk_firm_is_told_what_else_to_change() -> None:
    shrunk = load_study(SCENARIOS / "baseline.yaml", ["market.buyers=3000"]).scenario
    (warning,) = firm_warnings(shrunk)
    assert "accounts per field rep" in warning and "market.sample_share" in warning
    tiny = load_study(SCENARIOS / "baseline.yaml", ["market.sample_share=0.1"]).scenario
    (warning,) = firm_warnings(tiny)
    # 20 distributors, sigma 1: the smallest holds Phi(Phi^-1(0.05) - 1) = 0.41% of 20,000
    assert "about 8 accounts of the smallest of the 20 distributors" in warning, warning
    assert "at least 0.37" in warning
    assert not math.isnan(FirmSample.of(tiny).weight)
    half = load_study(SCENARIOS / "baseline.yaml", ["market.sample_share=0.5"]).scenario
    assert firm_warnings(half) == []  # about 41 accounts: the exits agree (above)


def test_the_smallest_distributors_share_is_the_networks() -> None:
    """The warning's formula against the sizes the network draws: the smallest of 20 holds
    0.41% of the accounts in expectation; over 2,000 networks its mean share is within
    4.5 standard errors of it (the network re-sized 2,000 times by its own rule; measured
    0.00413, SE 0.00003, against 0.00409)."""
    firm = load_study(SCENARIOS / "baseline.yaml", ["market.sample_share=0.05"]).scenario
    network = ChannelModel(firm, 0).network
    smallest = []
    for seed in range(2_000):
        network._assign(np.random.default_rng(seed))
        smallest.append(network.size_weight.min())
    expected = smallest_distributor_share(20, firm.distributors.size_sigma)
    assert expected == pytest.approx(0.0041, abs=5e-5)
    error = np.std(smallest, ddof=1) / np.sqrt(len(smallest))
    assert abs(np.mean(smallest) - expected) < 4.5 * error
