"""Statistics across replications: means and paired differences with confidence intervals.

Shared by the experiments (which write `comparison.csv`) and the reports (which read results).

Intervals of a mean (:func:`mean_ci`) respect the bounds of what is measured
(:attr:`sim.metrics.Unit.bounds`):

- **unbounded** (money): the Student-t interval ``mean ± t(n-1) · s / √n``;
- **bounded on both sides** (shares and scores in [0, 1]): the t interval on the logit scale
  of the mean, back-transformed (delta method: the standard error of ``logit(mean)`` is
  ``s / (√n · m (1 - m))`` with ``m`` the mean rescaled to [0, 1]). It lies strictly inside
  the bounds and is asymmetric near them, as the sampling distribution of a mean near a bound
  is;
- **bounded below** (counts: units, accounts, distributors, incidents, leads ≥ 0): the t
  interval on the log scale of the mean (standard error ``s / (√n · m)``), back-transformed;
  it stays above 0 and is unbounded above.

Degenerate samples: with fewer than 2 replications the bounds are NaN. When every replication
gives the same value there is no variation to estimate and the interval is that value, except
for a quantity bounded on both sides whose every replication sits *at* a bound (say a share of
0 in all n replications): a quantity in [0, 1] with mean μ is 0 with probability at most
1 - μ, so n zeros happen with probability at most (1 - μ)^n and ``[0, 1 - (α/2)^(1/n)]`` is a
valid interval whatever the distribution (the "rule of three" of zero events; mirrored at 1).

Paired differences (:func:`paired_differences`) keep the Student-t interval (a difference is
not bounded the way its levels are), cut to the range a difference can take: ``[low - high,
high - low]`` of the metric's bounds, which can only raise the coverage.

``tests/test_experiments.py`` measures the coverage of each by simulation against known means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.metrics import SUMMARY

Bounds = tuple[float, float]
"""``(low, high)`` of a quantity, infinite where unbounded."""

UNBOUNDED: Bounds = (-math.inf, math.inf)

_TOLERANCE = 1e-9
"""Values this far (relative to the scale) beyond a bound are taken as the bound (rounding)."""


def mean_ci(
    values: np.ndarray, level: float = 0.95, *, bounds: Bounds = UNBOUNDED
) -> tuple[float, float, float]:
    """Mean of a sample of replications and its confidence interval, within ``bounds``.

    Parameters
    ----------
    values
        One number per replication.
    level
        Confidence level of the interval.
    bounds
        ``(low, high)`` the quantity can take (:attr:`sim.metrics.Unit.bounds`); the method
        follows from them (module docstring). Unbounded: the Student-t interval.

    Returns
    -------
    ``(mean, low, high)``; NaN bounds if fewer than 2 values.

    Raises
    ------
    ValueError
        A value lies outside ``bounds`` (the metric is declared with the wrong unit).
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    n = len(values)
    if n < 2:
        return mean, float("nan"), float("nan")
    low_bound, high_bound = bounds
    if bounds == UNBOUNDED:
        return _t_interval(values, level)
    values = _within(values, bounds)
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    t = float(stats.t.ppf(0.5 + level / 2, n - 1))
    alpha = 1.0 - level
    if math.isfinite(low_bound) and math.isfinite(high_bound):
        width = high_bound - low_bound
        m = (mean - low_bound) / width
        if sd == 0.0:
            if m <= 0.0:
                return mean, low_bound, low_bound + width * (1.0 - (alpha / 2) ** (1.0 / n))
            if m >= 1.0:
                return mean, high_bound - width * (1.0 - (alpha / 2) ** (1.0 / n)), high_bound
            return mean, mean, mean
        half = t * (sd / width) / (math.sqrt(n) * m * (1.0 - m))
        centre = math.log(m / (1.0 - m))
        low, high = (_expit(centre - half), _expit(centre + half))
        return mean, low_bound + width * low, low_bound + width * high
    if sd == 0.0:
        return mean, mean, mean
    if math.isfinite(low_bound):
        m = mean - low_bound
        half = t * sd / (math.sqrt(n) * m)
        return mean, low_bound + m * math.exp(-half), low_bound + m * math.exp(half)
    m = high_bound - mean
    half = t * sd / (math.sqrt(n) * m)
    return mean, high_bound - m * math.exp(half), high_bound - m * math.exp(-half)


