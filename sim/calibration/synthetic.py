"""Order lines drawn from known BG/NBD and gamma-gamma parameters (tests, benchmark, examples).

Each customer's first order falls uniformly in the first ``arrival_weeks``; while active it
orders at rate ``lambda ~ Gamma(r, rate alpha)`` per week; after each repeat order it stops
with probability ``p ~ Beta(a, b)``; an order's value is ``Gamma(p_s, rate nu)`` with
``nu ~ Gamma(q, rate gamma)`` per customer (Fader, Hardie & Lee 2005a, 2005b).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import Params


def simulate_orders(
    purchase: Params,
    spend: tuple[float, float, float],
    *,
    customers: int,
    weeks: float,
    arrival_weeks: float,
    start: str = "2023-01-02",
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Order lines ``customer_id, date, amount`` over ``weeks`` weeks from ``start``.

    Parameters
    ----------
    purchase
        BG/NBD (r, alpha per week, a, b).
    spend
        Gamma-gamma (p, q, gamma) of an order's value, currency units.
    customers, weeks, arrival_weeks
        Number of customers; length of the data; window of the first orders (weeks).
    start
        Day of week 0.
    rng
        Random generator (the only source of randomness).

    """
    r, alpha, a, b = purchase
    p, q, gamma = spend
    rate = rng.gamma(r, 1.0 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    nu = rng.gamma(q, 1.0 / gamma, customers)
    first = rng.uniform(0.0, arrival_weeks, customers)
    owner, times = [np.arange(customers)], [first]
    clock, alive = first.copy(), np.ones(customers, dtype=bool)
    while alive.any():  # one repeat order per living customer per pass
        who = np.flatnonzero(alive)
        clock[who] += rng.exponential(1.0, who.size) / rate[who]
        ordered = who[clock[who] < weeks]
        owner.append(ordered)
        times.append(clock[ordered])
        alive[who] = clock[who] < weeks
        alive[ordered] &= rng.random(ordered.size) >= dropout[ordered]
    who, when = np.concatenate(owner), np.concatenate(times)
    day = pd.Timestamp(start) + pd.to_timedelta(np.floor(when * 7).astype(int), unit="D")
    return pd.DataFrame(
        {
            "customer_id": np.char.add("C", who.astype(str)),
            "date": day,
            "amount": np.round(rng.gamma(p, 1.0 / nu[who]), 2),
        }
    ).sort_values(["date", "customer_id"], ignore_index=True)
