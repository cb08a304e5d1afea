"""Generate the sample order file docs/examples/orders.csv (fixed seed, a few thousand lines).

Run: ``PYTHONPATH=. python scripts/make_orders.py [OUT]``. Three segments of the baseline, each
with its own known BG/NBD purchase process and gamma-gamma spend (below), so the worked
example in docs/calibration.md can be checked against the truth. Each order has one or two
product lines, a channel and, for distributor orders, one of six distributors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import Params
from sim.calibration.synthetic import simulate_orders

SEED = 20261123
SEGMENTS = {  # name: (customers, BG/NBD per week, gamma-gamma p, q, gamma, channel shares F/I/D/E)
    "key_accounts": (60, Params(2.0, 8.0, 0.5, 6.0), (6.0, 5.0, 4000.0), (0.5, 0.2, 0.2, 0.1)),
    "mid_market": (160, Params(1.0, 10.0, 0.6, 4.0), (5.0, 4.0, 800.0), (0.05, 0.35, 0.4, 0.2)),
    "small_business": (280, Params(0.6, 12.0, 0.7, 3.0), (4.0, 4.0, 300.0), (0, 0.1, 0.5, 0.4)),
}
PRODUCTS = ("pumps", "valves", "consumables")
CHANNELS = ("field", "inside", "distributor", "ecommerce")


def make_orders(rng: np.random.Generator) -> pd.DataFrame:
    """Order lines of all segments over two years from 2023-01-02."""
    frames = []
    for name, (customers, purchase, spend, channel_share) in SEGMENTS.items():
        orders = simulate_orders(
            purchase, spend, customers=customers, weeks=104, arrival_weeks=78, rng=rng
        )
        orders["customer_id"] = name[:3].upper() + orders["customer_id"].str[1:]
        orders["segment"] = name
        orders["channel"] = rng.choice(CHANNELS, size=len(orders), p=channel_share)
        frames.append(orders)
    orders = pd.concat(frames, ignore_index=True)
    two_lines = rng.random(len(orders)) < 0.3
    order_of_line = np.repeat(orders.index, 1 + two_lines)
    lines = orders.loc[order_of_line].reset_index(drop=True)
    lines["amount"] = np.round(lines["amount"] / (1 + two_lines[order_of_line]), 2)
    first = rng.choice(len(PRODUCTS), size=len(orders), p=(0.3, 0.4, 0.3))[order_of_line]
    second = np.r_[False, np.diff(order_of_line) == 0]  # an order's second line: next product
    lines["product"] = np.array(PRODUCTS)[(first + second) % len(PRODUCTS)]
    price = lines["product"].map({"pumps": 1200.0, "valves": 300.0, "consumables": 40.0})
    lines["units"] = np.maximum(np.round(lines["amount"] / price, 1), 0.1)
    lines["distributor"] = np.where(
        lines["channel"] == "distributor",
        rng.choice([f"D{i}" for i in range(1, 7)], len(lines)),
        "",
    )
    columns = ["customer_id", "date", "amount", "units", "product", "channel", "segment"]
    return lines[[*columns, "distributor"]].sort_values(["date", "customer_id"], kind="stable")


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "docs" / "examples" / "orders.csv"
    lines = make_orders(np.random.default_rng(SEED))
    lines.to_csv(out, index=False, date_format="%Y-%m-%d")
    print(f"{out}: {len(lines)} lines, {lines['customer_id'].nunique()} customers")
