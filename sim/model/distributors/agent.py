"""One distributor, as a Mesa agent: a business of its own, a row of the network's state.

Its state lives in the network's :class:`~sim.model.distributors.business.DistributorState`
(one row per distributor), so the weekly rules act on all distributors at once; the agent
reads and writes its own row under the names of that state (``d.markup``, ``d.effort``,
``d.stock_units``, ...) and keeps its profit history.
"""

from __future__ import annotations

from typing import Any

import mesa

from sim.model.distributors.business import (
    LINE_SHARE_CONCENTRATION,
    DistributorState,
    DistributorStatus,
)
from sim.model.week import World


class _Row:
    """A distributor's entry (scalar, or row by product) in a column of the network's state."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, agent: Distributor, owner: type | None = None) -> Any:
        return getattr(agent.state, self.name)[agent.index]

    def __set__(self, agent: Distributor, value: Any) -> None:
        getattr(agent.state, self.name)[agent.index] = value


class Distributor(mesa.Agent):
    """An independent distributor: a business carrying our line and a competitor's.

    It buys our line at the wholesale price ``list x (1 - margin)``, resells it at a markup it
    adapts to the demand it sees, holds stock (order-up-to policy in weeks of cover, forward
    buying in sell-in promotions) and keeps a P&L across its portfolio: our line, and the
    competitor's line, whose base sales follow from its dependence on us (``line_share``) and
    grow with the lines it converts. From what it sees (its sales against its own trend, the
    moves announced to it) it reads the threat to our line, and from its own P&L it decides its
    push of our line, whether converting lines to the competitor pays (retaliation) and whether
    to drop our line (exit): ``sim.model.distributors.business``, docs/ODD.md §7.8.

    Parameters
    ----------
    model
        The model.
    index
        Its row in ``state``.
    state
        The network's state; its row holds the demand its accounts are expected to place with
        it (``forecast_units``), its size weight and its starting markup, share seen and
        cost rate (:meth:`DistributorNetwork.sign`).
    """

    model: World
    line_share = _Row()
    size_weight = _Row()
    markup = _Row()
    line_fixed_cost_weekly = _Row()
    alternative_base_weekly = _Row()
    effort = _Row()
    threat = _Row()
    loss_rate_weekly = _Row()
    exit_weeks = _Row()
    weeks_seen = _Row()
    convert_below = _Row()
    cost_rate = _Row()
    share_seen = _Row()
    sales_recent = _Row()
    sales_trend = _Row()
    revenue_recent = _Row()
    cost_recent = _Row()
    profit_recent = _Row()
    stock_units = _Row()
    forecast_units = _Row()
    week_demand_units = _Row()
    week_sold_units = _Row()

    def __init__(self, model: World, index: int, state: DistributorState) -> None:
        super().__init__(model)
        cfg = model.scenario.distributors
        rng = model.streams["setup"]
        self.cfg = cfg
        self.index = index
        self.state = state
        mean = cfg.line_share_mean
        self.line_share = float(
            rng.beta(mean * LINE_SHARE_CONCENTRATION, (1.0 - mean) * LINE_SHARE_CONCENTRATION)
        )
        # Stock between reorder point and order-up-to level, so restocks are not synchronised.
        cover = rng.uniform(cfg.reorder_weeks_cover, cfg.target_weeks_cover)
        self.stock_units = cover * self.forecast_units
        list_price = model.books.list_price
        our_weekly = float(self.forecast_units @ list_price) * self.resale_price
        self.line_fixed_cost_weekly = cfg.line_fixed_cost_share * our_weekly
        self.alternative_base_weekly = our_weekly * (1.0 - self.line_share) / self.line_share
        self.effort = 1.0
        self.line_profit_history: list[float] = []
        """Weekly profit of our line: resale revenue - what it paid us - its cost to serve -
        carrying cost - the line's fixed cost + income from us."""
        self.total_profit_history: list[float] = []
        """Weekly profit across its portfolio: our line plus the competitor's line."""

    @property
    def status(self) -> DistributorStatus:
        """Active, retaliating or exited."""
        return DistributorStatus(int(self.state.status[self.index]))

    @property
    def active(self) -> bool:
        """Still carrying the line (active or retaliating)."""
        return self.status is not DistributorStatus.EXITED

    @property
    def retaliating(self) -> bool:
        """Converting its accounts' lines to a competitor's."""
        return self.status is DistributorStatus.RETALIATING

    @property
    def resale_price(self) -> float:
        """Its price to buyers as a fraction of list: wholesale x (1 + markup)."""
        return float(self.state.resale_price(self.cfg, self.index))

    @property
    def alternative_margin_rate(self) -> float:
        """Its gross margin on the competitor's line, share of resale."""
        return float(self.state.alternative_margin_rate(self.cfg, self.index))
