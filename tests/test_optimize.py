"""``channel-sim optimize``: the search, its resumption, CRN, constraints, PRIM, the command."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.dashboard import live
from sim.experiments.candidates import Job, model_evaluator
from sim.experiments.optimize import feasible, ranked, recommended_changes, search
from sim.experiments.stress import prim_box
from sim.scenario.loader import load_scenario, load_study, with_changes
from sim.scenario.schema import Optimize
from tests.conftest import SCENARIOS

TOY = {
    "levers": {"a": [0.0, 1.0], "b": [0, 10], "c": ["x", "y"]},
    "objectives": {"npv_contribution": "maximize"},
    "trials": 60,
    "replications": 2,
    "batch": 6,
}
"""A toy search: three levers, a known optimum at a = 0.3, b = 7, c = y."""


def toy(jobs: Sequence[Job]) -> list[dict[str, float]]:
    """Concave in a and b, +0.2 for c = y; replication noise common to every candidate (CRN)."""
    out = []
    for levers, replication in jobs:
        noise = np.random.default_rng(replication).normal(0.0, 0.05)
        value = -((levers["a"] - 0.3) ** 2) - 0.01 * (levers["b"] - 7) ** 2
        value += 0.2 * (levers["c"] == "y") + noise
        out.append({"npv_contribution": value, "churn_rate_annual": levers["a"]})
    return out


@pytest.mark.parametrize("seed", range(5))
def test_search_finds_the_known_optimum_of_a_toy_objective(seed: int) -> None:
    block = Optimize.model_validate(TOY)
    best = ranked(search(block, toy, replications=[0, 1], seed=seed), block)[0]
    # the objective drops by <= 0.01 within 0.1 of a* and one step of b*: near-optimal
    assert abs(best.levers["a"] - 0.3) < 0.1
    assert abs(best.levers["b"] - 7) <= 1
    assert best.levers["c"] == "y"


@pytest.mark.parametrize("seed", range(3))
def test_a_constraint_binding_at_the_optimum_is_never_violated(seed: int) -> None:
    # churn = a <= 0.15 excludes the unconstrained optimum a = 0.3: the best is at the bound
    block = Optimize.model_validate({**TOY, "constraints": ["churn_rate_annual <= 0.15"]})
    candidates = search(block, toy, replications=[0, 1], seed=seed)
    best = ranked(candidates, block)
    assert any(not feasible(c, block) for c in candidates)  # the constraint did bind
    assert best and all(c.levers["a"] <= 0.15 for c in best)
    assert best[0].levers["a"] > 0.05


def test_several_objectives_give_a_pareto_front_ranked_first() -> None:
    # NSGA-II on (maximise the toy, minimise a): the front found must be non-dominated, and
    # ranked() must put it first; checked here against a direct pairwise comparison
    block = Optimize.model_validate(
        {**TOY, "objectives": {"npv_contribution": "maximize", "churn_rate_annual": "minimize"}}
    )
    candidates = search(block, toy, replications=[0, 1], seed=0)
    points = np.array(
        [[c.mean("npv_contribution"), -c.mean("churn_rate_annual")] for c in candidates]
    )
    dominated = [bool(((points >= p).all(axis=1) & (points > p).any(axis=1)).any()) for p in points]
    front = {c.trial for c, d in zip(candidates, dominated, strict=True) if not d}
    order = [c.trial for c in ranked(candidates, block)]
    assert len(front) >= 2 and set(order[: len(front)]) == front


def test_a_killed_search_resumes_without_repeating_finished_trials(tmp_path: Path) -> None:
    block = Optimize.model_validate({**TOY, "trials": 12, "batch": 4})
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    calls: list[tuple[Any, ...]] = []

    def killed_in_third_batch(jobs: Sequence[Job]) -> list[dict[str, float]]:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(tuple(tuple(sorted(levers.items())) for levers, _ in jobs))
        return toy(jobs)

    with pytest.raises(KeyboardInterrupt):
        search(block, killed_in_third_batch, replications=[0], seed=1, storage=storage)
    first = {levers for batch in calls for levers in batch}
    assert len(first) == 8

    seen: list[tuple[Any, ...]] = []

    def counting(jobs: Sequence[Job]) -> list[dict[str, float]]:
        seen.extend(tuple(sorted(levers.items())) for levers, _ in jobs)
        return toy(jobs)

    done = search(block, counting, replications=[0], seed=1, storage=storage)
    assert len(done) == 12
    assert sorted(c.trial for c in done) == list(range(12))  # the 4 left running, finished
    assert len(seen) == 4 and not first & set(seen)


def test_common_random_numbers_give_identical_results_for_the_same_candidate() -> None:
    scenario = load_scenario(
        SCENARIOS / "direct_shift.yaml", ["market.buyers=300", "horizon_weeks=16"]
    )
    levers = {"policy.distributor_referral_fee": 0.05, "policy.channel_plan.0.ramp_weeks": 8}
    jobs = [(levers, 0), (levers, 1), (levers, 0)]
    one = model_evaluator(scenario)(jobs)
    two = model_evaluator(scenario, workers=2)(jobs)
    assert one[0] == one[2] == two[0] == two[2]
    assert one[1] == two[1] and one[1] != one[0]


@pytest.mark.parametrize("seed", range(3))
def test_prim_finds_a_planted_box(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((2000, 3)), columns=["a", "b", "irrelevant"])
    inside = x["a"].between(0.2, 0.5) & x["b"].between(0.6, 0.9)
    y = inside.to_numpy() ^ (rng.random(len(x)) < 0.05)  # 5% of labels flipped
    box = prim_box(x, y).limits.set_index("parameter")
    assert np.allclose(box.loc["a", ["low", "high"]], [0.2, 0.5], atol=0.05)
    assert np.allclose(box.loc["b", ["low", "high"]], [0.6, 0.9], atol=0.05)
    assert not box.loc["irrelevant", "restricted"]


TINY = """
extends: {parent}
name: tiny_optimize
market: {{buyers: 300}}
horizon_weeks: 16
sweep: null
channels: {{ecommerce: {{fixed_cost_weekly: 1.0e+7}}}}
optimize:
  levers: {{channels.ecommerce.fixed_cost_weekly: [0, 1000]}}
  constraints: ["distributors_active_end >= 0"]
  trials: 4
  batch: 2
  replications: 1
  finalists: 1
  finalist_replications: 2
