"""Figures, margin bridge and report.html built from real (small) compare results."""

from __future__ import annotations

import html
import itertools
import json
import re
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.metrics import CONFLICT_TYPES, COST_ACTIVITIES
from sim.report import build_report
from sim.report import figures as fig
from sim.report.bridge import DRIVERS, bridge_by_replication, margin_bridge

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SMALL = (
    "market.buyers=1500",
    "market.prospects=300",
    "replications=2",
    "reps.field.count=4",
    "reps.inside.count=2",
)
"""Overrides that make a scenario run in about a second per replication."""

COSTS = (*(f"cost_{a}" for a in COST_ACTIVITIES), "commissions", "referral_fees", "campaign_costs")
"""Costs below gross margin (SPEC section 3, phase 6), the cost to serve by activity."""

VARIANTS = "variants={referral_fee: {policy.distributor_referral_fee: 0.05}}"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> sim.Results:
    """direct_shift, small: baseline + a referral-fee variant, 2 replications, 40 weeks."""
    out = tmp_path_factory.mktemp("report") / "direct_shift"
    return sim.compare(
        SCENARIOS / "direct_shift.yaml",
        overrides=[*SMALL, "horizon_weeks=40", VARIANTS],
        out=out,
    )


@pytest.fixture(scope="module")
def report(results: sim.Results) -> Path:
    return build_report(results.path)


def _baseline(results: sim.Results):
    return results.timeseries[results.timeseries["variant"] == "baseline"]


def test_overview_figures_hold_the_expected_series(results: sim.Results) -> None:
    figures = fig.overview_figures(_baseline(results))
    assert set(figures) == {
        "revenue_by_channel",
        "contribution_margin",
        "customers",
        "distributors",
        "channel_stock",
        "conflicts",
        "ecommerce",
    }
    revenue = figures["revenue_by_channel"].axes[0]
    labels = [line.get_label() for line in revenue.get_lines()]
    channels = ("field", "inside", "distributor", "ecommerce")
    assert labels == [fig.CHANNEL_LABELS[c] for c in channels]
    assert len(revenue.collections) == 4  # one band per channel (2 replications)
    assert "currency units" in revenue.get_ylabel()
    assert revenue.get_xlabel() == "Week"
    assert len(revenue.get_lines()[0].get_xdata()) == 40

    conflicts = figures["conflicts"].axes[0]
    assert len(conflicts.get_lines()) == len(CONFLICT_TYPES)
    for name in ("contribution_margin", "customers", "distributors", "channel_stock"):
        axes = figures[name].axes
        assert len(axes) == 2, name
        assert all(ax.get_ylabel() and ax.get_xlabel() == "Week" for ax in axes), name
    flows, _stock = figures["channel_stock"].axes
    assert [line.get_label() for line in flows.get_lines()] == ["Sell-in", "Sell-through"]
    assert len(figures["ecommerce"].axes[0].get_lines()) == 2


def test_cumulative_bands_end_at_the_summary_of_the_same_runs(results: sim.Results) -> None:
    """The figures' cumulative (and discounted) bands, at the horizon, against summary.csv: a
    second computation (the run's own horizon totals, written per run) of the same numbers.

    The band's mean ends at the mean over replications of the summary's horizon total
    (revenue, contribution margin, its NPV at the scenario's discount rate, conflicts) and the
    5-95% band lies within the replications' range. Deterministic; fails a band built from
    the wrong runs, a shifted week or discount exponent, or a cumulated smoothed flow.
    """
    ts = _baseline(results)
    summary = results.summary[results.summary["variant"] == "baseline"]
    rate = sim.load_scenario(SCENARIOS / "direct_shift.yaml").discount_rate_annual
    checks = {
        "revenue": fig.per_run(ts, "revenue", cumulative=True),
        "contribution_margin": fig.per_run(ts, "contribution_margin", cumulative=True),
        "npv_contribution": fig.per_run(
            ts, "contribution_margin", cumulative=True, discount_rate_annual=rate
        ),
        "conflict_incidents": fig.per_run(ts, "conflict_incidents", cumulative=True),
    }
    for column, wide in checks.items():
        assert wide.shape == (40, 2), column
        end = fig.bands(wide).loc[40]
        totals = summary[column].to_numpy()
        assert end["mean"] == pytest.approx(totals.mean(), rel=1e-9), column
        assert totals.min() * (1 - 1e-9) <= end["low"] <= end["high"], column
        assert end["high"] <= totals.max() * (1 + 1e-9), column


