"""The report's answer to "did the direct channel restrain distributor markups?" (issue 12).

Paired differences are checked against a second computation (numpy and scipy's t quantile on
hand-built weekly series), the verdict against series whose answer is known by construction,
and the report section on a tiny real compare.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.report import build_report
from sim.report.markups import markup_differences, verdict

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
WEEKS, REPLICATIONS = 60, 4


def series(markup_shift: float, direct_shift: float, *, seed: int = 0) -> pd.DataFrame:
    """Weekly rows of a baseline and a variant whose mean markup (weeks 9-60) is higher by
    ``markup_shift`` and direct share of revenue by ``direct_shift``, with replication noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for variant, markup_add, direct_add in (("baseline", 0, 0), ("v", markup_shift, direct_shift)):
        for r in range(REPLICATIONS):
            noise = rng.normal(0, 0.002)  # one draw per run, shared by its weeks
            for week in range(1, WEEKS + 1):
                late = week > WEEKS - 52
                direct = 0.3 + late * direct_add + noise
                rows.append(
                    {
                        "variant": variant,
                        "replication": r,
                        "week": week,
                        "distributor_markup_mean": 0.4 + late * markup_add + noise,
                        "revenue": 1000.0,
                        "revenue_field": 500.0 * direct,
                        "revenue_inside": 300.0 * direct,
                        "revenue_ecommerce": 200.0 * direct,
                    }
                )
    return pd.DataFrame(rows)


def test_paired_differences_over_the_last_year_match_a_second_computation():
    ts = series(-0.05, 0.02)
    got = markup_differences(ts, reference="baseline").loc["v"]
    late = ts[ts["week"] > WEEKS - 52]
    markup = late.pivot_table("distributor_markup_mean", "replication", "variant", "mean")
    direct = late.assign(
        d=late[["revenue_field", "revenue_inside", "revenue_ecommerce"]].sum(axis=1)
    ).pivot_table(["d", "revenue"], "replication", "variant", "sum")
    share = direct["d"] / direct["revenue"]
    for name, table in (("markup", markup), ("direct_share", share)):
        difference = (table["v"] - table["baseline"]).to_numpy()
        half = stats.t.ppf(0.975, REPLICATIONS - 1) * difference.std(ddof=1) / 2.0
        assert got[name] == pytest.approx(difference.mean(), abs=1e-12)
        assert got[f"{name}_low"] == pytest.approx(difference.mean() - half, abs=1e-12)
        assert got[f"{name}_high"] == pytest.approx(difference.mean() + half, abs=1e-12)
    # Run noise SD 0.002: the mean of 4 paired differences has SD 0.0014.
    assert got["markup"] == pytest.approx(-0.05, abs=0.006)
    assert got["n"] == REPLICATIONS


@pytest.mark.parametrize(
    ("markup_shift", "direct_shift", "conclusion"),
    [
        (-0.05, 0.02, "the direct channel restrained markups"),
        (0.05, 0.02, "did not restrain markups"),
        (-0.05, 0.0, "cannot show"),
    ],
)
def test_the_verdict_follows_the_intervals(markup_shift, direct_shift, conclusion):
    """More direct reach with a lower markup: the effect appeared; with a higher one: it did
    not; no reach difference: the comparison cannot tell. Run noise SD 0.002 (fixed seed): the
    intervals' half-width is about 0.005, against shifts of 0.02-0.05; with no shift the
    interval holds 0 (as it does with probability 0.95 for any seed)."""
    differences = markup_differences(series(markup_shift, direct_shift), reference="baseline")
    lines = verdict(differences, reference="baseline")
    assert len(lines) == 2 and lines[0].startswith("v against baseline: ")
    assert conclusion in lines[-1]


def test_report_shows_the_markup_section_of_a_tiny_compare(tmp_path: Path):
    """direct_shift at 1,500 buyers, 2 replications, 30 weeks, baseline and fast: the page holds
    the figure, one sentence per variant and the conclusion, with the computed numbers."""
    results = sim.compare(
        SCENARIOS / "direct_shift.yaml",
        overrides=[
            "market.buyers=1500",
            "market.prospects=300",
            "replications=2",
            "horizon_weeks=30",
            "variants={fast: {policy.channel_plan.0.ramp_weeks: 4}}",
        ],
        out=tmp_path / "direct_shift",
    )
    page = build_report(results.path).read_text(encoding="utf-8")
    assert '<section id="markups">' in page
    assert (results.path / "figures" / "distributor_markups.png").is_file()
    row = markup_differences(results.timeseries, reference="baseline").loc["fast"]
    assert f"{row['markup'] * 100:+.2f} pp" in page
    lines = verdict(
        markup_differences(results.timeseries, reference="baseline"), reference="baseline"
    )
    assert all(html.escape(line) in page for line in lines)
