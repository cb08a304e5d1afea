"""The war-game: seats and amendments in the engine, the game, its files, server and pages."""

from __future__ import annotations

import html
import json
import os
import re
import runpy
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for

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
    wholesale = 1.0 - model.scenario.distributors.margin
    model.amend(
        {"distributors.margin": 0.25, "policy.distributor_referral_fee": 0.04}, source="test"
    )
    np.testing.assert_allclose(model.books.sell_in_price, before / wholesale * 0.75)
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
    from typer.testing import CliRunner

    from sim.cli import app

    out = tmp_path_factory.mktemp("run")
    sets = [arg for s in SMALL for arg in ("--set", s)]
    args = ["run", str(SHIFT), *sets, "--replications", "1", "--out", str(out), "--no-report"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return sim.load_results(out).timeseries


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
    # after a round, a new plan move cannot start in the weeks played; a started one may slow
    wg.advance(game)
    plan = wg.view(game, "manufacturer")["channel_plan"]
    early = [*plan, {**plan[0], "segment": "mid_market", "to": "ecommerce", "start_week": 5}]
    with pytest.raises(wg.DecisionError, match=r"channel_plan.3.start_week: 5 is in the past"):
        wg.submit(game, "manufacturer", {"channel_plan": early})
    slower = [{**plan[0], "ramp_weeks": 52}, *plan[1:]]
    assert wg.submit(game, "manufacturer", {"channel_plan": slower})


def test_views_show_the_firm_at_any_sample_share(tmp_path: Path) -> None:
    """The distributors' accounts and profit, and our P&L, read the same size at s = 0.5 and 1.

    Summed over the network's 4 distributors (each played by a team that leaves its decisions
    to the model): which distributor is the largest depends on the draws, not the sizes.
    """
    firm = ("market.buyers=4000", "market.prospects=800", "horizon_weeks=13")
    teams = [f"distributor:{i}" for i in range(4)]
    seen = {}
    for share in (0.5, 1.0):
        game = wg.create(
            SHIFT,
            tmp_path / f"s{share}",
            overrides=[*firm, f"market.sample_share={share}"],
            roles=["manufacturer", *teams],
        )
        wg.advance(game)
        mine = [wg.view(game, team) for team in teams]
        ours = wg.view(game, "manufacturer")
        seen[share] = {
            "accounts": sum(
                sum(w["accounts"] for w in view["weekly"]) / len(view["weekly"]) for view in mine
            ),
            "profit": sum(r["total_profit"] for view in mine for r in view["rounds_pnl"]),
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
    # killed after game.json took the round, before the rest was written: resuming writes it
    written = pd.read_parquet(tmp_path / "g" / "timeseries.parquet")
    for name in ("timeseries.parquet", "report.html", "review.csv"):
        (tmp_path / "g" / name).unlink()
    wg.Game.open(SHIFT, tmp_path / "g", overrides=SMALL)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "g" / "timeseries.parquet"), written)
    assert (tmp_path / "g" / "report.html").is_file()


