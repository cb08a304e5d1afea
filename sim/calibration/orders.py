"""Read and validate an order extract; summarise each customer's history.

An order line has ``customer_id``, ``date`` and ``amount`` (required) and optionally ``units``,
``product``, ``channel``, ``segment``, ``distributor``. An *order* is one customer's lines on
one day. Every rejected value stops the run with an :class:`OrderDataError` naming the file,
the line (CSV, header = line 1) or row (Parquet, first = row 1), the column and the value;
lines dropped for a stated reason are counted, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario.loader import ScenarioError
from sim.scenario.schema import CHANNELS

REQUIRED = ("customer_id", "date", "amount")
OPTIONAL = ("units", "product", "channel", "segment", "distributor")
DAY = pd.Timedelta(days=1)


class OrderDataError(ScenarioError):
    """A problem with the order file or the calibration options; the message is for the user."""


@dataclass(frozen=True)
class OrderLines:
    """Validated order lines.

    Attributes
    ----------
    lines
        One row per kept line: ``customer_id`` (str), ``date`` (day), ``amount`` (currency
        units, > 0) and the optional columns present (empty text -> NaN).
    source
        The file read (or a label for a DataFrame).
    rows_read
        Lines in the input before any was dropped.
    dropped
        Lines dropped, by stated reason.
    unit
        How the file counts positions in messages: ``"line"`` (CSV) or ``"row"`` (Parquet).

    """

    lines: pd.DataFrame
    source: str
    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    unit: str = "line"

    @property
    def first_day(self) -> pd.Timestamp:
        """Day of the first order in the data (start of week 0)."""
        return self.lines["date"].min()

    @property
    def last_day(self) -> pd.Timestamp:
        """Day of the last order in the data."""
        return self.lines["date"].max()


def read_orders(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
    channel_map: Mapping[str, str] | None = None,
) -> OrderLines:
    """Read a CSV or Parquet order file and validate it.

    Parameters
    ----------
    path
        ``.csv`` (any other suffix is read as CSV) or ``.parquet``/``.pq``.
    columns
        ``{our name: the file's name}`` for columns named differently in the file.
    date_format
        strftime format of the ``date`` column (e.g. ``"%d/%m/%Y"``); by default ISO 8601,
        day/month/year or month/day/year where the data tell which (:func:`parse_dates`),
        or one other consistent style.
    channel_map
        ``{the file's channel name: ours}`` (e.g. ``{"Web": "ecommerce"}``), ours one of
        :data:`sim.scenario.schema.CHANNELS`.

    """
    path = Path(path)
    if not path.is_file():
        raise OrderDataError(f"{path}: order file not found")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if parquet:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise OrderDataError(f"{path}: the file is empty (no header, no order lines)") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OrderDataError(
            f"{path}: cannot read the file as {'Parquet' if parquet else 'CSV'}: {reason}"
        ) from None
    return validate_lines(
        frame,
        source=str(path),
        columns=columns,
        first_line=1 if parquet else 2,
        date_format=date_format,
        channel_map=channel_map,
    )


def validate_lines(
    frame: pd.DataFrame,
    *,
    source: str = "orders",
    columns: Mapping[str, str] | None = None,
    first_line: int = 1,
    date_format: str | None = None,
    channel_map: Mapping[str, str] | None = None,
) -> OrderLines:
    """Validate order lines held in a DataFrame (see :func:`read_orders`).

    ``first_line`` is the number of the frame's first row in the user's file: 2 for a CSV with
    a header line, 1 for Parquet rows.
    """
    unit = "line" if first_line == 2 else "row"
    frame = _rename(frame, source, columns or {})
    if frame.empty:
        raise OrderDataError(f"{source}: no order lines (only a header)")
    where = _Locator(source, unit, first_line, columns or {})
    _check_channel_map(channel_map or {}, frame, source)
    lines = pd.DataFrame(
        {
            "customer_id": _text(frame["customer_id"], where, "customer_id", required=True),
            "date": _dates(frame["date"], where, date_format),
            "amount": _numbers(frame["amount"], where, "amount", required=True),
        }
    )
    if "units" in frame:
        lines["units"] = _numbers(frame["units"], where, "units", required=False)
    for name in ("product", "channel", "segment", "distributor"):
        if name in frame:
            lines[name] = _text(frame[name], where, name, required=False)
    if "channel" in lines:
        if channel_map:
            lines["channel"] = lines["channel"].replace(dict(channel_map))
        _check_allowed(
            lines["channel"],
            where,
            "channel",
            CHANNELS,
            hint="; map the file's own names with --channel-map THEIRS=ours, e.g. Web=ecommerce",
        )
    lines["line"] = np.arange(first_line, first_line + len(lines))
    return _drop_stated(lines, source, unit)


def check_products(lines: OrderLines, products: list[str]) -> None:
    """Every ``product`` value must be a product line of the scenario being extended."""
    if "product" in lines.lines:
        where = _Locator(lines.source, lines.unit, 0, {})
        _check_allowed(
            lines.lines["product"], where, "product", tuple(products), lines.lines["line"]
        )


def check_cutoff(lines: OrderLines, until: pd.Timestamp) -> None:
    """The cut-off must leave at least one day of data before it and lie within the data."""
    first, last = lines.first_day, lines.last_day
    if not first < until <= last + DAY:
        raise OrderDataError(
            f"{lines.source}: --until {until.date()} is outside the data; the orders run from "
            f"{first.date()} to {last.date()}, so allowed cut-offs are "
            f"{(first + DAY).date()} to {(last + DAY).date()}"
        )


def orders_of(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order (customer x day): ``customer_id, date, amount, lines``."""
    grouped = lines.groupby(["customer_id", "date"], sort=True, observed=True)
    orders = (
        grouped["amount"].agg(["sum", "size"]).rename(columns={"sum": "amount", "size": "lines"})
    )
    return orders.reset_index()


def customer_summary(
    orders: pd.DataFrame, until: pd.Timestamp, start: pd.Timestamp
) -> pd.DataFrame:
    """Each customer's history before ``until``, in weeks (FHL 2005 notation).

    Columns: ``first_order`` (day), ``first_order_week`` (weeks since ``start``, the data's
    first day), ``orders``, ``x`` (repeat orders), ``t_x`` (weeks from first to last order),
    ``T`` (weeks from the first order to the last day before ``until``), ``amount_total``,
    ``repeat_value_mean`` (mean value of the repeat orders; NaN when ``x = 0``).
    """
    before = orders[orders["date"] < until]
    grouped = before.groupby("customer_id", sort=True)
    first = grouped["date"].min()
    last = grouped["date"].max()
    count = grouped.size()
    total = grouped["amount"].sum()
    first_value = before.loc[grouped["date"].idxmin(), ["customer_id", "amount"]].set_index(
        "customer_id"
    )["amount"]
    x = count - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat_mean = ((total - first_value) / x).where(x > 0)
    last_day = until - DAY
    return pd.DataFrame(
        {
            "first_order": first,
            "first_order_week": (first - start).dt.days / 7.0,
            "orders": count,
            "x": x,
            "t_x": (last - first).dt.days / 7.0,
            "T": (last_day - first).dt.days / 7.0,
            "amount_total": total,
            "repeat_value_mean": repeat_mean,
        }
    )


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Locator:
    """Says where a bad value is: file, line or row, column (the file's own name)."""

    source: str
    unit: str
    first_line: int
    columns: Mapping[str, str]

    def __call__(self, position: int, column: str, value: object, allowed: str) -> OrderDataError:
        name = self.columns.get(column, column)
        label = f"column {name!r}" + (f" (mapped to {column})" if name != column else "")
        return OrderDataError(
            f"{self.source}: {self.unit} {position}, {label}: {value!r} is not allowed; "
            f"expected {allowed}"
        )


def _rename(frame: pd.DataFrame, source: str, columns: Mapping[str, str]) -> pd.DataFrame:
    known = REQUIRED + OPTIONAL
    for ours, theirs in columns.items():
        if ours not in known:
            raise OrderDataError(
                f"--columns {ours}={theirs}: {ours!r} is not an order column; "
                f"allowed: {', '.join(known)}"
            )
        if theirs not in frame.columns:
            raise OrderDataError(
                f"{source}: --columns {ours}={theirs}: the file has no column {theirs!r}; "
                f"its columns are: {', '.join(map(str, frame.columns))}"
            )
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise OrderDataError(
            f"{source}: missing required column(s) {', '.join(missing)}; the file has: "
            f"{', '.join(map(str, frame.columns))}; map other names with --columns ours=theirs"
        )
    return frame


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _text(values: pd.Series, where: _Locator, column: str, *, required: bool) -> pd.Series:
    text = values.astype("string").str.strip()
    empty = text.isna() | (text == "")
    if required and empty.any():
        i = _first_bad(empty.to_numpy())
        raise where(i + where.first_line, column, values.iloc[i], "a non-empty identifier")
    return text.where(~empty).astype(object)


def _numbers(values: pd.Series, where: _Locator, column: str, *, required: bool) -> pd.Series:
    text = values.astype("string").str.strip()
    empty = (text.isna() | (text == "")).to_numpy(bool)
    numbers = pd.to_numeric(text.mask(empty), errors="coerce").astype(float).to_numpy()
    bad = (np.isnan(numbers) & (~empty | required)) | np.isinf(numbers) | (numbers < 0)
    if bad.any():
        i = _first_bad(bad)
        raise where(i + where.first_line, column, values.iloc[i], "a number >= 0")
    return pd.Series(numbers, index=values.index)


def _dates(values: pd.Series, where: _Locator, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_convert(None) if values.dt.tz is not None else values
        expected = "a date such as 2024-03-31"
    else:
        text = values.astype("string").str.strip()
        dates = parse_dates(text, date_format=date_format, where=where).astype("datetime64[us]")
        expected = (
            f"a date in --date-format {date_format!r}"
            if date_format
            else "a date such as 2024-03-31 (or pass --date-format, e.g. %d.%m.%Y)"
        )
    if dates.isna().any():
        i = _first_bad(dates.isna().to_numpy())
        raise where(i + where.first_line, "date", values.iloc[i], expected)
    return dates.dt.normalize()


_NUMERIC_DATE = r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
"""Day and month in either order, then the year (optionally a time of day, dropped)."""


def parse_dates(
    text: pd.Series, *, date_format: str | None = None, where: _Locator | None = None
) -> pd.Series:
    """Dates of a text column as naive UTC days; NaT where a value cannot be read.

    With ``date_format`` (strftime, e.g. ``"%d/%m/%Y"``) every value must follow it. Without:
    ISO 8601 (with or without time, time zones converted to UTC); then values such as
    ``31/03/2024``, ``03-31-24`` or ``31.03.2024`` (two numbers and a year) are read
    day-first when some first number is above 12 and no second one is, month-first in the
    opposite case, and are an error when no number above 12 tells which or when both orders
    occur; then one other consistent style (e.g. ``19970101``).

    Raises
    ------
    OrderDataError
        Day-first or month-first cannot be told, or both occur (pass ``date_format``).
    """
    if date_format:
        return _parse(text, format=date_format)
    index, text = text.index, text.reset_index(drop=True)  # positions for the messages
    return _infer_dates(text, where).set_axis(index)


def _infer_dates(text: pd.Series, where: _Locator | None) -> pd.Series:
    """:func:`parse_dates` without a format, on a column indexed by position."""
    dates = _parse(text, format="ISO8601")
    if not dates.isna().any():
        return dates
    parts = text.mask(dates.notna()).str.extract(_NUMERIC_DATE)
    numeric = parts[0].notna()
    if numeric.any():
        first, second = parts[0][numeric].astype(int), parts[2][numeric].astype(int)
        dayfirst = _day_first(text[numeric], first, second, where)
        day, month = (first, second) if dayfirst else (second, first)
        year = parts[3][numeric]
        century = pd.Series(np.where(year.astype(int) < 69, "20", "19"), index=year.index)
        year = year.where(year.str.len() == 4, century + year)  # 2-digit years as %y reads them
        iso = year + "-" + month.astype(str).str.zfill(2) + "-" + day.astype(str).str.zfill(2)
        dates = dates.fillna(_parse(iso, format="%Y-%m-%d").reindex(text.index))
        if dates[numeric].isna().any():  # e.g. 31/02/2024: not a day at all
            return dates
    if dates.isna().any():  # one other consistent style, e.g. 19970101
        dates = dates.fillna(_parse(text.mask(dates.notna() | numeric), format=None))
    return dates


def _day_first(
    text: pd.Series, first: pd.Series, second: pd.Series, where: _Locator | None
) -> bool:
    """Whether ``first/second/year`` dates are day-first, as the values above 12 show."""
    day_first, month_first = first > 12, second > 12
    source = f"{where.source}: " if where else ""
    unit = where.unit if where else "value"
    offset = where.first_line if where else 1

    def at(mask: pd.Series) -> str:
        i = _first_bad(mask.to_numpy())
        return f"{text.iloc[i]!r} ({unit} {text.index[i] + offset})"

    if day_first.any() and month_first.any():
        raise OrderDataError(
            f"{source}column 'date': both day-first ({at(day_first)}) and month-first "
            f"({at(month_first)}) dates; pass --date-format, e.g. --date-format %d/%m/%Y"
        )
    if day_first.any():
        return True
    if month_first.any():
        return False
    differ = first != second
    if differ.any():
        raise OrderDataError(
            f"{source}column 'date': dates such as {at(differ)} can be read day-first or "
            "month-first (no day above 12 tells which); pass --date-format, e.g. "
            "--date-format %d/%m/%Y or --date-format %m/%d/%Y"
        )
    return True  # every value reads the same either way (e.g. 01/01/2024)


def _parse(text: pd.Series, *, format: str | None) -> pd.Series:
    """Dates as naive UTC days; unparsable values as NaT."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=format, utc=True)
    except (ValueError, TypeError):
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    return parsed.dt.tz_convert(None)


def _check_allowed(
    values: pd.Series,
    where: _Locator,
    column: str,
    allowed: tuple[str, ...],
    lines: pd.Series | None = None,
    *,
    hint: str = "",
) -> None:
    bad = values.notna() & ~values.isin(allowed)
    if bad.any():
        i = _first_bad(bad.to_numpy())
        position = int(lines.iloc[i]) if lines is not None else i + where.first_line
        expected = f"one of {', '.join(allowed)} (or empty){hint}"
        raise where(position, column, values.iloc[i], expected)


def _check_channel_map(channel_map: Mapping[str, str], frame: pd.DataFrame, source: str) -> None:
    """Every mapped-to name is one of our channels, and there is a channel column to map."""
    for theirs, ours in channel_map.items():
        if ours not in CHANNELS:
            raise OrderDataError(
                f"--channel-map {theirs}={ours}: {ours!r} is not a channel; allowed: "
                f"{', '.join(CHANNELS)} (THEIRS=ours, e.g. Web=ecommerce)"
            )
    if channel_map and "channel" not in frame.columns:
        raise OrderDataError(
            f"{source}: --channel-map given but the file has no channel column; its columns "
            f"are: {', '.join(map(str, frame.columns))}; map one with --columns channel=THEIRS"
        )


def _drop_stated(lines: pd.DataFrame, source: str, unit: str) -> OrderLines:
    """Drop zero-amount lines and exact duplicates, counting each."""
    rows = len(lines)
    zero = lines["amount"] == 0
    kept = lines[~zero]
    content = [c for c in kept.columns if c != "line"]
    duplicate = kept.duplicated(subset=content, keep="first")
    kept = kept[~duplicate].reset_index(drop=True)
    if kept.empty:
        raise OrderDataError(f"{source}: no order line with a positive amount")
    dropped = {
        "zero amount (no sale, e.g. a free sample or a cancelled line)": int(zero.sum()),
        "exact duplicate of an earlier line (same values in every column)": int(duplicate.sum()),
    }
    return OrderLines(kept, source, rows, dropped, unit)
