"""Economics a finance team would sign (issue 11): cost to serve, headcount, commissions,
referral fees, the channel P&L and the terminal value.

Each expected size comes from the cost formulas (docs/ODD.md, "Cost to serve") or from a
second computation on the run's own facts, stated in the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, small

import sim
from sim.metrics import summarise_run
from sim.model.costs import ServiceCosts
from sim.model.model import ChannelModel
from sim.model.population import ACTIVE, CHURNED
from sim.model.valuation import customer_equity
from sim.report.pnl import UNTRACED, line_comparison
from sim.scenario.loader import load_scenario, load_study

DIRECT = ("field", "inside", "ecommerce")


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> sim.Results:
    """direct_shift, small, with channel-neutral pay as an extra variant."""
    return sim.compare(
        SCENARIOS / "direct_shift.yaml",
        overrides=[
            "market.buyers=2000",
            "market.prospects=400",
            "horizon_weeks=40",
            "reps.field.count=4",
            "reps.inside.count=2",
            "variants.neutral={policy.rep_compensation: channel_neutral}",
        ],
        replications=2,
        out=tmp_path_factory.mktemp("shift"),
    )


def test_channel_pnl_rows_sum_to_the_summary_for_every_run(shift):
    """Per run, the P&L's rows add up to summary.csv's revenue and contribution margin (to
    float rounding), and each row obeys contribution = revenue - cogs - costs."""
    pnl = sim.load_results(shift.path).channel_pnl
    keys = ["variant", "replication"]
    totals = pnl.groupby(keys)[["revenue", "contribution_margin", "cost_to_serve"]].sum()
    summary = shift.summary.set_index(keys)[totals.columns]
    runs = (1 + len(load_study(SCENARIOS / "direct_shift.yaml").variants) + 1) * 2  # + neutral
    assert len(totals) == len(summary) == runs
    pd.testing.assert_frame_equal(totals.sort_index(), summary.sort_index(), rtol=1e-9)
    costs = pnl[["cost_to_serve", "commissions", "referral_fees", "campaign_costs"]].sum(axis=1)
    np.testing.assert_allclose(
        pnl["contribution_margin"], pnl["revenue"] - pnl["cogs"] - costs, rtol=1e-9, atol=1e-6
    )
    activities = pnl.filter(like="cost_").drop(columns="cost_to_serve").sum(axis=1)
    np.testing.assert_allclose(pnl["cost_to_serve"], activities, rtol=1e-9, atol=1e-6)
    lines = pnl[(pnl[["product", "segment", "channel"]] != "all").all(axis=1)]
    assert len(lines) == runs * 3 * 3 * 4  # every product x segment x channel line, every run


def test_commissions_never_exceed_the_highest_rate_on_the_revenue_they_are_paid_on(shift):
    """One commission per order: at most 3% (the field rate, the highest) of each direct
    line's revenue, none on distributor lines. Channel-neutral pay credits the owner on all
    direct revenue, so it pays more than channel-specific but still at most 3% of it (the
    issue measured 4.4% when every rep on the account was credited)."""
    pnl = shift.channel_pnl
    assert (pnl["commissions"] <= 0.03 * pnl["revenue"].clip(lower=0) + 1e-6).all()
    assert (pnl.loc[pnl["channel"] == "distributor", "commissions"] == 0).all()
    direct = pnl[pnl["channel"].isin(DIRECT)]
    share = direct.groupby("variant")[["commissions", "revenue"]].sum()
    share = share["commissions"] / share["revenue"]
    assert share["neutral"] <= 0.03
    assert share["neutral"] > share["baseline"] > 0.015


def test_a_plan_moving_only_consumables_pays_no_fee_on_pumps_or_valves(tmp_path):
    """The fee is paid on the direct revenue of the lines the plan moved, nothing else: the
    moved consumables lines earn at most fee x their direct revenue, pumps and valves none
    (before this issue, fees were paid on every line of a moved buyer)."""
    fee = 0.05
    results = sim.run(
        SCENARIOS / "baseline.yaml",
        overrides=[
            "market.buyers=2000",
            "market.prospects=400",
            "horizon_weeks=40",
            "policy.channel_plan=[{product: consumables, segment: small_business,"
            " from: distributor, to: ecommerce, start_week: 5, ramp_weeks: 4, share: 0.8}]",
            f"policy.distributor_referral_fee={fee}",
        ],
        replications=1,
        out=tmp_path,
    )
    pnl = results.channel_pnl
    fees = pnl.groupby("product")["referral_fees"].sum()
    assert fees["pumps"] == 0 and fees["valves"] == 0
    moved = pnl[(pnl["product"] == "consumables") & (pnl["segment"] == "small_business")]
    moved = moved[moved["channel"].isin(DIRECT)]
    assert 0 < fees["consumables"] <= fee * moved["revenue"].sum() + 1e-6
    assert fees.sum() == pytest.approx(results.timeseries["referral_fees"].sum(), rel=1e-9)


def test_a_small_ecommerce_order_costs_more_per_unit_than_a_large_one():
    """Per unit, from the cost formulas with the baseline's e-commerce rates (handling 5,
    picking 4 a line, freight max(25, 3% of value), credit 0.25% + 10/365 x 8% of value):
    10 consumables at 38.80 (value 388): 5 + 4 + 25 + 1.820 = 35.82, 3.58 a unit;
    200 of them (value 7,760): 5 + 4 + 232.8 + 36.41 = 278.2, 1.39 a unit."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    web = ServiceCosts.from_rates(scenario.channels.ecommerce, scenario.discount_rate_annual)
    credit = 0.0025 + 10 / 365 * 0.08
    per_unit = {}
    for units in (10, 200):
        value = units * 40 * 0.97
        cost = web.of_lines(np.zeros(1, dtype=np.int64), np.array([value])).sum()
        expected = 5 + 4 + max(25, 0.03 * value) + value * credit
        assert cost == pytest.approx(expected, rel=1e-12)
        per_unit[units] = cost / units
    assert per_unit[10] == pytest.approx(3.582, abs=1e-3)
    assert per_unit[200] == pytest.approx(1.391, abs=1e-3)