def test_the_after_action_figures_are_the_paired_differences(
    tmp_path: Path, model_run: pd.DataFrame
) -> None:
    """review.csv against differences computed here from the paths' own timeseries: the game
    vs ``run`` (the model's players), and vs a game replayed without one team's decisions."""
    moves = [
        {"distributor:0": {"markup": 0.45, "push_to_competitor": ["valves"]},
         "manufacturer": {"distributor_referral_fee": 0.06}},
        {"distributor:0": {"effort": 0.2}, "distributor:1": {"exit": True},
         "manufacturer": {"distributor_margin": 0.27}},
    ]  # fmt: skip
    game = wg.create(SHIFT, tmp_path / "g", overrides=SMALL)
    without = wg.create(SHIFT, tmp_path / "w", overrides=SMALL)
    for decisions in moves:
        for role, decision in decisions.items():
            wg.submit(game, role, decision)
            if role != "distributor:0":
                wg.submit(without, role, decision)
        wg.advance(game)
        wg.advance(without)
    review = pd.read_csv(tmp_path / "g" / "review.csv")
    played = pd.read_parquet(tmp_path / "g" / "timeseries.parquet")
    alone = pd.read_parquet(tmp_path / "w" / "timeseries.parquet")
    rounds = (played["week"] - 1) // 13 + 1
    margin = "contribution_margin"
    vs_model = (played[margin] - model_run[margin].to_numpy()).groupby(rounds).sum()
    vs_alone = (played[margin] - alone[margin]).groupby(rounds).sum()
    ours = review[(review["team"] == "manufacturer") & (review["outcome"] == margin)]
    np.testing.assert_allclose(ours["game_minus_model"], vs_model, rtol=1e-9)
    assert vs_model.abs().min() > 0  # the choices moved our margin: the check can fail
    theirs = review[(review["team"] == "distributor:0") & review["outcome"].str.endswith(margin)]
    np.testing.assert_allclose(theirs["team_choices"], vs_alone, rtol=1e-9)
    # and distributor 0's own profit: game vs the game without its decisions
    weeks = pd.read_csv(tmp_path / "g" / "distributors.csv")
    weeks_alone = pd.read_csv(tmp_path / "w" / "distributors.csv")
    mine = weeks[weeks["distributor"] == 0].reset_index(drop=True)
    mine_alone = weeks_alone[weeks_alone["distributor"] == 0].reset_index(drop=True)
    gained = (mine["total_profit"] - mine_alone["total_profit"]).groupby(rounds).sum()
    own = review[(review["team"] == "distributor:0") & (review["outcome"] == "total_profit")]
    np.testing.assert_allclose(own["team_choices"], gained, rtol=1e-9)
    page = html.unescape((tmp_path / "g" / "report.html").read_text())
    assert "What the teams' choices did" in page and "distributor:0's choices" in page
    assert "data:image/png;base64," in page and "push_to_competitor</td><td>valves" in page


def test_bots_play_a_game_and_a_retaliator_pushes_the_moved_lines(tmp_path: Path) -> None:
    from sim.wargame import bot

    teams = "manufacturer,distributor:0,distributor:1,competitor"
    game = wg.create(SHIFT, tmp_path / "g", roles=teams, overrides=SMALL)
    wg.submit(game, "competitor", {"alternative_margin": 0.33})
    played = bot.play(
        game,
        {"manufacturer": bot.Manufacturer(0.05), "distributor:0": bot.Retaliator(),
         "distributor:1": bot.HoldPrice(0.3)},
    )  # fmt: skip
    assert game.model.firm.distributors.alternative_margin == 0.33
    rival = wg.view(game, "competitor")
    assert rival["offer"] == {"alternative_margin": 0.33} and len(rival["weekly"]) == 26
    assert wg.view(game, "distributor:1")["competitor_offer"]["alternative_margin"] == 0.33
    assert played == 2 and game.finished
    second = json.loads((tmp_path / "g" / "rounds" / "round_02.json").read_text())["decisions"]
    assert second["distributor:0"]["push_to_competitor"] == ["consumables", "valves"]
    assert second["distributor:1"] == {"markup": 0.3, "effort": 1.0, "exit": False}
    assert game.model.distributors[1].markup == 0.3
    # a seat is for its round: undecided next round, the model's rule moves the markup again
    again = wg.create(SHIFT, tmp_path / "again", roles="distributor:1", overrides=SMALL)
    wg.submit(again, "distributor:1", {"markup": 0.3})
    wg.advance(again)
    assert again.model.distributors[1].markup == 0.3
    wg.advance(again)
    assert again.model.distributors[1].markup != pytest.approx(0.3, abs=1e-3)
    with pytest.raises(wg.GameError, match="the game is over"):
        wg.advance(game)


# ------------------------------------------------------------------ the command and its server


def _command(folder: Path, port: int, *extra: str) -> list[str]:
    sets = [arg for s in SMALL for arg in ("--set", s)]
    return [sys.executable, "-m", "sim", "wargame", str(SHIFT), "--out", str(folder),
            "--port", str(port), *sets, *extra]  # fmt: skip