BAND_RUNS, BAND_WEEKS, HELD_OUT = 2000, 20, 5000


def test_bands_hold_90_percent_of_fresh_draws() -> None:
    """The 5-95% band of many runs leaves out 10% of new draws from the same distribution.

    Synthetic runs: a lognormal level per week (skewed, like money). The band comes from
    2,000 runs; 100,000 held-out draws (5,000 per week) are tested against it. The share
    outside has two sources of noise: the binomial draw, sd sqrt(0.1 * 0.9 / 100,000) =
    0.00095, and the quantiles' estimation, about sqrt(2 * 0.05 * 0.95 / 2000 / 20) = 0.0015;
    together 0.0018. The tolerance 0.0075 is about 4 sd (false alarm < 1e-4). Power: a 10-90%
    band (20% outside), a 2.5-97.5% band (5%) or a band of +-1 sd (32%) all fail it with
    certainty; a band leaving 12% out is 11 sd away.
    """
    rng = np.random.default_rng(20261123)
    weekly_mu = np.linspace(0.0, 1.0, BAND_WEEKS)
    draws = np.exp(weekly_mu + 0.5 * rng.standard_normal((BAND_RUNS, BAND_WEEKS)))
    ts = pd.DataFrame(
        {
            "scenario": "synthetic",
            "variant": "baseline",
            "replication": np.repeat(np.arange(BAND_RUNS), BAND_WEEKS),
            "seed": 1,
            "week": np.tile(np.arange(1, BAND_WEEKS + 1), BAND_RUNS),
            "active_customers": draws.ravel(),  # a level: bands without smoothing
        }
    )
    band = fig.bands(fig.per_run(ts, "active_customers"))
    fresh = np.exp(weekly_mu + 0.5 * rng.standard_normal((HELD_OUT, BAND_WEEKS)))
    outside = (fresh < band["low"].to_numpy()) | (fresh > band["high"].to_numpy())
    assert outside.mean() == pytest.approx(0.10, abs=0.0075)
    below = (fresh < band["low"].to_numpy()).mean()
    assert below == pytest.approx(0.05, abs=0.0055)  # each tail alone: 4 sd of its noise


def test_comparison_puts_every_variant_on_one_axis(results: sim.Results) -> None:
    figures = fig.comparison_figures(results.timeseries)
    weekly, npv = figures["compare_contribution_margin"].axes
    assert [line.get_label() for line in weekly.get_lines()] == ["baseline", "referral_fee"]
    assert len(npv.get_lines()) == 2
    visible = [ax for ax in figures["margin_bridge"].axes if ax.get_visible()]
    assert len(visible) == 1  # one waterfall per variant
    assert len(figures["compare_outcomes"].axes) == len(fig.OUTCOMES)


def test_margin_bridge_bars_sum_to_the_summary_difference_of_each_pair(
    results: sim.Results,
) -> None:
    """Per replication pair, the bridge's bars against numbers computed elsewhere: their sum
    is the difference in summary.csv's ``contribution_margin`` (each run's horizon totals,
    written per run), the cost-to-serve bars sum to minus the difference in its
    ``cost_to_serve``, and the referral-fee bar is minus the difference in the referral fees
    of channel_pnl.csv (the per-line P&L, another owner). Deterministic; fails a bridge that
    leaves out, double counts or mis-signs any part of the margin.
    """
    per_run = bridge_by_replication(results.timeseries, "referral_fee")
    summary = results.summary.set_index(["variant", "replication"])
    pnl = pd.read_csv(results.path / "channel_pnl.csv")
    fees = pnl.groupby(["variant", "replication"])["referral_fees"].sum()
    activities = [f"cost_{a}" for a in COST_ACTIVITIES]
    for replication in (0, 1):
        bars = per_run.loc[replication]

        def change(column: str, r: int = replication) -> float:
            return summary.loc[("referral_fee", r), column] - summary.loc[("baseline", r), column]

        scale = abs(change("revenue")) + 1.0
        assert bars[list(DRIVERS)].sum() == pytest.approx(
            change("contribution_margin"), abs=1e-9 * scale
        )
        assert bars[activities].sum() == pytest.approx(-change("cost_to_serve"), abs=1e-9 * scale)
        paid = fees.loc[("referral_fee", replication)] - fees.loc[("baseline", replication)]
        assert bars["referral_fees"] == pytest.approx(-paid, abs=1e-9 * scale)
        assert paid > 0  # the variant pays fees the baseline does not


