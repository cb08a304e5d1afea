"""`calibrate`/`backtest` read the firm's own formats: `--date-format`, day-first dates
inferred when unambiguous, `--channel-map THEIRS=ours` (issue 22, item 5; SPEC §5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BASELINE
from typer.testing import CliRunner

from sim.calibration import OrderDataError, read_orders
from sim.calibration.bgnbd import Params
from sim.calibration.synthetic import simulate_orders
from sim.cli import app

runner = CliRunner()
UNTIL = "2023-10-02"
THEIRS = {"field": "Rep", "inside": "Phone", "distributor": "Dealer", "ecommerce": "Web"}


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    """Order lines with real dates (days and months above 12 both occur) and our channels."""
    lines = simulate_orders(
        Params(0.8, 10.0, 0.6, 3.0), (5.0, 4.0, 40.0), customers=600, weeks=52,
        arrival_weeks=13, rng=np.random.default_rng(11),
    )  # fmt: skip
    channels = list(THEIRS)
    lines["channel"] = [channels[i % 4] for i in range(len(lines))]
    return lines


def write(tmp_path: Path, lines: pd.DataFrame, *, date_format: str, mapped: bool) -> Path:
    frame = lines.copy()
    frame["date"] = frame["date"].dt.strftime(date_format)
    if mapped:
        frame["channel"] = frame["channel"].map(THEIRS)
    path = tmp_path / "orders.csv"
    frame.astype(str).to_csv(path, index=False)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr or "")


def calibrate(path: Path, tmp_path: Path, *args: str, until: str = UNTIL) -> tuple[int, str]:
    out = tmp_path / "out" / "ours.yaml"
    return invoke(
        "calibrate", str(path), "--until", until, "--out", str(out), "--extends", str(BASELINE),
        *args,
    )  # fmt: skip


@pytest.mark.parametrize("date_format", ["%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y", "%d-%m-%y"])
def test_day_or_month_first_is_inferred_when_the_data_tell(
    tmp_path: Path, lines: pd.DataFrame, date_format: str
) -> None:
    iso = read_orders(write(tmp_path, lines, date_format="%Y-%m-%d", mapped=False))
    other = read_orders(write(tmp_path, lines, date_format=date_format, mapped=False))
    pd.testing.assert_series_equal(other.lines["date"], iso.lines["date"])


def test_ambiguous_dates_ask_for_a_date_format(tmp_path: Path, lines: pd.DataFrame) -> None:
    early = lines[lines["date"].dt.day <= 12].reset_index(drop=True)  # no day tells the order
    path = write(tmp_path, early, date_format="%d/%m/%Y", mapped=False)
    code, output = calibrate(path, tmp_path)
    assert code == 2
    assert "day-first or month-first" in output and "--date-format" in output
    assert "line 2" in output and early["date"].iloc[0].strftime("%d/%m/%Y") in output
    assert not (tmp_path / "out").exists()
    # the same file with the format given reads as the ISO one
    given = read_orders(path, date_format="%d/%m/%Y")
    iso = read_orders(write(tmp_path, early, date_format="%Y-%m-%d", mapped=False))
    pd.testing.assert_series_equal(given.lines["date"], iso.lines["date"])


def test_day_first_and_month_first_in_one_file_is_an_error(
    tmp_path: Path, lines: pd.DataFrame
) -> None:
    frame = lines.copy().astype({"date": object})
    frame["date"] = lines["date"].dt.strftime("%d/%m/%Y")
    frame.loc[len(frame) - 1, "date"] = "03/31/2023"
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(OrderDataError, match=r"both day-first .* and month-first .*03/31/2023"):
        read_orders(path)


def test_date_format_end_to_end_with_until_in_that_format(
    tmp_path: Path, lines: pd.DataFrame
) -> None:
    path = write(tmp_path, lines, date_format="%d.%m.%Y", mapped=True)
    channel_map = [
        arg for ours, theirs in THEIRS.items() for arg in ("--channel-map", f"{theirs}={ours}")
    ]
    code, output = calibrate(
        path, tmp_path, "--date-format", "%d.%m.%Y", *channel_map, until="02.10.2023"
    )
    assert code == 0, output
    assert (tmp_path / "out" / "ours.yaml").is_file()


def test_a_value_not_in_the_date_format_is_named(tmp_path: Path, lines: pd.DataFrame) -> None:
    path = write(tmp_path, lines, date_format="%Y-%m-%d", mapped=False)
    code, output = calibrate(path, tmp_path, "--date-format", "%d/%m/%Y")
    assert code == 2
    assert "line 2, column 'date'" in output and "--date-format '%d/%m/%Y'" in output


def test_an_ambiguous_until_asks_for_iso(tmp_path: Path, lines: pd.DataFrame) -> None:
    path = write(tmp_path, lines, date_format="%Y-%m-%d", mapped=False)
    code, output = calibrate(path, tmp_path, until="01/10/2023")
    assert code == 2 and "--until '01/10/2023'" in output and "YYYY-MM-DD" in output


def test_channel_map_reads_the_firms_names(tmp_path: Path, lines: pd.DataFrame) -> None:
    path = write(tmp_path, lines, date_format="%Y-%m-%d", mapped=True)
    mapping = {theirs: ours for ours, theirs in THEIRS.items()}
    mapped = read_orders(path, channel_map=mapping)
    assert mapped.lines["channel"].tolist() == lines["channel"].tolist()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # a name of the file's left unmapped: the value, the line, the allowed names, the flag
        (
            ["--channel-map", "Web=ecommerce", "--channel-map", "Rep=field"],
            ["'Phone' is not allowed", "line 3", "field, inside, distributor, ecommerce",
             "--channel-map THEIRS=ours"],
        ),
        (
            ["--channel-map", "Web=online"],
            ["--channel-map Web=online: 'online' is not a channel",
             "allowed: field, inside, distributor, ecommerce"],
        ),
        (["--channel-map", "ecommerce"], ["--channel-map 'ecommerce': expected THEIRS=ours"]),
        (
            ["--channel-map", "Web=ecommerce", "--channel-map", "Web=inside"],
            ["'Web' is already mapped to 'ecommerce'"],
        ),
    ],
)  # fmt: skip
def test_bad_channel_maps_are_named(
    tmp_path: Path, lines: pd.DataFrame, args: list[str], expected: list[str]
) -> None:
    path = write(tmp_path, lines, date_format="%Y-%m-%d", mapped=True)
    code, output = calibrate(path, tmp_path, *args)
    assert code == 2, output
    for text in expected:
        assert text in " ".join(output.split()), output


def test_channel_map_without_a_channel_column(tmp_path: Path, lines: pd.DataFrame) -> None:
    path = write(tmp_path, lines.drop(columns="channel"), date_format="%Y-%m-%d", mapped=False)
    code, output = calibrate(path, tmp_path, "--channel-map", "Web=ecommerce")
    assert code == 2 and "no channel column" in output


def test_backtest_reads_the_orders_the_same_way(tmp_path: Path, lines: pd.DataFrame) -> None:
    code, output = invoke("backtest", "--help")
    assert "--date-format" in output and "--channel-map" in output
    path = write(tmp_path, lines, date_format="%Y-%m-%d", mapped=True)
    code, output = invoke(
        "backtest", str(path), "--scenario", str(BASELINE), "--until", UNTIL,
        "--channel-map", "Web=online", "--out", str(tmp_path / "bt"),
    )  # fmt: skip
    assert code == 2 and "'online' is not a channel" in output
