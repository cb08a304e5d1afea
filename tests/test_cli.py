"""Command line (``python -m sim``) and Python API (``sim.run``, ``sim.load_results``).

The command-line invocations are real subprocesses. They are started together by one
module fixture (each pays the interpreter start-up once, in parallel) and checked by the
tests below.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import BASELINE, ROOT, SCENARIOS, SMALL
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments.runner import RunKey, simulate
from sim.metrics import SUMMARY, Unit
from sim.model.model import ChannelModel
from sim.results.tables import run_frame
from sim.results.verdict import display_scale
from sim.scenario.loader import with_changes

TIMESERIES_COLUMNS = [
    "scenario",
    "variant",
    "replication",
    "seed",
    "week",
    "revenue",
    "revenue_field",
    "revenue_inside",
    "revenue_distributor",
    "revenue_ecommerce",
    "gross_margin",
    "contribution_margin",
    "cost_to_serve",
    "active_customers",
    "churned_customers",
    "conflict_incidents",
    "distributors_active",
    "distributor_effort_mean",
    "channel_inventory_units",
    "sell_in_units",
    "sell_through_units",
    "ecommerce_adopters_share",
    "customer_effort_mean",
    "rep_selling_time",
    "channel_inventory_removed_units",
]
"""SPEC §6 ``timeseries.parquet`` columns."""

SUMMARY_COLUMNS = [
    "revenue",
    "gross_margin",
    "contribution_margin",
    "cost_to_serve",
    "churned_customers",
    "churn_rate_annual",
    "conflict_incidents",
    "active_customers_end",
    "distributors_active_end",
    "ecommerce_revenue_share",
    "sell_in_units",
    "sell_through_units",
    "channel_inventory_units_end",
    "npv_contribution",
    "customer_equity_end",
    "npv_contribution_with_terminal",
    "distributor_exit_share",
    "lines_lost_to_competitor",
    "terminal_value_share",
    "terminal_value",
    "customers_lost_to_competitor_lines_end",
]
"""SPEC §6 ``summary.csv`` columns, then ours."""

RUN_WEEKS, RUN_REPLICATIONS = 6, 2
TABLE_WIDTHS = (80, 120)
"""Terminal widths (``COLUMNS``) the printed tables are checked at."""


@dataclass
class Done:
    """A finished command."""

    args: list[str]
    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, Done]:
    """Start every command-line case at once; wait for all."""
    folder = tmp_path_factory.mktemp("cli")
    broken = folder / "broken.yaml"
    broken.write_text(f"extends: {BASELINE}\nmarket:\n  buyers: lots\n", encoding="utf-8")
    small_run = ["--set", "market.buyers=800", "--set", "market.prospects=100"]
    small_run += ["--set", f"horizon_weeks={RUN_WEEKS}", "--replications", str(RUN_REPLICATIONS)]
    cases = {
        "help": ["--help"],
        "validate_ok": ["validate", str(BASELINE)],
        "validate_broken": ["validate", str(broken)],
        "unknown_flag": ["run", str(BASELINE), "--bogus", "3"],
        "run": ["run", str(BASELINE), *small_run, "--seed", "42", "--out", str(folder / "out")],
    }
    tiny = ["--set", "market.buyers=300", "--set", "horizon_weeks=20", "--replications", "2"]
    widths: dict[str, str] = {}
    for width in TABLE_WIDTHS:
        for command, path in (("run", BASELINE), ("compare", SCENARIOS / "direct_shift.yaml")):
            name = f"{command}_{width}"
            out = ["--out", str(folder / name), "--no-report"]
            cases[name], widths[name] = [command, str(path), *tiny, *out], str(width)
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "sim", *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "NO_COLOR": "1",
                "PYTHONPATH": str(ROOT),
                **({"COLUMNS": widths[name]} if name in widths else {}),
            },
        )
        for name, args in cases.items()
    }
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        done[name] = Done(cases[name], process.returncode, stdout, stderr)
    done["run"].out = folder / "out"  # type: ignore[attr-defined]
    return done


def test_help(cli_runs):
    result = cli_runs["help"]
    assert result.code == 0, result.stderr
    for command in ("run", "compare", "validate"):
        assert command in result.stdout


def _table_rows(text: str) -> list[dict[str, str]]:
    """The rows of the tables rich drew in ``text``, each cell wrapped over lines joined again
    (a line with an empty ``mean`` continues the row above)."""
    rows: list[dict[str, str]] = []
    header_lines: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("┏"):
            header_lines, first = [], len(rows)
        elif line.startswith(("┃", "│")):
            cells = [c.strip() for c in line[1:-1].split(line[0])]
            if line[0] == "┃":
                header_lines.append(cells)
                continue
            headers = [" ".join(filter(None, column)) for column in zip(*header_lines, strict=True)]
            row = dict(zip(headers, cells, strict=True))
            if row["mean"] or len(rows) == first:
                rows.append(row)
            else:
                rows[-1] = {k: " ".join(filter(None, (v, row[k]))) for k, v in rows[-1].items()}
    return rows


@pytest.mark.parametrize("width", TABLE_WIDTHS)
@pytest.mark.parametrize("command", ["run", "compare"])
def test_tables_show_whole_metric_names_and_plain_scaled_numbers(cli_runs, command, width):
    result = cli_runs[f"{command}_{width}"]
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "…" not in out and "e+0" not in out and "e-0" not in out
    tables = [line for line in out.splitlines() if line[:1] in "┏┃┡│├└"]
    assert tables and max(len(line) for line in tables) <= width
    rows = _table_rows(out)
    headline = [m.label for m in SUMMARY if m.headline]
    variants = 1 + len(sim.load_study(SCENARIOS / "direct_shift.yaml").variants)
    if command == "run":  # one row a metric
        assert [r["metric"] for r in rows] == headline
    else:  # a metric's label on its first variant's row; then each variant against the first
        labels = [r["metric"] for r in rows if r["metric"]]
        assert labels == headline + headline * (variants - 1)
        assert len(rows) == len(headline) * (2 * variants - 1)
    number = re.compile(r"[+-]?\d{1,3}(,\d{3})*\.\d\d(M|k|%)?")
    for row in rows:
        assert number.fullmatch(row["mean"].rstrip("*")), row
        low, high = row["95% CI"].strip("[]").split(", ")
        assert number.fullmatch(low) and number.fullmatch(high), row


def test_validate_ok(cli_runs):
    result = cli_runs["validate_ok"]
    assert result.code == 0, result.stderr
    resolved = _yaml_of(result.stdout)  # stdout is a pipe: must be valid YAML, unwrapped
    assert resolved["name"] == "baseline"
    assert resolved["market"]["buyers"] == 20000
    assert "Traceback" not in result.stderr


def test_validate_broken_file(cli_runs):
    result = cli_runs["validate_broken"]
    assert result.code == 2
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr.strip()
    assert message.startswith("error:")
    assert "broken.yaml" in message and "market.buyers" in message and "'lots'" in message
    assert len(message.splitlines()) == 1  # one clear message
    assert result.stdout.strip() == ""


def test_validate_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "not found" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_flag(cli_runs):
    result = cli_runs["unknown_flag"]
    assert result.code == 2
    assert "--bogus" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["run", "compare", "validate"])
def test_bad_set_syntax(command, tmp_path):
    args = [command, str(BASELINE), "--set", "seed"]
    if command != "validate":
        args += ["--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "key.path=value" in result.stderr
    assert not (tmp_path / "timeseries.parquet").exists()


def test_run_missing_scenario(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


@pytest.mark.parametrize("flag", ["--replications=0", "--workers=0", "--seed=-1"])
def test_out_of_range_flags(flag, tmp_path):
    result = CliRunner().invoke(app, ["run", str(BASELINE), flag, "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_run_writes_outputs(cli_runs):
    result = cli_runs["run"]
    assert result.code == 0, result.stderr
    out: Path = result.out  # type: ignore[attr-defined]
    timeseries = pd.read_parquet(out / "timeseries.parquet")
    missing = set(TIMESERIES_COLUMNS) - set(timeseries.columns)
    assert not missing, missing
    assert len(timeseries) == RUN_WEEKS * RUN_REPLICATIONS
    assert sorted(timeseries["replication"].unique()) == list(range(RUN_REPLICATIONS))
    assert (timeseries["seed"] == 42).all()
    assert (timeseries["scenario"] == "baseline").all()
    assert (
        timeseries.groupby("replication")["week"]
        .apply(list)
        .map(lambda w: w == list(range(1, RUN_WEEKS + 1)))
        .all()
    )

    summary = pd.read_csv(out / "summary.csv")
    missing = set(SUMMARY_COLUMNS) - set(summary.columns)
    assert not missing, missing
    assert len(summary) == RUN_REPLICATIONS
    for replication, rows in timeseries.groupby("replication"):
        row = summary[summary["replication"] == replication].iloc[0]
        assert row["revenue"] == pytest.approx(rows["revenue"].sum(), rel=1e-12)
        assert row["active_customers_end"] == rows["active_customers"].iloc[-1]

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"] == "baseline"
    assert manifest["seed"] == 42
    assert manifest["resolved_scenario"]["market"]["buyers"] == 800
    assert manifest["resolved_scenario"]["horizon_weeks"] == RUN_WEEKS
    assert len(manifest["scenario_hash"]) == 64
    assert "numpy" in manifest["versions"]


def test_run_output_matches_a_fresh_simulation(cli_runs):
    """The CLI's replication 1 equals the same replication simulated here, alone."""
    out: Path = cli_runs["run"].out  # type: ignore[attr-defined]
    timeseries = pd.read_parquet(out / "timeseries.parquet")
    scenario = sim.load_scenario(
        BASELINE,
        ["market.buyers=800", "market.prospects=100", f"horizon_weeks={RUN_WEEKS}"],
    )
    expected = run_frame(scenario.name, simulate(scenario, RunKey("baseline", 1, 42)))
    got = timeseries[timeseries["replication"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)


# --------------------------------------------------------------------------- in-process


COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_validate_every_shipped_scenario(path):
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_with_set_prints_resolved():
    result = CliRunner().invoke(app, ["validate", str(BASELINE), "--set", "seed=9"])
    assert result.exit_code == 0
    assert _yaml_of(result.stdout)["seed"] == 9


LEVER_ROWS = {
    "policy.channel_plan": "{product: widget, segment: smb, from: distributor, to: ecommerce, "
    "start_week: %d, ramp_weeks: 4}",
    "policy.trade_promotions": "{product: widget, discount: 0.1, start_week: %d, weeks: 3}",
    "campaigns": "{name: spring, start_week: %d, weeks: 2, cost_weekly: 100.0}",
}
"""One row of each list whose ``start_week`` must fall within the horizon, by key path."""


def _lever_file(write_yaml, minimal_yaml, key: str, start_week: int) -> Path:
    row = LEVER_ROWS[key] % start_week
    block = f"policy:\n  {key.removeprefix('policy.')}" if "." in key else key
    text = f"{minimal_yaml}horizon_weeks: 10\n{block}: [{row}]\n"
    return write_yaml(f"{key}.yaml", text)


@pytest.mark.parametrize("key", sorted(LEVER_ROWS))
def test_a_lever_starting_after_the_horizon_is_refused(key, write_yaml, minimal_yaml):
    path = _lever_file(write_yaml, minimal_yaml, key, start_week=11)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: {key}.0.start_week: week 11 is after the horizon "
        "(horizon_weeks 10), so it would never act; allowed: 1..10, or a longer horizon_weeks"
    )
    assert result.stdout == ""


