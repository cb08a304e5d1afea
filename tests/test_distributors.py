"""Distributors as businesses (docs/ODD.md §7.8, issue 12): their rules against numbers computed
here, and the mechanisms the issue asks for.

The equality tests build a small one-product market that isolates one rule, step the model
week by week and recompute the rule from what they can observe (population columns, the
ledger, the scenario, each distributor's public state), never by calling the code under test;
they are deterministic and fail a rule changed by a few per cent. The mechanism tests compare
paired runs (common random numbers: the same seed per pair) and state their power.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from typer.testing import CliRunner

from sim.channels import DISTRIBUTOR
from sim.cli import app
from sim.model.model import ChannelModel
from sim.model.population import ACTIVE
from sim.scenario.loader import ScenarioError, load_scenario, load_study, variant_of
from sim.scenario.schema import CHANNELS, Scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
LIST_PRICE = 50.0
MARGIN = 0.3
PROTECTION_WEEKS = 4
PLAN_START_WEEK = 4
ONE_PRODUCT = f"""\
name: distributor_rules
horizon_weeks: 24
market:
  buyers: 3000
  prospects: 0
  base_churn_annual: 0.0
  ecommerce_adoption: {{p: 0.0, q: 0.0}}
  journey: {{extra_touch_prob: 0.0}}
  segments:
    - name: moved            # the channel plan takes these off their distributor
      share: 1.0
      spend_annual: 5000
      orders_per_year: 12
      product_mix: {{widget: 1.0}}
      channels: [distributor]
products:
  - {{name: widget, list_price: {LIST_PRICE}, unit_cost: 20}}
reps:
  field: {{count: 0, calls_per_week: 20, loaded_cost_annual: 200000}}
  inside: {{count: 0, calls_per_week: 100, loaded_cost_annual: 100000}}
distributors:
  accounts_per_distributor: 600
  margin: {MARGIN}
  effort_leak: 0.0
  retaliation_steer: 0.0
  deal_protection_weeks: {PROTECTION_WEEKS}
  exit_after_weeks: 260
policy:
  channel_plan:
    - {{product: widget, segment: moved, from: distributor, to: ecommerce,
       start_week: {PLAN_START_WEEK}, ramp_weeks: 8, share: 0.6}}
"""
"""Buyers served only by distributors (5 of them), 60% moved to e-commerce over weeks 4-11;
no retaliation (``retaliation_steer: 0``), no exits, no leakage."""


@pytest.fixture
def one_product(write_yaml) -> Callable[..., Scenario]:
    """Load :data:`ONE_PRODUCT` with ``key.path=value`` overrides."""
    path: Path = write_yaml("one_product.yaml", ONE_PRODUCT)
    return lambda *overrides: load_scenario(path, overrides)


def direct_shift(*overrides: str, variant: str | None = None) -> Scenario:
    """``scenarios/direct_shift.yaml`` with overrides, optionally one of its variants."""
    study = load_study(SCENARIOS / "direct_shift.yaml", overrides)
    if variant is None:
        return study.scenario
    return variant_of(study.scenario, variant, study.variants[variant])


def run(scenario: Scenario, seed: int) -> ChannelModel:
    model = ChannelModel(scenario, seed)
    model.run()
    return model


# --------------------------------------------------------------------------- the network


def test_only_distributor_buyers_have_one_and_the_count_follows_the_density():
    """D = round(accounts / accounts_per_distributor); buyers with no week-0 distributor line
    have none; sizes are skewed (the largest fifth holds more than a fifth of accounts)."""
    for buyers, expected in ((5_000, 5), (20_000, 20)):
        model = ChannelModel(direct_shift(f"market.buyers={buyers}", "market.prospects=0"), 1)
        pop = model.population
        assert len(model.distributors) == expected
        uses = (pop.current_channel == DISTRIBUTOR).any(axis=1)
        np.testing.assert_array_equal(pop.distributor >= 0, uses)
        assert 0.2 < uses.mean() < 0.95
    accounts = np.sort(np.bincount(pop.distributor[uses], minlength=expected))[::-1]
    assert accounts[: expected // 5].sum() > 0.35 * accounts.sum()  # lognormal sigma 1: ~55%


def network_size(scenario: Scenario) -> int:
    return len(ChannelModel(scenario, 1).distributors)


def test_a_distributor_count_is_a_density_at_the_files_buyers(write_yaml):
    """SPEC §4's ``distributors.count``: that many distributors at the file's market.buyers,
    i.e. the density buyers / count, which a smaller --set market.buyers or variant keeps;
    a count given by --set or a variant is read at the buyers after that layer's changes."""
    path = write_yaml(
        "counted.yaml",
        f"extends: {SCENARIOS / 'direct_shift.yaml'}\n"
        "market: {buyers: 4000, prospects: 0}\n"
        "distributors: {count: 8}\n"
        "variants: {small: {market.buyers: 1000}, recount: {distributors.count: 2}}\n",
    )
    counted = load_scenario(path)
    assert counted.distributors.accounts_per_distributor == 500.0
    assert network_size(counted) == 8
    assert network_size(load_scenario(path, ["market.buyers=1000"])) == 2  # same density
    variants = load_study(path).variants
    assert network_size(variant_of(counted, "small", variants["small"])) == 2
    assert network_size(variant_of(counted, "recount", variants["recount"])) == 2
    recount = load_scenario(path, ["distributors.count=3", "market.buyers=1500"])
    assert recount.distributors.accounts_per_distributor == 500.0
    # The density, given by a file that extends one with a count, replaces it.
    child = write_yaml(
        "child.yaml", "extends: counted.yaml\ndistributors:\n  accounts_per_distributor: 250\n"
    )
    assert network_size(load_scenario(child)) == 16


