"""A customer base: the real accounts a scenario starts from (``market.customer_base``).

A CSV or Parquet file, one row per account:

``segment`` (required)
    The name of one of the scenario's segments.
``entry_week`` (required)
    Week the account becomes a customer: 0 = a customer at the start; ``k >= 1`` = its first
    order falls in week ``k`` (it is then active from the end of that week on).
``order_rate_multiplier`` (optional)
    The account's own order rate as a multiple of its segment's ``orders_per_year``; without
    it, the multiplier is drawn from the segment's ``purchase_process`` (or is 1).
``dropout_probability`` (optional)
    The account's probability of stopping after an order; without it, drawn from the
    segment's ``purchase_process`` (or 0).

``channel-sim backtest`` writes such a file for the customers it replays; a user can too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED: tuple[str, ...] = ("segment", "entry_week")
OPTIONAL: tuple[str, ...] = ("order_rate_multiplier", "dropout_probability")


class CustomerBaseError(ValueError):
    """A problem in a customer-base file; the message names file, row and column."""


@dataclass(frozen=True)
class CustomerBase:
    """The accounts of a customer-base file, as arrays (one entry per account)."""

    segment: np.ndarray  # int8 index into the scenario's segments
    entry_week: np.ndarray  # int16, >= 0
    order_rate_multiplier: np.ndarray | None  # float64, > 0
    dropout_probability: np.ndarray | None  # float64, in [0, 1]

    def __len__(self) -> int:
        return len(self.segment)

    def rows(self, index: np.ndarray) -> CustomerBase:
        """The accounts at ``index``, in that order."""
        return CustomerBase(
            self.segment[index],
            self.entry_week[index],
            None if self.order_rate_multiplier is None else self.order_rate_multiplier[index],
            None if self.dropout_probability is None else self.dropout_probability[index],
        )


def read_customer_base(path: str | Path, segments: Sequence[str]) -> CustomerBase:
    """Read and check a customer-base file against the scenario's segment names.

    Raises
    ------
    CustomerBaseError
        Naming the file, the account row (1-based, header not counted) and the column.
    """
    path = Path(path)
    frame = _read(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise CustomerBaseError(
            f"{path}: missing column(s) {missing}; a customer base needs {list(REQUIRED)}"
            f" and may have {list(OPTIONAL)}"
        )
    if frame.empty:
        raise CustomerBaseError(f"{path}: no accounts (the file has a header and no rows)")
    unknown = ~frame["segment"].astype(str).isin(segments)
    _refuse(path, frame, "segment", unknown, f"one of the scenario's segments {list(segments)}")
    entry = pd.to_numeric(frame["entry_week"], errors="coerce")
    bad_entry = entry.isna() | (entry < 0) | (entry != np.floor(entry)) | (entry > 2_600)
    _refuse(path, frame, "entry_week", bad_entry, "a whole number of weeks from 0 to 2600")
    columns = {}
    for name, allowed, ok in (
        ("order_rate_multiplier", "a number above 0", lambda v: v > 0),
        ("dropout_probability", "a probability from 0 to 1", lambda v: (v >= 0) & (v <= 1)),
    ):
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce")
            _refuse(path, frame, name, values.isna() | ~ok(values), allowed)
            columns[name] = values.to_numpy(dtype=float)
    index = {name: i for i, name in enumerate(segments)}
    return CustomerBase(
        segment=frame["segment"].astype(str).map(index).to_numpy(dtype=np.int8),
        entry_week=entry.to_numpy(dtype=np.int16),
        order_rate_multiplier=columns.get("order_rate_multiplier"),
        dropout_probability=columns.get("dropout_probability"),
    )


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CustomerBaseError(f"{path}: customer-base file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # any parser failure is the user's file, reported as such
        raise CustomerBaseError(f"{path}: cannot be read as CSV or Parquet ({exc})") from None


def _refuse(path: Path, frame: pd.DataFrame, column: str, bad: pd.Series, allowed: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = frame[column].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise CustomerBaseError(
            f"{path}: account row {row + 1}, column {column!r}: {value!r} is not "
            f"allowed; expected {allowed}"
        )
