"""The engine's buy-till-you-die buyers (segment ``purchase_process``, ``market.customer_base``)
and the backtest against the data they came from.

Expected values come from theory (gamma and beta moments, the BG/NBD expectation of Fader,
Hardie & Lee 2005) or from a second, independent simulation of the same discrete-time process
written here in plain numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BASELINE
from typer.testing import CliRunner

from sim.calibration import bgnbd, read_orders
from sim.calibration.backtest import backtest
from sim.calibration.synthetic import simulate_orders
from sim.cli import app
from sim.model.model import ChannelModel
from sim.model.population import ACTIVE, ENTERING, NEVER
from sim.scenario.loader import ScenarioError, load_scenario

R, ALPHA, A, B = 0.5, 20.0, 2.0, 6.0
"""BG/NBD parameters of the tests (weekly rates: mean 0.025 orders a week)."""

ONLINE_ONLY = f"""\
extends: {BASELINE}
name: online_only
horizon_weeks: 52
market:
  prospects: 0
  inbound_accounts_annual: 0
  choice: {{competitor_utility: -50}}
  segments:
    - name: all
      share: 1.0
      spend_annual: 100
      orders_per_year: {52 * R / ALPHA}
      product_mix: {{consumables: 1.0}}
      channels: [ecommerce]
      digital_adopters_initial: 1.0
      purchase_process: {{order_rate_shape: {R}, dropout_a: {A}, dropout_b: {B}}}
distributors: {{accounts_per_distributor: 0}}
reps:
  field: {{count: 0, calls_per_week: 20}}
  inside: {{count: 0, calls_per_week: 100}}
"""
"""One channel, no competitor leakage, no conflicts: the buyers' purchase process alone."""


@pytest.fixture
def online_only(tmp_path: Path) -> Path:
    path = tmp_path / "online_only.yaml"
    path.write_text(ONLINE_ONLY, encoding="utf-8")
    return path


def test_accounts_draw_their_rate_and_dropout_from_the_process(online_only):
    """Multiplier ~ Gamma(r, 1/r): mean 1, variance 1/r; dropout ~ Beta(a, b): mean a/(a+b).

    With 40,000 accounts the SE of the mean multiplier is sqrt(1/r / n) = 0.007; 4.5 SE bands
    (false alarm ~7e-6) detect a 3% bias with power > 0.99.
    """
    scenario = load_scenario(online_only, ["market.buyers=40000"])
    pop = ChannelModel(scenario, 3).population
    multiplier = pop.orders_per_week / (R / ALPHA)
    n = len(multiplier)
    assert abs(multiplier.mean() - 1.0) < 4.5 * np.sqrt(1.0 / R / n)
    var_se = np.sqrt((2 / R**2 + 6 / R**3) / n)  # SE of the sample variance of a gamma
    assert abs(multiplier.var() - 1.0 / R) < 4.5 * var_se
    mean_p = A / (A + B)
    sd_p = np.sqrt(A * B / ((A + B) ** 2 * (A + B + 1)))
    assert abs(pop.dropout.mean() - mean_p) < 4.5 * sd_p / np.sqrt(n)
    assert (pop.next_churn_check == NEVER).all()  # no hazard checks


def _independent_repeat_orders(n: int, weeks: int, rng: np.random.Generator) -> np.ndarray:
    """The weekly process written out: Poisson(lambda) orders a week, then dropout after each
    of them with probability p; returns each customer's repeat orders."""
    rate = rng.gamma(R, 1.0 / ALPHA, n)
    dropout = rng.beta(A, B, n)
    alive = np.ones(n, dtype=bool)
    orders = np.zeros(n)
    for _ in range(weeks):
        placed = np.where(alive, rng.poisson(rate), 0)
        orders += placed
        alive &= rng.random(n) < (1.0 - dropout) ** placed
    return orders


def test_engine_repeat_orders_follow_the_purchase_process(online_only, tmp_path):
    """Customers entering in week 1: mean repeat orders over 51 weeks match an independent
    simulation of the weekly process (4.5 SE of the difference) and the continuous-time BG/NBD
    E[X(t)] within its discretisation: deciding dropout at the end of the week counts the
    orders placed in the week of dropout after the one that ended it (+0.7% at these rates,
    measured with 10^6 customers of the independent simulation); the bound is 2%.

    With 100,000 customers the SE of the difference is ~0.006 orders (0.7% of the mean): an
    engine whose order rates are 6% too high, or whose dropout is 1.3 times too low, fails
    (both checked by mutation).
    """
    n, weeks = 100_000, 52
    base = tmp_path / "customers.csv"
    pd.DataFrame({"segment": ["all"] * n, "entry_week": 1}).to_csv(base, index=False)
    scenario = load_scenario(online_only, [f"market.customer_base={base}"])
    model = ChannelModel(scenario, 11, journal=True)
    assert (model.population.status == ENTERING).all()
    model.run()
    assert model.books.journal is not None
    lines = pd.concat(model.books.journal["orders"])
    placed = lines.groupby(["week", "buyer"])["orders"].max().groupby("buyer").sum()
    engine = placed.reindex(range(n), fill_value=0).to_numpy()
    plain = _independent_repeat_orders(n, weeks - 1, np.random.default_rng(5))
    se = np.hypot(engine.std() / np.sqrt(n), plain.std() / np.sqrt(n))
    assert abs(engine.mean() - plain.mean()) < 4.5 * se
    theory = float(bgnbd.expected_orders(bgnbd.Params(R, ALPHA, A, B), weeks - 1))
    assert abs(engine.mean() / theory - 1.0) < 0.02