@pytest.mark.parametrize(
    ("distributors", "overrides", "message"),
    [
        (
            "{count: 8, accounts_per_distributor: 500}",
            [],
            "bad.yaml: distributors: give count or accounts_per_distributor, not both",
        ),
        (
            "{count: 8}",
            ["distributors={count: 2, accounts_per_distributor: 10}"],
            "--set: distributors: give count or accounts_per_distributor, not both",
        ),
        ("{count: -1}", [], "bad.yaml: distributors.count: -1 is not allowed"),
        ("{count: many}", [], "bad.yaml: distributors.count: 'many' is not allowed"),
    ],
)
def test_a_bad_distributor_count_is_a_one_line_error_with_exit_code_2(
    write_yaml, distributors, overrides, message
):
    path = write_yaml(
        "bad.yaml", f"extends: {SCENARIOS / 'baseline.yaml'}\ndistributors: {distributors}\n"
    )
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path, overrides)
    result = CliRunner().invoke(app, ["validate", str(path), *(f"--set={o}" for o in overrides)])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


# --------------------------------------------------------------------------- threat


def test_threat_is_the_horizon_share_lost_to_announced_moves_and_volume_leaving(one_product):
    """θ_d = 1 - Σ_{k=1..T} (1 - q(k)) (1 - h_d)^(k-1) / T for a book of one product x segment:
    q(k) = (m(t + k) - m(t)) / (1 - m(t)) the chance an unmoved line is moved within k weeks,
    with m(t) = 0.6 clip((t - 3) / 8, 0, 1) the plan's moved share once it has started (q = 0
    before), h_d the distributor's measured weekly loss rate (public state, as of the previous
    week: the outlook is read before the week's books), T the planning horizon.
    """
    scenario = one_product()
    model = ChannelModel(scenario, 2)
    horizon = scenario.distributors.planning_horizon_weeks
    k = np.arange(1, horizon + 1)

    def moved(t: np.ndarray | int) -> np.ndarray:
        return 0.6 * np.clip((np.asarray(t) - PLAN_START_WEEK + 1) / 8, 0, 1)

    high = 0
    for week in range(1, 20):
        loss_rate = np.array([d.loss_rate_weekly for d in model.distributors])
        model.step()
        q = (moved(week + k) - moved(week)) / (1 - moved(week)) if week >= PLAN_START_WEEK else 0
        survive = (1 - loss_rate[:, None]) ** (k[None, :] - 1)
        expected = 1 - ((1 - q) * survive).sum(axis=1) / horizon
        np.testing.assert_allclose(
            [x.threat for x in model.distributors], expected, rtol=1e-9, atol=1e-12
        )
        high += int(expected.max() > 0.2)
    assert high >= 5, "the announced plan should raise a real threat"
    assert max(d.loss_rate_weekly for d in model.distributors) > 0, "and volume should leave"


def test_organic_migration_alone_raises_threat():
    """No plan: fast e-commerce adoption (Bass p = 0.3, q = 1.0 a year; adopters prefer the
    web, preference 4) against none. Distributors' sell-through falls 30-50% in a year and a
    half as adopters move online, and nothing else happens to them.

    Mean threat over weeks 27-78, paired by seed (4 seeds): measured when written 0.029-0.037
    with migration against 0.0002-0.0006 without. The one-sided paired t-test at alpha 0.01
    detects a true difference of 3.1 paired SDs with power 0.9 (n = 4; (t_0.99,3 + t_0.9,3) /
    2); the observed difference is about 8 paired SDs.
    """
    common = (
        "market.buyers=3000",
        "horizon_weeks=78",
        "policy.channel_plan=[]",
        "variants={}",
        "distributors.exit_after_weeks=260",  # the threat of the same distributors throughout
        *(f"market.segments.{s}.channel_preference.ecommerce=4" for s in range(3)),
    )
    still = direct_shift(*common, "market.ecommerce_adoption={p: 0, q: 0}")
    moving = direct_shift(*common, "market.ecommerce_adoption={p: 0.3, q: 1.0}")
    threat = {
        name: np.array(
            [run(s, seed).ledger.rows["distributor_threat_mean"][26:].mean() for seed in range(4)]
        )
        for name, s in (("still", still), ("moving", moving))
    }
    difference = threat["moving"] - threat["still"]
    assert stats.ttest_1samp(difference, 0.0, alternative="greater").pvalue < 0.01
    assert (difference > 0).all()


# --------------------------------------------------------------------------- P&L and effort


def test_carrying_cost_is_the_rate_on_the_channel_stock_the_books_count(one_product):
    """Verification against a second owner's count: the distributors' combined line profit
    falls, each week, by carrying_cost_annual / 52 x (channel stock after the week's sales) x
    our wholesale price, where that stock is read from the manufacturer's books (last week's
    ``channel_inventory_units`` less this week's ``sell_through_units``), not from the agents.

    The carrying cost is a parameter read back (verification), but the stock it applies to is
    the books' independent count; nothing a distributor decides here depends on the carrying
    cost (no retaliation, leakage or exits), so the two runs are otherwise equal.
    Deterministic; the week's sales are a sixth to a third of the stock (3-6 weeks of cover),
    so a cost charged on the stock before sales or after the restock misses by far more than
    the tolerance.
    """
    carrying = 0.5
    free, costly = (
        ChannelModel(one_product(f"distributors.carrying_cost_annual={c}"), 3)
        for c in (0.0, carrying)
    )
    stock = float(sum(d.stock_units.sum() for d in free.distributors))  # week 0, units
    for week in range(free.scenario.horizon_weeks):
        free.step()
        costly.step()
        gap = sum(d.line_profit_history[-1] for d in free.distributors) - sum(
            d.line_profit_history[-1] for d in costly.distributors
        )
        after_sales = stock - free.ledger.rows["sell_through_units"][week]
        expected = carrying / 52 * after_sales * LIST_PRICE * (1 - MARGIN)
        assert gap == pytest.approx(expected, rel=1e-9), f"week {week + 1}"
        stock = free.ledger.rows["channel_inventory_units"][week]
    assert free.ledger.rows["sell_through_units"].sum() > 0


