"""Workshop dashboard: the live engine, and the page driven in headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for

from sim.dashboard import charts, live
from sim.dashboard.charts import panel_figures, panel_pngs
from sim.scenario.loader import ScenarioError, variant_of
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


# ------------------------------------------------------------------ engine (no browser)


def test_levers_round_trip_through_a_scenario() -> None:
    study = live.load(SCENARIOS / "direct_shift.yaml")
    scenario = study.scenario
    levers = live.Levers.of(scenario)
    assert levers["plan_share"] == scenario.policy.channel_plan[0].share
    assert levers["ramp_weeks"] == scenario.policy.channel_plan[0].ramp_weeks
    changed = levers.with_(
        plan_share=0.3,
        ramp_weeks=8,
        coordination="orchestrated",
        orchestration_coverage=0.6,
        rep_compensation="channel_neutral",
        distributor_referral_fee=0.04,
        deal_registration=True,
    )
    small = live.workshop_scenario(study, "slow", changed, sample_share=0.05, horizon_weeks=26)
    policy = small.policy
    assert all(p.share == 0.3 and p.ramp_weeks == 8 for p in policy.channel_plan)
    assert policy.coordination == "orchestrated" and policy.orchestration_coverage == 0.6
    assert policy.rep_compensation == "channel_neutral"
    assert policy.distributor_referral_fee == 0.04 and policy.deal_registration
    assert small.market.sample_share == 0.05 and small.horizon_weeks == 26
    # the firm is the file's: the dashboard simulates a share of it, it does not shrink it
    assert small.market.buyers == scenario.market.buyers
    assert small.reps == scenario.reps and small.distributors == scenario.distributors


def test_variants_start_from_their_own_levers() -> None:
    study = live.load(SCENARIOS / "orchestration.yaml")
    assert live.variants_of(study)[0] == live.BASE
    orchestrated = live.Levers.of(live.variant_scenario(study, "orchestrated"))
    assert orchestrated["coordination"] == "orchestrated"
    assert live.Levers.of(study.scenario)["coordination"] == "siloed"


def test_default_levers_are_a_scenario_without_policy(write_yaml, minimal_yaml) -> None:
    """Before a file is chosen, the levers read as a scenario that sets no policy at all."""
    bare = live.load(write_yaml("bare.yaml", minimal_yaml)).scenario
    assert bare.policy.channel_plan == () and bare.policy.trade_promotions == ()
    assert live.Levers() == live.Levers.of(bare)
    assert live.Levers()["distributor_referral_fee"] == 0.0 and live.Levers()["plan_share"] is None


def test_a_lever_moved_on_a_plan_applies_to_every_row_and_unmoved_keeps_each() -> None:
    study = live.load(SCENARIOS / "direct_shift.yaml")
    rows = {"policy.channel_plan.1.share": 0.9}  # the rows differ: 0.6, 0.9, 0.5
    uneven = variant_of(study.scenario, "uneven", rows)
    unmoved = live.Levers.of(uneven).changes(uneven)
    assert not any(key.startswith("policy.channel_plan") for key in unmoved)
    moved = live.Levers.of(uneven).with_(plan_share=0.3).changes(uneven)
    assert [moved[f"policy.channel_plan.{i}.share"] for i in range(3)] == [0.3, 0.3, 0.3]
    with pytest.raises(KeyError, match="plan_shares"):
        live.Levers().with_(plan_shares=0.3)


def test_the_lever_text_reads_each_lever_in_its_unit() -> None:
    from sim.dashboard.app import lever_differences

    a = live.Levers()
    b = a.with_(distributor_referral_fee=0.05, deal_registration=True, ramp_weeks=8)
    assert lever_differences(a, a) == ""
    assert lever_differences(a, b) == (
        "migration ramp none → 8 weeks; distributor referral fee 0% → 5%; "
        "deal registration off → on"
    )
    moved = a.with_(rep_compensation="channel_neutral")
    assert lever_differences(a, moved) == "rep compensation channel specific → channel neutral"


def test_a_and_b_differing_outside_the_levers_are_not_called_the_same() -> None:
    """Variants that differ in a key no lever sets: the text says which key, in words."""
    from sim.dashboard.app import differences_text, lever_differences, other_differences

    study = live.load(SCENARIOS / "lead_targeting.yaml")
    a, b = (live.variant_scenario(study, name) for name in (live.BASE, "targeted"))
    same_levers = lever_differences(live.Levers.of(a), live.Levers.of(b))
    assert same_levers == ""
    others = other_differences(a, b)
    assert others == "reps: next best action share 0% → 100%"
    text = differences_text(same_levers, others)
    assert "same" not in text.replace("the same levers", "")
    assert "next best action share 0% → 100%" in text
    assert differences_text("", "") == (
        "A and B are the same: same scenario settings and the same levers."
    )
    # the levers' own keys are left to the lever text; a plan dropped is said as rows
    shift = live.load(SCENARIOS / "direct_shift.yaml")
    fast = live.variant_scenario(shift, "fast")
    assert other_differences(shift.scenario, fast) == ""
    status_quo = live.variant_scenario(shift, "status_quo")
    assert other_differences(shift.scenario, status_quo) == "policy: channel plan 3 rows → none"


def _no_plan(*, sample_share: float, horizon_weeks: int) -> Scenario:
    """direct_shift's ``status_quo`` (no channel plan) at its own levers, on a small sample of
    the firm: the plan starts in week 13, after the few weeks these engine tests run."""
    study = live.load(SCENARIOS / "direct_shift.yaml")
    levers = live.Levers.of(live.variant_scenario(study, "status_quo"))
    return live.workshop_scenario(
        study, "status_quo", levers, sample_share=sample_share, horizon_weeks=horizon_weeks
    )


def test_the_weeks_start_where_every_plan_row_and_promotion_has_started() -> None:
    """The weeks slider starts at the first quarter reaching the latest start week of any
    variant (trade_promotions.yaml: 72 -> 78); one week less than that start is refused."""
    promotions = live.load(SCENARIOS / "trade_promotions.yaml")
    assert live.latest_start_week(promotions) == 72
    assert live.shortest_horizon(72, step=13) == 78
    assert live.shortest_horizon(13, step=13) == 13 and live.shortest_horizon(0, step=13) == 13
    levers = live.Levers.of(promotions.scenario)
    ok = live.workshop_scenario(promotions, live.BASE, levers, sample_share=0.025, horizon_weeks=72)
    assert ok.horizon_weeks == 72
    with pytest.raises(ScenarioError, match=r"trade_promotions\.1\.start_week: week 72 .* 71"):
        live.workshop_scenario(promotions, live.BASE, levers, sample_share=0.025, horizon_weeks=71)
    shift = live.load(SCENARIOS / "direct_shift.yaml")
    assert live.latest_start_week(shift) == 13  # the status_quo variant has none
    assert live.latest_start_week(live.load(SCENARIOS / "baseline.yaml")) == 0


def test_live_run_steps_in_chunks_and_draws() -> None:
    small = _no_plan(sample_share=0.04, horizon_weeks=6)
    run = live.LiveRun(small, seed=3)
    run.advance(4)
    assert run.week == 4 and not run.done
    assert list(run.frame()["week"]) == [1, 2, 3, 4]
    run.advance(10)  # never past the horizon
    assert run.done and run.week == 6
    numbers = live.headline(run.frame())
    assert numbers["revenue"] > 0 and numbers["active_customers"] > 0
    frames = {"A": run.frame(), "B": run.frame()}
    figures = panel_figures(frames, horizon_weeks=6, names={"A": "A: x", "B": "B: y"})
    assert len(figures) == 8 and all(len(f.axes) == 1 for f in figures)
    assert len(figures[1].axes[0].get_lines()) == 2  # A and B on one axis
    assert len(figures[0].axes[0].get_lines()) == 8  # four channels, A and B
    pngs = panel_pngs(frames, horizon_weeks=6, names={})
    assert len(pngs) == 8 and all(png[:4] == b"\x89PNG" for png in pngs)


def test_chart_text_is_drawn_large_enough_for_a_projector() -> None:
    """No text of a panel is drawn smaller than the smallest of :data:`charts.FONT_PT`; the
    browser test checks what that makes on screen, at the size the page shows a panel."""
    small = _no_plan(sample_share=0.025, horizon_weeks=3)
    run = live.LiveRun(small, seed=1)
    run.advance(3)
    figures = panel_figures({"A": run.frame(), "B": run.frame()}, horizon_weeks=3, names={})
    assert _smallest_text_pt(figures) >= min(charts.FONT_PT.values())
    titles = [f.axes[0].get_title() for f in figures]
    assert titles[1] == "Contribution margin / week" and "B − A" in titles[2]
    assert [f.axes[0].get_ylabel() for f in figures][3:5] == ["accounts", "distributors"]


def _smallest_text_pt(figures: list) -> float:
    from matplotlib.text import Text

    for figure in figures:
        figure.canvas.draw()  # tick labels exist once drawn
    return min(
        t.get_fontsize()
        for figure in figures
        for t in figure.findobj(Text)
        if t.get_text() and t.get_visible()
    )


def test_same_seed_same_numbers() -> None:
    small = _no_plan(sample_share=0.03, horizon_weeks=4)
    first, second = live.LiveRun(small, 5), live.LiveRun(small, 5)
    first.advance(4)
    second.advance(1)
    second.advance(3)
    assert first.frame().equals(second.frame())


def test_sessions_run_in_worker_processes_at_once() -> None:
    """Two sessions stepped from two threads at once, each model in its own worker process,
    give the numbers of the same model stepped in this process."""
    import threading

    import pandas as pd

    from sim.model.model import ChannelModel

    small = _no_plan(sample_share=0.03, horizon_weeks=5)
    runs = [live.LiveRun(small, 5), live.LiveRun(small, 5)]
    pids = {r._worker.pid for r in runs}
    assert len(pids) == 2 and os.getpid() not in pids
    threads = [threading.Thread(target=r.advance, args=(5,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    model = ChannelModel(small, 5)
    model.run()
    here = pd.DataFrame({name: model.ledger.rows[name][:5] for name in runs[0].frame().columns[1:]})
    for run in runs:
        assert run.done and not run._worker.is_alive()
        pd.testing.assert_frame_equal(run.frame().drop(columns="week"), here)


# ------------------------------------------------------------------ the page in a browser


@pytest.fixture
def dashboard_url(tmp_path: Path):
    """``channel-sim dashboard`` on a free localhost port, killed afterwards."""
    from sim.dashboard import assets

    assets.install()  # Solara's front-end files, so the page needs no network
    port = free_port()
    log = open(tmp_path / "dashboard-server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "dashboard",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--scenarios",
            str(SCENARIOS),
        ],
        cwd=tmp_path,  # nothing it writes may land in the repository
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the solara child dies with it
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, 45, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


SCREENS = ((1024, 768), (1920, 1080))
"""A projector and a wide screen: the page is checked, and photographed, at both."""

MIN_TEXT_PX = 12
"""Chart text at least this tall on screen (CSS px): readable from the back of a room."""

MIN_SLIDER_PX = 160
"""A slider's track at least this wide (CSS px)."""

