"""The engine against theory and independent computations.

- reproducibility: one SeedSequence per run, replications independent of each other;
- accounting identities of the weekly ledger, every week;
- Bass diffusion of e-commerce adoption against the mean-field recursion and the closed form;
- churn survival against (1 - base_churn_annual) ** (t / 52), and the effort multiplier;
- need arrivals against 1 - exp(-orders_per_year / 52);
- sell-in, sell-through rebates and e-commerce revenue against sums computed here;
- every shipped scenario (and each of its variants) runs, as do edge configurations.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, run_model, small

from sim.channels import DISTRIBUTOR, ECOMMERCE, FIELD, INSIDE
from sim.experiments.runner import RunKey, RunOutput, simulate
from sim.model import buyers
from sim.model.ledger import CONFLICT_TYPES, METRICS
from sim.model.model import ChannelModel
from sim.model.policy import ChannelPlan
from sim.model.population import ACTIVE, CHURNED, NEVER, PROSPECT, weekly_probability
from sim.results.tables import run_frame, summarise
from sim.scenario.loader import load_scenario, load_study, variant_of, with_changes
from sim.scenario.schema import Scenario

BASELINE = SCENARIOS / "baseline.yaml"
SMALL_REPS = ("reps.field.count=4", "reps.inside.count=2")
DIRECT_SHIFT = SCENARIOS / "direct_shift.yaml"
TRADE_PROMOTIONS = SCENARIOS / "trade_promotions.yaml"


# Statistical checks below use 4.5-SD bands: a false alarm has probability ~6.8e-6 per check,
# and a true shift of 5.8 SD of the checked quantity fails with probability 0.9 (power).

# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_outputs(small_scenario):
    # Global generators in different states must not matter: all randomness is the run's own.
    random.seed(1)
    np.random.seed(1)
    a = run_model(small_scenario, seed=11).ledger.rows
    random.seed(2)
    np.random.seed(2)
    b = run_model(small_scenario, seed=11).ledger.rows
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_different_seed_different_outputs(small_scenario):
    a = run_model(small_scenario, seed=11).ledger.rows
    b = run_model(small_scenario, seed=12).ledger.rows
    assert not np.array_equal(a["revenue"], b["revenue"])
    assert not np.array_equal(a["churned_customers"], b["churned_customers"])


def test_seed_sequence_and_int_seed_agree(small_scenario):
    scenario = with_changes(small_scenario, {"horizon_weeks": 6}, source="test")
    a = run_model(scenario, seed=5).ledger.rows
    b = run_model(scenario, seed=np.random.SeedSequence(5)).ledger.rows
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_replication_independent_of_other_runs(small_scenario):
    """Replication 1 computed alone equals replication 1 computed after replication 0."""
    scenario = with_changes(small_scenario, {"horizon_weeks": 20}, source="test")
    seed = scenario.seed
    together = [simulate(scenario, RunKey("baseline", r, seed)) for r in (0, 1)]
    alone = simulate(scenario, RunKey("baseline", 1, seed))
    frame_together = run_frame(scenario.name, together[1])
    frame_alone = run_frame(scenario.name, alone)
    assert frame_together.equals(frame_alone)
    assert not run_frame(scenario.name, together[0])[list(METRICS)].equals(
        frame_alone[list(METRICS)]
    )


def test_replication_seed_is_a_spawn_of_the_root(small_scenario):
    """RunKey(seed, replication) uses what SeedSequence(seed).spawn hands that replication."""
    scenario = with_changes(small_scenario, {"horizon_weeks": 6}, source="test")
    spawned = np.random.SeedSequence(scenario.seed).spawn(3)[2]
    direct = run_model(scenario, seed=spawned).ledger.rows
    via_key = simulate(scenario, RunKey("baseline", 2, scenario.seed)).weekly
    for name in METRICS:
        np.testing.assert_array_equal(direct[name], via_key[name], err_msg=name)


def test_policy_change_keeps_common_random_numbers():
    """Variants share the buyers drawn at set-up (common random numbers)."""
    base = small(DIRECT_SHIFT)
    fee = variant_of(base, "referral_fee", load_study(DIRECT_SHIFT).variants["referral_fee"])
    a, b = ChannelModel(base, 3), ChannelModel(fee, 3)
    np.testing.assert_array_equal(a.population.spend_annual, b.population.spend_annual)
    np.testing.assert_array_equal(a.population.segment, b.population.segment)
    np.testing.assert_array_equal(a.population.adopter, b.population.adopter)


# --------------------------------------------------------------------------- accounting


def _accounting_cases() -> dict[str, Scenario]:
    # The consumables promotion (weeks 20-23) alone: the valves one starts in week 72, after
    # these 40 weeks (and the file's variants, which name it, are not run here).
    promo = small(
        TRADE_PROMOTIONS,
        "horizon_weeks=40",
        "policy.trade_promotions=[{product: consumables, discount: 0.1, start_week: 20, weeks: 4}]",
        "variants={}",
    )
    # Small distributors with thin margins on our line: the fast shift makes several exit.
    shift = small(
        DIRECT_SHIFT,
        "distributors.accounts_per_distributor=200",
        "distributors.line_fixed_cost_share=0.1",
    )
    campaign = small(
        DIRECT_SHIFT,
        "horizon_weeks=30",
        "policy.distributor_referral_fee=0.05",
        "policy.coordination=orchestrated",
        "policy.orchestration_coverage=0.5",
        "policy.rep_compensation=channel_neutral",
        "campaigns=[{name: push, start_week: 2, weeks: 10, reach: 0.2, cost_weekly: 5000,"
        " adoption_boost_annual: 1.0, offer_discount: 0.05}]",
        "policy.trade_promotions=[{product: valves, discount: 0.1, start_week: 5, weeks: 3,"
        " basis: sell_through}]",
    )
    variants = load_study(DIRECT_SHIFT).variants
    return {
        "baseline": small(),
        "sell_in_promotion": promo,
        "direct_shift_fast": variant_of(shift, "fast", variants["fast"]),
        "direct_shift_deal_registration": variant_of(
            shift,
            "both",
            {**variants["fast"], **variants["deal_registration"]},
        ),
        "campaign_referral_orchestrated": campaign,
    }


ACCOUNTING_CASES = _accounting_cases()


def assert_identities(rows: dict[str, np.ndarray], initial_inventory: float) -> None:
    """Channel stock obeys its flow identity week by week (SPEC §6), from the week-0 stock.

    The other totals are recomputed independently from the order journal in
    ``tests/test_accounting.py``; restating the ledger's own formulas here could not fail.
    """
    stock = np.concatenate([[initial_inventory], rows["channel_inventory_units"]])
    removed = rows["channel_inventory_removed_units"]
    flow = rows["sell_in_units"] - rows["sell_through_units"] - removed
    scale = max(stock.max(), 1.0)
    np.testing.assert_allclose(np.diff(stock), flow, rtol=0, atol=1e-9 * scale)
    assert np.isfinite([rows[name] for name in rows]).all()


@pytest.fixture(scope="module", params=sorted(ACCOUNTING_CASES))
def accounting_run(request) -> tuple[str, ChannelModel]:
    model = ChannelModel(ACCOUNTING_CASES[request.param], 2)
    model.run()
    return request.param, model


def test_accounting_identities(accounting_run):
    _, model = accounting_run
    assert_identities(model.ledger.rows, model.initial_channel_inventory_units)


def test_churned_plus_active_counts_every_account(accounting_run):
    _, model = accounting_run
    pop = model.population
    rows = model.ledger.rows
    # Every account is counted once: the ledger's counts and the prospects left make up the
    # population.
    prospects = np.count_nonzero(pop.status == PROSPECT)
    assert rows["active_customers"][-1] + rows["churned_customers"][-1] + prospects == pop.size
    # Churned: the churn weeks recorded, and the accounts wholly on a competitor's line.
    lost = rows["customers_lost_to_competitor_lines"][-1]
    assert rows["churned_customers"][-1] == np.count_nonzero(pop.churn_week < NEVER) + lost


def test_exits_write_stock_off():
    """A distributor exit removes its stock in the week it exits, and only then."""
    model = run_model(ACCOUNTING_CASES["direct_shift_fast"], seed=2)
    rows = model.ledger.rows
    active = np.concatenate([[len(model.distributors)], rows["distributors_active"]])
    exits = -np.diff(active)
    assert exits.sum() > 0, "the fast direct shift should push some distributors out"
    removed = rows["channel_inventory_removed_units"]
    assert (removed[exits == 0] == 0).all()
    assert (removed[exits > 0] > 0).all()
    exited = [d for d in model.distributors if not d.active]
    assert len(exited) == exits.sum()
    assert all(d.stock_units.sum() == 0 for d in exited)


def test_sell_in_promotion_builds_channel_stock():
    """Forward buying: a sell-in discount raises channel stock, not sell-through."""
    scenario = ACCOUNTING_CASES["sell_in_promotion"]
    none = variant_of(scenario, "no_promotion", {"policy.trade_promotions": []})
    promo, plain = run_model(scenario, seed=4), run_model(none, seed=4)
    start = scenario.policy.trade_promotions[0].start_week
    weeks = scenario.policy.trade_promotions[0].weeks
    before = slice(0, start - 1)
    during = slice(start - 1, start - 1 + weeks)
    a, b = promo.ledger.rows, plain.ledger.rows
    np.testing.assert_array_equal(a["sell_in_units"][before], b["sell_in_units"][before])
    assert a["sell_in_units"][during].sum() > 1.2 * b["sell_in_units"][during].sum()
    assert a["channel_inventory_units"][start - 1 + weeks - 1] > (
        1.2 * b["channel_inventory_units"][start - 1 + weeks - 1]
    )
    # Sell-through is demand-driven: the promotion does not move it by more than noise.
    through_a = a["sell_through_units"][during].sum()
    through_b = b["sell_through_units"][during].sum()
    assert through_a == pytest.approx(through_b, rel=0.15)


# --------------------------------------------------------------------------- Bass diffusion

BASS_P, BASS_Q = 0.03, 0.38
BASS_N, BASS_WEEKS = 20_000, 260


def bass_closed_form(t_years: np.ndarray, p: float, q: float) -> np.ndarray:
    """Continuous Bass adoption share F(t) with F(0) = 0."""
    e = np.exp(-(p + q) * t_years)
    return (1.0 - e) / (1.0 + (q / p) * e)


def bass_mean_field(weeks: int, p: float, q: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekly mean-field recursion of the model's rule and its linear-noise variance.

    Each week every non-adopter adopts with probability h(F) = 1 - exp(-(p + q F) / 52), F the
    share at the start of the week. Mean: F' = F + (1 - F) h(F). Variance (delta method on the
    map g(F) = F + (1 - F) h(F), plus the binomial noise of the week's adopters):
    V' = g'(F)^2 V + (1 - F) h (1 - h) / n. Returns F and V for weeks 1..weeks.
    """
    mean = np.zeros(weeks + 1)
    variance = np.zeros(weeks + 1)
    for k in range(weeks):
        f = mean[k]
        h = -np.expm1(-(p + q * f) / 52.0)
        dh = q / 52.0 * np.exp(-(p + q * f) / 52.0)
        slope = 1.0 - h + (1.0 - f) * dh
        mean[k + 1] = f + (1.0 - f) * h
        variance[k + 1] = slope**2 * variance[k] + (1.0 - f) * h * (1.0 - h) / n
    return mean[1:], variance[1:]