def test_a_distributor_pushes_our_line_less_the_more_the_competitors_line_pays(one_product):
    """Comparative statics of the push (effort), no announced moves (threat 0) unless said.

    Both lines resell at its price p = w (1 + markup) ~ 1.19 of list: ours earns it 1 - w / p
    ~ 0.41 of sales, the competitor's 1 - (1 - alternative_margin) / p. With the competitor's
    wholesale discount at 0.10 (it earns ~0.24 < 0.41) it never pulls back: effort stays 1.
    At 0.35, 0.45 and 0.55 (0.46, 0.54, 0.62 > 0.41) every distributor's effort ends below 1
    and lower the higher the competitor pays; and the case's announced move (60% of its
    lines, weeks 4-11) lowers it further at each of them. Deterministic (seed 2); measured when
    written: end effort 0.86-0.91, 0.69-0.73, 0.58-0.61 without the move, 0.40-0.54,
    0.32-0.44, 0.27-0.37 with it.
    """
    effort = {}
    for plan in ("still", "moved"):
        for alternative in (0.10, 0.35, 0.45, 0.55):
            overrides = [f"distributors.alternative_margin={alternative}"]
            if plan == "still":
                overrides.append("policy.channel_plan=[]")
            model = ChannelModel(one_product(*overrides), 2)
            lowest = np.ones(len(model.distributors))
            while model.week < model.scenario.horizon_weeks:
                model.step()
                lowest = np.minimum(lowest, [d.effort for d in model.distributors])
            effort[plan, alternative] = np.array([d.effort for d in model.distributors])
            if (plan, alternative) == ("still", 0.10):
                assert (lowest == 1.0).all()
    for plan in ("still", "moved"):
        ends = [effort[plan, a] for a in (0.35, 0.45, 0.55)]
        assert (ends[0] < 1.0).all()
        assert (np.diff(ends, axis=0) < 0).all(), plan
    for alternative in (0.35, 0.45, 0.55):
        assert (effort["moved", alternative] < effort["still", alternative]).all()


@pytest.mark.xfail(
    strict=True,
    reason="defect (reported on issue 19): a need that leaks when effort falls is lost to "
    "the distributor too, so pulling back its push only costs it",
)
def test_pulling_back_its_push_pays_the_distributor(one_product):
    """The push rule's premise: a distributor lowers its effort on our line because the
    competitor's line pays it more, so doing so should raise its own total profit (both lines).

    Paired by seed (3 seeds x 5 distributors): the rule (``effort_adjust_rate`` 0.2) against
    effort held at 1 (rate 0), the competitor paying 0.40 off list (effort falls to ~0.4),
    ``effort_leak`` 0.3. Measured when written: the rule's total profit is lower for all 15
    distributors (by 2k-75k on 0.1-7 M over 24 weeks) and our revenue by 0.2-0.35 M: the
    needs that leak go to a third party, not to the distributor's competitor line. Marked
    xfail (strict) so it flips to a failure to remove once fixed.
    """
    gains = []
    for seed in range(3):
        total = {}
        for rate in (0.2, 0.0):
            scenario = one_product(
                "distributors.effort_leak=0.3",
                "distributors.alternative_margin=0.4",
                f"distributors.effort_adjust_rate={rate}",
            )
            model = run(scenario, seed)
            total[rate] = np.array([sum(d.total_profit_history) for d in model.distributors])
        gains.extend(total[0.2] - total[0.0])
    assert np.mean(np.array(gains) > 0) > 0.5, gains


# --------------------------------------------------------------------------- prices

DISTRIBUTOR_COSTS_OFF = (
    *(
        f"distributors.cost_to_serve.{key}=0"
        for key in (
            "cost_per_order",
            "cost_per_line",
            "freight_rate",
            "freight_minimum",
            "bad_debt_share",
            "days_sales_outstanding",
        )
    ),
    "distributors.carrying_cost_annual=0",
)
"""Overrides that leave a distributor no cost on our line but what it pays us and the line's
fixed cost: its line profit is then its gross profit less a constant."""
MARKUP_GRID = (0.8, 0.9, 1.0, 1.1, 1.2)
"""Multiples of each distributor's own rule markup held in the search."""


def test_the_markup_rule_maximises_the_distributors_gross_profit_on_our_line(one_product):
    """What the rule claims: the inverse-elasticity markup ``1 / (beta w (1 - s))`` maximises
    the distributor's gross profit on our line, (p - w) x its sales, against the demand it
    faces (its share s of its accounts' needs, logit in price). It does not claim to
    maximise its operating profit (cost to serve, carrying cost, fixed cost) nor its
    portfolio profit (the competitor line resells at the same price).

    Brute force: run the rule for 40 weeks (no plan, no threat) and read each distributor's
    markup m_d at the end; then rerun the same seed (common random numbers) with
    ``markup_adjust_rate`` 0 and each markup held at k x m_d, k in 0.8-1.2, and sum each
    distributor's line profit over weeks 5-40 (its own costs off: gross profit less the
    line's fixed cost, a constant). Each distributor's best k is within one grid step of 1,
    the network's best k is 1, and the vertex of the parabola through k = 0.9, 1.0, 1.1 of the
    network's profit is within 0.05 of 1. Deterministic (seed 1); measured when written:
    vertex 0.981; profit at k = 0.8 and 1.2 lower by 9% and 15%: a rule 10% off would put the
    vertex ~0.1 away and fail.
    """
    scenario = one_product("policy.channel_plan=[]", "horizon_weeks=40", *DISTRIBUTOR_COSTS_OFF)
    rule = run(scenario, 1)
    markup = np.array([d.markup for d in rule.distributors])
    held = one_product(
        "policy.channel_plan=[]",
        "horizon_weeks=40",
        *DISTRIBUTOR_COSTS_OFF,
        "distributors.markup_adjust_rate=0",
    )
    profit = []
    for k in MARKUP_GRID:
        model = ChannelModel(held, 1)
        for d, m in zip(model.distributors, markup, strict=True):
            d.markup = k * m
        model.run()
        assert [d.markup for d in model.distributors] == pytest.approx(k * markup)
        profit.append([sum(d.line_profit_history[4:]) for d in model.distributors])
    profit = np.array(profit)  # (grid, distributor)
    best = np.array(MARKUP_GRID)[profit.argmax(axis=0)]
    assert (np.abs(best - 1.0) <= 0.1 + 1e-9).all(), best
    network = profit.sum(axis=1)
    assert MARKUP_GRID[int(network.argmax())] == 1.0, network
    low, mid, high = network[1:4]
    vertex = 1.0 + 0.1 * (low - high) / (2.0 * (low - 2.0 * mid + high))
    assert vertex == pytest.approx(1.0, abs=0.05)


