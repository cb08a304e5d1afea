"""Tables built from run outputs: the weekly time series and the per-run summary.

Which columns they hold, in which order, and how a run's weeks reduce to its summary are
declared in :mod:`sim.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.metrics import SUMMARY, WEEKLY, summarise_run
from sim.results.runs import RunOutput

ID_COLUMNS: tuple[str, ...] = ("scenario", "variant", "replication", "seed", "week")
"""Columns identifying a row of ``timeseries.parquet``."""

METRICS: tuple[str, ...] = tuple(m.name for m in WEEKLY)
"""Weekly metric columns of ``timeseries.parquet``, after the identifiers."""

SUMMARY_METRICS: tuple[str, ...] = tuple(m.name for m in SUMMARY)
"""Columns of ``summary.csv`` after the run identifiers (SPEC §6)."""


def run_frame(
    scenario_name: str, output: RunOutput, extra: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Weekly rows of one run, with identifiers (and sweep columns in ``extra``)."""
    key = output.key
    weeks = len(next(iter(output.weekly.values())))
    ids: dict[str, object] = {
        "scenario": scenario_name,
        "variant": key.variant,
        "replication": key.replication,
        "seed": key.seed,
    }
    if key.sample is not None:
        ids["sample"] = key.sample
    frame = pd.DataFrame({**ids, **dict(extra or {})}, index=range(weeks))
    frame["week"] = np.arange(1, weeks + 1, dtype=np.int32)
    return pd.concat([frame, pd.DataFrame({m: output.weekly[m] for m in METRICS})], axis=1)


def summarise(timeseries: pd.DataFrame, discount_rate_annual: float) -> pd.DataFrame:
    """One row per run over the horizon (SPEC §6 ``summary.csv``), runs in order of appearance.

    Each metric is reduced as :data:`sim.metrics.SUMMARY` declares; ``npv_contribution``
    discounts weekly contribution margin at ``discount_rate_annual``.
    """
    keys = run_keys(timeseries)
    rows = []
    for ids, run in timeseries.sort_values("week").groupby(keys, sort=False, dropna=False):
        rows.append(
            {**dict(zip(keys, ids, strict=True)), **summarise_run(run, discount_rate_annual)}
        )
    return pd.DataFrame(rows, columns=[*keys, *SUMMARY_METRICS])


def run_keys(timeseries: pd.DataFrame) -> list[str]:
    """Columns that identify a run: every column but ``week`` and the weekly metrics."""
    return [c for c in timeseries.columns if c not in METRICS and c != "week"]
