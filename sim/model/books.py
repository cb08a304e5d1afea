"""The manufacturer's books: the one place where money and units are posted.

Orders, COGS, the activity-based cost to serve, rep headcount, commissions, rebates, referral
fees, sell-in, campaign costs and the week's counts all go through :class:`Books`. Money goes
into the week's channel P&L (:attr:`Books.week_pnl`: line item x product x segment x channel,
with an ``all`` slot on each axis for what no single value of it carries); at the week's end
(:meth:`Books.settle_week`) the P&L's totals become the ledger's money flows and it is added to
the horizon's P&L (:attr:`Books.pnl`), so the two reconcile by construction. The books take
numbers, never an agent: what we pay distributors comes back as amounts per distributor, which
the distributor network credits (``sim.model.distributors``). Money is in the scenario's
currency unit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit

from sim.channels import CHANNELS, DISTRIBUTOR, FIELD, INSIDE
from sim.metrics import CONTRIBUTION_COSTS, COST_FLOWS
from sim.model.costs import ACTIVITIES, ServiceCosts, cost_order_line
from sim.model.ledger import Ledger
from sim.model.population import Population
from sim.model.week import Needs
from sim.scenario.schema import RepTeam, Scenario

ALL = -1
"""Index of the ``all`` slot of a P&L axis: what no single product, segment or channel carries."""

PNL_ITEMS: tuple[str, ...] = (
    "units",
    "revenue",
    "cogs",
    *COST_FLOWS,
    "commissions",
    "referral_fees",
    "campaign_costs",
)
"""Line items of the channel P&L, in the order of its first axis."""

_ITEM = {name: i for i, name in enumerate(PNL_ITEMS)}

COST_ITEMS: list[int] = [
    i for i, name in enumerate(PNL_ITEMS) if name not in ("units", "revenue", "cogs")
]
"""Indices of the P&L's cost items (everything contribution margin subtracts after COGS)."""

FIXED_COST_WEEKS = 13
"""Weeks of the recent cost not carried by a line that customer equity charges (a quarter)."""

PNL_COLUMNS: tuple[str, ...] = (
    "units",
    "revenue",
    "cogs",
    "cost_to_serve",
    "commissions",
    "referral_fees",
    "campaign_costs",
    "contribution_margin",
    *COST_FLOWS,
)
"""Columns of ``channel_pnl.csv`` after the run and line identifiers: ``contribution_margin =
revenue - cogs - cost_to_serve - commissions - referral_fees - campaign_costs``, and the cost to
serve split by activity (``cost_<activity>``)."""


