"""`channel-sim calibrate` on bad order data: one clear line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BASELINE
from typer.testing import CliRunner

from sim.calibration.bgnbd import Params
from sim.calibration.synthetic import simulate_orders
from sim.cli import app

runner = CliRunner()
UNTIL = "2023-10-02"


@pytest.fixture(scope="module")
def good_lines() -> pd.DataFrame:
    lines = simulate_orders(
        Params(0.8, 10.0, 0.6, 3.0), (5.0, 4.0, 40.0), customers=600, weeks=52,
        arrival_weeks=13, rng=np.random.default_rng(5),
    )  # fmt: skip
    lines["date"] = lines["date"].dt.strftime("%Y-%m-%d")
    return lines.astype(str)


def calibrate(tmp_path: Path, lines: pd.DataFrame | str, *args: str) -> tuple[int, str, Path]:
    """Write ``lines`` as orders.csv, run the command; return exit code, stderr, output."""
    orders = tmp_path / "orders.csv"
    if isinstance(lines, str):
        orders.write_text(lines)
    else:
        lines.to_csv(orders, index=False)
    out = tmp_path / "out" / "ours.yaml"
    command = ["calibrate", str(orders), "--until", UNTIL, "--out", str(out)]
    result = runner.invoke(app, [*command, "--extends", str(BASELINE), *args])
    return result.exit_code, result.output + (result.stderr or ""), out


def with_value(lines: pd.DataFrame, column: str, row: int, value: str) -> pd.DataFrame:
    changed = lines.copy()
    changed.loc[row, column] = value
    return changed


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("amount", "-12.50", "a number >= 0"),
        ("amount", "twelve", "a number >= 0"),
        ("amount", "", "a number >= 0"),
        ("date", "2023-13-45", "a date"),
        ("date", "yesterday", "a date"),
        ("customer_id", "", "a non-empty identifier"),
    ],
)
def test_bad_values_name_file_line_and_column(
    tmp_path: Path, good_lines: pd.DataFrame, column: str, value: str, expected: str
) -> None:
    code, message, out = calibrate(tmp_path, with_value(good_lines, column, 41, value))
    assert code == 2, message
    assert "orders.csv: line 43" in message  # row 41 is line 43: header = line 1
    assert f"column {column!r}" in message and expected in message
    assert "Traceback" not in message
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_unknown_channel_and_product_are_named(tmp_path: Path, good_lines: pd.DataFrame) -> None:
    lines = good_lines.assign(channel="ecommerce")
    code, message, _ = calibrate(tmp_path, with_value(lines, "channel", 7, "webshop"))
    assert code == 2 and "line 9" in message and "'webshop'" in message
    assert "field, inside, distributor, ecommerce" in message
    lines = good_lines.assign(product="pumps")
    code, message, _ = calibrate(tmp_path, with_value(lines, "product", 3, "pipes"))
    assert code == 2 and "line 5" in message and "'pipes'" in message and "valves" in message


def test_missing_and_unmapped_columns(tmp_path: Path, good_lines: pd.DataFrame) -> None:
    renamed = good_lines.rename(columns={"amount": "Betrag"})
    code, message, _ = calibrate(tmp_path, renamed)
    assert code == 2 and "missing required column(s) amount" in message and "Betrag" in message
    code, message, _ = calibrate(tmp_path, renamed, "--columns", "amount=Umsatz")
    assert code == 2 and "no column 'Umsatz'" in message
    code, message, _ = calibrate(tmp_path, renamed, "--columns", "revenue=Betrag")
    assert code == 2 and "'revenue' is not an order column" in message
    code, message, out = calibrate(tmp_path, renamed, "--columns", "amount=Betrag")
    assert code == 0, message
    assert out.is_file()


def test_mapped_column_errors_use_the_files_name(tmp_path: Path, good_lines: pd.DataFrame) -> None:
    renamed = with_value(good_lines, "amount", 0, "-1").rename(columns={"amount": "Betrag"})
    code, message, _ = calibrate(tmp_path, renamed, "--columns", "amount=Betrag")
    assert code == 2 and "line 2, column 'Betrag' (mapped to amount)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "the file is empty"), ("customer_id,date,amount\n", "no order lines")],
)
def test_empty_files(tmp_path: Path, text: str, expected: str) -> None:
    code, message, _ = calibrate(tmp_path, text)
    assert code == 2 and expected in message


@pytest.mark.parametrize("until", ["2022-01-01", "2030-01-01", "not-a-date"])
def test_cutoff_outside_the_data(tmp_path: Path, good_lines: pd.DataFrame, until: str) -> None:
    orders = tmp_path / "orders.csv"
    good_lines.to_csv(orders, index=False)
    result = runner.invoke(
        app, ["calibrate", str(orders), "--until", until, "--out", str(tmp_path / "o.yaml"),
              "--extends", str(BASELINE)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert ("outside the data" in result.output) or ("not a date" in result.output)


def test_dropped_lines_are_counted_and_reported(tmp_path: Path, good_lines: pd.DataFrame) -> None:
    lines = pd.concat([good_lines, good_lines.iloc[:5]], ignore_index=True)
    lines.loc[10, "amount"] = "0"
    code, message, out = calibrate(tmp_path, lines)
    assert code == 0, message
    assert "dropped 5 lines: exact duplicate" in message
    assert "dropped 1 lines: zero amount" in message
    report = json.loads((out.parent / "calibration.json").read_text())
    assert report["data"]["rows_read"] == len(lines)
    assert sum(report["data"]["rows_dropped"].values()) == 6
    assert report["data"]["lines_kept"] == len(lines) - 6


def test_parquet_rows_are_counted_from_one(tmp_path: Path, good_lines: pd.DataFrame) -> None:
    orders = tmp_path / "orders.parquet"
    with_value(good_lines, "amount", 9, "-3").to_parquet(orders)
    result = runner.invoke(
        app, ["calibrate", str(orders), "--until", UNTIL, "--out", str(tmp_path / "o.yaml"),
              "--extends", str(BASELINE)],
    )  # fmt: skip
    assert result.exit_code == 2 and "orders.parquet: row 10, column 'amount'" in result.output
