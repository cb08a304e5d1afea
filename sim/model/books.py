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

import numpy as np
import pandas as pd

from sim.channels import CHANNELS, DISTRIBUTOR, FIELD, INSIDE
from sim.metrics import CONTRIBUTION_COSTS, COST_FLOWS
from sim.model.costs import ACTIVITIES, ServiceCosts
from sim.model.ledger import Ledger
from sim.model.population import Population, take_cells
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

    def __init__(self, scenario: Scenario, *, journal: bool = False) -> None:
        self.scenario = scenario
        self.ledger = Ledger(scenario.horizon_weeks)
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
        """Units of needs lost to a competitor's line so far, by product x segment."""

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
        self.pnl += week
        week[:] = 0.0

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
        items = pd.DataFrame(self.pnl.reshape(len(PNL_ITEMS), -1).T, index=index, columns=PNL_ITEMS)
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
            cost = policy.orchestration_fixed_cost_weekly + (
                policy.orchestration_cost_per_account_annual
                * orchestration_coverage
                * active_accounts
                / 52
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

    def lost_units(self, segment: np.ndarray, product: np.ndarray, units: np.ndarray) -> None:
        """Needs' units that went to a competitor's line (by the buyer's segment, product)."""
        self.ledger.book("lost_to_competitor_units", float(units.sum()))
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

        Returns
        -------
        rebates, referral_fees
            (D,) money paid to each distributor (``distributor_open`` has D + 1 slots).
        """
        b, p, c = needs.buyer, needs.product, needs.channel
        s = pop.segment[b].astype(np.int64)
        served_units = needs.units * needs.filled
        self.ledger.book("stockout_units", float((needs.units - served_units).sum()))
        value = served_units * self.list_price[p] * needs.price
        direct = c != DISTRIBUTOR
        self.ledger.book("sell_through_units", float(served_units[~direct].sum()))
        if self.journal is not None:
            self.journal["orders"].append(
                pd.DataFrame(
                    {"week": week, "buyer": b, "product": p, "channel": c}
                    | {"orders": needs.orders, "units": served_units, "price": needs.price}
                )
            )
        o = needs.orders
        rows = np.flatnonzero(direct)
        self._direct_orders(
            b[rows], p[rows], s[rows], c[rows], o[rows], served_units[rows], value[rows]
        )
        rows = np.flatnonzero(~direct)
        self._sell_through(p[rows], s[rows], served_units[rows])
        count = len(distributor_open) - 1
        rebates = self._rebates(needs, served_units, pop, sell_through_discount, week, count)
        direct_value = np.where(direct, value, 0.0)
        self._commissions(b, p, s, c, direct_value, pop)
        fees = self._referral_fees(needs, s, direct_value, pop, distributor_open, week)
        return rebates, fees

    def _direct_orders(
        self,
        b: np.ndarray,
        p: np.ndarray,
        s: np.ndarray,
        c: np.ndarray,
        orders_of_line: np.ndarray,
        units: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Revenue, COGS and activity costs of direct order lines; capacity steps per channel.

        One order = one buyer's lines through one channel this week (the j-th orders of its
        lines ordered several times, :meth:`ServiceCosts.of_week`).
        """
        self._post("units", p, s, c, units)
        self._post("revenue", p, s, c, value)
        self._post("cogs", p, s, c, units * self.unit_cost[p])
        week = ServiceCosts.per_line(self.service_costs, c).of_week(
            b * len(CHANNELS) + c, value, orders_of_line
        )
        for j, activity in enumerate(ACTIVITIES):
            self._post(f"cost_{activity}", p, s, c, week.costs[:, j])
        channel_of_order = np.zeros(int(week.order.max(initial=-1)) + 1, dtype=np.intp)
        channel_of_order[week.order] = c[week.line]
        orders = np.bincount(channel_of_order, minlength=len(CHANNELS))
        for ch, name in enumerate(CHANNELS):
            spec = getattr(self.scenario.channels, name)
            if spec.capacity_step_orders and orders[ch]:
                steps = -(-int(orders[ch]) // spec.capacity_step_orders)  # ceiling
                self._post("cost_platform", ALL, ALL, ch, steps * spec.capacity_step_cost_weekly)

    def _sell_through(self, p: np.ndarray, s: np.ndarray, units: np.ndarray) -> None:
        """Move sold-through units, at sell-in price and cost, from channel stock to the lines."""
        for sign, segment in ((1.0, s), (-1.0, np.full(len(s), ALL))):
            self._post("units", p, segment, DISTRIBUTOR, sign * units)
            self._post("revenue", p, segment, DISTRIBUTOR, sign * units * self.sell_in_price[p])
            self._post("cogs", p, segment, DISTRIBUTOR, sign * units * self.unit_cost[p])

    def _rebates(
        self,
        needs: Needs,
        served_units: np.ndarray,
        pop: Population,
        sell_through_discount: np.ndarray,
        week: int,
        count: int,
    ) -> np.ndarray:
        """Sell-through promotion payments and deal-registration margin: (D,) paid to each."""
        policy = self.scenario.policy
        if not sell_through_discount.any() and not policy.deal_registration:
            return np.zeros(count)  # nothing to pay: no sell-through promotion, no registered deals
        at = np.flatnonzero(needs.channel == DISTRIBUTOR)
        b, p = needs.buyer[at], needs.product[at]
        base = served_units[at] * self.sell_in_price[p]
        registered = take_cells(pop.registered_until, b, p) >= week
        rebate = (
            base * sell_through_discount[p]
            + served_units[at]
            * self.list_price[p]
            * self.scenario.distributors.deal_registration_margin
            * registered
        )
        self._post("revenue", p, pop.segment[b].astype(np.int64), DISTRIBUTOR, -rebate)
        return np.bincount(pop.distributor[b], weights=rebate, minlength=count)

    def _commissions(
        self,
        buyer: np.ndarray,
        product: np.ndarray,
        segment: np.ndarray,
        channel: np.ndarray,
        revenue: np.ndarray,
        pop: Population,
    ) -> None:
        """One commission per direct order line, to one rep (ODD "Compensation").

        Channel-specific pay credits the account's rep of the channel that took the order
        (field or inside; web orders earn none). Channel-neutral pay credits the account's
        owner on every direct order: its field rep if it has one, else its inside rep.
        """
        field, inside = pop.field_rep[buyer] >= 0, pop.inside_rep[buyer] >= 0
        if self.scenario.policy.rep_compensation == "channel_neutral":
            credited = np.where(field, FIELD, np.where(inside, INSIDE, -1))
            credited[channel == DISTRIBUTOR] = -1
        else:
            credited = np.where(
                ((channel == FIELD) & field) | ((channel == INSIDE) & inside), channel, -1
            )
        reps = self.scenario.reps
        rate = np.array([reps.field.commission_rate, reps.inside.commission_rate, 0.0])[credited]
        paid = np.flatnonzero(credited >= 0)
        self._post(
            "commissions", product[paid], segment[paid], channel[paid], (revenue * rate)[paid]
        )

    def _referral_fees(
        self,
        needs: Needs,
        segment: np.ndarray,
        revenue: np.ndarray,
        pop: Population,
        distributor_open: np.ndarray,
        week: int,
    ) -> np.ndarray:
        """Referral fees on the direct revenue of lines the plan moved off a distributor: (D,).

        A buyer x product line moved off its distributor earns that distributor the fee
        while it carries our line (and for ``policy.referral_fee_weeks`` after the move, when
        set); other lines of the same buyer earn nothing.
        """
        policy = self.scenario.policy
        fee = policy.distributor_referral_fee
        count = len(distributor_open) - 1
        if fee <= 0 or not count:
            return np.zeros(count)
        b, p = needs.buyer, needs.product
        moved = take_cells(pop.moved_off_distributor_week, b, p)
        d = pop.distributor[b]
        earns = (needs.channel != DISTRIBUTOR) & (moved >= 0) & distributor_open[d]
        if policy.referral_fee_weeks is not None:
            earns &= week - moved < policy.referral_fee_weeks
        rows = np.flatnonzero(earns)
        amount = revenue[rows] * fee
        self._post("referral_fees", p[rows], segment[rows], needs.channel[rows], amount)
        return np.bincount(d[rows], weights=amount, minlength=count)

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
