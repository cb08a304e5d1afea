"""Backtest a calibrated scenario on the order data it came from.

The customers who placed their first order before the cut-off (the calibration cohort, as in
Fader, Hardie & Lee 2005's tracking figure) enter the agent-based model at the week of their
first order, through ``market.customer_base``; the model then simulates their repeat orders
over the whole period of the data, with the scenario's parameters (fitted on the data before
the cut-off only). The same cohort's actual orders are the truth, and a plain BG/NBD fit on the
same calibration data is the benchmark.

An order is one customer's purchases on one day in the data; the weekly model places at most one
order per customer and week (a week with at least one need served through our channels).
First orders are data, not simulated: they enter both the actual and the simulated series.
Week 0 is the data's first seven days; the model's week ``k + 1`` simulates data week ``k``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration import bgnbd
from sim.calibration.fit import calibrate
from sim.calibration.orders import OrderDataError, OrderLines, orders_of
from sim.model.model import ChannelModel
from sim.results.store import write_csv, write_text
from sim.scenario.loader import with_changes
from sim.scenario.schema import Scenario

COLUMNS: tuple[str, ...] = (
    "week",
    "actual_orders",
    "simulated_orders",
    "simulated_orders_low",
    "simulated_orders_high",
    "actual_repeat_orders_cumulative",
    "simulated_repeat_orders_cumulative",
    "actual_revenue",
    "simulated_revenue",
)
"""Columns of ``backtest.csv`` fixed by SPEC §6; the file adds the 5-95% band of the simulated
cumulative repeat orders and the plain BG/NBD curve (``bgnbd_repeat_orders_cumulative``)."""


@dataclass(frozen=True)
class Backtest:
    """What a backtest found.

    Attributes
    ----------
    weekly
        ``backtest.csv``: one row per data week, the SPEC columns and the plain BG/NBD curve.
    cutoff_week
        First data week after the cut-off (the holdout starts there).
    customers
        Customers in the calibration cohort.
    holdout
        Cumulative repeat orders over the holdout, actual and predicted by each model, with
        each model's error as a share of the actual.
    """

    weekly: pd.DataFrame
    cutoff_week: int
    holdout: pd.DataFrame
    customers: int


def backtest(
    orders: OrderLines,
    scenario: Scenario,
    until: pd.Timestamp,
    *,
    replications: int,
    workdir: Path,
    segments: pd.Series | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:
    """Simulate the calibration cohort over the data's whole period and compare.

    Parameters
    ----------
    orders
        Validated order lines (the whole period).
    scenario
        The calibrated scenario (segments with ``purchase_process``).
    until
        The cut-off day the scenario was calibrated at.
    replications
        Independent runs; the band is their 5-95% range.
    workdir
        Folder for the cohort's customer-base file.
    segments
        Each customer's segment as calibration assigned it (``calibration.json``), by
        ``customer_id``; without it, segments are derived again from the scenario.
    progress
        Called with (replications done, replications).
    """
    until = pd.Timestamp(until).normalize()
    calibration = calibrate(orders, until, scenario)
    cohort = calibration.customers
    if segments is not None:
        cohort["segment"] = segments.reindex(cohort.index).fillna(cohort["segment"])
    start = orders.first_day
    all_orders = orders_of(orders.lines)
    all_orders = all_orders[all_orders["customer_id"].isin(cohort.index)]
    week_of = ((all_orders["date"] - start).dt.days // 7).to_numpy()
    weeks = int(week_of.max()) + 1
    first = all_orders.groupby("customer_id")["date"].transform("min") == all_orders["date"]
    actual = _weekly_actuals(all_orders, week_of, first.to_numpy(), weeks)
    simulated = _simulate(
        scenario, cohort, start, weeks, workdir, replications=replications, progress=progress
    )
    first_orders = actual["first_orders"].to_numpy()
    repeat = simulated["repeat_orders"]  # (replications, weeks)
    orders_total = repeat + first_orders
    cumulative = repeat.cumsum(axis=1)
    plain = bgnbd.params_of(bgnbd.fit(cohort))
    first_week = cohort["first_order_week"].to_numpy(dtype=float)
    weekly = pd.DataFrame(
        {
            "week": np.arange(weeks),
            "actual_orders": actual["orders"],
            "simulated_orders": orders_total.mean(axis=0),
            "simulated_orders_low": np.quantile(orders_total, 0.05, axis=0),
            "simulated_orders_high": np.quantile(orders_total, 0.95, axis=0),
            "actual_repeat_orders_cumulative": actual["repeat_orders"].cumsum(),
            "simulated_repeat_orders_cumulative": cumulative.mean(axis=0),
            "simulated_repeat_orders_cumulative_low": np.quantile(cumulative, 0.05, axis=0),
            "simulated_repeat_orders_cumulative_high": np.quantile(cumulative, 0.95, axis=0),
            "actual_revenue": actual["revenue"],
            "simulated_revenue": (simulated["revenue"] + actual["first_revenue"].to_numpy()).mean(
                axis=0
            ),
            "bgnbd_repeat_orders_cumulative": bgnbd.tracking_curve(plain, first_week, weeks),
        }
    )
    extras = [c for c in weekly.columns if c not in COLUMNS]
    weekly = weekly[[*COLUMNS, *extras]]
    cutoff_week = math.ceil((until - start).days / 7)
    return Backtest(weekly, cutoff_week, _holdout(weekly, cutoff_week), len(cohort))


def _weekly_actuals(
    orders: pd.DataFrame, week: np.ndarray, first: np.ndarray, weeks: int
) -> pd.DataFrame:
    """Per data week: orders, first orders, repeat orders, revenue, first orders' revenue."""

    def per_week(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(week, weights=weights, minlength=weeks)

    amount = orders["amount"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "orders": per_week(),
            "first_orders": per_week(first.astype(float)),
            "repeat_orders": per_week((~first).astype(float)),
            "revenue": per_week(amount),
            "first_revenue": per_week(amount * first),
        }
    )