def test_order_costs_are_shared_among_lines_by_value():
    """An order of lines worth 100 and 300 at handling 20, freight max(10, 5%): freight 20;
    the lines carry 5 + 5 and 15 + 15 of handling and freight, plus their own picking."""
    costs = ServiceCosts(
        cost_per_order=20.0,
        cost_per_line=3.0,
        freight_rate=0.05,
        freight_minimum=10.0,
        credit_rate=0.01,
    )
    lines = costs.of_lines(np.array([0, 0]), np.array([100.0, 300.0]))
    np.testing.assert_allclose(lines, [[5, 3, 5, 1], [15, 3, 15, 3]])


@pytest.fixture(scope="module")
def coffee(tmp_path_factory: pytest.TempPathFactory) -> sim.Results:
    """Case 5 at full size over two years, baseline and +50% selling time (6 paired runs)."""
    return sim.compare(
        SCENARIOS / "selling_time.yaml",
        overrides=["horizon_weeks=104", "variants={more_selling_time: "
                   "{reps.field.selling_time: 0.45, reps.inside.selling_time: 0.45}}"],
        replications=6,
        out=tmp_path_factory.mktemp("coffee"),
    )  # fmt: skip


def test_more_selling_time_with_headcount_fixed_cuts_cost_per_call_and_raises_margin(coffee):
    """Case 5: reps are headcount, so +50% selling time adds only the calls' variable cost.

    Per week the sales force costs H = (40 x 200,000 + 20 x 100,000) / 52 = 192,308 whatever
    it does, plus v a call, v between 2 (inside) and 60 (field travel). With c selling calls a
    week (read back from ``rep_selling_time`` x 2,800 full-time calls), the cost per call is
    H / c + v, so the ratio between the variants lies between (H / c1 + 2) / (H / c0 + 2) and
    (H / c1 + 60) / (H / c0 + 60); duplicate calls in conflicts add a little (0.02 allowed).
    Value rises: the NPV of contribution with terminal value has its paired 95% interval above
    zero, and the two years' contribution margin a positive mean. Measured with orders as a
    Poisson count (6 pairs): NPV with terminal value +22.2e6 [+11.7e6, +32.7e6] (t = 5.4:
    power to exclude zero > 0.99); contribution margin +2.3e6 [-0.8e6, +5.3e6], paired SD
    2.9e6, so 6 pairs exclude zero with power only ~0.5 (18 would be needed for 0.9), and
    the mean is above zero with probability ~0.97 (t = 1.9).
    """
    ts, weeks = coffee.timeseries, coffee.timeseries["week"].max()
    runs = ts["replication"].nunique()
    headcount = (40 * 200_000 + 20 * 100_000) / 52
    calls, per_call = {}, {}
    for variant in ("baseline", "more_selling_time"):
        rows = ts[ts["variant"] == variant]
        calls[variant] = (rows["rep_selling_time"] * 2_800).sum() / (runs * weeks)
        cost = rows["cost_sales_force"].sum() / (runs * weeks)
        assert cost >= headcount
        per_call[variant] = cost / calls[variant]
    ratio = per_call["more_selling_time"] / per_call["baseline"]
    low, high = (
        (headcount / calls["more_selling_time"] + v) / (headcount / calls["baseline"] + v)
        for v in (2.0, 60.0)
    )
    assert low - 0.02 < ratio < high + 0.02
    assert calls["more_selling_time"] > 1.3 * calls["baseline"]
    compared = coffee.comparison.set_index(["variant", "metric"])
    assert compared.loc[("more_selling_time", "npv_contribution_with_terminal"), "ci_low"] > 0
    assert compared.loc[("more_selling_time", "contribution_margin"), "mean_difference"] > 0


