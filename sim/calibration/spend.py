"""Spend per order: gamma-gamma (Fader, Hardie & Lee 2005b), lognormal when that does not fit.

Gamma-gamma: an order's value is ``Gamma(p, rate nu)``, each customer's ``nu ~ Gamma(q, rate
gamma)``; a customer's mean order value ``zeta = p / nu`` is independent of its order rate.
It is fitted, as in FHL 2005b, to the mean value ``m`` of each customer's ``x >= 1`` repeat
orders. When ``q <= 2`` the customers' mean order values have infinite variance (no finite
spread to put in ``spend_sigma``) and when the fit fails to converge, a one-way random-effects
lognormal model of log order values is used instead (closed-form moment estimates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from sim.calibration import mle


@dataclass(frozen=True)
class Spend:
    """Spend per order of a segment.

    Attributes
    ----------
    model
        ``"gamma-gamma"`` or ``"lognormal"``.
    mean_order_value
        Expected value of an order (currency units).
    mean_order_value_se
        Its standard error (delta method).
    account_sigma
        Lognormal sigma with the same coefficient of variation as the accounts' mean order
        values (-> ``spend_sigma``).
    estimate
        The maximum-likelihood fit (gamma-gamma) or ``None`` (lognormal moments).
    diagnostics
        JSON-ready details.

    """

    model: str
    mean_order_value: float
    mean_order_value_se: float
    account_sigma: float
    estimate: mle.Estimate | None
    diagnostics: dict[str, object]


def gamma_gamma_log_likelihood(
    p: float, q: float, gamma: float, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Log-density of a customer's mean repeat-order value ``m`` over ``x`` orders (FHL 2005b)."""
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> mle.Estimate:
    """Fit (p, q, gamma) to repeat-order counts ``x >= 1`` and mean repeat-order values ``m``."""
    start = np.array([1.0, 3.0, 2.0 * float(np.mean(m))])
    return mle.fit(
        lambda v: float(gamma_gamma_log_likelihood(v[0], v[1], v[2], x, m).sum()),
        ("p", "q", "gamma"),
        start,
        n=len(x),
    )


def fit_spend(summary: pd.DataFrame, orders: pd.DataFrame) -> Spend:
    """Spend per order of a segment's customers.

    Parameters
    ----------
    summary
        Customer summary with ``x`` (repeat orders) and ``repeat_value_mean``.
    orders
        The segment's orders (``customer_id``, ``amount``; first orders included), for the
        lognormal fallback.

    """
    repeat = summary[summary["x"] > 0]
    x = repeat["x"].to_numpy(float)
    m = repeat["repeat_value_mean"].to_numpy(float)
    if len(x) >= 10:
        estimate = fit_gamma_gamma(x, m)
        q = estimate["q"]
        if estimate.converged and q > 2:
            return _gamma_gamma_spend(estimate)
        reason = f"gamma-gamma q = {q:.3g} <= 2 or not converged"
    else:
        reason = f"only {len(x)} customers with repeat orders"
    return _lognormal_spend(orders, reason)


def _gamma_gamma_spend(estimate: mle.Estimate) -> Spend:
    p, q, gamma = estimate.values
    mean = p * gamma / (q - 1)
    se = estimate.delta_se(np.array([gamma / (q - 1), -p * gamma / (q - 1) ** 2, p / (q - 1)]))
    sigma = float(np.sqrt(np.log1p(1.0 / (q - 2))))  # CV^2 of zeta = 1 / (q - 2)
    return Spend("gamma-gamma", float(mean), se, sigma, estimate, estimate.as_dict())


def _lognormal_spend(orders: pd.DataFrame, reason: str) -> Spend:
    logs = np.log(orders["amount"].to_numpy(float))
    n = len(logs)
    mu, total = float(logs.mean()), float(logs.var(ddof=1))
    # one-way random effects by moments: total = between-account + within-account variance
    within = float(pd.Series(logs).groupby(orders["customer_id"].to_numpy()).var(ddof=1).mean())
    between = max(total - (within if np.isfinite(within) else 0.0), 0.0)
    mean = float(np.exp(mu + total / 2))
    se = mean * float(np.sqrt(total / n + total**2 / (2 * (n - 1))))  # delta method, normal logs
    diagnostics = {
        "reason": reason,
        "log_mean": mu,
        "log_variance": total,
        "between_account_log_variance": between,
        "orders": n,
    }
    return Spend("lognormal", mean, se, float(np.sqrt(between)), None, diagnostics)
