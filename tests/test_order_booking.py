"""The week's order booking and customer equity against brute-force second computations.

``Books.orders`` and ``customer_equity`` run as compiled passes; here a small random week is
booked order by order in plain Python (every order of every buyer x channel, the freight
minimum per shipment, the value shares) and the equity is summed account by account with
the Poisson law from scipy, and both are compared with the engine's figures.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from conftest import BASELINE, small
from scipy import stats

from sim.channels import CHANNELS, DISTRIBUTOR, FIELD, INSIDE
from sim.metrics import CONTRIBUTION_COSTS
from sim.model.books import PNL_ITEMS
from sim.model.costs import ACTIVITIES, ServiceCosts, cost_order_line
from sim.model.model import ChannelModel
from sim.model.population import ACTIVE
from sim.model.valuation import customer_equity, win_share
from sim.model.week import Needs

ALL = -1
WEEK = 9


def _week_of_needs(model: ChannelModel, rng: np.random.Generator, buyers: int = 80) -> Needs:
    """Random needs of ``buyers`` active accounts (ordered by buyer), small and large orders."""
    pop, n_products = model.population, len(model.scenario.products)
    chosen = np.sort(rng.choice(np.flatnonzero(pop.status == ACTIVE), buyers, replace=False))
    rows = [
        (b, p)
        for b in chosen
        for p in sorted(rng.choice(n_products, rng.integers(1, n_products + 1), replace=False))
    ]
    b, p = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    n = len(b)
    channel = rng.integers(0, len(CHANNELS), n)
    channel[(channel == DISTRIBUTOR) & (pop.distributor[b] < 0)] = FIELD
    orders = rng.choice([1, 1, 1, 2, 3], n).astype(np.int64)
    units = rng.choice([0.5, 3.0, 40.0, 400.0], n) * orders  # the freight minimum binds on some
    filled = np.where(rng.random(n) < 0.3, rng.uniform(0.0, 1.0, n), 1.0)
    # Some lines moved off the distributor (referral fees) and some deals registered.
    pop.moved_off_distributor_week[b, p] = np.where(rng.random(n) < 0.5, WEEK - 3, -1)
    pop.registered_until[b, p] = np.where(rng.random(n) < 0.5, WEEK + 2, -1)
    return Needs(
        buyer=b,
        product=p,
        units=units,
        orders=orders,
        channel=channel,
        price=rng.uniform(0.85, 1.0, n),
        touched=np.zeros((n, len(CHANNELS)), dtype=bool),
        filled=filled,
        incidents=np.zeros(n, dtype=np.int64),
        taken=np.zeros(n, dtype=bool),
    )


def _brute_force(model: ChannelModel, needs: Needs, discount: np.ndarray, open_: np.ndarray):
    """The week's P&L cells and payments, order by order in plain Python."""
    scenario, books, pop = model.scenario, model.books, model.population
    policy, reps = scenario.policy, scenario.reps
    cells: dict[tuple[str, int, int, int], float] = defaultdict(float)
    rebates, fees = defaultdict(float), defaultdict(float)
    orders_of_channel = defaultdict(int)
    lines_of = defaultdict(list)  # (buyer, direct channel) -> its lines
    for i in range(len(needs.buyer)):
        b, p, c = int(needs.buyer[i]), int(needs.product[i]), int(needs.channel[i])
        s, d = int(pop.segment[b]), int(pop.distributor[b])
        units = float(needs.units[i] * needs.filled[i])
        value = units * books.list_price[p] * needs.price[i]
        if c == DISTRIBUTOR:
            sell_in = units * books.sell_in_price[p]
            for segment, sign in ((s, 1.0), (ALL, -1.0)):
                cells["units", p, segment, c] += sign * units
                cells["revenue", p, segment, c] += sign * sell_in
                cells["cogs", p, segment, c] += sign * units * books.unit_cost[p]
            registered = pop.registered_until[b, p] >= WEEK
            rebate = sell_in * discount[p] + registered * (
                units * books.list_price[p] * scenario.distributors.deal_registration_margin
            )
            cells["revenue", p, s, c] -= rebate
            rebates[d] += rebate
            continue
        cells["units", p, s, c] += units
        cells["revenue", p, s, c] += value
        cells["cogs", p, s, c] += units * books.unit_cost[p]
        lines_of[b, c].append((p, s, int(needs.orders[i]), value))
        has_rep = {FIELD: pop.field_rep[b] >= 0, INSIDE: pop.inside_rep[b] >= 0}
        if policy.rep_compensation == "channel_neutral":
            rep = FIELD if has_rep[FIELD] else INSIDE if has_rep[INSIDE] else None
        else:
            rep = c if has_rep.get(c, False) else None
        if rep is not None:
            rate = (reps.field if rep == FIELD else reps.inside).commission_rate
            cells["commissions", p, s, c] += value * rate
        moved = pop.moved_off_distributor_week[b, p]
        if policy.distributor_referral_fee > 0 and moved >= 0 and d >= 0 and open_[d]:
            cells["referral_fees", p, s, c] += value * policy.distributor_referral_fee
            fees[d] += value * policy.distributor_referral_fee
    for (_, c), lines in lines_of.items():
        rates = books.service_costs[c]
        for j in range(max(o for _, _, o, _ in lines)):  # the buyer's j-th order on c
            shipped = [(p, s, v / o) for p, s, o, v in lines if o > j]
            order_value = sum(v for _, _, v in shipped)
            freight = max(rates.freight_minimum, rates.freight_rate * order_value)
            orders_of_channel[c] += 1
            for p, s, v in shipped:
                share = v / order_value if order_value > 0 else 1 / len(shipped)
                cells["cost_order_handling", p, s, c] += rates.cost_per_order * share
                cells["cost_fulfilment", p, s, c] += rates.cost_per_line
                cells["cost_freight", p, s, c] += freight * share
                cells["cost_credit", p, s, c] += v * rates.credit_rate
    for c, count in orders_of_channel.items():
        spec = getattr(scenario.channels, CHANNELS[c])
        if spec.capacity_step_orders:
            steps = math.ceil(count / spec.capacity_step_orders)
            cells["cost_platform", ALL, ALL, c] += steps * spec.capacity_step_cost_weekly
    return cells, rebates, fees


