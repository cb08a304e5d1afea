"""Figures, margin bridge and report.html built from real (small) compare results."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.model.ledger import CONFLICT_TYPES
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


def test_bands_are_mean_and_quantiles_of_the_replications(results: sim.Results) -> None:
    ts = _baseline(results)
    wide = fig.per_run(ts, "active_customers")
    assert wide.shape == (40, 2)
    band = fig.bands(wide)
    values = wide.to_numpy()
    assert np.allclose(band["mean"], values.mean(axis=1))
    assert (band["low"] <= band["mean"] + 1e-9).all()
    assert (band["high"] >= band["mean"] - 1e-9).all()


def test_comparison_puts_every_variant_on_one_axis(results: sim.Results) -> None:
    figures = fig.comparison_figures(results.timeseries)
    weekly, npv = figures["compare_contribution_margin"].axes
    assert [line.get_label() for line in weekly.get_lines()] == ["baseline", "referral_fee"]
    assert len(npv.get_lines()) == 2
    visible = [ax for ax in figures["margin_bridge"].axes if ax.get_visible()]
    assert len(visible) == 1  # one waterfall per variant
    assert len(figures["compare_outcomes"].axes) == len(fig.OUTCOMES)


def test_margin_bridge_sums_exactly_to_the_difference(results: sim.Results) -> None:
    comparison = results.comparison
    assert comparison is not None
    for variant in ("referral_fee",):
        per_run = bridge_by_replication(results.timeseries, variant)
        drivers = per_run[list(DRIVERS)].sum(axis=1)
        assert np.allclose(drivers, per_run["total"], rtol=1e-12, atol=1e-6)
        bridge = margin_bridge(results.timeseries, variant)
        total = bridge.loc["total", "mean"]
        assert bridge.loc[list(DRIVERS), "mean"].sum() == pytest.approx(total, rel=1e-12)
        row = comparison[
            (comparison["variant"] == variant) & (comparison["metric"] == "contribution_margin")
        ].iloc[0]
        assert total == pytest.approx(row["mean_difference"], rel=1e-9)
        # and the waterfall draws the same numbers
        _figure, ax = fig.new_figure()
        heights = fig.waterfall(ax, bridge)
        assert sum(heights[:-1]) == pytest.approx(heights[-1], rel=1e-9)
    # a real difference: the referral fee variant pays fees the baseline does not
    fees = margin_bridge(results.timeseries, "referral_fee").loc["referral_fees", "mean"]
    assert fees < 0


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
