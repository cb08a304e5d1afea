"""Time `calibrate` on 10^6 synthetic order lines (SPEC: well under a minute).

Run: ``PYTHONPATH=. python benchmarks/calibrate.py [LINES]``. Draws BG/NBD + gamma-gamma
orders (about 6.5 lines per customer), writes them as CSV in a temporary folder, then times
reading and validating, fitting (three value-tier segments of the baseline) and writing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration import calibrate, read_orders, write_calibration
from sim.calibration.bgnbd import Params
from sim.calibration.synthetic import simulate_orders
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def main(target_lines: int = 1_000_000) -> None:
    rng = np.random.default_rng(13)
    lines = simulate_orders(
        Params(1.2, 8.0, 0.6, 4.0), (5.0, 4.0, 40.0), customers=target_lines * 2 // 13,
        weeks=104, arrival_weeks=52, rng=rng,
    )  # fmt: skip
    base = load_scenario(BASELINE)
    with tempfile.TemporaryDirectory() as folder:
        orders = Path(folder) / "orders.csv"
        lines.to_csv(orders, index=False, date_format="%Y-%m-%d")
        timings = {}
        start = time.perf_counter()
        validated = read_orders(orders)
        timings["read + validate"] = time.perf_counter() - start
        start = time.perf_counter()
        result = calibrate(validated, pd.Timestamp("2023-01-02") + pd.Timedelta(weeks=78), base)
        timings["fit"] = time.perf_counter() - start
        start = time.perf_counter()
        write_calibration(result, Path(folder) / "ours.yaml", extends=BASELINE, base=base)
        timings["write"] = time.perf_counter() - start
    print(f"{len(lines):,} order lines, {len(result.customers):,} customers before the cut-off")
    for step, seconds in timings.items():
        print(f"  {step:<16} {seconds:6.1f} s")
    print(f"  {'total':<16} {sum(timings.values()):6.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
