"""The firm's levers as weekly lookups: channel plan ramps and trade promotions."""

from __future__ import annotations

import numpy as np

from sim.channels import CHANNELS
from sim.scenario.schema import Scenario


class ChannelPlan:
    """Which accounts each ``policy.channel_plan`` row has moved by a given week.

    A row moves a ``share`` of a product x segment from channel ``from`` to ``to``, ramping
    linearly over ``ramp_weeks`` from ``start_week``. Accounts are moved in the order of their
    ``migration_key`` (uniform per buyer), so a growing share only ever adds accounts. Rows
    with the same product, segment and ``from`` take consecutive key ranges.
    """

    def __init__(self, scenario: Scenario) -> None:
        products = [p.name for p in scenario.products]
        segments = [s.name for s in scenario.market.segments]
        rows = scenario.policy.channel_plan
        self.product = np.array([products.index(r.product) for r in rows], dtype=np.int64)
        self.segment = np.array([segments.index(r.segment) for r in rows], dtype=np.int64)
        self.source = np.array([CHANNELS.index(r.from_) for r in rows], dtype=np.int64)
        self.target = np.array([CHANNELS.index(r.to) for r in rows], dtype=np.int64)
        self.start_week = np.array([r.start_week for r in rows], dtype=float)
        self.ramp_weeks = np.array([r.ramp_weeks for r in rows], dtype=float)
        self.share = np.array([r.share for r in rows], dtype=float)
        self.key_offset = np.zeros(len(rows))
        for i in range(len(rows)):
            same = (
                (self.product[:i] == self.product[i])
                & (self.segment[:i] == self.segment[i])
                & (self.source[:i] == self.source[i])
            )
            self.key_offset[i] = self.share[:i][same].sum()

    def __len__(self) -> int:
        return len(self.share)

    def moved_share(self, week: int) -> np.ndarray:
        """Share of each row's accounts moved by ``week`` (0 before start, ``share`` after ramp)."""
        progress = (week - self.start_week + 1) / np.maximum(self.ramp_weeks, 1.0)
        return self.share * np.clip(progress, 0.0, 1.0)

    def redirect(
        self,
        week: int,
        segment: np.ndarray,
        product: np.ndarray,
        chosen: np.ndarray,
        key: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply the plan to chosen channels.

        Returns
        -------
        channel
            The channel each need is served through after the plan.
        moved
            True where the plan changed the buyer's choice.

        """
        channel = chosen.copy()
        moved = np.zeros(len(chosen), dtype=bool)
        for i, share in enumerate(self.moved_share(week)):
            if share <= 0.0:
                continue
            low = self.key_offset[i]
            hit = (
                (chosen == self.source[i])
                & (segment == self.segment[i])
                & (product == self.product[i])
                & (key >= low)
                & (key < low + share)
            )
            channel[hit] = self.target[i]
            moved |= hit
        return channel, moved

    def announced(
        self, week: int, horizon_weeks: int, source: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the plan has announced about lines still on ``source``, per product x segment.

        A row announces its move when it starts. For a line of its product x segment still
        unmoved in ``week``, the chance it is moved within the next ``k`` weeks is
        ``(m(week + k) - m(week)) / (1 - m(week))`` (:meth:`moved_share` ``m``: the row moves
        lines in key order, and the distributor does not know the order), summed over the
        rows on the same product x segment.

        Returns
        -------
        product, segment
            (C,) the product x segment cells with a started row off ``source``.
        moved_within
            (C, horizon_weeks) chance of being moved within 1 .. horizon_weeks weeks.
        """
        started = np.flatnonzero((self.source == source) & (self.start_week <= week))
        cells = sorted({(int(self.product[i]), int(self.segment[i])) for i in started})
        ahead = np.arange(1, horizon_weeks + 1)
        moved_within = np.zeros((len(cells), horizon_weeks))
        for c, (p, s) in enumerate(cells):
            for i in started[(self.product[started] == p) & (self.segment[started] == s)]:
                now = self._row_share(i, week)
                later = self._row_share(i, week + ahead)
                moved_within[c] += (later - now) / max(1.0 - now, 1e-12)
        product = np.array([cell[0] for cell in cells], dtype=np.int64)
        segment = np.array([cell[1] for cell in cells], dtype=np.int64)
        return product, segment, np.minimum(moved_within, 1.0)

    def _row_share(self, i: int, week: np.ndarray | int) -> np.ndarray:
        """Share of row ``i``'s product x segment moved by ``week`` (:meth:`moved_share`)."""
        progress = (np.asarray(week) - self.start_week[i] + 1) / max(self.ramp_weeks[i], 1.0)
        return self.share[i] * np.clip(progress, 0.0, 1.0)


class Promotions:
    """Trade promotions active per product and week, by basis."""

    def __init__(self, scenario: Scenario) -> None:
        products = [p.name for p in scenario.products]
        self._rows = [
            (products.index(t.product), t.start_week, t.start_week + t.weeks, t.discount, t.basis)
            for t in scenario.policy.trade_promotions
        ]
        self._n_products = len(products)

    def discounts(self, week: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (sell-in discount, sell-through discount) per product for ``week``."""
        sell_in = np.zeros(self._n_products)
        sell_through = np.zeros(self._n_products)
        for product, start, end, discount, basis in self._rows:
            if start <= week < end:
                target = sell_in if basis == "sell_in" else sell_through
                target[product] = max(target[product], discount)
        return sell_in, sell_through