def test_direct_ecommerce_restrains_markups_even_with_few_direct_sales():
    """Chiang, Chhajed & Hess (2003): opening our e-commerce to the distributors' segments
    lowers their mean markup, while direct e-commerce wins only a small share of revenue.

    10,000 buyers (10 distributors), 30% adopters and no diffusion, no plan, 52 weeks; mean
    markup over weeks 14-52, paired by seed (4 seeds). Measured when written: lower by 0.010 to
    0.026 (mean 0.016 on ~0.28, paired SD 0.0074) with e-commerce at 6.4-7.4% of revenue. The
    one-sided paired t-test at alpha 0.05 has power 0.9 against a true reduction of 0.015
    ((t_0.95,3 + t_0.9,3) x SD / 2), about the effect measured: the effect is modest.
    """
    common = (
        "market.buyers=10000",
        "horizon_weeks=52",
        "policy.channel_plan=[]",
        "variants={}",
        "market.ecommerce_adoption={p: 0, q: 0}",
        *(f"market.segments.{s}.digital_adopters_initial=0.3" for s in range(3)),
    )
    closed = direct_shift(
        *common,
        *(f"market.segments.{s}.channels=[field, inside, distributor]" for s in range(3)),
    )
    opened = direct_shift(*common)
    lower = []
    for seed in range(4):
        without, with_ = run(closed, seed).ledger.rows, run(opened, seed).ledger.rows
        lower.append(
            without["distributor_markup_mean"][13:].mean()
            - with_["distributor_markup_mean"][13:].mean()
        )
        assert 0 < with_["revenue_ecommerce"].sum() < 0.1 * with_["revenue"].sum()
        assert without["revenue_ecommerce"].sum() == 0
    assert stats.ttest_1samp(lower, 0.0, alternative="greater").pvalue < 0.05, lower


# --------------------------------------------------------------------------- retaliation


def test_retaliating_raises_each_retaliating_distributors_own_total_profit(one_product):
    """The case's move (60% of the lines, weeks 4-11) over a year, exits off, markups held at
    their start (so the competitor line's margin is the same in both runs): distributors
    allowed to convert threatened lines (``retaliation_steer`` 0.3) against the same seed
    where no push succeeds (0). Every distributor that retaliated in some week earns more
    across its portfolio (our line + the competitor's) than it would have without, while its
    profit on our line falls: the gain comes from the competitor line on lines we were
    taking anyway.

    4 seeds x 5 distributors, each its own pair: under no effect a gain would be a coin
    flip, so 20 of 20 has probability 2^-20 (sign test). Measured when written: every one
    retaliated (9-49 weeks), gains of 0.1-4% of a total of 0.1-7.6 M a year.
    """
    common = (
        "horizon_weeks=52",
        "distributors.markup_adjust_rate=0",
    )
    gains, ours = [], []
    for seed in range(4):
        total, line = {}, {}
        for steer in (0.3, 0.0):
            model = ChannelModel(
                one_product(*common, f"distributors.retaliation_steer={steer}"), seed
            )
            weeks = np.zeros(len(model.distributors), dtype=int)
            while model.week < model.scenario.horizon_weeks:
                model.step()
                weeks += [d.retaliating for d in model.distributors]
            total[steer] = np.array([sum(d.total_profit_history) for d in model.distributors])
            line[steer] = np.array([sum(d.line_profit_history) for d in model.distributors])
            if steer == 0.3:
                retaliated = weeks > 0
        assert retaliated.sum() >= 3
        gains.extend((total[0.3] - total[0.0])[retaliated])
        ours.extend((line[0.3] - line[0.0])[retaliated])
    assert len(gains) >= 12
    assert all(g > 0 for g in gains), gains
    assert all(o < 0 for o in ours), ours


# --------------------------------------------------------------------------- exit