@pytest.mark.parametrize("key", sorted(LEVER_ROWS))
def test_a_lever_starting_in_the_last_week_is_accepted_and_acts(key, write_yaml, minimal_yaml):
    """Weeks run 1..horizon_weeks: a row starting in week 10 of 10 acts in that week."""
    path = _lever_file(write_yaml, minimal_yaml, key, start_week=10)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    model = ChannelModel(sim.load_scenario(path), 1)
    model.run()
    assert model.week == 10
    if key == "policy.trade_promotions":
        assert model.sell_in_discount.tolist() == [0.1]  # the discount of week 10
    elif key == "campaigns":
        assert model.ledger.rows["campaign_costs"][-2:].tolist() == [0.0, 100.0]
    else:
        assert model.plan.moved_share(10).tolist() == [0.25]  # 1 of 4 ramp weeks done
        assert model.plan.moved_share(9).tolist() == [0.0]


def test_a_horizon_shortened_elsewhere_is_named_with_the_start_week():
    result = CliRunner().invoke(
        app, ["validate", str(SCENARIOS / "direct_shift.yaml"), "--set", "horizon_weeks=12"]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {SCENARIOS / 'direct_shift.yaml'}: policy.channel_plan.0.start_week: week 13 "
        "is after the horizon (horizon_weeks 12), so it would never act; allowed: 1..12, or a "
        "longer horizon_weeks (horizon_weeks set in --set)"
    )