def bass_scenario(**extra: str) -> Scenario:
    overrides = [
        f"market.buyers={BASS_N}",
        "market.prospects=0",
        "market.inbound_accounts_annual=0",
        "market.base_churn_annual=0",
        f"market.ecommerce_adoption.p={BASS_P}",
        f"market.ecommerce_adoption.q={BASS_Q}",
        "campaigns=[]",
        "policy.channel_plan=[]",
        f"horizon_weeks={BASS_WEEKS}",
        "reps.field.count=0",  # reps do not touch adoption; leaving them out saves time
        "reps.inside.count=0",
        "distributors.accounts_per_distributor=0",
        *(f"{k}={v}" for k, v in extra.items()),
    ]
    base = load_scenario(SCENARIOS / "baseline.yaml", overrides)
    segments = len(base.market.segments)
    zero = [f"market.segments.{i}.digital_adopters_initial=0" for i in range(segments)]
    return load_scenario(SCENARIOS / "baseline.yaml", [*overrides, *zero])


@pytest.fixture(scope="module")
def bass_run() -> np.ndarray:
    model = run_model(bass_scenario(), seed=2026)
    assert model.ledger.rows["active_customers"][-1] == BASS_N  # nobody left
    return model.ledger.rows["ecommerce_adopters_share"]


