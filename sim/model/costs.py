"""Activity-based cost to serve: what an order costs whoever fulfils it.

Time-driven activity-based costing (Kaplan & Anderson, HBR 2004): each activity has a cost
per unit of its driver, and an order's cost is the sum over the activities it uses. Here an
order is one buyer's lines through one channel in one week, and a line ordered ``k`` times
that week is in ``k`` of its orders: the week's j-th orders of its lines ship together (a
distributor's restock is one order to us). Its activities:

=================  ===========================================  ==============================
activity           cost                                         driver
=================  ===========================================  ==============================
order handling     ``cost_per_order``                           orders
fulfilment         ``cost_per_line``                            order lines (pick and pack)
freight            ``max(freight_minimum, freight_rate x V)``   shipments (one per order)
credit             ``v x (bad_debt + DSO / 365 x r)``           money invoiced
=================  ===========================================  ==============================

with ``V`` the order's value, ``v`` a line's and ``r`` the cost of capital a year. Order-level
costs are shared among an order's lines by value, so each line carries its own part and the
lines' costs add up to the order's. The freight minimum makes a small order cost more per unit
than a large one. The manufacturer pays these for its direct orders and its sell-in
(:class:`sim.model.books.Books`); a distributor pays them for its buyers' orders, out of its
margin (:class:`sim.model.distributors.Distributor`). This module computes; it posts nothing.

:meth:`ServiceCosts.of_week` costs a week's lines with numpy; :func:`cost_order_line` is the
same arithmetic compiled for one line among its buyer's, called from the books' pass over the
week's needs (``sim.model.books``): the same additions in the same order, so the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit

from sim.scenario.schema import ServiceCostRates

ACTIVITIES: tuple[str, ...] = ("order_handling", "fulfilment", "freight", "credit")
"""Activities of an order, in the order of :meth:`ServiceCosts.of_lines`' columns."""


@dataclass(frozen=True)
class ServiceCosts:
    """Cost rates of the order activities (floats, or arrays with one value per line).

    Attributes
    ----------
    cost_per_order, cost_per_line, freight_minimum
        Money per order, per line, per shipment.
    freight_rate
        Share of a shipment's value.
    credit_rate
        Cost of credit and collection as a share of money invoiced:
        ``bad_debt_share + days_sales_outstanding / 365 x cost of capital``.
    """

    cost_per_order: float | np.ndarray
    cost_per_line: float | np.ndarray
    freight_rate: float | np.ndarray
    freight_minimum: float | np.ndarray
    credit_rate: float | np.ndarray

    @classmethod
    def from_rates(cls, rates: ServiceCostRates, cost_of_capital_annual: float) -> ServiceCosts:
        """The costs of a scenario block, the receivable carried at ``cost_of_capital_annual``."""
        return cls(
            cost_per_order=rates.cost_per_order,
            cost_per_line=rates.cost_per_line,
            freight_rate=rates.freight_rate,
            freight_minimum=rates.freight_minimum,
            credit_rate=rates.bad_debt_share
            + rates.days_sales_outstanding / 365.0 * cost_of_capital_annual,
        )

    @classmethod
    def per_line(cls, costs: list[ServiceCosts], index: np.ndarray) -> ServiceCosts:
        """Each line's rates: those of ``costs[index]`` (e.g. the line's channel)."""
        return cls(
            *(
                np.array([getattr(c, f.name) for c in costs], dtype=float)[index]
                for f in fields(cls)
            )
        )

    @staticmethod
    def rate_table(costs: list[ServiceCosts]) -> np.ndarray:
        """(k, 5) scalar rates of each of ``costs`` (e.g. per channel), columns in field order."""
        return np.array([[float(getattr(c, f.name)) for f in fields(ServiceCosts)] for c in costs])

    def totals_by_buyer(
        self, buyer: np.ndarray, value: np.ndarray, orders: np.ndarray
    ) -> np.ndarray:
        """(n,) each line's cost over all activities, one buyer's lines making its orders.

        ``of_week(buyer, value, orders).costs.sum(axis=1)`` compiled, for lines ordered by
        buyer (as the week's needs are): the same bits.
        """
        rates = ServiceCosts.rate_table([self])[0]
        return _totals_by_buyer(buyer, value, orders.astype(np.int64), rates)

    def of_week(self, group: np.ndarray, value: np.ndarray, orders: np.ndarray) -> WeekOfOrders:
        """The week's orders of lines ordered ``orders`` times, grouped by ``group`` (e.g. buyer).

        Each line is ``orders`` order lines of equal value; the j-th of each line in a group
        make the group's j-th order.
        """
        line = np.repeat(np.arange(len(group)), orders)
        j = np.arange(len(line)) - np.repeat(np.cumsum(orders) - orders, orders)
        most = int(orders.max(initial=0)) + 1
        _, order = np.unique(group[line] * most + j, return_inverse=True)
        order = order.reshape(-1)
        rates = ServiceCosts(
            *(np.broadcast_to(getattr(self, f.name), group.shape)[line] for f in fields(self))
        )
        rows = rates.of_lines(order, (value / orders)[line])
        costs = np.column_stack(
            [np.bincount(line, weights=column, minlength=len(group)) for column in rows.T]
        )
        return WeekOfOrders(costs, line, order)

    def of_lines(self, order: np.ndarray, value: np.ndarray) -> np.ndarray:
        """(n, 4) cost of each line by activity (:data:`ACTIVITIES`).

        Parameters
        ----------
        order
            (n,) order number of each line, 0 .. orders - 1.
        value
            (n,) money invoiced per line.
        """
        n_orders = int(order.max()) + 1 if len(order) else 0
        order_value = np.bincount(order, weights=value, minlength=n_orders)[order]
        lines = np.bincount(order, minlength=n_orders)[order]
        # An order's own costs go to its lines by value (equally when it is worth nothing).
        share = np.divide(value, order_value, out=1.0 / np.maximum(lines, 1), where=order_value > 0)
        freight = np.maximum(self.freight_minimum, self.freight_rate * order_value)
        costs = np.empty((len(order), len(ACTIVITIES)))
        costs[:, 0] = self.cost_per_order * share
        costs[:, 1] = self.cost_per_line
        costs[:, 2] = freight * share
        costs[:, 3] = value * self.credit_rate
        return costs