@pytest.mark.parametrize("compensation", ["channel_specific", "channel_neutral"])
def test_orders_book_what_a_per_order_computation_books(compensation):
    """Every P&L cell and payment of a random week equals the order-by-order computation."""
    scenario = small(
        BASELINE,
        f"policy.rep_compensation={compensation}",
        "policy.deal_registration=true",
        "policy.distributor_referral_fee=0.07",
        "channels.ecommerce.capacity_step_orders=7",
        "channels.field.capacity_step_orders=5",
    )
    model = ChannelModel(scenario, 3)
    rng = np.random.default_rng(11)
    needs = _week_of_needs(model, rng)
    n_distributors = len(model.network.open) - 1
    discount = np.zeros(len(scenario.products))
    discount[1] = 0.15
    open_ = np.ones(n_distributors + 1, dtype=bool)
    open_[0] = open_[-1] = False  # a closed distributor earns no fee
    books = model.books
    books.week_pnl[:] = 0.0
    rebates, fees = books.orders(
        needs, model.population, distributor_open=open_, sell_through_discount=discount, week=WEEK
    )
    cells, expected_rebates, expected_fees = _brute_force(model, needs, discount, open_)
    assert {item for item, *_ in cells} >= {"cost_freight", "commissions", "referral_fees"}
    expected = np.zeros_like(books.week_pnl)
    for (item, p, s, c), amount in cells.items():
        expected[PNL_ITEMS.index(item), p, s, c] += amount
    np.testing.assert_allclose(books.week_pnl, expected, rtol=1e-12, atol=1e-9)
    for paid, want in ((rebates, expected_rebates), (fees, expected_fees)):
        assert paid.shape == (n_distributors,)
        np.testing.assert_allclose(paid, [want[d] for d in range(n_distributors)], rtol=1e-12)
    assert fees[0] == 0.0 and fees.sum() > 0 and rebates.sum() > 0