def _yaml_of(text: str) -> dict:
    return yaml.safe_load(text)


# --------------------------------------------------------------------------- Python API


@pytest.fixture(scope="module")
def api_results(tmp_path_factory) -> sim.Results:
    out = tmp_path_factory.mktemp("api") / "baseline"
    return sim.run(BASELINE, overrides=[*SMALL, "horizon_weeks=10"], out=out)


def test_api_run_returns_frames(api_results):
    assert isinstance(api_results, sim.Results)
    assert isinstance(api_results.timeseries, pd.DataFrame)
    assert isinstance(api_results.summary, pd.DataFrame)
    assert len(api_results.timeseries) == 2 * 10
    assert len(api_results.summary) == 2
    assert set(TIMESERIES_COLUMNS) <= set(api_results.timeseries.columns)
    assert set(SUMMARY_COLUMNS) <= set(api_results.summary.columns)


def test_load_results_reads_back_equal(api_results):
    loaded = sim.load_results(api_results.path)
    pd.testing.assert_frame_equal(loaded.timeseries, api_results.timeseries)
    pd.testing.assert_frame_equal(
        loaded.summary, api_results.summary, check_exact=False, rtol=1e-12, atol=0
    )
    assert loaded.manifest["scenario_hash"] == api_results.manifest["scenario_hash"]