@dataclass(frozen=True)
class WeekOfOrders:
    """A week's order lines, costed.

    Attributes
    ----------
    costs
        (n, 4) cost of each line (all its orders) by activity (:data:`ACTIVITIES`).
    line, order
        Per order line: the line it belongs to and its order number (0 .. orders - 1).
    """

    costs: np.ndarray
    line: np.ndarray
    order: np.ndarray


@njit(cache=True, error_model="numpy")  # x / 0 is inf, as in numpy
def cost_order_line(
    i: int,
    start: int,
    stop: int,
    group: np.ndarray,
    value: np.ndarray,
    orders: np.ndarray,
    rates: np.ndarray,
) -> tuple[float, float, float, float]:
    """Cost of line ``i`` by activity (:data:`ACTIVITIES`), among one buyer's lines.

    Compiled :meth:`ServiceCosts.of_week` for one line: lines ``start .. stop - 1`` are all
    of one buyer's; those of ``group[i]`` (e.g. its channel) are its group. A line is
    ``orders`` order lines worth ``value / orders`` each; the j-th of each line of a group
    make the group's j-th order. ``rates`` is the group's row of
    :meth:`ServiceCosts.rate_table`. Each order's value is summed in line order and the line's
    costs over its orders in order, from 0.0, as ``of_week``'s bincounts do: the same bits.
    """
    g = group[i]
    v = value[i] / orders[i]
    per_order, per_line, freight_rate, freight_minimum, credit_rate = (
        rates[0],
        rates[1],
        rates[2],
        rates[3],
        rates[4],
    )
    handling = fulfilment = freight = credit = 0.0
    for j in range(orders[i]):
        order_value = 0.0
        lines = 0
        for k in range(start, stop):
            if group[k] == g and orders[k] > j:
                order_value += value[k] / orders[k]
                lines += 1
        share = v / order_value if order_value > 0 else 1.0 / max(lines, 1)
        charge = freight_rate * order_value
        shipment = freight_minimum if freight_minimum >= charge else charge  # np.maximum
        handling += per_order * share
        fulfilment += per_line
        freight += shipment * share
        credit += v * credit_rate
    return handling, fulfilment, freight, credit


@njit(cache=True, error_model="numpy")
def _totals_by_buyer(
    buyer: np.ndarray, value: np.ndarray, orders: np.ndarray, rates: np.ndarray
) -> np.ndarray:
    n = len(buyer)
    total = np.empty(n)
    group = np.zeros(n, dtype=np.int64)  # all of a buyer's lines: one group
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and buyer[stop] == buyer[start]:
            stop += 1
        for i in range(start, stop):
            handling, fulfilment, freight, credit = cost_order_line(
                i, start, stop, group, value, orders, rates
            )
            total[i] = handling + fulfilment + freight + credit
        start = stop
    return total