def difference_bounds(bounds: Bounds) -> Bounds:
    """The range a difference of two quantities within ``bounds`` can take.

    ``(low - high, high - low)``: [-1, 1] for shares, unbounded for counts and money.
    """
    low, high = bounds
    return (low - high, high - low)


def difference_ci(
    values: np.ndarray, level: float = 0.95, *, bounds: Bounds = UNBOUNDED
) -> tuple[float, float, float]:
    """Mean of paired differences and its Student-t interval, cut to ``difference_bounds(bounds)``.

    ``bounds`` are those of the levels that are differenced (a share's differences lie in
    [-1, 1]). The true mean difference lies in that range, so cutting the interval to it never
    lowers the coverage. NaN bounds if fewer than 2 values.
    """
    mean, low, high = _t_interval(np.asarray(values, dtype=float), level)
    if low != low:
        return mean, low, high
    floor, ceiling = difference_bounds(bounds)
    return mean, min(max(low, floor), ceiling), max(min(high, ceiling), floor)


PAIRED_COLUMNS = (
    "variant",
    "metric",
    "reference_mean",
    "variant_mean",
    "mean_difference",
    "ci_low",
    "ci_high",
    "n",
    "distinguishable",
)
"""The columns of :func:`paired_differences` (``comparison.csv``)."""


def paired_differences(
    summary: pd.DataFrame, *, reference: str, level: float = 0.95
) -> pd.DataFrame:
    """Per variant and metric: mean of (variant - reference) over paired replications.

    Replications are paired by their ``replication`` index (common random numbers), so the
    interval reflects the noise of the difference, not of each level. The interval is the
    Student-t one within the range a difference of the metric can take (:func:`difference_ci`).

    Returns
    -------
    DataFrame with columns ``variant, metric, reference_mean, variant_mean, mean_difference,
    ci_low, ci_high, n, distinguishable`` (the interval excludes zero).
    """
    table = summary.set_index(["variant", "replication"])
    base = table.loc[reference]
    rows = []
    for variant in summary["variant"].unique():
        if variant == reference:
            continue
        other = table.loc[variant]
        common = base.index.intersection(other.index)
        for metric in SUMMARY:
            name = metric.name
            diff = other.loc[common, name].to_numpy() - base.loc[common, name].to_numpy()
            mean, low, high = difference_ci(diff, level, bounds=metric.unit.bounds)
            rows.append(
                {
                    "variant": variant,
                    "metric": name,
                    "reference_mean": float(base.loc[common, name].mean()),
                    "variant_mean": float(other.loc[common, name].mean()),
                    "mean_difference": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n": len(common),
                    "distinguishable": bool(low > 0 or high < 0),
                }
            )
    # with no variant beside the reference the table is empty but keeps its columns, so its
    # CSV reads back (an optimize search with no feasible candidate compares none)
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))


def _t_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean and Student-t interval ``mean ± t(n-1) · s / √n`` (NaN bounds if n < 2)."""
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, float(mean - half), float(mean + half)


def _within(values: np.ndarray, bounds: Bounds) -> np.ndarray:
    """``values`` with rounding beyond a bound removed; an error if truly outside."""
    low, high = bounds
    scale = max(1.0, float(np.abs(values).max()))
    slack = _TOLERANCE * scale
    if (values < low - slack).any() or (values > high + slack).any():
        outside = values[(values < low - slack) | (values > high + slack)][0]
        raise ValueError(f"{outside!r} lies outside the bounds [{low}, {high}] of its metric")
    return np.clip(values, low, high)


def _expit(x: float) -> float:
    """The inverse logit, without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