def test_an_exit_touches_only_that_distributors_lines():
    """Distributors forced out by their P&L (the competitor line earns 60% at list; every
    account follows at even odds), no churn, no retaliation. In an exit week, the lines that
    go to the competitor line are lines the exiting distributor served; no other buyer's
    distributor, lines or status change; its accounts re-home to a remaining distributor.
    With ``follow_weight`` 0 each served line follows with probability (1 - line_share) / 2:
    the count that follows is within 4.5 binomial SDs of that (false alarm ~7e-6; a rule off
    by a fifth fails at the ~600 lines of an exit).
    """
    scenario = direct_shift(
        "market.buyers=4000",
        "market.prospects=0",
        "market.inbound_accounts_annual=0",
        "market.base_churn_annual=0",
        "horizon_weeks=40",
        "distributors.alternative_margin=0.6",
        "distributors.retaliation_steer=0",
        "distributors.exit_after_weeks=1",
        "distributors.follow_weight=0",
        "policy.channel_plan=[]",
        "variants={}",
    )
    model = ChannelModel(scenario, 3)
    pop = model.population
    exits = 0
    while model.week < scenario.horizon_weeks and exits < 2:
        before = {
            name: getattr(pop, name).copy()
            for name in ("distributor", "alternative_line", "status")
        }
        active = [d.active for d in model.distributors]
        model.step()
        gone = [i for i, d in enumerate(model.distributors) if active[i] and not d.active]
        if not gone:
            assert (pop.alternative_line == before["alternative_line"]).all()
            continue
        exits += len(gone)
        theirs = np.isin(before["distributor"], gone)
        np.testing.assert_array_equal(pop.distributor[~theirs], before["distributor"][~theirs])
        np.testing.assert_array_equal(pop.status, before["status"])
        new = pop.alternative_line & ~before["alternative_line"]
        assert not new[~theirs].any(), "lines of other distributors' buyers followed"
        # Every line that followed was one it served: last bought through the distributor.
        served = (
            theirs[:, None] & (pop.current_channel == DISTRIBUTOR) & ~before["alternative_line"]
        )
        assert not (new & ~served).any()
        still = [i for i, d in enumerate(model.distributors) if d.active]
        assert np.isin(pop.distributor[theirs], [*still, -1]).all()
        # Follow share against the rule: with follow_weight 0, p = (1 - line_share) / 2.
        share = np.array([d.line_share for d in model.distributors])
        p = (1.0 - share[before["distributor"][np.nonzero(served)[0]]]) / 2.0
        followed = new[served].sum()
        assert abs(followed - p.sum()) < 4.5 * np.sqrt((p * (1 - p)).sum()), (followed, p.sum())
    assert exits >= 1


# --------------------------------------------------------------------------- speed and scale


def exit_shares(buyers: int, variant: str, seeds: range, *overrides: str) -> np.ndarray:
    """Share of distributors exited by week 78 in each run of a direct-shift variant.

    ``buyers`` below the file's 20,000 makes a smaller firm, sized as the file's is: reps and
    prospects in proportion (40 field and 20 inside reps, 8,000 prospects), distributors from
    their density. ``overrides`` may instead simulate a sample of the file's firm.
    """
    factor = buyers / 20_000
    scenario = direct_shift(
        f"market.buyers={buyers}",
        f"market.prospects={round(8_000 * factor)}",
        f"reps.field.count={round(40 * factor)}",
        f"reps.inside.count={round(20 * factor)}",
        "horizon_weeks=78",
        *overrides,
        variant=variant,
    )
    shares = []
    for seed in seeds:
        model = run(scenario, seed)
        shares.append(model.ledger.rows["distributors_exited"][-1] / len(model.distributors))
    return np.array(shares)


SMALL_RUNS, LARGE_RUNS = 16, 4
QUARTER = "market.sample_share=0.25"
"""The file's firm (20,000 accounts, 20 distributors) at a quarter of its accounts."""


@pytest.fixture(scope="module")
def fast_firm() -> np.ndarray:
    """Share exiting in each of 16 runs of the fast shift, the firm at a quarter sample."""
    return exit_shares(20_000, "fast", range(SMALL_RUNS), QUARTER)


def test_a_fast_shift_makes_more_distributors_exit_than_a_slow_one(fast_firm):
    """The firm's 20 distributors at a quarter sample, 16 paired seeds (common random
    numbers), 78 weeks: more exit after a four-week move than after a two-year one (one-sided
    paired t-test, alpha 0.05). Measured when written: 0.1375 against 0.103 (2.75 and 2.06 of
    20), p = 0.018; SD of the paired differences 0.060, so the test has power 0.9 against a
    true difference of 0.046 ((t_0.95 + t_0.90) x SE, SE 0.015), about 0.6 against the
    0.034 measured. No plan: 0.05 (1 of 20)."""
    slow = exit_shares(20_000, "slow", range(SMALL_RUNS), QUARTER)
    assert fast_firm.mean() > slow.mean()
    assert stats.ttest_rel(fast_firm, slow, alternative="greater").pvalue < 0.05


def test_the_share_exiting_agrees_across_firm_sizes():
    """The fast shift at a 5,000-account firm (5 distributors, 16 runs) and at 20,000 (20, 4
    runs): the same density, so the same share exiting. Welch two-sided test at alpha 0.01
    must not reject, and the means must lie within 0.15 of each other. Measured when written:
    0.0875 (SD 0.126) and 0.1125 (SD 0.131), p = 0.75. Power: with those SDs (SE of the
    difference 0.073) the test rejects a true difference of 0.28 with power 0.9 (normal
    approximation), and the 0.15 bound fails smaller ones, so it tells apart the old behaviour
    (exits following the sample density: 20% vs 52%)."""
    small = exit_shares(5_000, "fast", range(SMALL_RUNS))
    large = exit_shares(20_000, "fast", range(100, 100 + LARGE_RUNS))
    assert stats.ttest_ind(small, large, equal_var=False).pvalue > 0.01
    assert abs(small.mean() - large.mean()) < 0.15


def test_a_referral_fee_reduces_exits_through_the_distributors_pnl(fast_firm):
    """Fast shift with a 10% referral fee, 16 paired seeds, the firm at a quarter sample:
    fewer exits (one-sided paired t-test, alpha 0.05). Measured when written: 0.097 against
    0.1375, p = 7e-4 (SD of the paired differences 0.042: MDD90 0.033); at 5% 0.125 (p =
    0.15, not told apart), at 20% 0.031. The fee reaches the distributors only as P&L income
    (the fee test below) and in their value of a line once moved (ODD §7.8); counting its
    income as margin on the lines they keep, as before issue 20, had 5% halve the exits."""
    fee = exit_shares(
        20_000, "fast", range(SMALL_RUNS), QUARTER, "policy.distributor_referral_fee=0.10"
    )
    assert fee.mean() < fast_firm.mean()
    assert stats.ttest_rel(fee, fast_firm, alternative="less").pvalue < 0.05


