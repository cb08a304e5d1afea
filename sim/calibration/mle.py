"""Maximum likelihood for a few positive parameters, with standard errors.

Parameters are optimised on the log scale (so they stay positive); standard errors come from
the observed information, the inverse Hessian of the negative log-likelihood at the optimum,
taken by central finite differences and carried to the natural scale by the delta method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


@dataclass(frozen=True)
class Estimate:
    """A maximum-likelihood fit.

    Attributes
    ----------
    names
        Parameter names, in order.
    values
        Estimates on the natural (positive) scale.
    standard_errors
        From the inverse observed information (NaN when the Hessian is not positive definite).
    covariance
        Covariance matrix of the estimates (natural scale), rows in ``names`` order.
    log_likelihood
        Maximised log-likelihood.
    converged
        Whether the optimiser reported success and the Hessian is positive definite.
    message
        The optimiser's message.
    n
        Number of observations (customers) in the likelihood.

    """

    names: tuple[str, ...]
    values: tuple[float, ...]
    standard_errors: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    log_likelihood: float
    converged: bool
    message: str
    n: int

    def __getitem__(self, name: str) -> float:
        return self.values[self.names.index(name)]

    def se(self, name: str) -> float:
        """Standard error of one parameter."""
        return self.standard_errors[self.names.index(name)]

    def delta_se(self, gradient: np.ndarray) -> float:
        """Standard error of a function of the parameters with this ``gradient`` (delta method)."""
        gradient = np.asarray(gradient, dtype=float)
        return float(np.sqrt(gradient @ np.array(self.covariance) @ gradient))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready diagnostics."""
        return {
            "parameters": dict(zip(self.names, self.values, strict=True)),
            "standard_errors": dict(zip(self.names, self.standard_errors, strict=True)),
            "log_likelihood": self.log_likelihood,
            "converged": self.converged,
            "message": self.message,
            "customers": self.n,
        }


def fit(
    log_likelihood: Callable[[np.ndarray], float],
    names: tuple[str, ...],
    start: np.ndarray,
    *,
    n: int,
) -> Estimate:
    """Maximise ``log_likelihood(params)`` over positive ``params``.

    Parameters
    ----------
    log_likelihood
        Total log-likelihood as a function of the natural-scale parameters.
    names
        Parameter names.
    start
        Starting values (natural scale, > 0).
    n
        Number of observations, recorded in the result.

    """

    def negative(theta: np.ndarray) -> float:
        """Minus the mean log-likelihood per observation: tolerances independent of n."""
        value = log_likelihood(np.exp(theta)) / n
        return -value if np.isfinite(value) else 1e300

    best = minimize(negative, np.log(start), method="BFGS", options={"gtol": 1e-9})
    if not _stationary(negative, best.x):
        # Nelder-Mead gets off the flat ridges BG/NBD likelihoods can have; BFGS then polishes
        rough = minimize(
            negative,
            best.x if np.isfinite(best.fun) and best.fun < 1e300 else np.log(start),
            method="Nelder-Mead",
            options={"xatol": 1e-4, "fatol": 1e-10, "maxfev": 4000},
        )
        polished = minimize(negative, rough.x, method="BFGS", options={"gtol": 1e-9})
        best = polished if polished.fun <= rough.fun else rough
    theta = best.x
    values = np.exp(theta)
    hessian = _hessian(negative, theta) * n
    covariance, positive_definite = _inverse(hessian)
    covariance = covariance * np.outer(values, values)  # delta method: d e^theta = e^theta dtheta
    errors = np.sqrt(np.diag(covariance))
    return Estimate(
        names=names,
        values=tuple(float(v) for v in values),
        standard_errors=tuple(float(e) for e in errors),
        covariance=tuple(tuple(float(c) for c in row) for row in covariance),
        log_likelihood=float(-best.fun * n),
        converged=bool(positive_definite and _stationary(negative, theta)),
        message=str(best.message),
        n=n,
    )


def _stationary(f: Callable[[np.ndarray], float], x: np.ndarray) -> bool:
    """Whether the mean log-likelihood is flat at ``x`` (all partial derivatives < 1e-5)."""
    return bool(np.max(np.abs(_gradient(f, x))) < 1e-5)


def _gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    steps = np.eye(len(x)) * h
    return np.array([(f(x + s) - f(x - s)) / (2 * h) for s in steps])


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = len(x)
    steps = np.eye(k) * h
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            si, sj = steps[i], steps[j]
            value = (f(x + si + sj) - f(x + si - sj) - f(x - si + sj) + f(x - si - sj)) / (
                4 * h * h
            )
            hessian[i, j] = hessian[j, i] = value
    return hessian


def _inverse(hessian: np.ndarray) -> tuple[np.ndarray, bool]:
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return np.full_like(hessian, np.nan), False
    return np.linalg.inv(hessian), True
