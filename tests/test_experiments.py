"""Experiments at scale: executors agree bit for bit, compare, sweeps, resume, statistics."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.experiments import runner
from sim.experiments.study import RunsFailedError
from sim.experiments.sweep import design, sample_cells, sensitivity
from sim.results.stats import mean_ci
from sim.results.store import ResultsFolderError
from sim.scenario.loader import ScenarioError, load_scenario, load_study
from sim.scenario.schema import Sweep

ROOT = Path(__file__).resolve().parents[1]
DIRECT_SHIFT = ROOT / "scenarios" / "direct_shift.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"

QUICK = (
    "market.buyers=1000",
    "horizon_weeks=26",
    "reps.field.count=4",
    "reps.inside.count=2",
)
"""Overrides that make the direct-shift case run in under a second per replication."""

SHIFT = """\
policy:
  channel_plan:
    - {product: consumables, segment: small_business, from: distributor, to: ecommerce,
       start_week: 3, ramp_weeks: 26, share: 0.6}
"""
"""A channel shift on top of the baseline (direct_shift.yaml has variants and a sweep that
would merge into a test's own)."""

SWEEP_YAML = f"""\
extends: {BASELINE}
name: quick_sweep
horizon_weeks: 13
replications: 2
market: {{buyers: 1000}}
reps: {{field: {{count: 4}}, inside: {{count: 2}}}}
{SHIFT}
sweep:
  method: sobol
  samples: 2
  parameters:
    policy.channel_plan.0.ramp_weeks: [4, 104]
    policy.distributor_referral_fee: [0, 0.1]
  outputs: [contribution_margin, churn_rate_annual]
"""
"""A 2-parameter Sobol' sweep: N=2 gives 2 * (2*2 + 2) = 12 samples, x 2 replications."""

cli = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def single_process(tmp_path_factory: pytest.TempPathFactory) -> sim.Results:
    out = tmp_path_factory.mktemp("single")
    return sim.run(DIRECT_SHIFT, overrides=QUICK, replications=3, out=out, workers=1)


# --------------------------------------------------------------------------- executors


def test_local_dask_cluster_equals_single_process(single_process, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        on_dask = sim.run(
            DIRECT_SHIFT,
            overrides=QUICK,
            replications=3,
            out=tmp_path,
            scheduler=cluster.scheduler_address,
        )
    assert on_dask.timeseries.equals(single_process.timeseries)
    assert on_dask.summary.equals(single_process.summary)
    assert on_dask.manifest["scheduler"] == cluster.scheduler_address


def test_two_local_workers_equal_one(single_process, tmp_path):
    two = sim.run(DIRECT_SHIFT, overrides=QUICK, replications=3, out=tmp_path, workers=2)
    assert two.timeseries.equals(single_process.timeseries)
    assert two.summary.equals(single_process.summary)
    # replications really differ: the seeds are spawned per replication
    revenue = single_process.summary["revenue"]
    assert revenue.nunique() == len(revenue)


def test_unreachable_scheduler_is_a_clear_exit_2(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    start = time.perf_counter()
    result = cli.invoke(
        app,
        ["run", str(DIRECT_SHIFT), *_sets(QUICK), "--out", str(tmp_path), "--scheduler", address],
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler" in result.output
    assert "Traceback" not in result.output
    assert time.perf_counter() - start < 10
    with pytest.raises(runner.SchedulerUnreachableError):
        runner.connect("not an address", timeout=1)


def test_failed_run_is_recorded_and_retried(tmp_path, monkeypatch):
    real = runner.simulate

    def flaky(scenario, key):
        if key.replication == 1:
            raise RuntimeError("boom")
        return real(scenario, key)

    # 13 weeks: the plan starts in week 13
    options = {"overrides": (*QUICK, "horizon_weeks=13"), "replications": 3, "out": tmp_path}
    monkeypatch.setattr(runner, "simulate", flaky)
    with pytest.raises(RunsFailedError, match="1 of 3 runs failed"):
        sim.run(DIRECT_SHIFT, **options)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["failed_runs"]) == ["baseline_r0001"]
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == 2
    args = ["run", str(DIRECT_SHIFT), *_sets(options["overrides"]), "--replications", "3"]
    failed = cli.invoke(app, [*args, "--out", str(tmp_path), "--no-report"])
    assert failed.exit_code == 1
    assert "1 of 3 runs failed" in failed.output
    assert "Traceback" not in failed.output
    monkeypatch.setattr(runner, "simulate", real)
    results = sim.run(DIRECT_SHIFT, **options)
    assert results.manifest["resumed_runs"] == 2
    assert results.manifest["failed_runs"] == {}
    assert sorted(results.summary["replication"]) == [0, 1, 2]


# --------------------------------------------------------------------------- compare


def test_a_vs_a_compare_gives_exactly_zero_differences(tmp_path):
    scenario = _write(
        tmp_path / "a_vs_a.yaml",
        f"""\
extends: {BASELINE}
name: a_vs_a
variants:
  same: {{policy.distributor_referral_fee: 0.0}}   # the value it already has
{SHIFT}""",
    )
    results = sim.compare(
        scenario, overrides=(*QUICK, "horizon_weeks=13"), replications=3, out=tmp_path / "out"
    )
    table = results.comparison
    assert set(table["variant"]) == {"same"}
    assert (table["n"] == 3).all()
    for column in ("mean_difference", "ci_low", "ci_high"):
        assert (table[column] == 0.0).all(), table[["metric", column]]
    assert not table["distinguishable"].any()
    assert (tmp_path / "out" / "comparison.csv").is_file()


def test_compare_writes_the_timeseries_once_from_the_run_files(tmp_path, monkeypatch):
    """One write of timeseries.parquet; it and the summary equal the run files combined here."""
    from sim.results import store
    from sim.results.tables import summarise

    scenario = _write(
        tmp_path / "fee.yaml",
        f"""\
extends: {BASELINE}
name: fee
variants:
  fee: {{policy.distributor_referral_fee: 0.05}}
{SHIFT}""",
    )
    written: list[str] = []
    real = store.atomic_write

    def counting(path, write):
        written.append(path.name)
        real(path, write)

    monkeypatch.setattr(store, "atomic_write", counting)
    out = tmp_path / "out"
    results = sim.compare(scenario, overrides=(*QUICK, "horizon_weeks=6"), replications=2, out=out)
    assert written.count("timeseries.parquet") == 1
    assert written.count("comparison.csv") == 1

    files = [out / run["file"] for run in results.manifest["runs"]]
    combined = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(files) == 4 and len(combined) == 4 * 6
    assert pd.read_parquet(out / "timeseries.parquet").equals(combined)
    rate = load_scenario(scenario).discount_rate_annual
    pd.testing.assert_frame_equal(results.summary, summarise(combined, rate), check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "summary.csv"), results.summary, check_exact=False, rtol=1e-15
    )


# --------------------------------------------------------------------------- sweeps


def test_sweep_killed_mid_way_resumes_every_run_exactly_once(tmp_path):
    scenario = _write(tmp_path / "sweep.yaml", SWEEP_YAML)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "sim", "sweep", str(scenario), "--out", str(out)]
    env = {**os.environ, "COLUMNS": "120"}
    job = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    try:
        while len(list((out / "runs").glob("*.parquet"))) < 4:
            assert job.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no runs written"
            time.sleep(0.05)
        job.send_signal(signal.SIGKILL)
    finally:
        job.kill()
        job.wait()
    killed_at = len(list((out / "runs").glob("*.parquet")))
    assert killed_at < 24

    result = cli.invoke(app, ["sweep", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    resumed = sim.load_results(out)
    assert resumed.manifest["resumed_runs"] == killed_at
    assert not list(out.rglob("*.tmp"))
    assert len(list((out / "runs").glob("*.parquet"))) == 24

    summary = resumed.summary
    assert len(summary) == 24
    assert not summary.duplicated(["sample", "replication"]).any()
    assert sorted(summary["sample"].unique()) == list(range(12))
    assert resumed.timeseries.groupby(["sample", "replication"]).size().eq(13).all()

    fresh = sim.sweep(scenario, out=tmp_path / "fresh", workers=2)
    pd.testing.assert_frame_equal(resumed.timeseries, fresh.timeseries)
    assert resumed.timeseries.equals(fresh.timeseries)
    pd.testing.assert_frame_equal(resumed.summary, fresh.summary)
    fresh_on_disk = sim.load_results(tmp_path / "fresh")
    pd.testing.assert_frame_equal(resumed.sensitivity, fresh_on_disk.sensitivity)

    # the contract of the sweep outputs
    ramp, fee = "policy.channel_plan.0.ramp_weeks", "policy.distributor_referral_fee"
    for table in (fresh.timeseries, fresh.summary):
        assert {"sample", ramp, fee} <= set(table.columns)
    assert pd.api.types.is_integer_dtype(fresh.summary[ramp])
    assert fresh.summary[ramp].between(4, 104).all()
    # common random numbers: replication i has the same seed in every sample
    seeds = fresh.manifest["runs"]
    assert {(r["replication"], r["seed"]) for r in seeds} == {(0, 20261123), (1, 20261123)}
    sens = pd.read_csv(tmp_path / "fresh" / "sensitivity.csv")
    assert list(sens.columns[:6]) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert len(sens) == 2 * 2


def test_sweep_int_keys_are_rounded_and_bad_bounds_are_clear_errors(tmp_path):
    scenario = load_scenario(DIRECT_SHIFT, QUICK)
    grid = Sweep(
        method="grid",
        samples=3,
        parameters={
            "policy.channel_plan.0.ramp_weeks": (4, 9),
            "distributors.alternative_margin": (0.15, 0.3),
        },
    )
    cells = sample_cells(scenario, design(grid))
    assert len(cells) == 9
    ramps = {cell.columns["policy.channel_plan.0.ramp_weeks"] for cell in cells}
    assert ramps == {4, 6, 9}  # 6.5 rounds half to even
    assert all(isinstance(r, int) for r in ramps)
    assert cells[4].scenario.policy.channel_plan[0].ramp_weeks == 6
    assert cells[4].scenario.distributors.alternative_margin == pytest.approx(0.225)

    bad = Sweep(method="lhs", samples=4, parameters={"policy.distributor_referral_fee": (0, 2)})
    with pytest.raises(ScenarioError, match=r"sweep\.parameters: policy\.distributor_referral"):
        sample_cells(scenario, design(bad, seed=1))

    no_sweep = cli.invoke(app, ["sweep", str(BASELINE), "--out", str(tmp_path)])
    assert no_sweep.exit_code == 2
    assert "no sweep block" in no_sweep.output


def test_direct_shift_sweep_block_resolves():
    study = load_study(DIRECT_SHIFT)
    assert study.sweep is not None
    plan = design(study.sweep, seed=study.scenario.seed)
    d = len(study.sweep.parameters)
    assert plan.points.shape == (study.sweep.samples * (2 * d + 2), d)
    cells = sample_cells(study.scenario, plan)
    assert all(isinstance(c.columns["policy.channel_plan.0.ramp_weeks"], int) for c in cells)


# --------------------------------------------------------------------------- statistics


def _ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function():
    bounds = (-np.pi, np.pi)
    block = Sweep(
        method="sobol", samples=1024, parameters=dict.fromkeys(("x1", "x2", "x3"), bounds)
    )
    plan = design(block, seed=7)
    assert plan.points.shape == (1024 * 8, 3)
    table = sensitivity(plan, {"y": _ishigami(plan.points)}, seed=7).set_index("parameter")
    np.testing.assert_allclose(table["S1"], [0.3139, 0.4424, 0.0], atol=0.04)
    np.testing.assert_allclose(table["ST"], [0.5576, 0.4424, 0.2437], atol=0.04)
    assert (table["S1_conf"] > 0).all() and (table["S1_conf"] < 0.1).all()


def test_regression_coefficients_of_a_linear_function():
    block = Sweep(method="lhs", samples=200, parameters={"a": (0, 1), "b": (0, 1), "c": (0, 1)})
    plan = design(block, seed=3)
    y = 3 * plan.points[:, 0] + 1 * plan.points[:, 1]
    table = sensitivity(plan, {"y": y}).set_index("parameter")
    np.testing.assert_allclose(table["R2"], 1.0)
    spread = plan.points.std(axis=0)
    ratio = table["SRC"].iloc[0] / table["SRC"].iloc[1]
    np.testing.assert_allclose(ratio, 3 * spread[0] / spread[1])
    np.testing.assert_allclose(table["SRC"].iloc[2], 0.0, atol=1e-9)
    assert (table["SRC_conf"] < 1e-6).all()  # an exact fit leaves no doubt


def test_mean_ci_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(20261123)
    repeats, n, true_mean = 4000, 8, 3.0
    draws = rng.normal(true_mean, 2.0, size=(repeats, n))
    covered = 0
    for sample in draws:
        _, low, high = mean_ci(sample)
        covered += low <= true_mean <= high
    tolerance = 3.5 * np.sqrt(0.95 * 0.05 / repeats)  # binomial, ~3.5 sigma
    assert abs(covered / repeats - 0.95) < tolerance
    assert mean_ci(np.array([1.0]))[1] != mean_ci(np.array([1.0]))[1]  # NaN when n < 2


def _sets(overrides: tuple[str, ...]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


# --------------------------------------------------------------------------- the Python API


TINY = ["market.buyers=300", "market.prospects=50", "horizon_weeks=3", "replications=1"]
"""A run of a second or so."""


def test_a_refused_folder_speaks_the_caller_s_language_and_names_what_differs(tmp_path):
    """After `make run`-like work in a folder, the README's Python call with other options is
    refused: in Python the message gives ``out=`` and ``overwrite=True`` (not the flags), on the
    command line the flags; both say which keys of the two resolved scenarios differ."""
    sim.run(BASELINE, overrides=TINY, out=tmp_path)
    with pytest.raises(ResultsFolderError) as refused:
        sim.run(BASELINE, overrides=[*TINY, "horizon_weeks=4"], replications=2, out=tmp_path)
    message = str(refused.value)
    assert 'out="' in message and "overwrite=True" in message
    assert "--out" not in message and "--overwrite" not in message
    assert "horizon_weeks: 3 -> 4" in message and "replications: 1 -> 2" in message
    assert "scenario.name" not in message  # same name: only what differs

    args = ["run", str(BASELINE), *(a for s in TINY for a in ("--set", s)), "--out", str(tmp_path)]
    result = cli.invoke(app, [*args, "--set", "seed=7", "--no-report"])
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "--out DIR" in text and "--overwrite" in text and "overwrite=True" not in text
    assert "seed: 20261123 -> 7" in text


def test_printing_results_is_short_and_says_how_to_get_the_tables(tmp_path):
    results = sim.compare(
        BASELINE,
        overrides=[*TINY, "variants={fee: {policy.distributor_referral_fee: 0.05}}"],
        out=tmp_path,
    )
    text = repr(results)
    assert len(text) < 1000 and text.count("\n") < 10
    for expected in (str(tmp_path), "'baseline'", "compare", "2 variants", "baseline, fee"):
        assert expected in text, expected
    for table in (".summary", ".comparison", ".timeseries", ".channel_pnl", ".manifest"):
        assert table in text, table
    again = sim.load_results(tmp_path)
    assert repr(again).splitlines()[1:] == text.splitlines()[1:]
    assert "timeseries" not in vars(again)  # printing reads no weekly rows