def test_margin_bridge_calls_more_units_volume_and_higher_prices_mix_and_price(
    results: sim.Results,
) -> None:
    """Theory of the split, on runs made from the baseline's: 10% more units at the same
    prices and unit costs (every flow x 1.1) is pure volume, worth 10% of the baseline's gross
    margin, with each cost bar minus 10% of that cost and nothing in mix & price; 5% higher
    prices on the same units (revenue x 1.05, costs unchanged) is pure mix & price, worth 5%
    of the baseline's revenue, with no volume and no cost bar. Exact (floating point).
    """
    base = _baseline(results)
    more = base.assign(variant="more_units")
    flows = [c for c in ("revenue", "cogs", *COSTS, "contribution_margin") if c in base]
    more[flows] = base[flows] * 1.1
    dearer = base.assign(variant="dearer")
    dearer["revenue"] = base["revenue"] * 1.05
    dearer["contribution_margin"] = base["contribution_margin"] + 0.05 * base["revenue"]
    ts = pd.concat([base, more, dearer], ignore_index=True)
    totals = base.groupby("replication")[flows].sum()
    gross = totals["revenue"] - totals["cogs"]
    scale = float(totals["revenue"].max())
    volume = bridge_by_replication(ts, "more_units")
    price = bridge_by_replication(ts, "dearer")
    for r in (0, 1):
        assert volume.loc[r, "volume"] == pytest.approx(0.1 * gross[r], abs=1e-9 * scale)
        assert volume.loc[r, "mix_price"] == pytest.approx(0.0, abs=1e-9 * scale)
        for cost in COSTS:
            assert volume.loc[r, cost] == pytest.approx(
                -0.1 * totals.loc[r, cost], abs=1e-9 * scale
            )
        assert price.loc[r, "mix_price"] == pytest.approx(
            0.05 * totals.loc[r, "revenue"], abs=1e-9 * scale
        )
        assert price.loc[r, "volume"] == pytest.approx(0.0, abs=1e-9 * scale)
        for cost in COSTS:
            assert price.loc[r, cost] == pytest.approx(0.0, abs=1e-9 * scale)


def test_margin_bridge_means_agree_with_the_comparison(results: sim.Results) -> None:
    comparison = results.comparison
    assert comparison is not None
    bridge = margin_bridge(results.timeseries, "referral_fee")
    row = comparison[
        (comparison["variant"] == "referral_fee") & (comparison["metric"] == "contribution_margin")
    ].iloc[0]
    # comparison.csv comes from summary.csv (another path: per-run files, catalogue sums)
    assert bridge.loc["total", "mean"] == pytest.approx(row["mean_difference"], rel=1e-9)
    assert bridge.loc[list(DRIVERS), "mean"].sum() == pytest.approx(
        row["mean_difference"], rel=1e-9
    )
    # and the waterfall draws those numbers: drivers stacked end where the total bar ends
    _figure, ax = fig.new_figure()
    heights = fig.waterfall(ax, bridge)
    assert heights == pytest.approx(
        [*bridge.loc[list(DRIVERS), "mean"], bridge.loc["total", "mean"]]
    )


def test_figures_are_written_as_png_and_svg(report: Path) -> None:
    folder = report.parent / "figures"
    for name in (
        "baseline_revenue_by_channel",
        "referral_fee_conflicts",
        "compare_contribution_margin",
        "margin_bridge",
    ):
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert b"<svg" in svg.read_bytes()[:2000], name


VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


