"""Calibrate the buyers from an order extract (issue 13, phase 1).

Pandas in, dataclasses and DataFrames out::

    orders = read_orders("orders.csv", columns={"customer_id": "Kundennr"})
    calibration = calibrate(orders, pd.Timestamp("2024-07-01"), load_scenario("baseline.yaml"))
    write_calibration(calibration, Path("ours.yaml"), extends=..., base=...)

The plain BG/NBD benchmark for a backtest is :func:`sim.calibration.bgnbd.holdout_forecast`
(conditional, FHL 2005 eq. 10) and :func:`sim.calibration.bgnbd.tracking_curve` (eq. 7).
Method, equations and the mapping to scenario keys: ``docs/calibration.md``.
"""

from __future__ import annotations

from sim.calibration.fit import Calibration, SegmentFit, calibrate
from sim.calibration.orders import OrderDataError, OrderLines, read_orders, validate_lines
from sim.calibration.write import write_calibration

__all__ = [
    "Calibration",
    "OrderDataError",
    "OrderLines",
    "SegmentFit",
    "calibrate",
    "read_orders",
    "validate_lines",
    "write_calibration",
]