# --------------------------------------------------------------------------- softeners


REGISTERING = (
    # Buyers switch between their distributor and inside sales need by need, so distributors
    # win lines from inside sales (new business to register) and serve lines they already had.
    "market.segments=[{name: moved, share: 1.0, spend_annual: 5000, orders_per_year: 12,"
    " product_mix: {widget: 1.0}, channels: [distributor, inside],"
    " channel_preference: {distributor: 1.5}}]",
    "reps.inside={count: 3, calls_per_week: 100, loaded_cost_annual: 100000,"
    " min_account_spend_annual: 0}",
    "policy.deal_registration=true",
    "market.buyers=6000",
    "horizon_weeks=52",
)


@pytest.fixture
def registering(one_product) -> dict:
    """One run of :data:`ONE_PRODUCT` with :data:`REGISTERING`, and the deals registered by the
    rule recomputed from its orders: a distributor order on a line whose previous order (or
    week-0 channel) was not through the distributor registers it, ``until = t + P - 1``.

    Returns the model, each week's orders (journal) with ``registered`` (protected this week by
    the recomputed rule), ``until`` per week (the recomputed (N, P) array after the week) and
    ``engine`` (the model's ``registered_until`` after each week).
    """
    model = ChannelModel(one_product(*REGISTERING), 6, journal=True)
    pop = model.population
    channel = pop.current_channel.copy()
    until = np.full(channel.shape, -1)
    weeks, untils, engine = [], [], []
    for week in range(1, model.scenario.horizon_weeks + 1):
        model.step()
        orders = model.books.journal["orders"][-1].copy()
        b, p, c = (orders[k].to_numpy() for k in ("buyer", "product", "channel"))
        won = (c == DISTRIBUTOR) & (channel[b, p] != DISTRIBUTOR)
        until[b[won], p[won]] = week + PROTECTION_WEEKS - 1
        orders["registered"] = until[b, p] >= week
        orders["won"] = won
        channel[b, p] = c
        weeks.append(orders)
        untils.append(until.copy())
        engine.append(pop.registered_until.copy())
    orders = pd.concat(weeks, ignore_index=True)
    return {"model": model, "orders": orders, "until": untils, "engine": engine}


def test_deal_registration_registers_only_lines_the_distributor_wins(registering):
    """registered_until equals, every week, the rule recomputed from the orders: lines a
    distributor wins from inside sales are registered for P weeks, lines it already served are
    not (most of its orders)."""
    for engine, until in zip(registering["engine"], registering["until"], strict=True):
        np.testing.assert_array_equal(engine, until)
    orders = registering["orders"]
    at = orders[orders["channel"] == DISTRIBUTOR]
    assert at["won"].sum() > 300, "distributors should win lines from inside sales"
    assert (~at["won"]).sum() > 5 * at["won"].sum(), "and mostly serve lines they had"


def test_a_registered_line_is_not_moved_until_its_protection_ends(registering):
    """The segment reaches e-commerce only through the plan (60% from week 4): no e-commerce
    order on a line in its protection, and lines leave for e-commerce once it ends."""
    orders, untils = registering["orders"], registering["until"]
    online = orders[orders["channel"] == CHANNELS.index("ecommerce")]
    # Protection as of the start of the order's week (a line online was not won that week).
    cells = online[["week", "buyer", "product"]].to_numpy()
    before = np.array([untils[w - 2][b, p] if w > 1 else -1 for w, b, p in cells])
    assert len(online) > 1000
    assert not (before >= online["week"].to_numpy()).any(), "a protected line was moved"
    ended = (before >= 0) & (before < online["week"].to_numpy())
    assert ended.sum() > 30, "registered lines should leave when their protection ends"


def test_deal_registration_margin_is_paid_on_registered_lines_only(registering):
    """Our distributor revenue = sell-in at list x (1 - margin) less deal_registration_margin x
    list x units on the distributor orders of registered lines (no promotions)."""
    model, orders = registering["model"], registering["orders"]
    scenario = model.scenario
    weeks = scenario.horizon_weeks
    sell_in = pd.concat(model.books.journal["sell_in"], ignore_index=True)
    at = orders[orders["channel"] == DISTRIBUTOR]
    margin = scenario.distributors.deal_registration_margin
    paid = at["units"] * LIST_PRICE * margin * at["registered"]

    def weekly(frame: pd.DataFrame, values: pd.Series) -> np.ndarray:
        return (
            values.groupby(frame["week"])
            .sum()
            .reindex(range(1, weeks + 1), fill_value=0.0)
            .to_numpy()
        )

    expected = weekly(sell_in, sell_in["units"] * LIST_PRICE * (1 - MARGIN)) - weekly(at, paid)
    assert paid.sum() > 0
    np.testing.assert_allclose(
        model.ledger.rows["revenue_distributor"], expected, rtol=1e-9, atol=1e-6
    )


