"""Fit a calibration: per-segment purchase process and spend, mixes, arrivals.

The numbers here map to scenario keys in :mod:`sim.calibration.write`; the mapping and its
reasoning are in ``docs/calibration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.calibration import bgnbd, mle
from sim.calibration.orders import (
    OrderDataError,
    OrderLines,
    check_cutoff,
    check_products,
    customer_summary,
    orders_of,
)
from sim.calibration.spend import Spend, fit_spend
from sim.scenario.schema import CHANNELS, Scenario, Segment

if TYPE_CHECKING:
    from sim.calibration.consistency import Observation

WEEKS_A_YEAR = 52.0
MIN_CUSTOMERS = 20
"""Fewest customers a segment needs for a four-parameter BG/NBD fit."""
TENURE_FLOOR_WEEKS = 13.0
"""Shortest tenure over which a customer's spend is annualised when deriving value tiers."""


@dataclass(frozen=True)
class SegmentFit:
    """What the data says about one segment.

    Attributes
    ----------
    name
        Segment name (from the data, or the value tier's name from the extended scenario).
    template
        Segment of the extended scenario whose other settings the written segment inherits.
    customers
        Customers with an order before the cut-off.
    active_expected
        Sum of the customers' probabilities of being active at the cut-off (BG/NBD).
    purchase
        BG/NBD fit, weekly time unit.
    spend
        Spend per order.
    orders_per_year, orders_per_year_se
        Mean needs per product line per year of an active account (see docs/calibration.md).
    spend_annual, spend_annual_se
        Mean annual spend of an active account (currency units a year).
    product_mix
        Share of spend by product, or ``None`` when the data has no ``product``.
    channel_share
        Share of order lines by channel, or ``None`` when the data has no ``channel``.
    digital_adopters
        Share of customers with an e-commerce order, or ``None`` without ``channel``.
    won_share
        Share of the segment's needs the model's channels win (the rest go to a competitor's
        line) in the model; the data's orders are the won ones, so the written need rate and
        spend potential are the fitted ones divided by it (:func:`as_observed`).
    reference_effort
        The model's mean customer effort over the calibration period: the effort at which the
        fitted dropout holds (:func:`as_observed`).

    """

    name: str
    template: str
    customers: int
    active_expected: float
    purchase: mle.Estimate
    spend: Spend
    orders_per_year: float
    orders_per_year_se: float
    spend_annual: float
    spend_annual_se: float
    product_mix: dict[str, float] | None
    channel_share: dict[str, float] | None
    digital_adopters: float | None
    won_share: float = 1.0
    reference_effort: float = 0.0


