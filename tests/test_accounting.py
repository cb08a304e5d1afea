"""The ledger's weekly totals recomputed independently from the order journal.

The journal (``ChannelModel(..., journal=True)``) records raw facts only: which buyer bought
which product through which channel, how many units were served, at what fraction of list; and
how many units each distributor restocked. Every expected total here is rebuilt from those
facts and the scenario's own numbers (list prices, unit costs, margins, commission rates,
promotions), not from the engine's arrays, so a wrong posting anywhere in ``sim/model/books.py``
shows up as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, small

from sim.channels import DISTRIBUTOR
from sim.model.model import ChannelModel
from sim.scenario.schema import CHANNELS, Scenario

CASES = {
    "baseline_channel_specific": small(SCENARIOS / "baseline.yaml"),
    "direct_shift_neutral_deal_registration": small(
        SCENARIOS / "direct_shift.yaml",
        "policy.rep_compensation=channel_neutral",
        "policy.deal_registration=true",
    ),
    "sell_in_and_sell_through_promotions": small(
        SCENARIOS / "trade_promotions.yaml",
        "policy.trade_promotions=[{product: consumables, discount: 0.1, start_week: 5, weeks: 4,"
        " basis: sell_in}, {product: pumps, discount: 0.2, start_week: 10, weeks: 6,"
        " basis: sell_through}]",
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def audited(request) -> tuple[Scenario, ChannelModel, pd.DataFrame, pd.DataFrame]:
    scenario = CASES[request.param]
    model = ChannelModel(scenario, 4, journal=True)
    pop, registered = model.population, []
    for week in range(1, scenario.horizon_weeks + 1):
        until, current = pop.registered_until.copy(), pop.current_channel.copy()
        model.step()
        week_orders = model.books.journal["orders"][-1]
        b, p = week_orders["buyer"].to_numpy(), week_orders["product"].to_numpy()
        # A deal is registered if still protected, or won this week by the distributor from
        # another channel (docs/ODD.md §7.8, "Deal registration").
        won = (week_orders["channel"].to_numpy() == DISTRIBUTOR) & (current[b, p] != DISTRIBUTOR)
        registered.append(scenario.policy.deal_registration & ((until[b, p] >= week) | won))
    orders = pd.concat(model.books.journal["orders"], ignore_index=True)
    orders["registered"] = np.concatenate(registered)
    sell_in = pd.concat(model.books.journal["sell_in"], ignore_index=True)
    return scenario, model, orders, sell_in


def _weekly(frame: pd.DataFrame, values: pd.Series, weeks: int) -> np.ndarray:
    return (
        values.groupby(frame["week"])
        .sum()
        .reindex(range(1, weeks + 1), fill_value=0.0)
        .to_numpy(copy=True)
    )


def _discount(scenario: Scenario, basis: str, week: pd.Series, product: pd.Series) -> np.ndarray:
    """The promotion discount of each (week, product) row, from the scenario's promotion list."""
    names = [p.name for p in scenario.products]
    discount = np.zeros(len(week))
    for promo in scenario.policy.trade_promotions:
        if promo.basis == basis:
            on = (
                (product.values == names.index(promo.product))
                & (week.values >= promo.start_week)
                & (week.values < promo.start_week + promo.weeks)
            )
            discount = np.where(on, np.maximum(discount, promo.discount), discount)
    return discount


def test_direct_revenue_cogs_and_units_from_the_journal(audited):
    scenario, model, orders, sell_in = audited
    weeks, rows = scenario.horizon_weeks, model.ledger.rows
    list_price = np.array([p.list_price for p in scenario.products])
    unit_cost = np.array([p.unit_cost for p in scenario.products])
    value = orders["units"] * list_price[orders["product"]] * orders["price"]
    for c, name in enumerate(CHANNELS):
        if name != "distributor":
            expected = _weekly(orders, value.where(orders["channel"] == c, 0.0), weeks)
            np.testing.assert_allclose(rows[f"revenue_{name}"], expected, rtol=1e-9, atol=1e-6)
    direct = orders["channel"] != CHANNELS.index("distributor")
    cogs = _weekly(orders, (orders["units"] * unit_cost[orders["product"]]).where(direct, 0), weeks)
    cogs += _weekly(sell_in, sell_in["units"] * unit_cost[sell_in["product"]], weeks)
    np.testing.assert_allclose(rows["cogs"], cogs, rtol=1e-9, atol=1e-6)
    through = _weekly(orders, orders["units"].where(~direct, 0.0), weeks)
    np.testing.assert_allclose(rows["sell_through_units"], through, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        rows["sell_in_units"], _weekly(sell_in, sell_in["units"], weeks), rtol=1e-9, atol=1e-6
    )