def test_a_registered_line_is_safe_until_its_protection_ends_then_the_plan_may_take_it(
    one_product,
):
    """Keep share of a line registered for ``p`` more weeks, at week t = 6 of the plan
    (m(t) = 0.6 clip((t - 3) / 8, 0, 1)): Σ_{k=1..T} (1 - [k > p] m(t + k)) (1 - h)^(k-1) / T,
    the plan's whole moved share once protection ends, as the distributor does not know the
    order in which lines are taken; an unregistered line keeps the conditional q(k) of the
    threat test. Mutations caught: registered lines leaving for certain at the end, or treated
    as unregistered."""
    model = ChannelModel(one_product(*REGISTERING), 6)
    week = 6
    for _ in range(week):
        model.step()
    pop = model.population
    buyer = np.flatnonzero(pop.distributor >= 0)[:40]
    product = np.zeros(len(buyer), dtype=np.int64)
    protected_weeks = np.arange(len(buyer)) % 20 - 5  # -5 (unregistered) .. 14 weeks ahead
    pop.registered_until[buyer, 0] = week + protected_weeks
    horizon = model.scenario.distributors.planning_horizon_weeks
    k = np.arange(1, horizon + 1)
    moved = 0.6 * np.clip((week + k - PLAN_START_WEEK + 1) / 8, 0, 1)
    now = 0.6 * np.clip((week - PLAN_START_WEEK + 1) / 8, 0, 1)
    h = np.array([d.loss_rate_weekly for d in model.distributors])[pop.distributor[buyer]]
    survive = (1 - h[:, None]) ** (k[None, :] - 1)
    q = np.where(
        protected_weeks[:, None] > 0,
        np.where(k[None, :] > protected_weeks[:, None], moved[None, :], 0.0),
        (moved - now) / (1 - now),
    )
    expected = ((1 - q) * survive).sum(axis=1) / horizon
    got = model.network.line_keep_share(week, buyer, product)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # The engine reads unprotected lines from a product x segment x distributor table.
    np.testing.assert_array_equal(model.network.line_keep(week, buyer, product), got)


TWO_SEGMENTS = {
    # A second segment of large accounts buys through inside sales (or its distributor) and is
    # never moved by the plan: its direct revenue must earn its distributor no fee.
    "market.segments": (
        "[{name: moved, share: 0.5, spend_annual: 5000, spend_sigma: 0.3, orders_per_year: 12,"
        " product_mix: {widget: 1.0}, channels: [distributor]},"
        " {name: direct, share: 0.5, spend_annual: 50000, spend_sigma: 0.3, orders_per_year: 12,"
        " product_mix: {widget: 1.0}, channels: [distributor, inside]}]"
    ),
    "reps.inside": (
        "{count: 3, calls_per_week: 100, loaded_cost_annual: 100000,"
        " min_account_spend_annual: 20000}"
    ),
    "reps.resist_web_orders": "0",
}


def test_referral_fee_is_paid_on_moved_lines_only_and_is_the_distributors_income(one_product):
    """Fees = fee x direct revenue of lines moved off a distributor, and the only difference
    they make to a distributor is its income: with exits off, no retaliation and no leakage
    nothing the distributors do depends on the fee, so the same seed with and without it gives
    line profits differing by exactly the fees paid to each, week by week.

    The moved segment reaches e-commerce only through the plan, so all e-commerce revenue is
    from moved lines; inside revenue comes only from the unmoved segment, whose buyers also
    have a distributor.
    """
    fee = 0.08
    overrides = [f"{key}={value}" for key, value in TWO_SEGMENTS.items()]
    runs = {
        f: run(one_product(*overrides, f"policy.distributor_referral_fee={f}"), 4)
        for f in (0.0, fee)
    }
    rows = runs[fee].ledger.rows
    assert rows["revenue_inside"][: PLAN_START_WEEK - 1].sum() > 0
    assert rows["revenue_ecommerce"].sum() > 0
    np.testing.assert_allclose(
        rows["referral_fees"], fee * rows["revenue_ecommerce"], rtol=1e-9, atol=1e-9
    )
    profit = {
        f: np.array([d.line_profit_history for d in m.distributors]).sum(axis=0)
        for f, m in runs.items()
    }
    np.testing.assert_allclose(profit[fee] - profit[0.0], rows["referral_fees"], atol=1e-6)
    # ... and its margin on the lines it still sells, which its decisions weigh against the
    # competitor's line, is the same: the fee is income on lines it no longer sells (issue 20)
    margin = {
        f: (
            m.network.state.profit_recent
            - m.network.state.referral_recent
            + m.network.state.line_fixed_cost_weekly
        )
        / m.network.state.revenue_recent
        for f, m in runs.items()
    }
    assert runs[fee].network.state.referral_recent.min() > 0
    np.testing.assert_allclose(margin[fee], margin[0.0], rtol=1e-9)
    # its threshold uses that margin r: convert below (a - f) / (r - f), a from the fee-less run
    r = margin[0.0]
    a = runs[0.0].network.state.convert_below * r
    np.testing.assert_allclose(
        runs[fee].network.state.convert_below, (a - fee) / (r - fee), rtol=1e-9
    )


DOCKING = (
    "policy.channel_plan=[]",
    "horizon_weeks=52",
    "market.segments.0.channels=[distributor, ecommerce]",
    "market.segments.0.digital_adopters_initial=1.0",
    "market.segments.0.channel_preference={distributor: 1.0, ecommerce: 0.0}",
    "market.choice.habit_weight=0",
    "market.choice.relationship_weight=0",
    "market.choice.effort_weight=0",
    "distributors.accounts_per_distributor=3000",
    "distributors.cost_to_serve.cost_per_order=0",
    "distributors.cost_to_serve.cost_per_line=0",
    "distributors.cost_to_serve.freight_minimum=0",
    "distributors.cost_to_serve.freight_rate=0.02",
    "distributors.cost_to_serve.bad_debt_share=0.005",
    "distributors.cost_to_serve.days_sales_outstanding=45",
)
"""One manufacturer, one distributor, one direct channel (e-commerce), identical buyers: every
need faces the same three alternatives (the distributor, our e-commerce, the competitor's
line), and the distributor's cost to serve is proportional to its sales (freight and
credit)."""