uncertainties: {{worlds: 4, replications: 1}}
"""


def test_optimize_writes_the_plan_the_comparison_and_the_stress_test(
    tmp_path: Path, write_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the plan as written pays 10 million a week more than any candidate: a finalist must win
    # (by far more than the noise), so there is a recommendation to reproduce
    path = write_yaml("tiny.yaml", TINY.format(parent=SCENARIOS / "direct_shift.yaml"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["optimize", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the finalists' table in plain figures (M for millions), never e-notation or cut names
    assert "e+0" not in result.output and "…" not in result.output
    assert re.search(r"[+-][\d,.]+M", result.stdout), result.stdout
    table = pd.read_csv(out / "optimization.csv")
    assert (table["stage"] == "search").sum() == 4
    chosen = table[table["recommended"]]
    assert len(chosen) == 1 and chosen["feasible"].all() and (chosen["trial"] >= 0).all()
    stress = pd.read_csv(out / "stress.csv")
    assert len(stress) == 4 * 2  # worlds x (baseline, one finalist)
    assert (stress["regret"] >= 0).all() and (stress.groupby("world")["regret"].min() == 0).all()
    assert "Decision" in (out / "report.html").read_text(encoding="utf-8")
    # the comparison in recommendation.yaml is what `compare` on that file computes again
    recommendation = load_study(out / "recommendation.yaml")
    written = recommendation.scenario
    plan = with_changes(written, recommended_changes(recommendation), source="test")
    assert plan.policy != written.policy
    # the dashboard offers it first; side B runs the recommended plan, row by row
    monkeypatch.setenv(live.RECOMMENDATION_ENV, str(out / "recommendation.yaml"))
    offered = live.load(live.scenario_path(live.scenario_files()[0].name))
    assert live.variants_of(offered) == ["baseline", "recommended"]
    side_b = live.variant_scenario(offered, "recommended")
    workshop = live.workshop_scenario(
        offered, "recommended", live.Levers.of(side_b), sample_share=0.5
    )
    assert workshop.policy == plan.policy
    again = tmp_path / "again"
    result = CliRunner().invoke(
        app, ["compare", str(out / "recommendation.yaml"), "--out", str(again), "--no-report"]
    )
    assert result.exit_code == 0, result.output
    ours, theirs = (pd.read_csv(p / "comparison.csv").set_index("metric") for p in (out, again))
    ours = ours[ours["variant"] == chosen["variant"].iloc[0]]
    assert ours.loc["npv_contribution_with_terminal", "ci_low"] > 0
    np.testing.assert_allclose(ours["mean_difference"], theirs["mean_difference"])
    # the same command again resumes: nothing new is searched, the same table comes out
    result = CliRunner().invoke(app, ["optimize", str(path), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "optimization.csv"), table)
    # another resolved scenario is refused, the folder untouched
    args = ["optimize", str(path), "--out", str(out), "--set", "seed=7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "holds runs of scenario" in result.output


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimize.constraints=['profit >= 3']", "optimize.constraints.0: 'profit'"),
        ("optimize.objectives={churn: minimize}", "optimize.objectives.churn"),
        ("optimize.levers={policy.nope: [0, 1]}", "optimize.levers.policy.nope"),
        ("optimize.levers={policy.distributor_referral_fee: [0, 2]}", "optimize.levers.policy"),
        ("optimize.levers={seed: [1, 5]}", "optimize.levers.seed"),
        ("optimize=null", "no optimize block"),
        ("optimize.trials=0", "optimize.trials"),
    ],
)
def test_a_bad_optimize_block_exits_2_naming_the_key(
    tmp_path: Path, override: str, message: str
) -> None:
    args = ["optimize", str(SCENARIOS / "direct_shift.yaml"), "--set", override]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_replications_flag_is_refused_with_the_keys_to_use(tmp_path: Path) -> None:
    args = ["optimize", str(SCENARIOS / "direct_shift.yaml"), "--replications", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "optimize.replications" in result.output


def test_constraints_no_plan_meets_end_in_a_message_exit_2_and_kept_results(
    tmp_path: Path, write_yaml: Any
) -> None:
    # more active distributors than the small network has: no candidate can meet it
    text = TINY.format(parent=SCENARIOS / "direct_shift.yaml").replace(
        "distributors_active_end >= 0", "distributors_active_end >= 1000"
    )
    path = write_yaml("tiny.yaml", text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["optimize", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "Traceback" not in result.output and "EmptyDataError" not in result.output
    assert "searched 4 candidates over 10 levers" in message  # what was searched
    assert "optimize.constraints.0 distributors_active_end >= 1000: met by 0" in message
    assert "the best reached" in message and "to change: relax it" in message
    assert (
        "the scenario has only 1 distributor in its first week" in message
    )  # why it cannot be met
    table = pd.read_csv(out / "optimization.csv")  # what was computed is kept
    assert (table["stage"] == "search").sum() == 4 and not table["feasible"].any()
    assert (out / "study.db").is_file() and not (out / "recommendation.yaml").exists()


def test_only_the_plan_as_written_feasible_is_kept_and_reported(
    tmp_path: Path, write_yaml: Any
) -> None:
    # the plan as written pays 10 million a week more: only it is below the bound; no finalist
    # is compared with it, and the report still builds (comparison.csv has its header)
    text = TINY.format(parent=SCENARIOS / "direct_shift.yaml").replace(
        "distributors_active_end >= 0", "npv_contribution_with_terminal <= -100000000"
    )
    path = write_yaml("tiny.yaml", text)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["optimize", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "keep the plan as written" in result.output
    assert "Decision" in (out / "report.html").read_text(encoding="utf-8")
    assert list(pd.read_csv(out / "comparison.csv").columns)[:2] == ["variant", "metric"]