def test_distributor_revenue_is_sell_in_less_rebates(audited):
    """Sell-in at list x (1 - margin) x (1 - sell-in discount), less sell-through rebates
    (that discount on the sell-in price of the units sold through) and the deal-registration
    margin on registered deals' list value."""
    scenario, model, orders, sell_in = audited
    weeks, cfg = scenario.horizon_weeks, scenario.distributors
    list_price = np.array([p.list_price for p in scenario.products])
    net = 1.0 - cfg.margin
    sell_in_value = (
        sell_in["units"]
        * list_price[sell_in["product"]]
        * net
        * (1.0 - _discount(scenario, "sell_in", sell_in["week"], sell_in["product"]))
    )
    at = orders[orders["channel"] == CHANNELS.index("distributor")]
    registered = at["registered"].to_numpy()
    rebates = (
        at["units"]
        * list_price[at["product"]]
        * (
            net * _discount(scenario, "sell_through", at["week"], at["product"])
            + cfg.deal_registration_margin * registered
        )
    )
    expected = _weekly(sell_in, sell_in_value, weeks) - _weekly(at, rebates, weeks)
    np.testing.assert_allclose(
        model.ledger.rows["revenue_distributor"], expected, rtol=1e-9, atol=1e-6
    )


def test_commissions_from_the_journal(audited):
    """One commission per direct order line, to one rep. Channel-specific pay: the account's
    rep of the channel that took the order (field or inside; web orders earn none) at that
    team's rate. Channel-neutral: the account's owner (its field rep if any, else its inside
    rep) at the owner's rate, on every direct order."""
    scenario, model, orders, _ = audited
    weeks, pop = scenario.horizon_weeks, model.population
    list_price = np.array([p.list_price for p in scenario.products])
    value = orders["units"] * list_price[orders["product"]] * orders["price"]
    field = pop.field_rep[orders["buyer"]] >= 0
    inside = pop.inside_rep[orders["buyer"]] >= 0
    channel = orders["channel"].to_numpy()
    f, i, d = (CHANNELS.index(c) for c in ("field", "inside", "distributor"))
    rates = scenario.reps.field.commission_rate, scenario.reps.inside.commission_rate
    if scenario.policy.rep_compensation == "channel_neutral":
        rate = np.where(field, rates[0], np.where(inside, rates[1], 0.0)) * (channel != d)
    else:
        rate = rates[0] * ((channel == f) & field) + rates[1] * ((channel == i) & inside)
    expected = _weekly(orders, value * rate, weeks)
    np.testing.assert_allclose(model.ledger.rows["commissions"], expected, rtol=1e-9, atol=1e-6)
    assert expected.sum() > 0


def _order_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order of each journal line: a line ordered k times in its week is k order
    lines of a k-th of its value, the j-th (column ``j``) in its buyer's j-th order."""
    each = lines.loc[lines.index.repeat(lines["orders"])]
    return each.assign(
        value=each["value"] / each["orders"], j=each.groupby(level=0).cumcount().to_numpy()
    )


def _order_costs(lines: pd.DataFrame, keys: list[str], rates, cost_of_capital: float) -> dict:
    """Activity costs of orders (``lines`` grouped by ``keys``) at one channel's ``rates``."""
    orders = lines.groupby(keys)["value"].agg(["sum", "size"]).reset_index()
    credit = rates.bad_debt_share + rates.days_sales_outstanding / 365 * cost_of_capital
    return {
        "order_handling": orders.assign(cost=rates.cost_per_order),
        "fulfilment": orders.assign(cost=orders["size"] * rates.cost_per_line),
        "freight": orders.assign(
            cost=np.maximum(rates.freight_minimum, rates.freight_rate * orders["sum"])
        ),
        "credit": orders.assign(cost=orders["sum"] * credit),
    }


