"""The manufacturer's books: the one place where money and units are posted.

Orders, COGS, cost to serve, commissions, rebates, referral fees, sell-in, campaign costs and
the week's counts all go through :class:`Books`, which writes them into the :class:`Ledger` and
pays distributors through :meth:`Distributor.receive`. Money is in the scenario's currency unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.model.buyers import Needs
from sim.model.ledger import Ledger
from sim.model.population import DISTRIBUTOR, ECOMMERCE, FIELD, INSIDE, Population
from sim.scenario.schema import CHANNELS, Scenario

if TYPE_CHECKING:
    from sim.model.agents import Distributor


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
        self.cost_per_order = np.array([c.cost_per_order for c in channels])
        self.fixed_cost_weekly = sum(c.fixed_cost_weekly for c in channels)
        self.cost_per_call = np.array(
            [scenario.reps.field.cost_per_call, scenario.reps.inside.cost_per_call]
        )
        """Cost of one field and one inside call (indexed by FIELD, INSIDE)."""

    # ------------------------------------------------------------------ costs of the week

    def running_costs(self, active_accounts: int, orchestration_coverage: float) -> None:
        """Channels' fixed costs and the orchestrator's running cost (phase 1)."""
        policy = self.scenario.policy
        cost = self.fixed_cost_weekly
        if orchestration_coverage > 0:
            cost += policy.orchestration_fixed_cost_weekly + (
                policy.orchestration_cost_per_account_annual
                * orchestration_coverage
                * active_accounts
                / 52
            )
        self.ledger.book("cost_to_serve", cost)

    def calls(self, calls_by_kind: np.ndarray) -> None:
        """Cost of (field, inside) calls made outside the reps' planned work."""
        self.ledger.book("cost_to_serve", calls_by_kind @ self.cost_per_call)

    def rep_calls(self, calls: int, cost_per_call: float) -> None:
        """Cost of one rep's calls this week."""
        self.ledger.book("cost_to_serve", calls * cost_per_call)

    def campaign(self, cost: float) -> None:
        """A campaign's weekly cost."""
        self.ledger.book("campaign_costs", cost)

    # ------------------------------------------------------------------ units and counts

    def lost_units(self, units: float) -> None:
        """Needs' units that went to a competitor's line."""
        self.ledger.book("lost_to_competitor_units", units)

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
        distributors: Sequence[Distributor],
        *,
        distributor_open: np.ndarray,
        sell_through_discount: np.ndarray,
        week: int,
    ) -> None:
        """Book the week's orders.

        Direct orders book revenue at the realised price, COGS and order handling; distributor
        orders are the distributor's sell-through (our revenue came at sell-in). Then rebates,
        commissions and referral fees.
        """
        ledger = self.ledger
        b, p, c = needs.buyer, needs.product, needs.channel
        served_units = needs.units * needs.filled
        ledger.book("stockout_units", float((needs.units - served_units).sum()))
        value = served_units * self.list_price[p] * needs.price
        direct = c != DISTRIBUTOR
        direct_value = np.where(direct, value, 0.0)
        revenue_by_channel = np.bincount(c, weights=direct_value, minlength=4)
        for ch, name in enumerate(CHANNELS):
            if ch != DISTRIBUTOR:
                ledger.book(f"revenue_{name}", revenue_by_channel[ch])
        ledger.book("cogs", float((served_units * self.unit_cost[p])[direct].sum()))
        orders = np.bincount(c, minlength=4)
        handled = [FIELD, INSIDE, ECOMMERCE]
        ledger.book("cost_to_serve", float(orders[handled] @ self.cost_per_order[handled]))
        ledger.book("sell_through_units", float(served_units[~direct].sum()))
        if self.journal is not None:
            self.journal["orders"].append(
                pd.DataFrame(
                    {"week": week, "buyer": b, "product": p, "channel": c}
                    | {"units": served_units, "price": needs.price}
                )
            )
        self._rebates(needs, served_units, pop, distributors, sell_through_discount, week)
        self._commissions(b, c, direct_value, pop)
        self._referral_fees(b, c, direct_value, pop, distributors, distributor_open)

    def _rebates(
        self,
        needs: Needs,
        served_units: np.ndarray,
        pop: Population,
        distributors: Sequence[Distributor],
        sell_through_discount: np.ndarray,
        week: int,
    ) -> None:
        """Sell-through promotion payments and deal-registration margin, paid to distributors."""
        policy = self.scenario.policy
        if not sell_through_discount.any() and not policy.deal_registration:
            return  # nothing to pay: no sell-through promotion, no registered deals
        at = needs.channel == DISTRIBUTOR
        p = needs.product[at]
        base = served_units[at] * self.sell_in_price[p]
        registered = pop.protected_until[needs.buyer[at]] >= week
        rebate = (
            base * sell_through_discount[p]
            + served_units[at]
            * self.list_price[p]
            * self.scenario.distributors.deal_registration_margin
            * registered
        )
        self.ledger.book("revenue_distributor", -float(rebate.sum()))
        _pay(distributors, pop.distributor[needs.buyer[at]], rebate)

    def _commissions(
        self, buyer: np.ndarray, channel: np.ndarray, revenue: np.ndarray, pop: Population
    ) -> None:
        """Commission on direct revenue to the account's reps (ODD "Compensation")."""
        reps = self.scenario.reps
        neutral = self.scenario.policy.rep_compensation == "channel_neutral"
        for kind, column, team in (
            (FIELD, pop.field_rep, reps.field),
            (INSIDE, pop.inside_rep, reps.inside),
        ):
            rep = column[buyer]
            credited = (rep >= 0) & ((channel == kind) | (neutral & (channel != DISTRIBUTOR)))
            self.ledger.book("commissions", float((revenue[credited] * team.commission_rate).sum()))

    def _referral_fees(
        self,
        buyer: np.ndarray,
        channel: np.ndarray,
        revenue: np.ndarray,
        pop: Population,
        distributors: Sequence[Distributor],
        distributor_open: np.ndarray,
    ) -> None:
        """Pay referral fees on direct revenue of accounts the plan moved off a distributor.

        The fee goes to that distributor while it carries the line.
        """
        fee = self.scenario.policy.distributor_referral_fee
        if fee <= 0 or not distributors:
            return
        d = pop.distributor[buyer]
        former = (
            (channel != DISTRIBUTOR) & pop.former_distributor_account[buyer] & distributor_open[d]
        )
        amount = revenue[former] * fee
        self.ledger.book("referral_fees", float(amount.sum()))
        _pay(distributors, d[former], amount)

    def sell_in(
        self,
        distributor: Distributor,
        order_units: np.ndarray,
        sell_in_discount: np.ndarray,
        week: int,
    ) -> None:
        """Book a distributor's restock as our sell-in; the discount saved is its income."""
        price = self.sell_in_price * (1.0 - sell_in_discount)
        self.ledger.book("revenue_distributor", float(order_units @ price))
        self.ledger.book("cogs", float(order_units @ self.unit_cost))
        self.ledger.book("sell_in_units", float(order_units.sum()))
        self.ledger.book(
            "cost_to_serve", float(np.count_nonzero(order_units)) * self.cost_per_order[DISTRIBUTOR]
        )
        distributor.receive(float(order_units @ (self.sell_in_price * sell_in_discount)))
        if self.journal is not None:
            self.journal["sell_in"].append(
                pd.DataFrame(
                    {"week": week, "distributor": distributor.index}
                    | {"product": np.arange(len(price)), "units": order_units, "unit_price": price}
                )
            )


def _pay(distributors: Sequence[Distributor], index: np.ndarray, amount: np.ndarray) -> None:
    """Pay ``amount`` to ``distributors[index]``, summed per distributor first."""
    totals = np.bincount(index, weights=amount, minlength=len(distributors))
    for i in np.flatnonzero(totals).tolist():
        distributors[i].receive(float(totals[i]))