def _serve(folder: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``channel-sim wargame`` on a free loopback port; its process and base URL."""
    port = free_port()
    log = open(folder.parent / f"{folder.name}-server.log", "a")  # noqa: SIM115
    server = subprocess.Popen(
        _command(folder, port, *extra),
        cwd=folder.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/", 60, server)
    return server, url


def _stop(server: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    server.send_signal(sig)
    server.wait(timeout=20)


def _call(url: str, token: str | None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}"} if token else {},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def served(tmp_path: Path):
    """A game served by the command; (URL, tokens, folder)."""
    folder = tmp_path / "game"
    server, url = _serve(folder)
    try:
        yield url, json.loads((folder / "tokens.json").read_text()), folder
    finally:
        _stop(server)


def test_tokens_are_enforced(served) -> None:
    url, tokens, _ = served
    mine, theirs = tokens["distributor:0"], tokens["distributor:1"]
    assert _call(f"{url}/api/state", None)[0] == 401
    assert _call(f"{url}/api/state", "not-a-token")[0] == 401
    assert _call(f"{url}/api/decision", None, {"markup": 0.3})[0] == 401
    status, seen = _call(f"{url}/api/state", mine)
    assert status == 200 and seen["role"] == "distributor:0" and seen["round"] == 0
    # another role's token can neither read nor write that role
    for token in (theirs, tokens["manufacturer"], tokens["facilitator"]):
        assert _call(f"{url}/api/state?role=distributor:0", token)[0] == 403
        assert _call(f"{url}/api/decision?role=distributor:0", token, {"markup": 0.1})[0] == 403
    assert _call(f"{url}/api/advance", mine, {})[0] == 403
    assert _call(f"{url}/api/decision", tokens["facilitator"], {"markup": 0.1})[0] == 403
    assert _call(f"{url}/api/state", mine)[1]["pending"] is None  # nothing was written
    # a distributor's view holds its own numbers only
    assert "channel_pnl" not in seen and "distributors" not in seen
    manufacturer = _call(f"{url}/api/state", tokens["manufacturer"])[1]
    assert "weekly" in manufacturer and "rounds_pnl" not in manufacturer
    assert set(manufacturer["distributors"][0]) == {
        "distributor", "carries_our_line", "resale_price"
    }  # fmt: skip
    status, refused = _call(f"{url}/api/decision", mine, {"effort": 1.5})
    assert status == 400 and refused["error"].startswith("effort: ")
    from sim.wargame import bot

    seat = bot.Client(url, theirs)
    assert seat.submit(bot.HoldPrice(0.3).decide(seat.state()))["accepted"]["markup"] == 0.3
    with pytest.raises(ValueError, match="403"):
        seat.advance()
    assert _call(f"{url}/api/advance", tokens["facilitator"], {}) == (
        200, {"round": 1, "finished": False}
    )  # fmt: skip


def test_a_killed_server_resumes_at_the_last_round_with_nothing_lost(tmp_path: Path) -> None:
    """Served on the room's network (it warns), killed with -9, the same command resumes."""
    folder = tmp_path / "game"
    server, url = _serve(folder, "--host", "0.0.0.0")
    tokens = json.loads((folder / "tokens.json").read_text())
    first = {"markup": 0.35, "announcement": "prices up"}
    second = {"distributor_referral_fee": 0.05}
    try:
        assert _call(f"{url}/api/decision", tokens["distributor:0"], first)[0] == 200
        assert _call(f"{url}/api/advance", tokens["facilitator"], {})[0] == 200
        assert _call(f"{url}/api/decision", tokens["manufacturer"], second)[0] == 200
    finally:
        _stop(server, signal.SIGKILL)
    assert server.returncode == -signal.SIGKILL
    log = " ".join((tmp_path / "game-server.log").read_text().split())
    assert "warning: listening on 0.0.0.0: anyone on this network can reach the game" in log
    assert re.search(r"facilitator http://[\d.]+:\d+/play/facilitator#token=", log)
    server, url = _serve(folder, "--host", "0.0.0.0")  # the same command
    try:
        assert json.loads((folder / "tokens.json").read_text()) == tokens
        state = _call(f"{url}/api/state", tokens["manufacturer"])[1]
        assert state["round"] == 1 and state["pending"] == second
        assert state["decided"] == [{}]
        assert _call(f"{url}/api/advance", tokens["facilitator"], {})[1]["round"] == 2
    finally:
        _stop(server)
    # the same decisions played in Python give the same game
    again = wg.create(SHIFT, tmp_path / "again", overrides=SMALL)
    wg.submit(again, "distributor:0", first)
    wg.advance(again)
    wg.submit(again, "manufacturer", second)
    wg.advance(again)
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "timeseries.parquet"),
        pd.read_parquet(tmp_path / "again" / "timeseries.parquet"),
    )


