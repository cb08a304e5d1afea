"""The firm's levers as weekly lookups: channel plan ramps and trade promotions."""

from __future__ import annotations

import numpy as np

from sim.scenario.schema import CHANNELS, Scenario


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