LAYOUT_PROBLEMS = """
([minSlider, textPt, dpi]) => {
  const problems = [];
  const shown = (e) => {
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && cs.opacity !== "0";
  };
  const name = (e) =>
    `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 40)}"`;
  // text cut: an element whose text is wider than its box, or that runs off the screen
  const texts = document.querySelectorAll(
    "h1, .v-card-title, .control-label, .v-field-label, .v-select__selection-text, " +
    ".v-selection-control .v-label, .lever-diff, .run-status, #numbers th, #numbers td, " +
    ".chart-legend > span, .v-btn__content");
  for (const e of texts) {
    if (!shown(e) || !e.textContent.trim()) continue;
    if (e.scrollWidth > e.clientWidth + 1)
      problems.push(`cut: ${name(e)} ${e.scrollWidth} > ${e.clientWidth}`);
    if (e.getBoundingClientRect().right > window.innerWidth + 1)
      problems.push(`off screen: ${name(e)}`);
  }
  // sliders: a track one can see and aim at
  for (const t of document.querySelectorAll(".v-slider-track")) {
    const bg = t.querySelector(".v-slider-track__background"), cs = getComputedStyle(bg);
    const w = t.getBoundingClientRect().width, h = bg.getBoundingClientRect().height;
    if (w < minSlider) problems.push(`slider ${w.toFixed(0)} px wide`);
    if (h < 4 || Number(cs.opacity) < 0.3 || cs.backgroundColor === "rgba(0, 0, 0, 0)")
      problems.push(`slider track faint: ${h} px, opacity ${cs.opacity}, ${cs.backgroundColor}`);
  }
  // charts: text size on screen, and nothing drawn over a chart
  const panels = [...document.querySelectorAll("img.chart-panel")];
  if (panels.length !== 8) problems.push(`${panels.length} chart panels`);
  const others = [...document.querySelectorAll(".dash-side, #numbers, .chart-legend, .lever-diff")];
  let smallest = Infinity;
  for (const img of panels) {
    const px = textPt * dpi / 72 * img.clientWidth / img.naturalWidth;
    smallest = Math.min(smallest, px);
    for (const block of ["start", "end"]) {  // at the top of the screen, and at the bottom
      img.scrollIntoView({block});
      const r = img.getBoundingClientRect();
      for (const [fx, fy] of [[0.1, 0.1], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.9, 0.9]]) {
        const top = document.elementFromPoint(r.left + fx * r.width, r.top + fy * r.height);
        if (top !== img) problems.push(`over chart "${img.alt}": ${top && name(top)}`);
      }
    }
    const r = img.getBoundingClientRect();
    for (const o of [...others, ...panels]) {
      if (o === img) continue;
      const q = o.getBoundingClientRect();
      const dx = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      const dy = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      if (dx > 1 && dy > 1) problems.push(`"${img.alt}" overlaps ${name(o)}`);
    }
    if (r.right > window.innerWidth + 1) problems.push(`chart "${img.alt}" off screen`);
  }
  return {problems, smallest};
}
"""
"""In-page check of the layout: ``{problems: [...], smallest: chart text px}``."""