def test_the_command_refuses_bad_input_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sim.cli import app

    sets = [arg for s in SMALL for arg in ("--set", s)]
    wg.create(SHIFT, tmp_path / "g", overrides=SMALL)
    other = ROOT / "scenarios" / "orchestration.yaml"
    cases = [
        ([str(other), "--out", str(tmp_path / "g"), *sets], r"differs from the one asked for"),
        ([str(SHIFT), "--out", str(tmp_path / "g"), "--round-weeks", "4", *sets],
         r"--round-weeks 4 is not 13"),
        ([str(SHIFT), "--out", str(tmp_path / "h"), "--roles", "distributor:99", *sets],
         r"'distributor:99' is not a role; allowed: manufacturer, competitor, or distributor:0"),
        ([str(SHIFT), "--out", str(tmp_path / "h"), "--rounds", "3", *sets],
         r"--rounds: 3 rounds of 13 weeks do not fit in horizon_weeks \(26\)"),
        ([str(SHIFT), "--out", str(tmp_path / "h"), "--set", "distributors.margin=2"],
         r"distributors.margin"),
        ([str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "h")], r"no such scenario file"),
        ([str(SHIFT), "--out", str(tmp_path / "run"), *sets],
         r"run holds other files \(timeseries.parquet\), not a war-game"),
    ]  # fmt: skip
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "timeseries.parquet").write_bytes(b"a run's results")
    for args, message in cases:
        done = CliRunner().invoke(app, ["wargame", *args])
        assert done.exit_code == 2, (args, done.output)
        assert re.search(message, " ".join(done.output.split())), done.output
        assert done.exception is None or isinstance(done.exception, SystemExit)
    assert not (tmp_path / "h").exists()
    assert (tmp_path / "run" / "timeseries.parquet").read_bytes() == b"a run's results"
    shown = CliRunner().invoke(app, ["wargame", "--help"])
    assert shown.exit_code == 0 and "--round-weeks" in shown.output