class Books:
    """Prices, costs and every posting of the run.

    Parameters
    ----------
    scenario
        Prices (``products``), channel costs, rep costs and rates, distributor margin, policy.
    journal
        Also keep the order journal (:attr:`journal`): one record per order line served and
        per distributor restock. Off by default: it grows with every need.
    """

    def __init__(self, scenario: Scenario, *, weight: float = 1.0, journal: bool = False) -> None:
        self.scenario = scenario
        self.weight = weight
        """Real accounts each simulated one stands for: the ledger and the P&L table are the
        firm's (:mod:`sim.model.sample`)."""
        self.ledger = Ledger(scenario.horizon_weeks, weight)
        self.journal: dict[str, list[pd.DataFrame]] | None = (
            {"orders": [], "sell_in": []} if journal else None
        )
        """Per-line records, when asked for: ``orders`` (week, buyer, product, channel, units,
        price as a fraction of list) and ``sell_in`` (week, distributor, product, units,
        unit_price). The ledger's totals can be recomputed from them independently."""
        self.list_price = np.array([p.list_price for p in scenario.products])
        """(P,) list price per unit."""
        self.unit_cost = np.array([p.unit_cost for p in scenario.products])
        """(P,) manufacturer's cost of goods per unit."""
        self.sell_in_price = self.list_price * (1.0 - scenario.distributors.margin)
        """(P,) what a distributor pays us per unit, before promotions."""
        channels = [getattr(scenario.channels, c) for c in CHANNELS]
        self.service_costs = [
            ServiceCosts.from_rates(c, scenario.discount_rate_annual) for c in channels
        ]
        """Our order costs per channel (distributor: its restocks)."""
        shape = (len(PNL_ITEMS), len(scenario.products) + 1, len(scenario.market.segments) + 1)
        self.week_pnl = np.zeros((*shape, len(CHANNELS) + 1))
        """This week's channel P&L: item x product x segment x channel (last slot: ``all``)."""
        self.pnl = np.zeros_like(self.week_pnl)
        """The channel P&L over the weeks settled so far."""
        self.lost_units_by_line = np.zeros(shape[1:])
        """Units of needs lost to a competitor's line so far, by product x segment, on lines
        still ours (not on lines a distributor converted to its competitor's line)."""
        self.fixed_costs: list[float] = []
        """Each settled week's costs carried by no line: headcount, platforms, coordination,
        campaigns (the P&L's ``all`` cells, less the restocks' cost to serve)."""

    def reprice(self, scenario: Scenario) -> None:
        """Read the amended ``scenario``'s policy and our wholesale price from next week on.

        The weeks already booked keep the prices they were booked at
        (:meth:`sim.model.model.ChannelModel.amend`).
        """
        self.scenario = scenario
        self.sell_in_price = self.list_price * (1.0 - scenario.distributors.margin)

    # ------------------------------------------------------------------ posting

    def _post(
        self,
        item: str,
        product: np.ndarray | int,
        segment: np.ndarray | int,
        channel: np.ndarray | int,
        amount: np.ndarray | float,
    ) -> None:
        """Add ``amount`` to ``item`` of each (product, segment, channel); ``ALL`` = -1."""
        table = self.week_pnl[_ITEM[item]]
        if np.ndim(amount) == 0:
            table[product, segment, channel] += amount
            return
        cell = np.ravel_multi_index((product, segment, channel), table.shape, mode="wrap")
        table += np.bincount(cell, weights=amount, minlength=table.size).reshape(table.shape)

    def settle_week(self) -> None:
        """Book the week's P&L totals into the ledger and add it to the horizon's P&L."""
        week, ledger = self.week_pnl, self.ledger
        revenue = week[_ITEM["revenue"]].sum(axis=(0, 1))
        for c, name in enumerate(CHANNELS):
            ledger.book(f"revenue_{name}", float(revenue[c]))
        for item in ("cogs", *COST_FLOWS, "commissions", "referral_fees", "campaign_costs"):
            ledger.book(item, float(week[_ITEM[item]].sum()))
        costs = week[COST_ITEMS]
        lines, restocks = costs[:, :-1, :-1, :-1].sum(), costs[:, :-1, ALL, DISTRIBUTOR].sum()
        self.fixed_costs.append(float(costs.sum() - lines - restocks))
        self.pnl += week
        week[:] = 0.0

    def recent_fixed_cost_weekly(self) -> float:
        """Mean weekly cost carried by no line over the last :data:`FIXED_COST_WEEKS` weeks."""
        recent = self.fixed_costs[-FIXED_COST_WEEKS:]
        return float(np.mean(recent)) if recent else 0.0

    def pnl_table(self) -> pd.DataFrame:
        """The channel P&L so far as rows (``channel_pnl.csv``, SPEC §6).

        One row per product x segment x channel line, plus the rows of what no single line
        carries (``all`` in the column it is not traceable to) where they hold anything.
        Columns: ``product, segment, channel``, then :data:`PNL_COLUMNS`.
        """
        names = [
            [*(p.name for p in self.scenario.products), "all"],
            [*(s.name for s in self.scenario.market.segments), "all"],
            [*CHANNELS, "all"],
        ]
        index = pd.MultiIndex.from_product(names, names=["product", "segment", "channel"])
        firm = self.pnl.reshape(len(PNL_ITEMS), -1).T * self.weight
        items = pd.DataFrame(firm, index=index, columns=PNL_ITEMS)
        table = pd.DataFrame(index=index)
        table["units"] = items["units"]
        table["revenue"] = items["revenue"]
        table["cogs"] = items["cogs"]
        table["cost_to_serve"] = items[list(COST_FLOWS)].sum(axis=1)
        for name in ("commissions", "referral_fees", "campaign_costs"):
            table[name] = items[name]
        table["contribution_margin"] = (
            table["revenue"] - table["cogs"] - table[list(CONTRIBUTION_COSTS)].sum(axis=1)
        )
        table[list(COST_FLOWS)] = items[list(COST_FLOWS)]
        line = np.zeros(self.pnl.shape[1:], dtype=bool)
        line[:-1, :-1, :-1] = True
        keep = line.reshape(-1) | (self.pnl.reshape(len(PNL_ITEMS), -1) != 0).any(axis=0)
        return table[keep].reset_index()

    # ------------------------------------------------------------------ costs of the week

    def running_costs(
        self, active_accounts: int, orchestration_coverage: float, targeting: bool
    ) -> None:
        """Channels' fixed costs, the orchestrator's and the call targeting's (phase 1)."""
        for c, name in enumerate(CHANNELS):
            fixed = getattr(self.scenario.channels, name).fixed_cost_weekly
            if fixed:
                self._post("cost_platform", ALL, ALL, c, fixed)
        policy = self.scenario.policy
        if orchestration_coverage > 0:
            cost = (
                policy.orchestration_fixed_cost_weekly
                + policy.orchestration_cost_per_account_annual
                * orchestration_coverage
                * active_accounts
                / 52
                + policy.orchestration_cost_per_capacity_weekly
                * policy.orchestration_capacity_weekly
            )
            self._post("cost_coordination", ALL, ALL, ALL, cost)
        if targeting:
            self._post("cost_coordination", ALL, ALL, ALL, self.scenario.reps.targeting_cost_weekly)

    def calls(self, calls_by_kind: np.ndarray) -> None:
        """Travel and other variable cost of (field, inside) calls outside the planned work.

        Their time is already paid by headcount (and lost to selling: ``charge_rep_time``).
        """
        for kind, team in ((FIELD, self.scenario.reps.field), (INSIDE, self.scenario.reps.inside)):
            if calls_by_kind[kind]:
                cost = float(calls_by_kind[kind]) * team.variable_cost_per_call
                self._post("cost_sales_force", ALL, ALL, kind, cost)

    def rep_week(
        self,
        channel: int,
        team: RepTeam,
        *,
        capacity_calls: float,
        called_segments: np.ndarray,
        prospecting_calls: int,
    ) -> None:
        """One rep's week: loaded headcount cost whatever the rep did, plus cost per call.

        Time-driven ABC: headcount costs ``loaded_cost_annual / 52`` a week; each call made
        uses ``1 / capacity_calls`` of it (the capacity cost rate) plus the variable cost per
        call, charged to the called account's segment (prospecting: to no segment); the
        capacity left unused is charged to the rep's channel as a whole.

        Parameters
        ----------
        channel
            FIELD or INSIDE.
        team
            The rep's team (costs).
        capacity_calls
            Selling calls the rep's selling time allows this week.
        called_segments
            Segment of each account called.
        prospecting_calls
            Calls spent on leads.
        """
        headcount = team.loaded_cost_annual / 52.0
        calls = len(called_segments) + prospecting_calls
        rate = headcount / max(capacity_calls, calls) if calls else 0.0
        per_call = rate + team.variable_cost_per_call
        if len(called_segments):
            self._post(
                "cost_sales_force",
                ALL,
                called_segments,
                channel,
                np.full(len(called_segments), per_call),
            )
        self._post(
            "cost_sales_force",
            ALL,
            ALL,
            channel,
            prospecting_calls * per_call + headcount - rate * calls,
        )

    def campaign(self, cost: float) -> None:
        """A campaign's weekly cost."""
        self._post("campaign_costs", ALL, ALL, ALL, cost)

    # ------------------------------------------------------------------ units and counts

    def lost_units(
        self,
        segment: np.ndarray,
        product: np.ndarray,
        units: np.ndarray,
        *,
        converted_lines: bool = False,
    ) -> None:
        """Needs' units that went to a competitor's line (by the buyer's segment, product).

        ``converted_lines``: the needs are of lines a distributor moved to its competitor's
        line for good; customer equity leaves those lines out, so their losses stay out of
        :attr:`lost_units_by_line`, the losses of the lines still ours.
        """
        self.ledger.book("lost_to_competitor_units", float(units.sum()))
        if converted_lines:
            return
        cell = np.ravel_multi_index((product, segment), self.lost_units_by_line.shape)
        self.lost_units_by_line += np.bincount(
            cell, weights=units, minlength=self.lost_units_by_line.size
        ).reshape(self.lost_units_by_line.shape)

    def written_off(self, units: float) -> None:
        """Channel stock removed (an exiting distributor's write-off)."""
        self.ledger.book("channel_inventory_removed_units", units)

    def count_conflicts(self, kind: str, unresolved: int, resolved: int) -> None:
        """Incidents of one type this week."""
        self.ledger.book(f"conflicts_{kind}", unresolved)
        self.ledger.book("conflicts_resolved", resolved)

    def prospecting(
        self, *, referral: int, outbound: int, won_referral: int, won_outbound: int
    ) -> None:
        """Leads a rep worked and the accounts won, by source."""
        for name, value in (
            ("leads_referral", referral),
            ("leads_outbound", outbound),
            ("won_referral", won_referral),
            ("won_outbound", won_outbound),
        ):
            self.ledger.book(name, value)

    # ------------------------------------------------------------------ orders (phase 6)

    def orders(
        self,
        needs: Needs,
        pop: Population,
        *,
        distributor_open: np.ndarray,
        sell_through_discount: np.ndarray,
        week: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Book the week's orders; return what we pay each distributor for them.

        Direct orders book revenue at the realised price, COGS and their cost to serve.
        Distributor orders are the distributor's sell-through: our revenue came at sell-in, and
        moves from the product's channel-stock line to the buyer's product x segment line at
        the sell-in price (the distributor pays the cost of serving them). Then rebates,
        commissions and referral fees.

        One compiled pass over the week's needs (:func:`_book_lines`) sums every posting's
        lines per P&L cell, in line order; each posting is then added to the week's P&L once,
        in :data:`_ORDER_POSTINGS` order (what a bincount per posting would add).

        Returns
        -------
        rebates, referral_fees
            (D,) money paid to each distributor (``distributor_open`` has D + 1 slots).
        """
        n, count = len(needs.buyer), len(distributor_open) - 1
        table = self.week_pnl[0]
        sums = np.zeros((len(_ORDER_POSTINGS), table.size))
        served, short, sold_through = np.empty(n), np.empty(n), np.empty(n)
        orders_by_channel = np.zeros(len(CHANNELS), dtype=np.int64)
        rebates, fees = np.zeros(count), np.zeros(count)
        policy, reps = self.scenario.policy, self.scenario.reps
        sold = _book_lines(
            (needs.buyer, needs.product, needs.channel, needs.orders),
            (needs.units, needs.filled, needs.price),
            (pop.segment, pop.field_rep, pop.inside_rep, pop.distributor),
            (pop.registered_until, pop.moved_off_distributor_week),
            (self.list_price, self.unit_cost, self.sell_in_price, sell_through_discount),
            ServiceCosts.rate_table(self.service_costs),
            distributor_open,
            np.array(
                [
                    bool(sell_through_discount.any() or policy.deal_registration),
                    policy.rep_compensation == "channel_neutral",
                    policy.distributor_referral_fee > 0 and count > 0,
                ]
            ),
            np.array(
                [
                    self.scenario.distributors.deal_registration_margin,
                    reps.field.commission_rate,
                    reps.inside.commission_rate,
                    policy.distributor_referral_fee,
                ]
            ),
            -1 if policy.referral_fee_weeks is None else int(policy.referral_fee_weeks),
            week,
            table.shape,
            (sums, served, short, sold_through, orders_by_channel, rebates, fees),
        )
        if sold < 0:
            raise ValueError("needs not ordered by buyer, or a paid distributor out of range")
        self.ledger.book("stockout_units", float(short.sum()))
        self.ledger.book("sell_through_units", float(sold_through[:sold].sum()))
        if self.journal is not None:
            self.journal["orders"].append(
                pd.DataFrame(
                    {"week": week, "buyer": needs.buyer, "product": needs.product}
                    | {"channel": needs.channel, "orders": needs.orders, "units": served}
                    | {"price": needs.price}
                )
            )
        for (item, _), cells in zip(_ORDER_POSTINGS, sums, strict=True):
            if item == "capacity":
                self._capacity_steps(orders_by_channel)
            else:
                self.week_pnl[_ITEM[item]] += cells.reshape(table.shape)
        return rebates, fees

    def _capacity_steps(self, orders_by_channel: np.ndarray) -> None:
        """Platform capacity steps per channel for the week's direct orders."""
        for ch, name in enumerate(CHANNELS):
            spec = getattr(self.scenario.channels, name)
            if spec.capacity_step_orders and orders_by_channel[ch]:
                steps = math.ceil(orders_by_channel[ch] / spec.capacity_step_orders)
                self._post("cost_platform", ALL, ALL, ch, steps * spec.capacity_step_cost_weekly)

    def sell_in(
        self,
        distributor: np.ndarray,
        order_units: np.ndarray,
        sell_in_discount: np.ndarray,
        week: int,
    ) -> np.ndarray:
        """Book the week's restocks as our sell-in; return the discount each distributor saved.

        Each restock is one order with a line per product restocked; its revenue, COGS and
        cost to serve go to each product's channel-stock line (segment ``all``), posted
        restock by restock in the order given.

        Parameters
        ----------
        distributor
            (k,) index of each restocking distributor.
        order_units
            (k, P) units each one ordered.
        sell_in_discount
            (P,) this week's sell-in promotion discount, share of the sell-in price.
        """
        price = self.sell_in_price * (1.0 - sell_in_discount)
        for units in order_units.sum(axis=1).tolist():
            self.ledger.book("sell_in_units", units)
        restock, product = np.nonzero(order_units)
        if len(restock):
            units = order_units[restock, product]
            value = units * price[product]
            costs = self.service_costs[DISTRIBUTOR].of_lines(restock, value)
            amounts = {"units": units, "revenue": value, "cogs": units * self.unit_cost[product]}
            amounts |= {f"cost_{a}": costs[:, j] for j, a in enumerate(ACTIVITIES)}
            cells = np.ravel_multi_index(
                (product, ALL, DISTRIBUTOR), self.week_pnl.shape[1:], mode="wrap"
            )
            for item, amount in amounts.items():
                # One restock after another, as each distributor posts its own.
                np.add.at(self.week_pnl[_ITEM[item]].reshape(-1), cells, amount)
        if self.journal is not None:
            for d, units in zip(distributor.tolist(), order_units, strict=True):
                self.journal["sell_in"].append(
                    pd.DataFrame(
                        {"week": week, "distributor": d}
                        | {"product": np.arange(len(price)), "units": units, "unit_price": price}
                    )
                )
        saved = self.sell_in_price * sell_in_discount
        if not saved.any():
            return np.zeros(len(distributor))
        return np.array([float(units @ saved) for units in order_units])


# ---------------------------------------------------------------------- the orders' compiled pass

_ORDER_POSTINGS: tuple[tuple[str, str], ...] = (
    ("units", "direct orders"),
    ("revenue", "direct orders, at the realised price"),
    ("cogs", "direct orders"),
    *((f"cost_{activity}", "direct orders' activities") for activity in ACTIVITIES),
    ("capacity", "platform capacity steps (cost_platform, per channel, not a line posting)"),
    ("units", "sell-through, to the buyer's line"),
    ("revenue", "sell-through at the sell-in price, to the buyer's line"),
    ("cogs", "sell-through, to the buyer's line"),
    ("units", "sell-through, out of the channel-stock line (segment all)"),
    ("revenue", "sell-through, out of the channel-stock line"),
    ("cogs", "sell-through, out of the channel-stock line"),
    ("revenue", "rebates: sell-through promotions and registered deals' margin (negative)"),
    ("commissions", "direct order lines credited to a rep"),
    ("referral_fees", "direct lines the plan moved off a distributor"),
)
"""The postings of :meth:`Books.orders`, in the order they are added to the week's P&L."""


@njit(cache=True, error_model="numpy")  # x / 0 is inf, as in numpy
def _book_lines(
    need_ids: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    need_amounts: tuple[np.ndarray, np.ndarray, np.ndarray],
    accounts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    lines: tuple[np.ndarray, np.ndarray],
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rates: np.ndarray,
    distributor_open: np.ndarray,
    switches: np.ndarray,
    terms: np.ndarray,
    fee_weeks: int,
    week: int,
    shape: tuple[int, int, int],
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> int:
    """Sum the week's order lines into each posting's P&L cells, in line order.

    ``need_ids``: buyer, product, channel, orders of each need (ordered by buyer);
    ``need_amounts``: units, share filled, price as a fraction of list; ``accounts``: the
    population's segment, field rep, inside rep, distributor; ``lines``: its registered-until
    and moved-off-distributor weeks (N, P); ``prices``: list price, unit cost, sell-in price,
    sell-through discount (P,); ``rates``: (C, 5) our order-cost rates per channel;
    ``switches``: rebates due, channel-neutral pay, referral fees due; ``terms``: deal
    registration margin, field and inside commission rates, referral fee; ``fee_weeks``: how
    long a moved line earns the fee (-1: while the distributor carries our line). ``out``:
    (postings, cells) sums by :data:`_ORDER_POSTINGS`, then per need the units served, short
    and (compacted) sold through, the direct orders per channel, and per distributor the
    rebates and referral fees. Returns the number of needs sold through, or -1 when the needs
    are not ordered by buyer or a paid distributor is out of range.

    Each value is computed as the numpy version of these rules computed it (same operations,
    same operand order); every sum starts from 0.0 and adds in line order (as ``np.bincount``).
    """
    buyer, product, channel, orders = need_ids
    units, filled, price = need_amounts
    segment, field_rep, inside_rep, distributor = accounts
    registered_until, moved_off = lines
    list_price, unit_cost, sell_in_price, sell_through_discount = prices
    sums, served, short, sold_through, orders_by_channel, rebates, fees = out
    rebates_due, neutral, fees_due = switches[0], switches[1], switches[2]
    deal_margin, field_rate, inside_rate, fee = terms[0], terms[1], terms[2], terms[3]
    n_segments, n_channels = shape[1], shape[2]
    every_segment = n_segments - 1
    count = len(rebates)
    n = len(buyer)
    value = np.empty(n)
    sold = 0
    start = 0
    while start < n:
        b = buyer[start]
        stop = start + 1
        while stop < n and buyer[stop] == b:
            stop += 1
        if stop < n and buyer[stop] < b:
            return -1
        for i in range(start, stop):
            served[i] = units[i] * filled[i]
            short[i] = units[i] - served[i]
            value[i] = served[i] * list_price[product[i]] * price[i]
        for i in range(start, stop):  # direct orders per channel: a channel's most orders
            c = channel[i]
            if c == DISTRIBUTOR:
                continue
            first, most = True, 0
            for k in range(start, stop):
                if channel[k] == c:
                    first = first and k >= i
                    most = max(most, orders[k])
            if first:
                orders_by_channel[c] += most
        s = segment[b]
        d = distributor[b]
        for i in range(start, stop):
            p, c, u = product[i], channel[i], served[i]
            line = (p * n_segments + s) * n_channels + c
            if c != DISTRIBUTOR:
                sums[0, line] += u
                sums[1, line] += value[i]
                sums[2, line] += u * unit_cost[p]
                handling, fulfilment, freight, credit = cost_order_line(
                    i, start, stop, channel, value, orders, rates[c]
                )
                sums[3, line] += handling
                sums[4, line] += fulfilment
                sums[5, line] += freight
                sums[6, line] += credit
            else:
                sold_through[sold] = u
                sold += 1
                stock = (p * n_segments + every_segment) * n_channels + c
                sums[8, line] += u
                sums[9, line] += u * sell_in_price[p]
                sums[10, line] += u * unit_cost[p]
                sums[11, stock] += -u
                sums[12, stock] += -u * sell_in_price[p]
                sums[13, stock] += -u * unit_cost[p]
                if rebates_due:
                    if d < 0 or d >= count:
                        return -1
                    registered = 1.0 if registered_until[b, p] >= week else 0.0
                    rebate = u * sell_in_price[p] * sell_through_discount[p] + (
                        u * list_price[p] * deal_margin * registered
                    )
                    sums[14, line] += -rebate
                    rebates[d] += rebate
            has_field, has_inside = field_rep[b] >= 0, inside_rep[b] >= 0
            if neutral:
                credited = FIELD if has_field else (INSIDE if has_inside else -1)
                if c == DISTRIBUTOR:
                    credited = -1
            else:
                credited = c if (c == FIELD and has_field) or (c == INSIDE and has_inside) else -1
            if credited >= 0:
                sums[15, line] += value[i] * (field_rate if credited == FIELD else inside_rate)
            if fees_due and c != DISTRIBUTOR:
                moved = moved_off[b, p]
                carries = distributor_open[d] if d >= 0 else distributor_open[count]
                if moved >= 0 and carries and (fee_weeks < 0 or week - moved < fee_weeks):
                    if d >= count:
                        return -1
                    amount = value[i] * fee
                    sums[16, line] += amount
                    fees[d] += amount
        start = stop
    return sold