def test_the_distributors_price_docks_with_the_logit_bertrand_equilibrium(one_product):
    """Docking (issue 20): in the reduced game the model's resale price is the closed form's.

    With identical buyers the distributor's share of a need at price ``p`` is the logit
    ``s(p) = e^{u_d - beta (p - 1)} / (e^{u_d - beta (p - 1)} + e^{u_e - beta (r_e - 1)} +
    e^{u_c})``, and its profit ``(p (1 - c) - w) s(p)`` is highest where ``p = w / (1 - c) +
    1 / (beta (1 - s(p)))`` (docs/ODD.md §7.8), solved here with ``brentq`` from the scenario's
    numbers alone (``c`` = freight rate + bad debt + days outstanding / 365 x the discount
    rate). The model starts at its own fixed point (Newton on the choice kernel's
    probabilities) and then prices from the share it sees week by week: both within 2% of
    the closed form, at the start and over weeks 27-52; its share seen within 2% of s(p*).
    Measured when written: c = 0.0349, p* = 0.9937 of list; the start within 1e-6, the
    second half-year's mean price 0.9943 (+0.06%, the share's weekly noise over 3,000 buyers).
    The rule without its own costs, ``w + 1 / (beta (1 - s))``, prices ~2.3% lower and fails.
    """
    scenario = one_product(*DOCKING)
    choice, cfg = scenario.market.choice, scenario.distributors
    preference = scenario.market.segments[0].channel_preference
    realisation = scenario.channels.ecommerce.price_realisation
    beta, w = choice.price_weight, 1.0 - cfg.margin
    rates = cfg.cost_to_serve
    assert rates.freight_rate > 0  # the rule passes its own costs on
    c = (
        rates.freight_rate
        + rates.bad_debt_share
        + rates.days_sales_outstanding / 365.0 * scenario.discount_rate_annual
    )

    def share(p: float) -> float:
        distributor = np.exp(preference.distributor - beta * (p - 1.0))
        others = np.exp(preference.ecommerce - beta * (realisation - 1.0))
        return distributor / (distributor + others + np.exp(choice.competitor_utility))

    floor = w / (1.0 - c)
    price = optimize.brentq(
        lambda p: p - floor - 1.0 / (beta * (1.0 - share(p))), floor, floor + 10.0
    )
    model = ChannelModel(scenario, 1)
    (distributor,) = model.distributors
    assert distributor.resale_price == pytest.approx(price, rel=1e-6)
    prices, shares = [], []
    for week in range(scenario.horizon_weeks):
        model.step()
        if week >= 26:
            prices.append(distributor.resale_price)
            shares.append(distributor.share_seen)
    assert np.mean(prices) == pytest.approx(price, rel=0.02)
    assert np.mean(shares) == pytest.approx(share(price), rel=0.02)
    assert distributor.cost_rate == pytest.approx(c, rel=1e-6)


def test_lines_lost_to_competitor_counts_the_lines_moved_for_good():
    """``lines_lost_to_competitor`` (SPEC §6) never falls, is 0 where no distributor converts
    a line or leaves, and at the horizon is the firm's count of lines on a competitor's line
    (the sample's flagged cells x the accounts each stands for: a verification of the
    bookkeeping, not of a mechanism). The fast shift at a quarter of the firm, 52 weeks."""
    scenario = direct_shift("market.sample_share=0.25", "horizon_weeks=52", variant="fast")
    model = run(scenario, 3)
    lost = model.ledger.rows["lines_lost_to_competitor"]
    assert (np.diff(lost) >= 0).all() and lost[-1] > 0
    flagged = np.count_nonzero(model.population.alternative_line)
    assert lost[-1] == pytest.approx(flagged * model.sample.weight)
    calm = direct_shift(
        "market.sample_share=0.25",
        "horizon_weeks=52",
        "distributors.retaliation_steer=0",
        "distributors.exit_after_weeks=260",
        variant="status_quo",
    )
    assert run(calm, 3).ledger.rows["lines_lost_to_competitor"].max() == 0


def test_an_exit_unsettles_only_the_accounts_it_served():
    """An exiting distributor's accounts that never bought through it notice nothing (issue
    20): the same seed with ``rehome_effort`` 0 and 0.5 is the same run up to the first
    exit, whose week then leaves the effort of every account that had no line through it
    unchanged and raises (up to 1) that of each active one it served."""
    overrides = (
        "market.sample_share=0.25",
        "horizon_weeks=60",
        "distributors.alternative_margin=0.6",
        "distributors.exit_after_weeks=1",
        "policy.channel_plan=[]",
        "variants={}",
    )
    models = [
        ChannelModel(direct_shift(*overrides, f"distributors.rehome_effort={e}"), 3)
        for e in (0.0, 0.5)
    ]
    calm, bumped = models
    while calm.week < 60 and all(d.active for d in calm.distributors):
        accounts_of = calm.population.distributor.copy()
        active_before = calm.population.status == ACTIVE
        for model in models:
            model.step()
    # the lines as the exit saw them: the week's orders are remembered before phase 8
    bought = (calm.population.current_channel == DISTRIBUTOR).any(axis=1)
    gone = [i for i, d in enumerate(calm.distributors) if not d.active]
    assert gone and [not d.active for d in bumped.distributors] == [
        not d.active for d in calm.distributors
    ]
    theirs = np.isin(accounts_of, gone)
    change = bumped.population.effort - calm.population.effort
    assert (change[theirs & ~bought] == 0).all() and (theirs & ~bought).any()
    # active through the week (an account entering this week turns active after phase 8)
    served = theirs & bought & active_before & (calm.population.status == ACTIVE)
    expected = (
        np.minimum(1.0, calm.population.effort[served] + 0.5) - calm.population.effort[served]
    )
    np.testing.assert_allclose(change[served], expected, rtol=1e-6)
    assert (change[~theirs] == 0).all()
