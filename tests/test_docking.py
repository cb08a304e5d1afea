"""Docking the vectorised engine against the plain one-agent-per-buyer reference.

Docking (Axtell, Axelrod, Epstein & Cohen 1996, "Aligning simulation models: a case study and
results", Computational and Mathematical Organization Theory 1(2)) asks whether two
implementations of the same rules are *distributionally equivalent*: their outputs over
independent replications cannot be told apart statistically.

What is compared
----------------
Both :class:`sim.model.model.ChannelModel` and :class:`sim.model.reference.ReferenceModel` run
``scenarios/baseline.yaml`` reduced to the buyer rules (``reference.DOCKING_OVERRIDES``: no
distributors, campaigns, plans, promotions, prospects or inbound accounts; reps cover accounts
but make no calls; inside sales covers every account) with 1,000 buyers for 52 weeks,
``REPLICATIONS`` = 20 independent replications each (independent seeds, each drawing its own
population). Per replication, five statistics:

- ``revenue``: total revenue over the 52 weeks;
- ``revenue_share``: the same divided by the buyers' annual spend potential at list (removes
  most of the between-population variance, so it is the sharp revenue check);
- ``churned``: churned customers at week 52 (effort-driven churn hazard);
- ``adopters``: e-commerce adopters' share of active buyers at week 52 (Bass process);
- ``effort``: mean customer effort of active buyers at week 52 (conflicts and recovery).

The test and its power
----------------------
Welch's two-sample t-test per statistic, family-wise alpha 0.01 with Bonferroni over the five
(alpha = 0.002 each, two-sided); plus a two-sample Kolmogorov-Smirnov test at the same alpha
on the distribution. Seeds are fixed, so the test is deterministic. Power: with n = 20 per side
the minimum detectable difference at 80% power is ``(z_{1-alpha/2} + z_{0.8}) * SE`` = 3.93 x
the standard error of the difference; from the replications' own spread it was (measured
when this test was written; the test asserts the bounds in ``MAX_MDD``)

- revenue share 0.024 (2.8% of 0.86); revenue 3.3 M (8.9% of 37 M);
- churned 12 accounts (9.7% of ~124); adopters' share 0.022 (6.3% of 0.35);
- effort mean 0.011 (5.4% of 0.20).

Differences smaller than these would go unnoticed; the bounds are checked so that a change
making the replications noisier (and the test toothless) fails loudly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.model.model import ChannelModel
from sim.model.reference import DOCKING_OVERRIDES, ReferenceModel
from sim.scenario.loader import load_scenario

REPLICATIONS = 20
BUYERS = 1_000
WEEKS = 52
ALPHA = 0.01 / 5
Z_POWER = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(0.8)
MAX_MDD = {
    "revenue": 0.15,
    "revenue_share": 0.05,
    "churned": 0.20,
    "adopters": 0.10,
    "effort": 0.08,
}
"""Largest acceptable minimum detectable difference, relative to the pooled mean."""


def _scenario():
    from pathlib import Path

    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    return load_scenario(
        baseline,
        [f"market.buyers={BUYERS}", f"horizon_weeks={WEEKS}", *DOCKING_OVERRIDES],
    )


def _statistics(rows: dict[str, np.ndarray], potential: float) -> dict[str, float]:
    revenue = float(rows["revenue"].sum())
    return {
        "revenue": revenue,
        "revenue_share": revenue / potential,
        "churned": float(rows["churned_customers"][-1]),
        "adopters": float(rows["ecommerce_adopters_share"][-1]),
        "effort": float(rows["customer_effort_mean"][-1]),
    }


@pytest.fixture(scope="module")
def replications() -> dict[str, dict[str, np.ndarray]]:
    scenario = _scenario()
    fast, plain = [], []
    for i in range(REPLICATIONS):
        model = ChannelModel(scenario, np.random.SeedSequence(1, spawn_key=(i,)))
        model.run()
        potential = float(model.population.spend_annual.sum())
        fast.append(_statistics(model.ledger.rows, potential))
        reference = ReferenceModel(scenario, np.random.SeedSequence(2, spawn_key=(i,)))
        reference.run()
        potential = sum(b.spend_annual for b in reference.buyers)
        plain.append(_statistics(reference.rows, potential))
    return {
        name: {key: np.array([r[key] for r in runs]) for key in MAX_MDD}
        for name, runs in (("fast", fast), ("plain", plain))
    }


@pytest.mark.slow
@pytest.mark.parametrize("statistic", list(MAX_MDD))
def test_engines_dock(replications, statistic):
    fast = replications["fast"][statistic]
    plain = replications["plain"][statistic]
    welch = stats.ttest_ind(fast, plain, equal_var=False)
    ks = stats.ks_2samp(fast, plain)
    se = np.sqrt(fast.var(ddof=1) / len(fast) + plain.var(ddof=1) / len(plain))
    mdd = Z_POWER * se
    mean = 0.5 * (fast.mean() + plain.mean())
    detail = (
        f"{statistic}: fast {fast.mean():.4g} ± {fast.std(ddof=1):.2g}, plain "
        f"{plain.mean():.4g} ± {plain.std(ddof=1):.2g}; Welch p={welch.pvalue:.3g}, "
        f"KS p={ks.pvalue:.3g}; MDD {mdd:.3g} ({mdd / mean:.1%} of mean)"
    )
    print(detail)
    assert welch.pvalue > ALPHA, detail
    assert ks.pvalue > ALPHA, detail
    assert mdd / mean < MAX_MDD[statistic], f"test has too little power: {detail}"