def test_load_results_of_a_non_results_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        sim.load_results(tmp_path)


def test_rerun_resumes_with_identical_output(api_results):
    again = sim.run(BASELINE, overrides=[*SMALL, "horizon_weeks=10"], out=api_results.path)
    assert again.manifest["resumed_runs"] == 2
    pd.testing.assert_frame_equal(again.timeseries, api_results.timeseries)


def test_api_accepts_a_scenario_object(small_scenario, tmp_path):
    scenario = with_changes(small_scenario, {"horizon_weeks": 4, "replications": 1}, source="test")
    results = sim.run(scenario, out=tmp_path, seed=3)
    assert len(results.timeseries) == 4
    assert (results.timeseries["seed"] == 3).all()


def test_api_bad_scenario_raises_scenario_error(tmp_path):
    with pytest.raises(sim.ScenarioError):
        sim.run(BASELINE, overrides=["market.buyers=-1"], out=tmp_path)


def test_the_layout_and_entry_points_are_the_spec_s():
    """SPEC section 2 and 5 against the repository itself: the fixed top level is there, the
    distribution is ``channel-sim`` and its console script runs the same entry point as
    ``python -m sim`` (which the help test runs as a real subprocess), and ``results/`` is
    ignored by git except its README (``git check-ignore`` says so, not a reading of the
    ignore file here).
    """
    for entry in ("pyproject.toml", "README.md", ".ci/run", "docs/ODD.md"):
        assert (ROOT / entry).is_file(), entry
    for folder in ("sim", "scenarios", "results", "tests", "benchmarks", "docs"):
        assert (ROOT / folder).is_dir(), folder
    assert (SCENARIOS / "baseline.yaml").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "channel-sim"
    module, _, function = project["scripts"]["channel-sim"].partition(":")
    entry = getattr(importlib.import_module(module), function)
    main_source = (ROOT / "sim" / "__main__.py").read_text(encoding="utf-8")
    assert f"from {module} import {function}" in main_source
    assert callable(entry)

    def ignored(path: str) -> bool:
        check = ["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", path]
        return subprocess.run(check, check=False).returncode == 0

    assert ignored("results/some_scenario/summary.csv")
    assert not ignored("results/README.md")


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["validate"],
        ["run"],
        ["run", "{tmp}/nope.yaml", "--out", "{tmp}/o"],
        ["run", str(BASELINE), "--set", "market.buyers=300", "--out", "{tmp}/a_file"],
        ["validate", "{tmp}"],
    ],
    ids=["unknown-command", "validate-no-arg", "run-no-arg", "missing", "out-is-file", "dir"],
)
def test_bad_input_exits_2(args, tmp_path):
    (tmp_path / "a_file").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)