def test_customer_base_accounts_enter_at_their_week(online_only, tmp_path):
    base = tmp_path / "customers.csv"
    pd.DataFrame({"segment": ["all"] * 3, "entry_week": [0, 2, 5]}).to_csv(base, index=False)
    model = ChannelModel(load_scenario(online_only, [f"market.customer_base={base}"]), 1)
    status = model.population.status
    seen = []
    for _ in range(6):
        seen.append(status.copy())
        model.step()
    # Active from the end of the entry week on (the first order is that week's, observed):
    # the account entering in week 2 is active after two steps, the one of week 5 after five.
    assert [int((s == ACTIVE).sum()) for s in seen] == [1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("segment,entry_week\nnobody,0\n", "account row 1, column 'segment': 'nobody'"),
        ("segment,entry_week\nall,0\nall,-1\n", "account row 2, column 'entry_week': -1"),
        ("segment\nall\n", "missing column(s) ['entry_week']"),
    ],
)
def test_customer_base_errors_name_the_row_and_column(online_only, tmp_path, rows, message):
    base = tmp_path / "bad.csv"
    base.write_text(rows, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"market\.customer_base: ") as error:
        load_scenario(online_only, [f"market.customer_base={base}"])
    assert message in str(error.value)
    assert str(base) in str(error.value)


def test_backtest_tracks_synthetic_data(online_only, tmp_path):
    """Order data drawn from known BG/NBD parameters, the model set to those parameters: the
    simulated cumulative repeat orders stay within 7.5% of the actual at the end (see below),
    and the plain BG/NBD fit lands within 6% (the actual is itself one draw: its relative SD
    here is ~2.5%)."""
    orders = simulate_orders(
        bgnbd.Params(R, ALPHA / 4, A, B),  # 0.1 orders a week: enough repeat orders to track
        (6.0, 4.0, 15.0),
        customers=3_000,
        weeks=78,
        arrival_weeks=12,
        rng=np.random.default_rng(2026),
    )
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    scenario = load_scenario(
        online_only,
        [
            f"market.segments.0.orders_per_year={52 * R / (ALPHA / 4)}",
            "market.choice.competitor_utility=-50",
        ],
    )
    result = backtest(
        read_orders(path),
        scenario,
        pd.Timestamp("2023-10-02"),
        replications=4,
        workdir=tmp_path / "bt",
    )
    end = result.weekly.iloc[-1]
    actual = end["actual_repeat_orders_cumulative"]
    # The simulated cumulative runs above the actual by +4.6% in expectation (16 replications,
    # issue-15 streams; weekly discretisation), with a 4-replication SD of ~1.2% (+5.6% and
    # +6.1% seen on the pre- and post-kernel streams): 7.5% is 2.4 SD above that offset, and an
    # extra bias of +4% would exceed it with probability ~0.8.
    assert abs(end["simulated_repeat_orders_cumulative"] / actual - 1) < 0.075
    assert abs(end["bgnbd_repeat_orders_cumulative"] / actual - 1) < 0.06
    assert list(result.weekly.columns[:9]) == [
        "week",
        "actual_orders",
        "simulated_orders",
        "simulated_orders_low",
        "simulated_orders_high",
        "actual_repeat_orders_cumulative",
        "simulated_repeat_orders_cumulative",
        "actual_revenue",
        "simulated_revenue",
    ]


def test_backtest_command_writes_its_files(tmp_path):
    sample = Path(__file__).resolve().parents[1] / "docs" / "examples" / "orders.csv"
    runner = CliRunner()
    calibrated = tmp_path / "ours.yaml"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(sample),
            "--until",
            "2024-01-01",
            "--out",
            str(calibrated),
            "--extends",
            str(BASELINE),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "backtest"
    result = runner.invoke(
        app,
        [
            "backtest",
            str(sample),
            "--scenario",
            str(calibrated),
            "--until",
            "2024-01-01",
            "--replications",
            "2",
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for name in ("backtest.csv", "holdout.csv", "manifest.json", "backtest.png", "report.html"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    bad = runner.invoke(app, ["backtest", str(sample), "--scenario", str(calibrated)])
    assert bad.exit_code == 2