class Checker(HTMLParser):
    """Collects references and checks that tags nest."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.references: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data") and value is not None:
                self.references.append(value)
            if name == "id" and value:
                self.ids.add(value)
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} ")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_is_valid_self_contained_html(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert checker.stack == []
    external = [r for r in checker.references if r.startswith(("http://", "https://", "//"))]
    assert external == []
    assert "http://" not in text and "https://" not in text
    assert all(r.startswith(("#", "data:image/png;base64,")) for r in checker.references)
    assert len(checker.images) >= 4 + 7  # comparison figures + the baseline's overview
    assert {"glance", "summary", "comparison", "weekly", "scenario", "provenance"} <= checker.ids
    words = " ".join(checker.text)
    expected_words = ("95%", "Margin bridge", "referral_fee", "Channel plan", "Deal registration")
    for expected in expected_words:
        assert expected in words, expected


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> sim.Results:
    out = tmp_path_factory.mktemp("report") / "run"
    return sim.run(SCENARIOS / "baseline.yaml", overrides=[*SMALL, "horizon_weeks=20"], out=out)


def test_cli_report_of_a_single_run(single_run: sim.Results) -> None:
    result = CliRunner().invoke(app, ["report", str(single_run.path)])
    assert result.exit_code == 0, result.output
    page = (single_run.path / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison"' not in page
    assert 'id="summary"' in page
    assert (single_run.path / "figures" / "baseline_customers.svg").is_file()
    assert "https://" not in page


def test_cli_report_rejects_bad_folders(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "file.txt").write_text("not results")
    for bad in (tmp_path / "missing", tmp_path, tmp_path / "file.txt"):
        result = runner.invoke(app, ["report", str(bad)])
        assert result.exit_code == 2, bad
        assert "error" in result.output and "Traceback" not in result.output


def test_importing_the_report_leaves_matplotlib_alone() -> None:
    code = (
        "import sys, matplotlib as mpl; before = mpl.rcParams._get_backend_or_none();"
        "import sim, sim.report, sim.report.figures;"
        "assert 'matplotlib.pyplot' not in sys.modules;"
        "assert mpl.rcParams._get_backend_or_none() == before"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_run_ends_with_the_report_unless_told_not_to(tmp_path: Path) -> None:
    tiny = [*SMALL, "horizon_weeks=8", "market.buyers=500", "replications=1"]
    sets = [arg for pair in tiny for arg in ("--set", pair)]
    runner = CliRunner()
    with_report = runner.invoke(
        app, ["run", str(SCENARIOS / "baseline.yaml"), *sets, "--out", str(tmp_path / "a")]
    )
    assert with_report.exit_code == 0, with_report.output
    assert (tmp_path / "a" / "report.html").is_file()
    assert (tmp_path / "a" / "figures" / "baseline_revenue_by_channel.png").is_file()
    without = runner.invoke(
        app,
        [
            "run",
            str(SCENARIOS / "baseline.yaml"),
            *sets,
            "--out",
            str(tmp_path / "b"),
            "--no-report",
        ],
    )
    assert without.exit_code == 0, without.output
    assert (tmp_path / "b" / "summary.csv").is_file()
    assert not (tmp_path / "b" / "report.html").exists()


def test_channel_pnl_shows_cost_to_serve_shares_only_where_they_mean_something(
    results: sim.Results,
) -> None:
    """The pooled rows have no revenue of their own: no share (the 1305.9% of issue 22). A
    distributor line carries none of our cost to serve (the distributor serves the buyer);
    ours, the distributors' restocks, sits on the channel-stock row, and the lines show it as
    a share of all sell-in, computed here from the weekly sell-in revenue (another owner)."""
    from sim.report.html import _pnl_section
    from sim.report.pnl import POOLED, STOCK, UNTRACED, line_summary, restock_share

    pnl = results.channel_pnl
    lines = line_summary(pnl, "baseline")
    assert STOCK in lines.index and UNTRACED in lines.index
    assert lines.loc[UNTRACED, "revenue"] == 0  # headcount, platforms: no revenue
    distributor = [i for i in lines.index if i[2] == "distributor"]
    assert distributor and (lines.loc[distributor, "cost_to_serve"] == 0).all()
    stock = pnl[(pnl["segment"] == "all") & (pnl["channel"] == "distributor")]
    assert (stock["product"] != "all").all()
    assert lines.loc[STOCK, "cost_to_serve"] == pytest.approx(
        stock[stock["variant"] == "baseline"].groupby("replication")["cost_to_serve"].sum().mean()
    )
    sell_in = _baseline(results).groupby("replication")["revenue_distributor"].sum().mean()
    share = restock_share(pnl, "baseline")
    assert 0 < share < 1
    assert share == pytest.approx(lines.loc[STOCK, "cost_to_serve"] / sell_in, rel=1e-9)

    page = _pnl_section(pnl, ["baseline", "referral_fee"], "baseline")
    rows = {r.split("</td>")[0]: r for r in page.split("<tr><td>")[1:]}
    for label in POOLED:
        assert rows[label[0]].split("<td>")[2].startswith("–"), label  # no share
    for line in distributor:
        row = rows.get(" · ".join(line))
        if row is not None:
            assert row.split("<td>")[2].startswith(f"{share * 100:.1f}% <b>*</b>"), line
    shares = [float(x) for x in re.findall(r"<td>([\d.]+)%", page)]
    assert shares and max(shares) < 100


def test_margin_bridge_labels_do_not_overlap_and_its_table_fits_a_projector(
    results: sim.Results,
) -> None:
    """Issue 22: the bridge's driver labels overlapped and its table (a column per driver)
    overflowed a 1,400 px page. Drivers are rows now, in the figure and in the table; those
    zero in every variant are left out of both (and named)."""
    from sim.report.html import _bridge_table

    figure = fig.comparison_figures(results.timeseries)["margin_bridge"]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for ax in (a for a in figure.axes if a.get_visible()):
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [t.get_window_extent(renderer) for t in ticks if t.get_text()]
            for a, b in itertools.pairwise(boxes):
                assert not a.overlaps(b), (a, b)
    table = _bridge_table(results.timeseries, ["baseline", "referral_fee"], "baseline")
    header = table.split("</thead>")[0]
    assert header.count("<th>") == 2  # driver, then one column per variant
    bridge = margin_bridge(results.timeseries, "referral_fee")
    shown = fig.moving_drivers([bridge])
    assert "referral_fees" in shown and "volume" in shown
    for driver in DRIVERS:
        assert (f"<td>{escape(DRIVERS[driver])}</td>" in table) == (driver in shown), driver
    left_out = [DRIVERS[d] for d in DRIVERS if d not in shown]
    assert all(escape(label) in table.split("left out:")[-1] for label in left_out)


def _decision_folder(folder: Path, losing: list[int]) -> dict:
    """An optimize folder's files, written by hand: a winner that loses in ``losing`` worlds."""
    ramp, fee, npv = "policy.channel_plan.0.ramp_weeks", "policy.distributor_referral_fee", "npv"
    objective = "npv_contribution_with_terminal"
    rows = [
        ("search", 0, "trial_0", 40, 0.02, 1.5e8, True, False),
        ("search", 3, "trial_3", 73, 0.0338, 1.6e8, True, False),
        ("finalist", -1, "baseline", 26, 0.0, 1.6054e8, True, False),
        ("finalist", 3, "trial_3", 73, 0.0338, 1.6523e8, True, True),
    ]
    table = pd.DataFrame(rows, columns=["stage", "trial", "variant", ramp, fee, npv, "f", "r"])
    table[f"{objective}_mean"] = table.pop(npv)
    table[f"{objective}_ci_low"] = table[f"{objective}_mean"] - 7e6
    table[f"{objective}_ci_high"] = table[f"{objective}_mean"] + 7e6
    table = table.assign(
        feasible=table.pop("f"), violated="", pareto=True, recommended=table.pop("r")
    )
    table.to_csv(folder / "optimization.csv", index=False)
    pd.DataFrame(
        [("trial_3", objective, 4.69e6, 2.88e6, 6.51e6, 3, True)],
        columns=[
            "variant",
            "metric",
            "mean_difference",
            "ci_low",
            "ci_high",
            "n",
            "distinguishable",
        ],
    ).to_csv(folder / "comparison.csv", index=False)
    worlds = pd.DataFrame({"world": [0, 1, 2, 3] * 2, "policy": ["baseline"] * 4 + ["trial_3"] * 4})
    worlds["market.ecommerce_adoption.p"] = [0.011, 0.02, 0.025, 0.049] * 2
    worlds[f"{objective}_mean"] = [1.6e8] * 4 + [
        1.7e8 if w not in losing else 1.5e8 for w in range(4)
    ]
    worlds.to_csv(folder / "stress.csv", index=False)
    pd.DataFrame(
        {
            "policy": ["baseline", "trial_3"],
            "mean_regret": [4.3e6, 1.13e6],
            "max_regret": [1.04e7, 4.5e6],
            "share_best": [0.25, 0.75],
            "share_loses_to_baseline": [0.0, len(losing) / 4],
        }
    ).to_csv(folder / "regret.csv", index=False)
    pd.DataFrame(
        {
            "parameter": ["market.ecommerce_adoption.p"],
            "low": [0.0172],
            "high": [0.0291],
            "restricted": [True],
        }
    ).to_csv(folder / "prim_box.csv", index=False)
    record = {
        "statement": "raw",
        "recommended": "trial_3",
        "rival": "baseline",
        "losing_worlds": losing,
        "worlds": 4,
        "coverage": 1.0,
        "density": 1.0,
    }
    (folder / "stress.json").write_text(json.dumps(record))
    plan = {
        "product": "consumables",
        "segment": "small_business",
        "from": "distributor",
        "to": "ecommerce",
        "start_week": 13,
        "ramp_weeks": 26,
        "share": 0.6,
    }
    return {
        "optimize": {
            "levers": {ramp: [4, 104], fee: [0, 0.1]},
            "objectives": {objective: "maximize"},
            "constraints": [],
            "replications": 2,
            "finalists": 1,
            "finalist_replications": 3,
        },
        "resolved_scenario": {"policy": {"channel_plan": [plan]}},
    }