def test_bass_mean_field_against_discrete_recursion(bass_run):
    mean, variance = bass_mean_field(BASS_WEEKS, BASS_P, BASS_Q, BASS_N)
    sd = np.sqrt(variance)
    # Linear-noise SD is the sharp reference: 4.5 SD over 260 correlated weeks.
    z = (bass_run - mean) / sd
    assert np.abs(z).max() < 4.5, f"max |z| = {np.abs(z).max():.2f} at week {np.abs(z).argmax()}"
    # The noise is centred: the average standardised deviation is small.
    assert abs(z.mean()) < 3.0


def test_bass_closed_form(bass_run):
    t = np.arange(1, BASS_WEEKS + 1) / 52.0
    closed = bass_closed_form(t, BASS_P, BASS_Q)
    mean, variance = bass_mean_field(BASS_WEEKS, BASS_P, BASS_Q, BASS_N)
    # Weekly stepping with the hazard read at the start of the week: O(1/52) discretisation.
    discretisation = np.abs(mean - closed)
    assert discretisation.max() < 0.01
    binomial_sd = np.sqrt(closed * (1.0 - closed) / BASS_N)
    tolerance = 4.0 * np.maximum(binomial_sd, np.sqrt(variance)) + discretisation + 1e-4
    assert (np.abs(bass_run - closed) <= tolerance).all()
    # A landmark: F(t) = y at t = -ln((1 - y) / (1 + y q / p)) / (p + q). There F rises by
    # (p + q y)(1 - y) / 52 a week, so 4 SD of F is this many weeks of timing.
    y = 0.2
    t_y = -np.log((1.0 - y) / (1.0 + y * BASS_Q / BASS_P)) / (BASS_P + BASS_Q)
    assert t_y * 52 < BASS_WEEKS - 20
    week_y = int(np.argmax(bass_run >= y)) + 1
    weekly_rise = (BASS_P + BASS_Q * y) * (1.0 - y) / 52.0
    slack = 4.0 * np.sqrt(variance).max() / weekly_rise + 1.0
    assert abs(week_y - t_y * 52.0) <= slack