def _photograph(page, path: Path) -> None:
    """The screen as the room sees it, and (``-full``) the whole page, scrolled content too."""
    page.screenshot(path=str(path))
    size = page.viewport_size
    tall = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": tall})
    page.screenshot(path=str(path.with_name(path.stem + "-full.png")))
    page.set_viewport_size(size)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Debian chromium at /usr/bin/chromium")
def test_dashboard_runs_two_policies_on_a_projector_and_a_wide_screen(
    dashboard_url: str, tmp_path: Path
) -> None:
    """Run A and B at 1024x768, then look at the same page at 1920x1080: at both, no label
    is cut, sliders are wide with a visible track, chart text is at least 12 px on screen and
    nothing covers a chart. Screenshots: ``tmp_path/dashboard-WxH.png`` (the screen) and
    ``...-full.png`` (the whole page)."""
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            width, height = SCREENS[0]
            page = browser.new_page(viewport={"width": width, "height": height})
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None,
            )
            page.goto(dashboard_url, timeout=30_000)
            run = page.get_by_role("button", name="Run")
            expect(run).to_be_enabled(timeout=30_000)
            expect(page.get_by_text("Policy B")).to_be_visible()
            expect(page.get_by_text("This website runs on")).to_have_count(0)
            # 10% of the firm: too few accounts of its smallest distributors, and it says so
            small = page.get_by_text("accounts of the smallest of the 20 distributors")
            expect(small).to_be_visible()

            # few weeks so the test is quick: the plan starts at week 13, so 26 weeks
            weeks = page.get_by_role("slider").nth(1)
            weeks.focus()
            weeks.press("Home")
            weeks.press("ArrowRight")
            expect(page.get_by_text("Weeks: 26")).to_be_visible()

            # a lever: deal registration for policy B; B starts from "status_quo" (no plan)
            deal = page.get_by_label("Deal registration").nth(1)
            deal.check()
            expect(deal).to_be_checked()
            diff = page.locator(".lever-diff")
            expect(diff).to_contain_text("deal registration off → on")
            expect(diff).to_contain_text("outside the levers")
            expect(diff).to_contain_text("channel plan 3 rows → none")

            run.click()
            expect(page.get_by_text("done:")).to_be_visible(timeout=40_000)
            numbers = page.locator("#numbers")
            expect(numbers).to_be_visible()
            expect(numbers).to_contain_text("Contribution margin so far")
            expect(numbers).to_contain_text("B − A")
            cells = numbers.locator("td").all_inner_texts()
            assert any(any(ch.isdigit() for ch in cell) for cell in cells)
            expect(page.locator("img.chart-panel")).to_have_count(8)

            shots = []
            for width, height in SCREENS:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(300)  # the layout settles
                found = page.evaluate(
                    LAYOUT_PROBLEMS,
                    [MIN_SLIDER_PX, min(charts.FONT_PT.values()), charts.DPI],
                )
                assert found["problems"] == [], (width, found["problems"][:10])
                assert found["smallest"] >= MIN_TEXT_PX, (width, found["smallest"])
                page.evaluate("() => document.querySelector('h1').scrollIntoView()")
                shot = tmp_path / f"dashboard-{width}x{height}.png"
                _photograph(page, shot)
                assert shot.stat().st_size > 10_000
                shots.append(shot)
            print("screenshots:", *shots)
            assert outside == [], outside[:5]
        finally:
            browser.close()
    assert time.monotonic() - started < 60