def _simulate(
    scenario: Scenario,
    cohort: pd.DataFrame,
    start: pd.Timestamp,
    weeks: int,
    workdir: Path,
    *,
    replications: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, np.ndarray]:
    """Repeat orders and their revenue per replication and data week, from the model."""
    entry = (cohort["first_order"] - start).dt.days // 7 + 1  # model week of the first order
    base = workdir / "customer_base.csv"
    workdir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"segment": cohort["segment"], "entry_week": entry}).to_csv(base, index=False)
    run = with_changes(
        scenario,
        {
            "market.customer_base": str(base.resolve()),
            "market.prospects": 0,
            "market.inbound_accounts_annual": 0.0,
            "horizon_weeks": weeks,
            "replications": replications,
        },
        source="backtest",
    )
    list_price = np.array([p.list_price for p in run.products])
    repeat = np.zeros((replications, weeks))
    revenue = np.zeros((replications, weeks))
    for i in range(replications):
        model = ChannelModel(run, np.random.SeedSequence(run.seed, spawn_key=(i,)), journal=True)
        model.run()
        assert model.books.journal is not None
        lines = pd.concat(model.books.journal["orders"], ignore_index=True)
        week = lines["week"].to_numpy() - 1
        # A buyer's orders in a week: the most on any of its lines (the j-th ship together).
        placed = lines.groupby(["week", "buyer"])["orders"].max().groupby("week").sum()
        value = lines["units"] * list_price[lines["product"]] * lines["price"]
        repeat[i] = np.bincount(placed.index - 1, weights=placed.to_numpy(), minlength=weeks)
        revenue[i] = np.bincount(week, weights=value.to_numpy(), minlength=weeks)
        if progress:
            progress(i + 1, replications)
    return {"repeat_orders": repeat, "revenue": revenue}


def _holdout(weekly: pd.DataFrame, cutoff_week: int) -> pd.DataFrame:
    """Cumulative repeat orders over the holdout: actual, agent-based model, plain BG/NBD."""
    if cutoff_week >= len(weekly):
        raise OrderDataError("backtest: the data has no weeks after --until to hold out")
    at_cut = weekly.iloc[cutoff_week - 1] if cutoff_week > 0 else None
    end = weekly.iloc[-1]
    rows = []
    for label, column in (
        ("actual", "actual_repeat_orders_cumulative"),
        ("agent-based model", "simulated_repeat_orders_cumulative"),
        ("plain BG/NBD", "bgnbd_repeat_orders_cumulative"),
    ):
        held = float(end[column] - (at_cut[column] if at_cut is not None else 0.0))
        rows.append({"model": label, "holdout_repeat_orders": held, "end_cumulative": end[column]})
    table = pd.DataFrame(rows)
    truth = table.loc[0, "holdout_repeat_orders"]
    table["holdout_error_share"] = (table["holdout_repeat_orders"] - truth) / truth
    return table


def save_backtest(
    result: Backtest, folder: Path, *, provenance: dict[str, object]
) -> dict[str, object]:
    """Write ``backtest.csv``, ``holdout.csv`` and ``manifest.json`` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {**provenance, "cutoff_week": result.cutoff_week}
    for name, table in (("backtest", result.weekly), ("holdout", result.holdout)):
        write_csv(folder / f"{name}.csv", table)
    write_text(folder / "manifest.json", json.dumps(manifest, indent=2, default=str))
    return manifest


def calibrated_segments(report: Path) -> pd.Series | None:
    """Each customer's segment from a ``calibration.json`` (None if there is none)."""
    if not report.is_file():
        return None
    customers = json.loads(report.read_text(encoding="utf-8")).get("customers", {})
    if "customer_id" not in customers or "segment" not in customers:
        return None
    ids = pd.Index(customers["customer_id"]).astype(str)
    return pd.Series(customers["segment"], index=ids)