def test_summary_agrees_with_the_channel_pnl_and_the_agents_of_a_fresh_model(api_results):
    """Each summary.csv row against numbers computed elsewhere: its revenue and contribution
    margin are the sums of that run's channel_pnl.csv rows (the per-line P&L, SPEC section 6),
    its e-commerce share is the e-commerce rows' revenue over that, and its end state (active
    distributors, channel stock, churned accounts) is what the agents of the same run, rebuilt
    here from its seed (one SeedSequence per run, spawned per replication), hold at the end.
    Deterministic.
    """
    scenario = sim.load_scenario(BASELINE, [*SMALL, "horizon_weeks=10"])
    pnl = pd.read_csv(api_results.path / "channel_pnl.csv")
    for _, row in api_results.summary.iterrows():
        lines = pnl[pnl["replication"] == row["replication"]]
        scale = abs(row["revenue"])
        assert row["revenue"] == pytest.approx(lines["revenue"].sum(), rel=1e-12)
        assert row["contribution_margin"] == pytest.approx(
            lines["contribution_margin"].sum(), abs=1e-12 * scale
        )
        web = lines.loc[lines["channel"] == "ecommerce", "revenue"].sum()
        assert row["ecommerce_revenue_share"] == pytest.approx(web / row["revenue"], rel=1e-12)
        seed = np.random.SeedSequence(int(row["seed"]), spawn_key=(int(row["replication"]),))
        model = sim.ChannelModel(scenario, seed)
        model.run()
        assert model.ledger.rows["revenue"].sum() == pytest.approx(row["revenue"], rel=1e-12)
        assert row["distributors_active_end"] == sum(d.active for d in model.distributors)
        stock = sum(float(d.stock_units.sum()) for d in model.distributors)
        assert row["channel_inventory_units_end"] == pytest.approx(stock, rel=1e-12)
        assert row["churned_customers"] == model.ledger.rows["churned_customers"][-1]


def test_summary_churn_rate_is_the_hazard_the_scenario_sets(tmp_path):
    """Theory: with effort unable to raise churn (``effort_churn_multiplier`` 1), no new
    accounts (no inbound, no prospects, no reps), no purchase-process dropout and no line a
    distributor moves to its competitor's (an account with all its lines there is lost too), every
    account churns at the constant hazard of ``base_churn_annual`` = 0.30, so the summary's
    annualised churn rate over a year is 0.30 up to binomial noise: SD sqrt(0.3 x 0.7 /
    4,000) = 0.0072; checked within 4 SD (false failure < 1e-4); measured when written 0.291
    (1.2 SD low). A hazard 15% off (0.045) fails at 6 SD. And at a zero discount rate the
    NPV of the contribution is its plain sum.
    """
    results = sim.run(
        BASELINE,
        overrides=[
            "market.buyers=4000",
            "market.prospects=0",
            "market.inbound_accounts_annual=0",
            "market.base_churn_annual=0.3",
            "market.effort_churn_multiplier=1",
            "distributors.retaliation_steer=0",
            "reps.field.count=0",
            "reps.inside.count=0",
            "horizon_weeks=52",
            "replications=1",
            "discount_rate_annual=0",
        ],
        out=tmp_path / "churn",
    )
    row = results.summary.iloc[0]
    assert row["churn_rate_annual"] == pytest.approx(0.30, abs=4 * np.sqrt(0.3 * 0.7 / 4000))
    assert row["npv_contribution"] == pytest.approx(row["contribution_margin"], rel=1e-12)