@pytest.mark.parametrize(
    ("losing", "verdict"),
    [
        ([], "Recommended: trial_3"),
        ([2], "Recommended with a caveat: trial_3"),
        ([0, 1, 2], "Not supported by the stress test: trial_3"),
    ],
)
def test_decision_page_speaks_plain_names_and_its_verdict_follows_the_stress_test(
    tmp_path: Path, losing: list[int], verdict: str
) -> None:
    from sim.report.decision import decision_section
    from sim.report.html import table_html

    manifest = _decision_folder(tmp_path, losing)
    page = decision_section(tmp_path, manifest, lambda name, caption: "", table_html)
    words = re.sub(r"<[^>]+>", " ", page)
    headline = page.split("</p>")[0]
    assert headline.startswith(f"<p>{verdict}"), headline
    assert ("Recommended" in headline) == (len(losing) < 2)  # not for 3 losing worlds of 4
    if losing:
        assert f"loses to the plan as written in {len(losing)} of 4" in headline
    assert "policy." not in words and "e+0" not in words  # no key paths, no 1.6e+08
    assert "Migration ramp: consumables · small_business, distributor → ecommerce" in words
    for expected in ("26 weeks", "73 weeks", "3%", "Distributor referral fee", "+4.69 M", "75.0%"):
        assert expected in words, expected


