"""Statistics across replications: means and paired differences with t confidence intervals.

Shared by the experiments (which write `comparison.csv`) and the reports (which read results).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.metrics import SUMMARY


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of a sample (NaN bounds if n < 2)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


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
    interval reflects the noise of the difference, not of each level.

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
        for metric in (m.name for m in SUMMARY):
            diff = other.loc[common, metric].to_numpy() - base.loc[common, metric].to_numpy()
            mean, low, high = mean_ci(diff, level)
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "reference_mean": float(base.loc[common, metric].mean()),
                    "variant_mean": float(other.loc[common, metric].mean()),
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