@dataclass(frozen=True)
class Inbound:
    """New customers in the last weeks before the cut-off, as ``inbound_accounts_annual``."""

    new_customers: int
    window_weeks: float
    per_account_annual: float
    se: float


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: everything the scenario and ``calibration.json`` are written from.

    ``customers`` holds one row per customer before the cut-off (index ``customer_id``):
    ``segment, first_order, first_order_week, orders, x, t_x, T, amount_total,
    repeat_value_mean, p_alive``; weeks count from the data's first day (week 0).
    """

    orders: OrderLines
    until: pd.Timestamp
    lines_used: int
    lines_after_cutoff: int
    segment_source: str
    segments: tuple[SegmentFit, ...]
    buyers: int
    inbound: Inbound
    distributors: int | None
    customers: pd.DataFrame


def calibrate(
    orders: OrderLines, until: pd.Timestamp, base: Scenario, *, arrival_weeks: int = 13
) -> Calibration:
    """Fit the buyers of ``base`` to the order lines before ``until``.

    Parameters
    ----------
    orders
        Validated order lines (:func:`sim.calibration.orders.read_orders`).
    until
        Cut-off day: only lines dated before it are used.
    base
        The scenario being extended (segments, products and settings the data does not set).
    arrival_weeks
        Window before the cut-off over which the arrival rate of new customers is measured.

    """
    until = pd.Timestamp(until).normalize()
    check_cutoff(orders, until)
    check_products(orders, [p.name for p in base.products])
    lines = orders.lines[orders.lines["date"] < until]
    customers = customer_summary(orders_of(lines), until, orders.first_day)
    segment, source = _segments(lines, customers, base, orders.source)
    customers["segment"] = segment
    # Tiers are cut on realised value, so a purchase process fitted within a tier would select
    # on the outcome; derived segments share one process fitted to every customer.
    stated = "segment" in lines and lines["segment"].notna().any()
    joint = None if stated else bgnbd.fit(customers)
    fits = []
    alive = pd.Series(np.nan, index=customers.index)
    for name in _ordered(segment, base):
        members = customers[customers["segment"] == name]
        fit, p_alive = _fit_segment(name, members, lines, base, orders.source, joint)
        alive[members.index] = p_alive
        fits.append(fit)
    customers["p_alive"] = alive
    buyers = max(round(float(alive.sum())), 1)
    return Calibration(
        orders=orders,
        until=until,
        lines_used=len(lines),
        lines_after_cutoff=len(orders.lines) - len(lines),
        segment_source=source,
        segments=tuple(fits),
        buyers=buyers,
        inbound=_inbound(customers, until, orders.first_day, buyers, arrival_weeks),
        distributors=_distributors(lines),
        customers=customers,
    )


# --------------------------------------------------------------------------- segments


def _segments(
    lines: pd.DataFrame, customers: pd.DataFrame, base: Scenario, source: str
) -> tuple[pd.Series, str]:
    """Each customer's segment: its last stated one, else a value tier of ``base``."""
    if "segment" in lines and lines["segment"].notna().any():
        stated = lines.dropna(subset=["segment"]).sort_values("date")
        last = stated.groupby("customer_id")["segment"].last().reindex(customers.index)
        if last.isna().any():
            who = last.index[last.isna()][0]
            raise OrderDataError(
                f"{source}: column 'segment': customer {who!r} has no segment on any line before "
                "the cut-off; give every customer a segment or leave the column out"
            )
        return last, "data column 'segment' (each customer's last stated segment)"
    return _value_tiers(customers, base), (
        "value tiers: customers ranked by spend per year of tenure (tenure floored at "
        f"{TENURE_FLOOR_WEEKS:g} weeks), cut at the extended scenario's segment shares, "
        "highest spend_annual first; one BG/NBD purchase process fitted to all customers"
    )


def _value_tiers(customers: pd.DataFrame, base: Scenario) -> pd.Series:
    tenure = np.maximum(customers["T"].to_numpy(float) + 1 / 7, TENURE_FLOOR_WEEKS)
    value = customers["amount_total"].to_numpy(float) / tenure
    rank = np.empty(len(value))
    rank[np.argsort(-value, kind="stable")] = (np.arange(len(value)) + 0.5) / len(value)
    tiers = sorted(base.market.segments, key=lambda s: -s.spend_annual)
    edges = np.cumsum([s.share for s in tiers])
    index = np.minimum(np.searchsorted(edges, rank), len(tiers) - 1)
    return pd.Series(np.array([s.name for s in tiers])[index], index=customers.index)


def _ordered(segment: pd.Series, base: Scenario) -> list[str]:
    """Segment names: the extended scenario's order first, then new names alphabetically."""
    known = [s.name for s in base.market.segments]
    present = set(segment)
    return [n for n in known if n in present] + sorted(present - set(known))


def _template(name: str, spend_annual: float, base: Scenario) -> Segment:
    """The base segment of the same name, else the one closest in annual spend (log scale)."""
    for s in base.market.segments:
        if s.name == name:
            return s
    return min(base.market.segments, key=lambda s: abs(np.log(s.spend_annual / spend_annual)))


# --------------------------------------------------------------------------- one segment