def test_backtest_holdout_table_reads_in_words_and_percent() -> None:
    from sim.report.backtest import holdout_table

    holdout = pd.DataFrame(
        {
            "model": ["actual", "agent-based model", "plain BG/NBD"],
            "holdout_repeat_orders": [1000.0, 1004.814, 950.0],
            "end_cumulative": [5000.0, 5004.8, 4950.0],
            "holdout_error_share": [0.0, 0.004814, -0.05],
        }
    )
    table = holdout_table(holdout)
    assert "holdout_error_share" not in table.columns and "Error vs actual" in table.columns
    assert table["Error vs actual"].tolist() == ["–", "+0.5%", "-5.0%"]
    assert table["Repeat orders after the cut-off"].tolist() == ["1,000", "1,005", "950"]


def test_the_first_section_is_the_verdict_the_command_line_prints(
    results: sim.Results, report: Path
) -> None:
    """The report opens on the same verdict the terminal prints after ``compare`` (same
    function, same comparison.csv): every line of it appears in the first section."""
    from sim.results.verdict import verdict_lines

    text = report.read_text(encoding="utf-8")
    sections = text.split('<section id="')[1:]
    assert sections[0].startswith('verdict"')
    lines = verdict_lines(results.comparison, "baseline")
    assert len(lines) >= 3  # title, referral_fee, best or none
    for line in lines[1:]:
        assert html.escape(line.strip()) in sections[0], line