def test_adoption_only_among_active_buyers_with_thinning():
    """adopt_ecommerce accepts a check with probability hazard / max hazard, active only."""
    scenario = bass_scenario(**{"horizon_weeks": "4", "market.buyers": "40000"})
    model = ChannelModel(scenario, 9)
    pop = model.population
    n = pop.size
    half = n // 2
    pop.status[:half] = CHURNED
    pop.adopter[:] = False
    model.week = 1
    pop.next_adoption_check[:] = 1
    buyers.adopt_ecommerce(pop, model.rules, 1, model.keys["adoption"])
    assert not pop.adopter[:half].any(), "churned buyers must not adopt"
    # Share of adopters among active buyers is 0, so the hazard is p only.
    accept = weekly_probability(BASS_P) / weekly_probability(BASS_P + BASS_Q)
    observed = pop.adopter[half:].mean()
    sd = np.sqrt(accept * (1 - accept) / (n - half))
    assert abs(observed - accept) <= 4.5 * sd + 1e-12
    # Every checked buyer got a new check date in the future.
    assert (pop.next_adoption_check > 1).all()


def test_phase_order_and_adoption_in_phase_three(monkeypatch):
    """Record the calls of one week: the nine phases in order, adoption inside phase 3."""
    import sim.model.model as engine

    scenario = small(
        BASELINE,
        "horizon_weeks=3",
        "campaigns=[{name: c, start_week: 1, weeks: 2, reach: 0.1}]",
    )
    model = ChannelModel(scenario, 1)
    calls: list[str] = []

    def spy(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            calls.append(label)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for owner, name, label in [
        (model.books, "running_costs", "1 policy"),
        (engine, "shop", "3 buyers"),
        (buyers, "adopt_ecommerce", "3 adoption"),
        (model.network, "serve", "4 respond"),
        (engine, "find_conflicts", "5 conflict"),
        (model.books, "orders", "6 orders"),
        (buyers, "churn", "7 churn"),
        (model, "_collect", "9 collect"),
        (model.campaigns[0], "step", "2 campaigns"),
        (model.network, "update", "8 distributors"),
    ]:
        spy(owner, name, label)
    model.step()
    order = list(dict.fromkeys(calls))  # first call of each, in order
    assert order == [
        "1 policy",
        "2 campaigns",
        "3 buyers",
        "3 adoption",
        "4 respond",
        "5 conflict",
        "6 orders",
        "7 churn",
        "8 distributors",
        "9 collect",
    ]
    assert calls.count("3 adoption") == 1
    assert calls.count("8 distributors") == 1


# --------------------------------------------------------------------------- survival

CHURN, SURVIVAL_N, SURVIVAL_WEEKS = 0.2, 20_000, 156


@pytest.fixture(scope="module")
def survival_run() -> ChannelModel:
    scenario = load_scenario(
        SCENARIOS / "baseline.yaml",
        [
            f"market.buyers={SURVIVAL_N}",
            "market.prospects=0",
            "market.inbound_accounts_annual=0",
            f"market.base_churn_annual={CHURN}",
            "market.effort_churn_multiplier=1",
            "distributors.exit_after_weeks=260",
            "distributors.retaliation_steer=0",  # no account lost to a competitor's line
            "reps.field.count=0",
            "reps.inside.count=0",
            f"horizon_weeks={SURVIVAL_WEEKS}",
        ],
    )
    return run_model(scenario, seed=77)


def test_survival_follows_base_churn(survival_run):
    rows = survival_run.ledger.rows
    t = np.arange(1, SURVIVAL_WEEKS + 1)
    expected = (1.0 - CHURN) ** (t / 52.0)
    observed = rows["active_customers"] / SURVIVAL_N
    sd = np.sqrt(expected * (1.0 - expected) / SURVIVAL_N)
    z = (observed - expected) / sd
    assert np.abs(z).max() < 4.5, f"max |z| = {np.abs(z).max():.2f}"
    np.testing.assert_array_equal(rows["churned_customers"], SURVIVAL_N - rows["active_customers"])
    assert rows["distributors_active"].min() == len(survival_run.distributors)


def test_survival_churn_weeks_are_geometric(survival_run):
    """Churn weeks are geometric with p = 1 - (1 - churn) ** (1 / 52)."""
    pop = survival_run.population
    weeks = pop.churn_week[pop.status == CHURNED].astype(int)
    p = 1.0 - (1.0 - CHURN) ** (1.0 / 52.0)
    # Mean week of churn among churners, for a geometric truncated at the horizon.
    k = np.arange(1, SURVIVAL_WEEKS + 1)
    pmf = p * (1 - p) ** (k - 1)
    mean = (k * pmf).sum() / pmf.sum()
    sd = np.sqrt(((k - mean) ** 2 * pmf).sum() / pmf.sum() / len(weeks))
    assert abs(weeks.mean() - mean) < 4.5 * sd


def test_summary_churn_rate_annual(survival_run):
    frame = run_frame("survival", RunOutput(RunKey("baseline", 0, 0), survival_run.ledger.rows))
    summary = summarise(frame, 0.08)
    s = (1.0 - CHURN) ** (SURVIVAL_WEEKS / 52.0)
    sd_s = np.sqrt(s * (1 - s) / SURVIVAL_N)
    years = SURVIVAL_WEEKS / 52.0
    sd_rate = sd_s * s ** (1.0 / years - 1.0) / years  # delta method on 1 - s ** (1 / years)
    assert summary["churn_rate_annual"].iloc[0] == pytest.approx(CHURN, abs=4.5 * sd_rate)


# --------------------------------------------------------------------------- shipped scenarios


def _shipped() -> list[tuple[str, str, int]]:
    """(file, variant, weeks): 8 weeks, or to the week after the file's last lever starts."""
    cases = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        study = load_study(path)
        scenarios = [study.scenario]
        scenarios += [variant_of(study.scenario, v, c) for v, c in study.variants.items()]
        starts = [week for s in scenarios for week in s.start_weeks().values()]
        weeks = max([8, *(start + 1 for start in starts)])
        cases.append((path.name, "<none>", weeks))
        cases.extend((path.name, name, weeks) for name in study.variants)
    return cases


@pytest.mark.parametrize(("file", "variant", "weeks"), _shipped())
def test_shipped_scenario_runs(file, variant, weeks):
    study = load_study(
        SCENARIOS / file,
        ["market.buyers=1000", "market.prospects=200", f"horizon_weeks={weeks}", "replications=1"],
    )
    scenario = study.scenario
    if variant != "<none>":
        scenario = variant_of(scenario, variant, study.variants[variant])
    output = simulate(scenario, RunKey(variant, 0, scenario.seed))
    frame = run_frame(scenario.name, output)
    assert len(frame) == weeks
    assert np.isfinite(frame[list(METRICS)].to_numpy()).all()
    assert (frame["active_customers"] > 0).all()
    assert_identities(output.weekly, output.initial["channel_inventory_units"])
    assert isinstance(summarise(frame, scenario.discount_rate_annual), pd.DataFrame)


# --------------------------------------------------------------------------- need arrivals


def test_needs_arrive_at_the_documented_weekly_rate():
    """Each bought buyer x product has a need in a week with probability 1 - exp(-f / 52), and
    f / 52 orders a week (Poisson): the orders of a need week are Poisson given at least one."""
    scenario = small(
        BASELINE,
        "market.buyers=5000",
        "market.prospects=0",
        "market.base_churn_annual=0",
        "horizon_weeks=80",
    )
    model = ChannelModel(scenario, 21)
    pop = model.population
    weeks = 78
    counts = np.zeros(pop.units_per_order.shape)
    placed = np.zeros(pop.units_per_order.shape)
    for week in range(1, weeks + 1):
        model.week = week
        buyer, product, orders = buyers.arriving_needs(pop, model.rules, week, model.keys["needs"])
        np.add.at(counts, (buyer, product), 1)
        np.add.at(placed, (buyer, product), orders)
    bought = pop.units_per_order > 0
    for s, segment in enumerate(scenario.market.segments):
        rows = (pop.segment == s)[:, None] & bought
        rate = segment.orders_per_year / 52.0
        w = -np.expm1(-rate)
        expected = rows.sum() * weeks * w
        sd = np.sqrt(rows.sum() * weeks * w * (1 - w))
        assert abs(counts[rows].sum() - expected) < 4.5 * sd, segment.name
        expected = rows.sum() * weeks * rate
        assert abs(placed[rows].sum() - expected) < 4.5 * np.sqrt(expected), segment.name
    assert counts[~bought].sum() == 0


# --------------------------------------------------------------------------- churn hazard


@pytest.mark.parametrize("effort", [0.0, 0.5, 1.0])
def test_churn_hazard_rises_with_effort(effort):
    """Checked at the full-effort hazard, accepted at w(r (1 + (M - 1) e)) / w(r M)."""
    churn, multiplier = 0.3, 4.0
    scenario = small(
        BASELINE,
        "market.buyers=40000",
        "market.prospects=0",
        f"market.base_churn_annual={churn}",
        f"market.effort_churn_multiplier={multiplier}",
        "horizon_weeks=2",
    )
    model = ChannelModel(scenario, 5)
    pop = model.population
    model.week = 1
    pop.effort[:] = effort
    pop.next_churn_check[:] = 1
    buyers.churn(pop, model.rules, 1, model.keys["churn"])
    rate = -np.log1p(-churn)
    accept = weekly_probability(rate * (1 + (multiplier - 1) * effort)) / weekly_probability(
        rate * multiplier
    )
    observed = np.mean(pop.status == CHURNED)
    sd = np.sqrt(accept * (1 - accept) / pop.size)
    assert abs(observed - accept) <= 4.5 * sd + 1e-12
    assert (pop.churn_week[pop.status == CHURNED] == 1).all()


# --------------------------------------------------------------------------- independent books

ONE_PRODUCT = """\
name: one_product
horizon_weeks: 30
market:
  buyers: 3000
  prospects: 0
  base_churn_annual: 0.1
  segments:
    - name: smb
      share: 1.0
      spend_annual: 5000
      orders_per_year: 12
      product_mix: {widget: 1.0}
      channels: [CHANNELS]
      digital_adopters_initial: 1.0
products:
  - {name: widget, list_price: 50, unit_cost: 20}
distributors: {accounts_per_distributor: 750, margin: 0.3, effort_leak: 0.0}
"""


def test_sell_in_books_at_distributor_price(write_yaml):
    """Distributor-only: revenue = sell-in units x list x (1 - margin) x (1 - discount)."""
    promo = "policy:\n  trade_promotions:\n"
    promo += "    - {product: widget, discount: 0.1, start_week: 10, weeks: 3, basis: sell_in}\n"
    path = write_yaml("one.yaml", ONE_PRODUCT.replace("CHANNELS", "distributor") + promo)
    model = run_model(load_scenario(path), seed=8)
    rows = model.ledger.rows
    discount = np.where((np.arange(1, 31) >= 10) & (np.arange(1, 31) < 13), 0.1, 0.0)
    expected = rows["sell_in_units"] * 50 * 0.7 * (1 - discount)
    np.testing.assert_allclose(rows["revenue_distributor"], expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(rows["cogs"], rows["sell_in_units"] * 20, rtol=1e-12, atol=1e-9)
    for channel in ("field", "inside", "ecommerce"):
        assert (rows[f"revenue_{channel}"] == 0).all()
    assert rows["sell_in_units"][9:12].sum() > rows["sell_in_units"][6:9].sum()


def test_sell_through_promotion_rebates(write_yaml):
    """Sell-through basis: the distributor is paid discount x sell-in price per unit sold."""
    promo = "policy:\n  trade_promotions:\n"
    promo += "    - {product: widget, discount: 0.1, start_week: 10, weeks: 3,\n"
    promo += "       basis: sell_through}\n"
    path = write_yaml("one.yaml", ONE_PRODUCT.replace("CHANNELS", "distributor") + promo)
    model = run_model(load_scenario(path), seed=8)
    rows = model.ledger.rows
    weeks = np.arange(1, 31)
    discount = np.where((weeks >= 10) & (weeks < 13), 0.1, 0.0)
    expected = 35.0 * (rows["sell_in_units"] - discount * rows["sell_through_units"])
    np.testing.assert_allclose(rows["revenue_distributor"], expected, rtol=1e-12, atol=1e-9)


def test_ecommerce_revenue_and_cost_to_serve(write_yaml):
    """E-commerce only, competitor shut out: revenue matches sum of units x list x realisation.

    Weekly order handling is 5 an order, so the order count is read back from it and checked
    against the need rate 1 - exp(-f / 52); the platform costs 2,000 a week plus 2,000 per
    started 2,500 orders a week.
    """
    text = ONE_PRODUCT.replace("CHANNELS", "ecommerce") + (
        "reps:\n  field: {count: 0, calls_per_week: 20, loaded_cost_annual: 200000}\n"
        "  inside: {count: 0, calls_per_week: 100, loaded_cost_annual: 100000}\n"
    )
    text = text.replace(
        "base_churn_annual: 0.1", "base_churn_annual: 0.0\n  choice:\n    competitor_utility: -100"
    )
    model = ChannelModel(load_scenario(write_yaml("eco.yaml", text)), 12)
    pop = model.population
    units = pop.units_per_order[:, 0].astype(float)
    model.run()
    rows = model.ledger.rows
    weeks = len(rows["revenue"])
    rate = 12 / 52.0  # Poisson orders a week
    value = units * 50 * 0.97
    expected = weeks * rate * value.sum()
    sd = np.sqrt(weeks * rate * (value**2).sum())
    assert abs(rows["revenue_ecommerce"].sum() - expected) < 4.5 * sd
    assert rows["revenue"].sum() == pytest.approx(rows["revenue_ecommerce"].sum(), rel=1e-12)
    orders = rows["cost_order_handling"] / 5.0
    np.testing.assert_allclose(orders, np.round(orders), atol=1e-6)
    np.testing.assert_allclose(
        rows["cost_platform"], 2000.0 + np.ceil(orders / 2500 - 1e-9) * 2000.0, rtol=1e-12
    )
    n = pop.size
    assert abs(orders.sum() - weeks * n * rate) < 4.5 * np.sqrt(weeks * n * rate)
    # COGS per unit sold is the unit cost; the realised margin per unit is list x 0.97 - cost.
    units_sold = rows["cogs"] / 20.0
    np.testing.assert_allclose(
        rows["gross_margin"], units_sold * (50 * 0.97 - 20), rtol=1e-9, atol=1e-6
    )


# --------------------------------------------------------------------------- edge configurations

EDGE_BASE = ("market.buyers=500", "market.prospects=50", "horizon_weeks=30")
EDGE_CASES = {
    "no_distributors": (BASELINE, ["distributors.accounts_per_distributor=0"]),
    "no_reps": (BASELINE, ["reps.field.count=0", "reps.inside.count=0"]),
    "one_buyer": (BASELINE, ["market.buyers=1"]),
    "one_week": (BASELINE, ["horizon_weeks=1"]),
    "prospecting_without_prospects": (
        BASELINE,
        [
            "market.prospects=0",
            "reps.field.prospecting_share=0.5",
            "reps.inside.prospecting_share=1",
        ],
    ),
    "every_distributor_exits_with_deal_registration": (
        DIRECT_SHIFT,
        [
            "distributors.accounts_per_distributor=250",
            "distributors.exit_after_weeks=1",
            "distributors.alternative_margin=0.6",
            "distributors.follow_intercept=5",
            "policy.deal_registration=true",
            "policy.distributor_referral_fee=0.1",
            "policy.channel_plan.0.start_week=1",
        ],
    ),
    "one_channel_per_segment": (
        BASELINE,
        [
            "market.segments.0.channels=[field]",
            "market.segments.1.channels=[inside]",
            "market.segments.2.channels=[ecommerce]",
        ],
    ),
    "aggressive_campaign": (
        BASELINE,
        [
            "campaigns=[{name: c, reach: 1.0, offer_discount: 0.5, adoption_boost_annual: 5,"
            " medium: direct_mail, channel: field, cost_weekly: 100}]"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_configurations_run_and_balance(case):
    path, overrides = EDGE_CASES[case]
    scenario = load_scenario(path, [*SMALL_REPS, *EDGE_BASE, *overrides])
    model = run_model(scenario, seed=1)
    rows = model.ledger.rows
    assert all(np.isfinite(values).all() for values in rows.values())
    assert_identities(rows, model.initial_channel_inventory_units)
    if case.startswith("every_distributor_exits"):
        assert rows["distributors_active"][-1] == 0
        assert rows["channel_inventory_units"][-1] == 0
        assert rows["sell_through_units"][-1] == 0  # nobody left to sell through


# --------------------------------------------------------------------------- campaigns, conflict


@pytest.mark.parametrize(("medium", "reaches_opted_out"), [("email", False), ("direct_mail", True)])
def test_campaigns_respect_do_not_email(medium, reaches_opted_out):
    """Bass off, no initial adopters: only touched buyers can adopt, and email skips opt-outs."""
    segments = len(load_scenario(BASELINE).market.segments)
    scenario = small(
        BASELINE,
        "market.buyers=4000",
        "market.ecommerce_adoption.p=0",
        "market.ecommerce_adoption.q=0",
        "policy.channel_plan=[]",
        "horizon_weeks=3",
        *(f"market.segments.{i}.digital_adopters_initial=0" for i in range(segments)),
        *(f"market.segments.{i}.do_not_email=0.3" for i in range(segments)),
        f"campaigns=[{{name: c, medium: {medium}, start_week: 2, weeks: 1, reach: 1.0,"
        " adoption_boost_annual: 2000, cost_weekly: 1234.5}]",
    )
    model = run_model(scenario, seed=3)
    pop = model.population
    rows = model.ledger.rows
    np.testing.assert_array_equal(rows["campaign_costs"], [0.0, 1234.5, 0.0])
    assert rows["ecommerce_adopters_share"][0] == 0.0  # nothing before the campaign
    active = pop.status == ACTIVE
    opted_out = pop.do_not_email & active
    assert opted_out.sum() > 500
    assert pop.adopter[active & ~pop.do_not_email].mean() > 0.99
    assert pop.adopter[opted_out].any() == reaches_opted_out
    assert not pop.adopter[pop.status == PROSPECT].any()  # only customers are touched


def test_full_orchestration_resolves_every_resolvable_conflict():
    scenario = small(
        DIRECT_SHIFT,
        "policy.coordination=orchestrated",
        "policy.orchestration_coverage=1",
        "horizon_weeks=30",
    )
    rows = run_model(scenario, seed=6).ledger.rows
    for kind in CONFLICT_TYPES:
        if kind != "account_taken_direct":
            assert rows[f"conflicts_{kind}"].sum() == 0, kind
    assert rows["conflicts_resolved"].sum() > 0
    assert rows["conflicts_account_taken_direct"].sum() > 0  # not resolvable by design
    taken = rows["conflicts_account_taken_direct"]
    np.testing.assert_array_equal(rows["conflict_incidents"], taken)


def test_siloed_firm_counts_the_conflicts_orchestration_would_resolve():
    rows = run_model(small(DIRECT_SHIFT, "horizon_weeks=30"), seed=6).ledger.rows
    assert rows["conflicts_resolved"].sum() == 0
    for kind in ("double_coverage", "repeated_information", "rep_vs_web_credit"):
        assert rows[f"conflicts_{kind}"].sum() > 0, kind


# --------------------------------------------------------------------------- channel plan


def test_channel_plan_ramps_linearly():
    scenario = load_scenario(DIRECT_SHIFT, ["policy.channel_plan.0.ramp_weeks=4"])
    plan = ChannelPlan(scenario)
    share = {week: plan.moved_share(week)[0] for week in (1, 12, 13, 14, 16, 17, 100)}
    assert share[1] == share[12] == 0.0
    assert share[13] == pytest.approx(0.6 * 1 / 4)
    assert share[14] == pytest.approx(0.6 * 2 / 4)
    assert share[16] == share[17] == share[100] == pytest.approx(0.6)
    instant = ChannelPlan(load_scenario(DIRECT_SHIFT, ["policy.channel_plan.0.ramp_weeks=0"]))
    assert instant.moved_share(12)[0] == 0.0 and instant.moved_share(13)[0] == pytest.approx(0.6)


def test_channel_plan_redirects_the_planned_share():
    """Rows on the same product x segment x source take disjoint key ranges."""
    scenario = load_scenario(
        BASELINE,
        [
            "policy.channel_plan=["
            "{product: valves, segment: mid_market, from: distributor, to: ecommerce,"
            " start_week: 1, share: 0.3},"
            "{product: valves, segment: mid_market, from: distributor, to: inside,"
            " start_week: 1, share: 0.5}]"
        ],
    )
    plan = ChannelPlan(scenario)
    rng = np.random.default_rng(0)
    n = 200_000
    segment = np.full(n, 1)  # mid_market
    product = np.full(n, 1)  # valves
    chosen = rng.choice([FIELD, DISTRIBUTOR], size=n)
    key = rng.random(n)
    channel, moved = plan.redirect(5, segment, product, chosen, key)
    at_distributor = chosen == DISTRIBUTOR
    assert not moved[~at_distributor].any()
    np.testing.assert_array_equal(channel[~at_distributor], chosen[~at_distributor])
    for target, share in ((ECOMMERCE, 0.3), (INSIDE, 0.5)):
        observed = np.mean(channel[at_distributor] == target)
        sd = np.sqrt(share * (1 - share) / at_distributor.sum())
        assert abs(observed - share) < 4.5 * sd
    # Another product or segment is untouched.
    other, moved_other = plan.redirect(5, segment, np.full(n, 0), chosen, key)
    assert not moved_other.any()
    np.testing.assert_array_equal(other, chosen)


# --------------------------------------------------------------------------- accounts, reps


def test_inbound_accounts_arrive_as_a_poisson_process():
    """No churn, no prospecting: new accounts per year = inbound_accounts_annual x initial."""
    buyers, inbound, weeks = 2000, 0.5, 52
    scenario = small(
        BASELINE,
        f"market.buyers={buyers}",
        "market.prospects=3000",
        f"market.inbound_accounts_annual={inbound}",
        "market.base_churn_annual=0",
        "distributors.exit_after_weeks=260",
        f"horizon_weeks={weeks}",
    )
    rows = run_model(scenario, seed=17).ledger.rows
    won = rows["active_customers"] - buyers
    assert (np.diff(won) >= 0).all()
    mean = inbound * buyers * weeks / 52
    assert abs(won[-1] - mean) < 4.5 * np.sqrt(mean)
    assert rows["won_referral"].sum() == rows["won_outbound"].sum() == 0


def test_rep_selling_time_is_the_selling_share_without_conflicts():
    """Integer call capacities, every conflict resolved: reps sell exactly their selling time."""
    scenario = small(
        BASELINE,
        "policy.coordination=orchestrated",
        "policy.orchestration_coverage=1",
        "reps.field.selling_time=0.3",
        "reps.inside.selling_time=0.3",
        "horizon_weeks=12",
    )
    rows = run_model(scenario, seed=2).ledger.rows
    np.testing.assert_allclose(rows["rep_selling_time"], 0.3, rtol=1e-12)
    siloed = small(BASELINE, "horizon_weeks=12")
    rows = run_model(siloed, seed=2).ledger.rows
    assert (rows["rep_selling_time"] <= 0.3 + 1e-12).all()
    assert rows["rep_selling_time"].mean() < 0.3  # conflicts eat selling time