def test_compiled_order_costs_equal_the_numpy_costing_bit_for_bit():
    """``cost_order_line`` (the books' pass) and ``ServiceCosts.of_week`` (the distributors')
    cost the same orders to the same bits, so both sides of an order agree exactly."""
    rng = np.random.default_rng(5)
    n = 3_000
    buyer = np.sort(rng.integers(0, 900, n))
    channel = rng.integers(0, 3, n)
    orders = rng.choice([1, 1, 2, 3, 6], n).astype(np.int64)
    value = rng.choice([0.0, 1.0, 50.0, 2_000.0], n) * rng.random(n) * orders
    table = np.array([[30.0, 4.0, 0.03, 25.0, 0.004], [12.0, 2.5, 0.05, 9.0, 0.0], [0, 0, 0, 0, 0]])
    rates = ServiceCosts(*table[channel].T)
    numpy_costs = rates.of_week(buyer * 3 + channel, value, orders).costs
    starts = np.flatnonzero(np.r_[True, buyer[1:] != buyer[:-1], True])
    compiled = np.array(
        [
            cost_order_line(i, start, stop, channel, value, orders, table[channel[i]])
            for start, stop in itertools.pairwise(starts.tolist())
            for i in range(start, stop)
        ]
    )
    assert compiled.shape == (n, len(ACTIVITIES))
    np.testing.assert_array_equal(compiled, numpy_costs)


def test_a_distributors_order_costs_per_line_equal_the_numpy_costing():
    """``ServiceCosts.totals_by_buyer`` (the distributors' invoices) gives each line the total
    of ``of_week``'s activity costs, bit for bit, zero-value lines and freight minimums
    included."""
    rng = np.random.default_rng(6)
    n = 3_000
    buyer = np.sort(rng.integers(0, 900, n))
    orders = rng.choice([1, 1, 2, 3, 6], n).astype(np.int64)
    value = rng.choice([0.0, 1.0, 50.0, 2_000.0], n) * rng.random(n) * orders
    rates = ServiceCosts(30.0, 4.0, 0.03, 25.0, 0.004)
    expected = rates.of_week(buyer, value, orders).costs.sum(axis=1)
    np.testing.assert_array_equal(rates.totals_by_buyer(buyer, value, orders), expected)


PROCESS = "{order_rate_shape: 0.7, dropout_a: 2.0, dropout_b: 6.0}"


def _line_value_per_unit(model: ChannelModel) -> dict[tuple[str, str, str], float]:
    """Contribution per unit of each product x segment x channel line, from the P&L table;
    a distributor line less its restocks' cost to serve per unit the journal shows sold in."""
    table = model.books.pnl_table()
    sold_in = pd.concat(model.books.journal["sell_in"]).groupby("product")["units"].sum()
    names = [p.name for p in model.scenario.products]
    stock = table[(table["segment"] == "all") & (table["channel"] == "distributor")]
    restock = {
        row["product"]: row["cost_to_serve"]
        / model.books.weight
        / sold_in[names.index(row["product"])]
        for _, row in stock.iterrows()
        if row["product"] != "all"
    }
    lines = table[(table[["product", "segment", "channel"]] != "all").all(axis=1)]
    value = {}
    for _, row in lines[lines["units"] > 0].iterrows():
        per_unit = row["contribution_margin"] / row["units"]
        if row["channel"] == "distributor":
            per_unit -= restock.get(row["product"], 0.0)
        value[(row["product"], row["segment"], row["channel"])] = per_unit
    return value