def _fit_segment(
    name: str,
    members: pd.DataFrame,
    lines: pd.DataFrame,
    base: Scenario,
    source: str,
    joint: mle.Estimate | None,
) -> tuple[SegmentFit, np.ndarray]:
    """Fit one segment; its purchase process is ``joint`` if given, else its own BG/NBD."""
    if len(members) < MIN_CUSTOMERS:
        raise OrderDataError(
            f"{source}: segment {name!r} has {len(members)} customers before the cut-off; "
            f"at least {MIN_CUSTOMERS} are needed to fit it (merge it with another segment)"
        )
    purchase = joint if joint is not None else bgnbd.fit(members)
    params = bgnbd.params_of(purchase)
    own = lines[lines["customer_id"].isin(members.index)]
    spend = fit_spend(members, orders_of(own))
    rate = WEEKS_A_YEAR * params.r / params.alpha  # orders a year of an active account
    rate_se = purchase.delta_se(
        np.array([WEEKS_A_YEAR / params.alpha, -rate / params.alpha, 0.0, 0.0])
    )
    spend_annual = rate * spend.mean_order_value
    spend_annual_se = spend_annual * float(
        np.hypot(rate_se / rate, spend.mean_order_value_se / spend.mean_order_value)
    )
    template = _template(name, spend_annual, base)
    p_alive = bgnbd.probability_alive(params, members)
    mix = _share(own, "product", "amount")
    per_line = _needs_per_order(own) / len(
        mix or {k: v for k, v in template.product_mix.items() if v > 0}
    )
    fit = SegmentFit(
        name=name,
        template=template.name,
        customers=len(members),
        active_expected=float(p_alive.sum()),
        purchase=purchase,
        spend=spend,
        orders_per_year=rate * per_line,
        orders_per_year_se=rate_se * per_line,
        spend_annual=spend_annual,
        spend_annual_se=spend_annual_se,
        product_mix=mix,
        channel_share=_share(own, "channel", None),
        digital_adopters=_adopters(own, len(members)),
    )
    return fit, p_alive


def _share(lines: pd.DataFrame, column: str, weight: str | None) -> dict[str, float] | None:
    """Share of ``weight`` (or of lines) by value of ``column``; None without the column."""
    if column not in lines or lines[column].isna().all():
        return None
    known = lines.dropna(subset=[column])
    totals = known.groupby(column)[weight].sum() if weight else known.groupby(column).size()
    order = CHANNELS if column == "channel" else sorted(totals.index)
    return {k: float(totals[k] / totals.sum()) for k in order if k in totals and totals[k] > 0}


def _needs_per_order(lines: pd.DataFrame) -> float:
    """Distinct product lines per order (1 without a ``product`` column)."""
    if "product" not in lines or lines["product"].isna().all():
        return 1.0
    known = lines.dropna(subset=["product"])
    return float(known.groupby(["customer_id", "date"])["product"].nunique().mean())


def _adopters(lines: pd.DataFrame, customers: int) -> float | None:
    if "channel" not in lines or lines["channel"].isna().all():
        return None
    online = lines.loc[lines["channel"] == "ecommerce", "customer_id"].nunique()
    return online / customers


# --------------------------------------------------------------------------- market


def _inbound(
    customers: pd.DataFrame, until: pd.Timestamp, start: pd.Timestamp, buyers: int, weeks: int
) -> Inbound:
    """New customers a year per active account, from first orders in the last ``weeks``."""
    window_start = max(until - pd.Timedelta(weeks=weeks), start)
    window_weeks = (until - window_start).days / 7.0
    new = int((customers["first_order"] >= window_start).sum())
    per_year = WEEKS_A_YEAR / window_weeks / buyers
    # Poisson count: SE of the rate is sqrt(n) / exposure
    return Inbound(new, window_weeks, new * per_year, float(np.sqrt(new)) * per_year)


def _distributors(lines: pd.DataFrame) -> int | None:
    if "distributor" not in lines or lines["distributor"].isna().all():
        return None
    return int(lines["distributor"].nunique())


def as_observed(calibration: Calibration, seen: Observation) -> Calibration:
    """The calibration as the model observes the data (:mod:`sim.calibration.consistency`)."""
    segments = tuple(
        replace(
            s,
            won_share=seen.won_share,
            reference_effort=seen.reference_effort.get(s.name, 0.0),
        )
        for s in calibration.segments
    )
    return replace(calibration, segments=segments)