def test_summary_columns_are_the_spec_s_in_order(api_results):
    on_disk = pd.read_csv(api_results.path / "summary.csv")
    assert list(on_disk.columns) == ["scenario", "variant", "replication", "seed", *SUMMARY_COLUMNS]


# --------------------------------------------------------------------------- never lose work


def _tiny_run(out: Path, *extra: str) -> list[str]:
    sets = ["market.buyers=300", "market.prospects=50", "horizon_weeks=3", "replications=1"]
    return ["run", str(BASELINE), *(a for s in sets for a in ("--set", s)), "--out", str(out)]


def test_a_folder_of_another_scenario_is_refused_then_overwritten(tmp_path):
    out = tmp_path / "results"
    first = CliRunner().invoke(app, [*_tiny_run(out), "--no-report"])
    assert first.exit_code == 0, first.output
    kept = sorted((out / "runs").glob("*.parquet"))
    before = {p: p.read_bytes() for p in [*kept, out / "timeseries.parquet", out / "summary.csv"]}
    old_hash = json.loads((out / "manifest.json").read_text())["scenario_hash"]

    other = [*_tiny_run(out), "--set", "seed=7", "--no-report"]
    refused = CliRunner().invoke(app, other)
    assert refused.exit_code == 2
    message = " ".join(refused.stderr.split())
    assert "Traceback" not in refused.output
    assert str(out) in message and "--overwrite" in message
    assert old_hash[:12] in message and "'baseline'" in message
    assert {p: p.read_bytes() for p in before} == before  # nothing lost, nothing rewritten

    replaced = CliRunner().invoke(app, [*other, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario_hash"] != old_hash and manifest["seed"] == 7
    assert manifest["resumed_runs"] == 0
    assert (pd.read_parquet(out / "timeseries.parquet")["seed"] == 7).all()


def test_the_python_api_refuses_too_and_overwrite_is_a_keyword(tmp_path):
    from sim.results.store import ResultsFolderError

    sets = ["market.buyers=300", "market.prospects=50", "horizon_weeks=3", "replications=1"]
    sim.run(BASELINE, overrides=sets, out=tmp_path)
    with pytest.raises(ResultsFolderError, match="overwrite"):
        sim.run(BASELINE, overrides=[*sets, "horizon_weeks=4"], out=tmp_path)
    results = sim.run(BASELINE, overrides=[*sets, "horizon_weeks=4"], out=tmp_path, overwrite=True)
    assert results.timeseries["week"].max() == 4


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_every_study_option_is_a_flag_and_a_keyword(command):
    import dataclasses
    import inspect

    from sim.experiments.options import StudyOptions

    function = getattr(sim, command)
    parameters = inspect.signature(function).parameters
    help_text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    for option in dataclasses.fields(StudyOptions):
        assert parameters[option.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[option.name].default == option.default
        assert option.metadata.get("flag", f"--{option.name}") in help_text, option.name
        assert option.metadata["help"].split()[0] in help_text, option.name
    with pytest.raises(TypeError, match="bogus"):
        function(BASELINE, bogus=1)


@pytest.mark.parametrize(
    ("unit", "value", "shown"),
    [
        (Unit.CURRENCY, 5.083e7, "50.83M"),
        (Unit.CURRENCY, -4_022.0, "-4.02k"),
        (Unit.CURRENCY, 12.5, "12.50"),
        (Unit.UNITS, 2_500.0, "2.50k"),
        (Unit.UNITS, 999.0, "999.00"),
        (Unit.SHARE, 0.0038, "0.38%"),
        (Unit.ACCOUNTS, 5e6, "5,000,000.00"),  # no scale for accounts: as they are
    ],
)
def test_a_number_is_shown_at_the_largest_scale_it_reaches(unit, value, shown):
    scale, suffix = display_scale(unit, value)
    assert f"{value / scale:,.2f}{suffix}" == shown


def test_the_verdict_names_only_differences_the_replications_can_tell_apart():
    """Three variants against the plan as written: one better (its interval above 0), one
    worse (below 0), one straddling 0; the best is the better one, and churn and exits are
    reported beside each. The NPV of the weeks simulated and the terminal value come first
    where the comparison has them, and a judgement the weeks simulated do not share says it
    rests on the terminal value. The judgements are worked out by hand from the intervals."""
    import pandas as pd

    from sim.results.verdict import verdict_lines

    def row(variant, metric, mean, low, high):
        return {
            "variant": variant,
            "metric": metric,
            "mean_difference": mean,
            "ci_low": low,
            "ci_high": high,
            "n": 10,
            "distinguishable": low > 0 or high < 0,
        }

    npv = "npv_contribution_with_terminal"
    comparison = pd.DataFrame(
        [
            row("status_quo", npv, 5.8e6, 2.0e6, 9.6e6),
            row("fast", npv, -4.5e6, -5.4e6, -3.5e6),
            row("slow", npv, -1.5e6, -5.1e6, 2.2e6),
            row("status_quo", "churn_rate_annual", -0.0045, -0.006, -0.003),
            row("status_quo", "distributor_exit_share", -0.1, -0.3, 0.1),
            row("status_quo", "npv_contribution", 0.8e6, -0.4e6, 2.0e6),
            row("status_quo", "terminal_value", 5.0e6, 2.4e6, 7.6e6),
            row("fast", "npv_contribution", -1.1e6, -1.9e6, -0.3e6),
        ]
    )
    lines = verdict_lines(comparison, "baseline")
    assert lines[1].startswith(
        "  status_quo: NPV of contribution +0.80M [-0.40, +2.00]; terminal value (customer"
        " equity, discounted) +5.00M [+2.40, +7.60]; with terminal value +5.80M [+2.00, +9.60]"
        " (status_quo is better, only with the terminal value"
    )
    assert "(baseline is better; n" in lines[2]  # the weeks simulated say the same
    assert "churn rate per year -0.45% [-0.60, -0.30]" in lines[1]
    assert "share of distributors exited -10.00% [-30.00, +10.00]" in lines[1]
    assert "(baseline is better" in lines[2]
    assert "(not told apart" in lines[3]
    assert lines[-1] == "  best: status_quo (+5.80M [+2.00, +9.60])"
    only_noise = comparison[comparison["variant"] == "slow"]
    assert verdict_lines(only_noise, "baseline")[-1].startswith("  no variant beats")


def test_optimize_does_not_offer_the_replications_it_refuses(tmp_path):
    help_text = CliRunner().invoke(app, ["optimize", "--help"], env={"COLUMNS": "200"}).output
    assert "--trials" in help_text and "--replications" not in help_text
    args = ["optimize", str(SCENARIOS / "direct_shift.yaml"), "--replications", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "optimize.replications" in result.output  # still explained


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(BASELINE), "--set", "market.buyer=300"],
        ["compare", str(SCENARIOS / "direct_shift.yaml"), "--set", "variants.fast.nope=1"],
        ["sweep", str(SCENARIOS / "direct_shift.yaml"), "--set", "sweep.samples=0"],
        ["optimize", str(SCENARIOS / "direct_shift.yaml"), "--set", "optimize.trials=0"],
        ["optimize", str(SCENARIOS / "direct_shift.yaml"), "--replications", "3"],
    ],
    ids=["run", "compare", "sweep", "optimize", "optimize-flag"],
)
def test_an_input_error_shows_no_progress_bar_first(args, tmp_path):
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "0/?" not in result.output, result.output