# ------------------------------------------------------------------ the pages in a browser


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Debian chromium at /usr/bin/chromium")
def test_three_teams_and_the_facilitator_play_two_rounds_in_the_browser(
    served, tmp_path: Path
) -> None:
    """The manufacturer and two distributors decide on their pages, the facilitator starts
    and advances each round; a bad value is refused on the page; no request leaves the
    machine. The game's files hold what was clicked."""
    from playwright.sync_api import expect, sync_playwright

    url, tokens, folder = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            outside: list[str] = []
            pages = {}
            for role in ("manufacturer", "distributor:0", "distributor:1", "facilitator"):
                page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
                page.on("request", lambda r: outside.append(r.url) if url not in r.url else None)
                page.goto(f"{url}/play/{role}#token={tokens[role]}")
                expect(page.locator("#status")).to_contain_text("Round 0 of 2 played")
                pages[role] = page
            boss, first, second, facilitator = pages.values()
            facilitator.fill("#minutes", "10")
            facilitator.click("#start")
            expect(facilitator.locator("#message")).to_contain_text("deadline")

            # round 1: a refused value first, then the teams' decisions
            first.fill("#markup", "5")
            first.click("#submit")
            expect(first.locator("#message")).to_contain_text("markup: ")
            first.fill("#markup", "0.4")
            first.check("#push_set")
            first.check(".push[value=valves]")
            first.fill("#announcement", "valves go to our other supplier")
            first.click("#submit")
            expect(first.locator("#message")).to_contain_text("decision saved for round 1")
            second.select_option("#exit", "false")
            second.click("#submit")
            expect(second.locator("#message")).to_contain_text("decision saved")
            boss.fill("#distributor_referral_fee", "0.05")
            boss.fill("#announcement", "we pay 5% on every line we move")
            boss.click("#submit")
            expect(boss.locator("#message")).to_contain_text("decision saved")
            facilitator.reload()
            expect(facilitator.locator("#facts")).not_to_contain_text("not yet")
            facilitator.click("#advance")
            expect(facilitator.locator("#message")).to_contain_text(
                "round 1 played", timeout=60_000
            )

            # round 2: each page shows what it may see; the manufacturer reads the announcement
            for page in pages.values():
                page.reload()
                expect(page.locator("#status")).to_contain_text("Round 1 of 2 played")
            expect(boss.locator("#facts")).to_contain_text("valves go to our other supplier")
            expect(first.locator("#facts")).to_contain_text("we pay 5% on every line we move")
            expect(first.locator("#facts")).to_contain_text("retaliating")
            expect(first.locator("svg")).to_have_count(3)
            first.fill("#effort", "0.2")
            first.click("#submit")
            expect(first.locator("#message")).to_contain_text("decision saved for round 2")
            boss.select_option("#deal_registration", "true")
            moves = boss.locator("#plan tr.move")
            expect(moves).to_have_count(3)
            moves.first.locator("[data-key=ramp_weeks]").fill("52")  # slow the first move
            moves.nth(2).locator(".remove").check()  # drop the third
            boss.click("#submit")
            expect(boss.locator("#message")).to_contain_text("decision saved")
            facilitator.click("#advance")
            expect(facilitator.locator("#message")).to_contain_text(
                "the game is over", timeout=60_000
            )
            with facilitator.expect_popup() as opened:
                facilitator.click("#report")
            expect(opened.value.locator("h1")).to_contain_text("After-action review")
            expect(facilitator.locator("#market svg")).to_have_count(2)
            room = browser.new_page(viewport={"width": 1024, "height": 768})
            room.goto(f"{url}/projector#token={tokens['facilitator']}")
            expect(room.locator("#market svg").first).to_contain_text("E-commerce")
            expect(room.locator("#status")).to_contain_text("the game is over")
            for role, page in pages.items():
                page.screenshot(
                    path=str(tmp_path / f"{role.replace(':', '-')}.png"), full_page=True
                )
            assert outside == [], outside[:5]
        finally:
            browser.close()
    played = [json.loads((folder / "rounds" / f"round_0{n}.json").read_text()) for n in (1, 2)]
    assert played[0]["decisions"] == {
        "distributor:0": {
            "announcement": "valves go to our other supplier",
            "markup": 0.4,
            "push_to_competitor": ["valves"],
        },
        "distributor:1": {"exit": False},
        "manufacturer": {
            "announcement": "we pay 5% on every line we move",
            "distributor_referral_fee": 0.05,
        },
    }
    plan = [
        dict(r.model_dump(mode="json", by_alias=True))
        for r in wg.load(folder).firm.policy.channel_plan
    ]
    assert played[1]["decisions"] == {
        "distributor:0": {"effort": 0.2},
        "manufacturer": {
            "deal_registration": True,
            "channel_plan": [{**plan[0], "ramp_weeks": 52}, plan[1]],
        },
    }
    assert played[1]["left_to_model"] == ["distributor:1"]


def test_the_guide_s_worked_game_runs_and_says_what_the_guide_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/examples/wargame_two_rounds.py plays the guide's game; its figures are the guide's."""
    out = tmp_path / "example"
    script = ROOT / "docs" / "examples" / "wargame_two_rounds.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(out)])
    runpy.run_path(str(script), run_name="__main__")  # as `python script OUT`, in this process
    printed = capsys.readouterr().out
    review = pd.read_csv(out / "review.csv").set_index(["team", "outcome", "round"])
    guide = (ROOT / "docs" / "wargame.md").read_text()
    margin = "manufacturer contribution_margin"
    figures = {
        ("manufacturer", "contribution_margin", 2): "−866.0",
        ("distributor:0", margin, 2): "−33.9",
        ("distributor:1", margin, 2): "−108.1",
        ("distributor:1", "total_profit", 2): "−626.2",
        ("distributors", margin, 2): "−165.7",
    }
    stale = (
        "docs/wargame.md §5 quotes another engine's figures: run "
        "docs/examples/wargame_two_rounds.py and update the guide's table and text"
    )
    for key, written in figures.items():
        value = review.loc[key, "team_choices"] / 1e3
        assert f"{value:+.1f}".replace("-", "−") == written and written in guide, (key, stale)
    said = "All choices together vs the model's own players: -893.7 thousand"
    assert said in printed and "−893.7" in guide, stale
