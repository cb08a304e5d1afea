"""The war-game: seats and amendments in the engine, the game, its files, server and pages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
import sim.wargame as wg
from sim.model.distributors.players import Play
from sim.model.model import ChannelModel
from sim.scenario.loader import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIFT = ROOT / "scenarios" / "direct_shift.yaml"
SMALL = ("market.sample_share=0.05", "horizon_weeks=26")
"""A twentieth of the direct-shift firm (1,000 accounts, all 20 distributors), two quarters."""


def _model(*overrides: str) -> ChannelModel:
    scenario = load_scenario(SHIFT, [*SMALL, *overrides])
    return ChannelModel(scenario, np.random.SeedSequence(scenario.seed, spawn_key=(0,)))


def _steps(model: ChannelModel, weeks: int) -> None:
    for _ in range(weeks):
        model.step()


# ------------------------------------------------------------------ engine hooks


def test_an_empty_seat_and_no_amendment_change_no_number() -> None:
    plain, seated = _model(), _model()
    _steps(plain, 26)
    _steps(seated, 13)
    for d, distributor in enumerate(seated.distributors):
        seated.network.seat(d, Play() if distributor.active else None)
        seated.network.seat(d, None)
    _steps(seated, 13)
    for name, column in plain.ledger.rows.items():
        np.testing.assert_array_equal(column, seated.ledger.rows[name], err_msg=name)


def test_a_seated_distributor_holds_its_markup_effort_and_line() -> None:
    model = _model()
    _steps(model, 4)
    model.network.seat(0, Play(markup=0.5, effort=0.3, push=(0,), exit=False))
    model.network.seat(1, Play(exit=True))
    _steps(model, 9)
    first, second = model.distributors[:2]
    assert first.markup == 0.5 and first.effort == 0.3
    assert first.active and first.retaliating  # it pushes a line to the competitor's
    assert not second.active
    assert model.resale_price[0] == pytest.approx(1.5 * (1 - model.scenario.distributors.margin))
    with pytest.raises(ValueError, match="dropped our line"):
        model.network.seat(1, Play(markup=0.1))


def test_amend_moves_the_levers_from_the_next_week_and_refuses_other_keys() -> None:
    model = _model()
    _steps(model, 13)
    before = model.books.sell_in_price.copy()
    model.amend(
        {"distributors.margin": 0.25, "policy.distributor_referral_fee": 0.04}, source="test"
    )
    np.testing.assert_allclose(model.books.sell_in_price, before / 0.7 * 0.75)
    assert model.network.unit_cost == pytest.approx(model.books.sell_in_price)
    assert model.firm.policy.distributor_referral_fee == 0.04
    _steps(model, 13)
    assert model.ledger.rows["referral_fees"][13:].sum() > 0
    with pytest.raises(ValueError, match="cannot change during a run"):
        model.amend({"market.buyers": 10}, source="test")
    with pytest.raises(ScenarioError, match=r"distributors\.margin"):
        model.amend({"distributors.margin": 1.5}, source="test")


# ------------------------------------------------------------------ the game in Python


@pytest.fixture(scope="module")
def model_run(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """``channel-sim run`` of the small scenario, one replication: its weekly timeseries."""
    out = tmp_path_factory.mktemp("run")
    results = sim.run(SHIFT, replications=1, overrides=list(SMALL), out=out)
    return results.timeseries


def test_a_game_with_every_role_left_to_the_model_is_the_run(
    tmp_path: Path, model_run: pd.DataFrame
) -> None:
    game = wg.create(SHIFT, tmp_path / "g", overrides=SMALL)
    assert wg.advance(game) == 1 and wg.advance(game) == 2
    played = pd.read_parquet(tmp_path / "g" / "timeseries.parquet")
    columns = [c for c in played.columns if c != "scenario"]
    expected = model_run[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(played[columns], expected, check_dtype=False)


def test_a_bad_decision_is_refused_naming_the_field_and_changes_nothing(tmp_path: Path) -> None:
    game = wg.create(SHIFT, tmp_path / "g", overrides=SMALL)
    wg.submit(game, "distributor:0", {"markup": 0.3})
    state = (tmp_path / "g" / "game.json").read_bytes()
    bad = [
        ("distributor:0", {"markup": 5}, r"markup: .*less than or equal to 2.*got 5"),
        ("distributor:0", {"markup": "high"}, r"markup: .*got 'high'"),
        ("distributor:0", {"push_to_competitor": ["gizmos"]}, r"'gizmos' is not a product"),
        ("distributor:0", {"exitt": True}, r"exitt: not a field.*allowed: .*exit"),
        ("manufacturer", {"distributor_referral_fee": -0.1}, r"distributor_referral_fee: .*-0.1"),
        ("manufacturer", {"channel_plan": [{"product": "valves"}]}, r"channel_plan.0.segment"),
        ("competitor", {"alternative_margin": 0.2}, r"'competitor' is not a team"),
    ]
    for role, payload, message in bad:
        with pytest.raises((wg.DecisionError, wg.GameError), match=message):
            wg.submit(game, role, payload)
    assert (tmp_path / "g" / "game.json").read_bytes() == state
    assert wg.view(game, "distributor:0")["pending"] == {"markup": 0.3}


def test_views_show_the_firm_at_any_sample_share(tmp_path: Path) -> None:
    """A distributor's accounts and profit, and our P&L, read the same size at s = 0.5 and 1."""
    firm = ("market.buyers=4000", "market.prospects=800", "horizon_weeks=13")
    seen = {}
    for share in (0.5, 1.0):
        game = wg.create(
            SHIFT, tmp_path / f"s{share}", overrides=[*firm, f"market.sample_share={share}"]
        )
        wg.advance(game)
        mine = wg.view(game, "distributor:0")
        ours = wg.view(game, "manufacturer")
        seen[share] = {
            "accounts": sum(w["accounts"] for w in mine["weekly"]) / len(mine["weekly"]),
            "profit": sum(r["total_profit"] for r in mine["rounds_pnl"]),
            "revenue": sum(r["revenue"] for r in ours["channel_pnl"]),
        }
    for key, full in seen[1.0].items():
        assert seen[0.5][key] == pytest.approx(full, rel=0.35), key


def test_tokens_are_private_and_every_round_is_in_the_files(tmp_path: Path) -> None:
    game = wg.create(SHIFT, tmp_path / "g", roles="manufacturer,distributor:3", overrides=SMALL)
    tokens = json.loads((tmp_path / "g" / "tokens.json").read_text())
    assert set(tokens) == {"manufacturer", "distributor:3", "facilitator"}
    assert len(set(tokens.values())) == 3
    assert stat.S_IMODE((tmp_path / "g" / "tokens.json").stat().st_mode) == 0o600
    wg.submit(game, "distributor:3", {"markup": 0.25, "announcement": "we hold prices"})
    wg.advance(game)
    record = json.loads((tmp_path / "g" / "rounds" / "round_01.json").read_text())
    assert record["decisions"] == {
        "distributor:3": {"announcement": "we hold prices", "markup": 0.25}
    }
    assert record["left_to_model"] == ["manufacturer"]
    said = wg.view(game, "manufacturer")["announcements"]
    assert said == [{"round": 1, "role": "distributor:3", "text": "we hold prices"}]
    again = wg.load(tmp_path / "g")
    assert again.round == 1
    np.testing.assert_array_equal(
        again.model.ledger.rows["contribution_margin"],
        game.model.ledger.rows["contribution_margin"],
    )