def test_a_variant_that_loses_accounts_late_has_a_lower_npv_with_terminal_value():
    """Two runs with the same seed; in one, 40% of the active accounts are lost to a
    competitor in the last week. Its NPV of contribution barely moves (one week of orders),
    but its customer equity falls by about the lost accounts' share of it (40%, expected
    from the sum over accounts; 0.05 allowed for their spread in value), so the NPV with
    terminal value is lower by at least a third of the baseline's discounted equity."""
    scenario = small(SCENARIOS / "baseline.yaml", "horizon_weeks=30")
    npv, equity = {}, {}
    for late_loss in (False, True):
        model = ChannelModel(scenario, 11)
        for _ in range(scenario.horizon_weeks - 1):
            model.step()
        if late_loss:
            active = np.flatnonzero(model.population.status == ACTIVE)
            rng = np.random.default_rng(0)
            lost = active[rng.random(len(active)) < 0.4]
            model.population.status[lost] = CHURNED
            model.population.churn_week[lost] = model.week
        model.step()
        run = pd.DataFrame(model.ledger.rows).assign(week=np.arange(1, 31))
        summary = summarise_run(run, scenario.discount_rate_annual)
        npv[late_loss] = summary["npv_contribution_with_terminal"]
        equity[late_loss] = summary["customer_equity_end"]
        assert summary["npv_contribution_with_terminal"] > summary["npv_contribution"]
    assert equity[True] / equity[False] == pytest.approx(0.6, abs=0.05)
    discount = (1 + scenario.discount_rate_annual) ** (-30 / 52)
    assert npv[False] - npv[True] > equity[False] * discount / 3


