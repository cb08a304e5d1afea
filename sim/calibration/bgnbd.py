"""BG/NBD buy-till-you-die model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While active, a customer places repeat orders as a Poisson process with rate ``lambda`` per
week, ``lambda ~ Gamma(shape r, rate alpha)`` across customers. After each repeat order the
customer drops out for good with probability ``p ~ Beta(a, b)``. A customer is summarised by
``x`` (repeat orders), ``t_x`` (weeks from the first to the last order) and ``T`` (weeks from
the first order to the end of the calibration period).

Equation numbers refer to FHL 2005 and its technical note "Implementing the BG/NBD model".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln, hyp2f1

from sim.calibration import mle

NAMES = ("r", "alpha", "a", "b")


class Params(NamedTuple):
    """BG/NBD parameters: order rate ~ Gamma(r, rate alpha per week); dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


def log_likelihood(params: Params, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:  # noqa: N803
    """Per-customer log-likelihood (FHL 2005 eq. 6), vectorised over customers."""
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    still_active = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(still_active, dropped)


def fit(summary: pd.DataFrame) -> mle.Estimate:
    """Fit (r, alpha, a, b) by maximum likelihood to a customer summary with ``x, t_x, T``.

    Customers with the same history share one likelihood term (day-resolution data repeats
    histories often), weighted by their number.
    """
    histories = summary.groupby(["x", "t_x", "T"]).size().reset_index(name="customers")
    x, t_x, T, weight = (histories[c].to_numpy(float) for c in (*histories.columns,))  # noqa: N806
    rate = max(summary["x"].mean(), 0.05) / max(summary["T"].mean(), 1.0)
    start = np.array([1.0, 1.0 / rate, 1.0, 1.0])
    return mle.fit(
        lambda v: float(weight @ log_likelihood(Params(*v), x, t_x, T)),
        NAMES,
        start,
        n=len(summary),
    )


def params_of(estimate: mle.Estimate) -> Params:
    """The BG/NBD parameters of a fit."""
    return Params(*(estimate[n] for n in NAMES))


def expected_orders(params: Params, t: np.ndarray | float) -> np.ndarray:
    """Unconditional expected repeat orders in ``t`` weeks after the first order (eq. 7)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def probability_alive(params: Params, summary: pd.DataFrame) -> np.ndarray:
    """Probability each customer is still active at the end of calibration (eq. 11 of the note)."""
    r, alpha, a, b = params
    x, t_x, T = (summary[c].to_numpy(float) for c in ("x", "t_x", "T"))  # noqa: N806
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
        )
    return 1.0 / (1.0 + odds)


def conditional_expected_orders(params: Params, summary: pd.DataFrame, t: float) -> np.ndarray:
    """Expected repeat orders of each customer in the ``t`` weeks after calibration (eq. 10)."""
    r, alpha, a, b = params
    x, T = (summary[c].to_numpy(float) for c in ("x", "T"))  # noqa: N806
    z = t / (alpha + T + t)
    growth = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * growth * probability_alive(params, summary)


def holdout_forecast(params: Params, summary: pd.DataFrame, weeks: int) -> np.ndarray:
    """Expected cumulative repeat orders of the calibration customers, 1..``weeks`` weeks on.

    The plain BG/NBD benchmark for a backtest: element ``k`` is the sum over the calibration
    customers of eq. 10 at ``t = k + 1`` weeks after the cut-off.
    """
    return np.array(
        [conditional_expected_orders(params, summary, k).sum() for k in range(1, weeks + 1)]
    )


def tracking_curve(params: Params, first_order_week: np.ndarray, weeks: int) -> np.ndarray:
    """Expected cumulative repeat orders by the end of each of ``weeks`` calendar weeks.

    ``first_order_week`` holds each customer's first order in weeks since the start of the data
    (fractional); a customer adds ``E[X(t)]`` (eq. 7) for the ``t`` weeks since its first order,
    as in FHL 2005's tracking figure. Pass every customer whose first order is known, including
    those who arrived after the cut-off, to track the whole period.
    """
    first = np.asarray(first_order_week, dtype=float)
    cohorts, sizes = np.unique(first, return_counts=True)
    ends = np.arange(1, weeks + 1, dtype=float)
    elapsed = np.clip(ends[:, None] - cohorts[None, :], 0.0, None)
    return (expected_orders(params, elapsed) * sizes[None, :]).sum(axis=1)