def _fixed_cost_weekly(model: ChannelModel) -> float:
    """The weekly cost no line carries over a run shorter than a quarter, from the P&L table:
    the ``all`` rows' costs less the restocks' (the distributors' stock lines)."""
    table = model.books.pnl_table()
    costs = table[list(CONTRIBUTION_COSTS)].sum(axis=1)
    unlined = (table[["product", "segment", "channel"]] == "all").any(axis=1)
    restock = (
        (table["product"] != "all")
        & (table["segment"] == "all")
        & (table["channel"] == "distributor")
    )
    return float(costs[unlined & ~restock].sum()) / model.books.weight / model.week


def test_customer_equity_equals_an_account_by_account_sum():
    """Each customer's weekly contribution at its channels on the lines still ours, less its
    share of the weekly cost no line carries, times its survival annuity
    ``Σ_k ((1 - h) d) ** k``; ``h`` from the churn hazard at its effort, or for an account
    with a dropout, 1 - E[s ** K] with K the most orders on its lines (scipy's Poisson).
    Some lines are put on a competitor's line, all of some accounts' lines (no longer
    customers). Line values and fixed costs come from the P&L table and the sell-in journal."""
    scenario = small(BASELINE, f"market.segments.1.purchase_process={PROCESS}", "horizon_weeks=6")
    model = ChannelModel(scenario, 2, journal=True)
    model.run()
    pop, rules = model.population, model.rules
    rng = np.random.default_rng(1)
    pop.effort[:] = rng.choice([0.0, 0.3, 1.0], pop.size).astype(np.float32)
    pop.alternative_line[:] = rng.random(pop.alternative_line.shape) < 0.1
    lost = np.flatnonzero(pop.status == ACTIVE)[:25]
    pop.alternative_line[lost] = True
    rate = scenario.discount_rate_annual
    engine = customer_equity(pop, rules, model.books, rate)
    value = _line_value_per_unit(model)
    won = win_share(model.books)
    products = [p.name for p in scenario.products]
    segments = [s.name for s in scenario.market.segments]
    discount = (1.0 + rate) ** (-1 / 52)
    slope = scenario.market.effort_churn_multiplier - 1.0
    customers = [
        b
        for b in np.flatnonzero(pop.status == ACTIVE)
        if ((pop.units_per_order[b] > 0) & ~pop.alternative_line[b]).any()
    ]
    fixed = _fixed_cost_weekly(model) / len(customers)
    total = 0.0
    for b in customers:
        multiplier = 1.0 + slope * float(pop.effort[b])
        if pop.dropout[b] > 0:
            lines = int((pop.units_per_order[b] > 0).sum())
            s = 1.0 - min(float(pop.dropout[b]) * multiplier, 1.0)
            poisson = stats.poisson(float(pop.orders_per_week[b]))
            cdf = poisson.cdf(np.arange(60))
            most = np.diff(np.r_[0.0, cdf**lines])  # P(K = j)
            hazard = 1.0 - float((s ** np.arange(60) * most).sum())
        else:
            hazard = 1.0 - math.exp(-rules.churn_hazard_annual * multiplier / 52)
        keep = (1.0 - hazard) * discount
        weeks = min(keep / (1.0 - keep), 5_200)
        total -= fixed * weeks
        for p, c in enumerate(pop.current_channel[b]):
            if c >= 0 and not pop.alternative_line[b, p]:
                line = (products[p], segments[pop.segment[b]], CHANNELS[c])
                weekly_units = pop.units_per_order[b, p] * pop.orders_per_week[b]
                total += weekly_units * weeks * won[p, pop.segment[b]] * value.get(line, 0.0)
    assert (pop.dropout[pop.status == ACTIVE] > 0).any()
    assert fixed * len(customers) > 0 and len(customers) < np.count_nonzero(pop.status == ACTIVE)
    assert engine == pytest.approx(total, rel=1e-5)  # the engine's hazards are float32