def test_cost_to_serve_activities_from_the_journal(audited):
    """Order handling, fulfilment, freight, credit and platform rebuilt from the journal.

    A direct order is one week x buyer x channel x j of journal lines (a line ordered k times in
    its week is in the buyer's orders j = 0 .. k - 1, a k-th of its value in each): handling per
    order, picking per line, freight max(minimum, rate x order value), credit value x (bad debt
    + DSO / 365 x discount rate). A restock is one week x distributor of the sell-in lines with
    units, at the distributor channel's rates. The platform is e-commerce's fixed cost plus a
    step per started ``capacity_step_orders`` web orders a week.
    """
    scenario, model, orders, sell_in = audited
    weeks, rows, r = scenario.horizon_weeks, model.ledger.rows, scenario.discount_rate_annual
    list_price = np.array([p.list_price for p in scenario.products])
    orders = orders.assign(value=orders["units"] * list_price[orders["product"]] * orders["price"])
    expected = {a: np.zeros(weeks) for a in ("order_handling", "fulfilment", "freight", "credit")}
    for c, name in enumerate(CHANNELS):
        rates = getattr(scenario.channels, name)
        if name == "distributor":
            lines = sell_in[sell_in["units"] > 0]
            lines = lines.assign(value=lines["units"] * lines["unit_price"])
            keys = ["week", "distributor"]
        else:
            lines = _order_lines(orders[orders["channel"] == c])
            keys = ["week", "buyer", "j"]
        for activity, table in _order_costs(lines, keys, rates, r).items():
            expected[activity] += _weekly(table, table["cost"], weeks)
    for activity, values in expected.items():
        np.testing.assert_allclose(rows[f"cost_{activity}"], values, rtol=1e-9, atol=1e-6)
    web = scenario.channels.ecommerce
    web_orders = (
        orders[orders["channel"] == CHANNELS.index("ecommerce")]
        .groupby(["week", "buyer"])["orders"]
        .max()
        .groupby("week")
        .sum()
        .reindex(range(1, weeks + 1), fill_value=0)
        .to_numpy()
    )
    steps = np.ceil(web_orders / web.capacity_step_orders)
    platform = web.fixed_cost_weekly + steps * web.capacity_step_cost_weekly
    np.testing.assert_allclose(rows["cost_platform"], platform, rtol=1e-12)


def test_reps_are_paid_whatever_they_do(audited):
    """Sales-force cost = every rep's loaded cost / 52 each week + the variable cost of the
    calls made: it never falls below headcount, and the rest is at least the cheapest
    variable cost per call (inside, 2) x the selling calls made, read back from the weekly
    share of selling capacity used."""
    scenario, model, _, _ = audited
    reps = scenario.reps
    headcount = (
        reps.field.count * reps.field.loaded_cost_annual
        + reps.inside.count * reps.inside.loaded_cost_annual
    ) / 52
    extra = model.ledger.rows["cost_sales_force"] - headcount
    assert (extra >= -1e-6).all()
    capacity = sum(t.count * t.calls_per_week for t in (reps.field, reps.inside))  # full time
    calls = model.ledger.rows["rep_selling_time"] * capacity
    assert (extra >= reps.inside.variable_cost_per_call * calls - 1e-6).all()


def test_channel_stock_moves_by_the_journal(audited):
    """Stock_t - stock_{t-1} = restocked - sold through - written off, from the journal."""
    scenario, model, orders, sell_in = audited
    weeks, rows = scenario.horizon_weeks, model.ledger.rows
    through = orders["units"].where(orders["channel"] == CHANNELS.index("distributor"), 0.0)
    flow = (
        _weekly(sell_in, sell_in["units"], weeks)
        - _weekly(orders, through, weeks)
        - rows["channel_inventory_removed_units"]
    )
    stock = np.concatenate(
        [[model.initial_channel_inventory_units], rows["channel_inventory_units"]]
    )
    np.testing.assert_allclose(np.diff(stock), flow, rtol=0, atol=1e-9 * max(stock.max(), 1.0))