def test_accounts_with_every_line_on_a_competitors_line_are_churned_and_worth_nothing():
    """Paired runs, same seed; in one, before the last week, every line of 30 % of the
    active accounts with a distributor goes to its competitor's line (as a converting or
    exiting distributor would do), and half the lines of another 10 %. The first are lost
    customers: out of ``active_customers``, in ``churned_customers`` and counted in
    ``customers_lost_to_competitor_lines`` (checked account by account); the partly converted
    stay customers. Customer equity is what it would be were the lost accounts churned."""
    scenario = small(SCENARIOS / "baseline.yaml", "horizon_weeks=20")
    rows, lost = {}, np.array([], dtype=int)
    for convert in (False, True):
        model = ChannelModel(scenario, 5)
        for _ in range(scenario.horizon_weeks - 1):
            model.step()
        pop = model.population
        if convert:
            rng = np.random.default_rng(0)
            served = np.flatnonzero((pop.status == ACTIVE) & (pop.distributor >= 0))
            draw = rng.random(len(served))
            lost, partly = served[draw < 0.3], served[(draw >= 0.3) & (draw < 0.4)]
            pop.alternative_line[lost] = True
            pop.alternative_line[partly, : pop.alternative_line.shape[1] // 2] = True
        model.step()
        rows[convert] = {name: column[-1] for name, column in model.ledger.rows.items()}
    bought = pop.units_per_order > 0
    by_hand = [
        b
        for b in np.flatnonzero(pop.status == ACTIVE)
        if all(pop.alternative_line[b, p] for p in np.flatnonzero(bought[b]))
    ]
    assert len(lost) > 50 and set(lost[pop.status[lost] == ACTIVE]) <= set(by_hand)
    assert rows[True]["customers_lost_to_competitor_lines"] == len(by_hand)
    assert rows[True]["active_customers"] == np.count_nonzero(pop.status == ACTIVE) - len(by_hand)
    assert rows[True]["churned_customers"] == np.count_nonzero(pop.status == CHURNED) + len(by_hand)
    assert rows[False]["customers_lost_to_competitor_lines"] == 0
    assert rows[True]["customer_equity"] < rows[False]["customer_equity"]
    pop.status[by_hand] = CHURNED  # worth what a churned account is worth: nothing
    rate = scenario.discount_rate_annual
    equity = customer_equity(pop, model.rules, model.books, rate) * model.books.weight
    assert rows[True]["customer_equity"] == pytest.approx(equity, rel=1e-12)


def test_customer_equity_of_one_line_by_a_second_computation(write_yaml):
    """E-commerce only, one product, no effort: each active account is worth
    u q w c x a / (1 - a) (a century's cut-off is negligible), a = (1 - h) d with the weekly
    churn h = 1 - exp(-(-ln 0.9) / 52) and d = 1.08 ** (-1 / 52); c the line's contribution
    per unit and w the share of needs' units won, both from the channel P&L, less the
    platform's fixed cost a week shared among them (the only cost no line carries here)."""
    path = write_yaml(
        "web.yaml",
        """\
        name: web
        horizon_weeks: 20
        market:
          buyers: 400
          prospects: 0
          inbound_accounts_annual: 0
          base_churn_annual: 0.1
          journey: {extra_touch_prob: 0.0}
          segments:
            - {name: smb, share: 1.0, spend_annual: 5000, orders_per_year: 12,
               product_mix: {widget: 1.0}, channels: [ecommerce], digital_adopters_initial: 1.0}
        products:
          - {name: widget, list_price: 50, unit_cost: 20}
        reps:
          field: {count: 0, calls_per_week: 20}
          inside: {count: 0, calls_per_week: 100}
        distributors: {accounts_per_distributor: 0}
        """,
    )
    model = ChannelModel(load_scenario(path), 3)
    model.run()
    pop, pnl = model.population, model.books.pnl_table()
    line = pnl[(pnl["product"] == "widget") & (pnl["channel"] == "ecommerce")].iloc[0]
    lost = model.ledger.rows["lost_to_competitor_units"].sum()
    won = line["units"] / (line["units"] + lost)
    per_unit = line["contribution_margin"] / line["units"]
    active = pop.status == ACTIVE
    assert (pop.effort[active] == 0).all()
    h = -np.expm1(np.log(0.9) / 52)
    a = (1 - h) * 1.08 ** (-1 / 52)
    units = (pop.units_per_order[active, 0] * pop.orders_per_week[active]).sum()
    # The platform's fixed cost and its first capacity step, the same every week here.
    platform = pnl.loc[pnl["channel"] == "ecommerce", "cost_platform"].sum() / 20
    ecommerce = model.scenario.channels.ecommerce
    assert platform == ecommerce.fixed_cost_weekly + ecommerce.capacity_step_cost_weekly
    expected = (units * won * per_unit - platform) * a / (1 - a)
    assert model.ledger.rows["customer_equity"][-1] == pytest.approx(expected, rel=1e-6)


def test_the_line_table_adds_up_to_the_comparison(shift):
    """The report's per-line paired differences (product x segment x channel, plus the row of
    what no line carries) sum, per variant, to comparison.csv's contribution-margin difference:
    both are means over the same paired replications of sums over the same rows."""
    for variant in ("fast", "neutral"):
        lines = line_comparison(shift.channel_pnl, variant)
        row = shift.comparison.query(
            "variant == @variant and metric == 'contribution_margin'"
        ).iloc[0]
        assert lines["difference"].sum() == pytest.approx(row.mean_difference, rel=1e-9)
        assert lines["reference"].sum() == pytest.approx(row.reference_mean, rel=1e-9)
        assert UNTRACED in lines.index
