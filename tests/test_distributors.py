"""The distributor rules (docs/ODD.md §7.3, §7.6, §7.8) against numbers computed here.

Each test builds a small one-product market that isolates one rule, steps the model week by
week, and recomputes the rule's documented equation from what it can observe (population
columns, the ledger, each distributor's public state) — never by calling the code under test.
Exits are switched off (``exit_threat: 1``, ``exit_profit_ratio: 0``) so that no account is
reassigned and each distributor's accounts stay fixed. Churn, prospects and adoption are off.

Every test is deterministic (fixed seeds) and checks equalities to rounding, so none has a
statistical power to state: a rule changed by a few per cent fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from sim.model.model import ChannelModel
from sim.model.population import ACTIVE, DISTRIBUTOR
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

LIST_PRICE = 50.0
MARGIN = 0.3
WINDOW_WEEKS = 5
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
  count: 5
  margin: {MARGIN}
  effort_leak: 0.0
  threat_window_weeks: {WINDOW_WEEKS}
  threat_sensitivity: 4.0
  deal_protection_weeks: {PROTECTION_WEEKS}
  exit_threat: 1.0
  exit_profit_ratio: 0.0
  exit_after_weeks: 260
policy:
  channel_plan:
    - {{product: widget, segment: moved, from: distributor, to: ecommerce,
       start_week: {PLAN_START_WEEK}, ramp_weeks: 8, share: 0.6}}
"""
"""Buyers served only by distributors, 60% of them moved to e-commerce over weeks 4-11."""


@pytest.fixture
def one_product(write_yaml) -> Callable[..., Scenario]:
    """Load :data:`ONE_PRODUCT` with ``key.path=value`` overrides."""
    path: Path = write_yaml("one_product.yaml", ONE_PRODUCT)
    return lambda *overrides: load_scenario(path, overrides)


@dataclass
class Trajectory:
    """What a distributor-rules test can observe, recorded week by week (index 0 = week 0)."""

    model: ChannelModel
    threat: list[np.ndarray] = field(default_factory=list)  # (D,) per week
    effort: list[np.ndarray] = field(default_factory=list)
    book_value_annual: list[np.ndarray] = field(default_factory=list)
    stock_units: list[np.ndarray] = field(default_factory=list)  # (D, P) after restock
    channel: list[np.ndarray] = field(default_factory=list)  # (N, P) channel of the last order
    former: list[np.ndarray] = field(default_factory=list)  # (N,) former distributor accounts
    protected_until: list[np.ndarray] = field(default_factory=list)  # (N,)

    def record(self) -> None:
        """Append the model's state at the end of the current week."""
        ds = self.model.distributors
        pop = self.model.population
        self.threat.append(np.array([d.threat for d in ds]))
        self.effort.append(np.array([d.effort for d in ds]))
        self.book_value_annual.append(np.array([d.book_value_annual for d in ds]))
        self.stock_units.append(np.array([np.array(d.stock_units, dtype=float) for d in ds]))
        self.channel.append(pop.current_channel.copy())
        self.former.append((pop.moved_off_distributor_week >= 0).any(axis=1))
        self.protected_until.append(pop.protected_until.astype(int))

    def first_week(self, states: list[np.ndarray]) -> np.ndarray:
        """Week each buyer's boolean state first became true (-1 never)."""
        stacked = np.array(states)
        return np.where(stacked.any(axis=0), stacked.argmax(axis=0), -1)


def trajectory(scenario: Scenario, seed: int = 5) -> Trajectory:
    """Run ``scenario`` week by week, recording the observable distributor state."""
    run = Trajectory(ChannelModel(scenario, seed))
    run.record()
    for _ in range(scenario.horizon_weeks):
        run.model.step()
        run.record()
    assert all(d.active for d in run.model.distributors), "exits are off in these scenarios"
    return run


def moved_value_by_week(run: Trajectory) -> np.ndarray:
    """(weeks + 1, D) annual value of the accounts each distributor lost to the plan each week.

    With one product an account is taken direct once, in the week it becomes a former
    distributor account; its annual value at list is its spend potential (§5: the order size
    makes the expected annual spend equal ``spend_annual``).
    """
    pop = run.model.population
    taken_week = run.first_week(run.former)
    value = np.zeros((len(run.former), len(run.model.distributors)))
    taken = taken_week >= 0
    np.add.at(
        value,
        (taken_week[taken], pop.distributor[taken]),
        pop.spend_annual[taken].astype(float),
    )
    return value


# --------------------------------------------------------------------------- threat


@pytest.mark.parametrize("fee", [0.0, 0.1])
def test_threat_is_the_share_of_the_book_moved_in_the_window(one_product, fee):
    """θ = M / (B + M): M = value taken in the last W weeks (this one included) at its
    uncompensated share 1 - min(1, fee / margin), B = the book net of every pair taken."""
    run = trajectory(one_product(f"policy.distributor_referral_fee={fee}"))
    pop = run.model.population
    served = (run.channel[0][:, 0] == DISTRIBUTOR) & (pop.status == ACTIVE)  # at week 0
    moved = moved_value_by_week(run)
    assert moved.sum() > 0.3 * pop.spend_annual.sum(), "the plan should move ~60% of the book"
    # Week-0 book = spend potential of the accounts ordering through each distributor.
    book0 = np.bincount(
        pop.distributor[served], weights=pop.spend_annual[served], minlength=len(moved[0])
    )
    # Accounts take the plan's move when their next need arrives, so moves keep coming weeks
    # after the ramp; ``in_window`` must drop each week's moves exactly W weeks later.
    uncompensated = 1.0 - min(1.0, fee / MARGIN)
    for week in range(1, len(moved)):
        in_window = moved[max(0, week - WINDOW_WEEKS + 1) : week + 1].sum(axis=0) * uncompensated
        book = book0 - moved[: week + 1].sum(axis=0)
        expected = np.where(in_window > 0, in_window / (book + in_window), 0.0)
        np.testing.assert_allclose(
            run.book_value_annual[week], book, rtol=1e-6, err_msg=f"book, week {week}"
        )
        np.testing.assert_allclose(
            run.threat[week], expected, rtol=1e-6, atol=1e-12, err_msg=f"threat, week {week}"
        )
    assert max(t.max() for t in run.threat) > 0.05, "the scenario should raise a real threat"


# --------------------------------------------------------------------------- effort


@pytest.mark.parametrize(
    ("fee", "deal_registration"), [(0.0, False), (0.05, True)], ids=["plain", "softeners"]
)
def test_effort_moves_toward_its_target_at_the_adjust_rate(one_product, fee, deal_registration):
    """effort' = effort + rate x (clip(1 - s θ + fee_effort x fee + reg_effort x reg) - effort)."""
    scenario = one_product(
        f"policy.distributor_referral_fee={fee}", f"policy.deal_registration={deal_registration}"
    )
    cfg = scenario.distributors
    run = trajectory(scenario)
    interior = 0
    for week in range(1, len(run.effort)):
        raw = (
            1.0
            - cfg.threat_sensitivity * run.threat[week]
            + cfg.referral_fee_effort * fee
            + cfg.deal_registration_effort * deal_registration
        )
        target = np.clip(raw, 0.0, 1.0)
        interior += np.count_nonzero((raw > 0) & (raw < 1))
        before = run.effort[week - 1]
        expected = before + cfg.effort_adjust_rate * (target - before)
        np.testing.assert_allclose(
            run.effort[week], expected, rtol=1e-12, err_msg=f"effort, week {week}"
        )
    assert interior > 10, "the threat should pull the target below 1 for a while"
    assert min(e.min() for e in run.effort) < 0.9


# --------------------------------------------------------------------------- deal registration


def test_deal_registration_defers_the_move_for_the_protection_period(one_product):
    """The first move off the distributor registers the buyer, protected_until = t + P - 1, and
    its needs stay with the distributor until then: it is taken direct P weeks later at the
    earliest (and, with weekly needs at rate 12/52, right at P for many buyers)."""
    run = trajectory(one_product("policy.deal_registration=true"))
    registered_week = run.first_week([p >= 0 for p in run.protected_until])
    registered = registered_week >= 0
    assert registered.sum() > 500
    assert (registered_week[registered] >= PLAN_START_WEEK).all()
    protected_until = run.protected_until[-1][registered]
    np.testing.assert_array_equal(
        protected_until,
        registered_week[registered] + PROTECTION_WEEKS - 1,
        err_msg=f"protected_until must be the registration week + {PROTECTION_WEEKS} - 1",
    )
    taken_week = run.first_week(run.former)
    taken = taken_week >= 0
    assert not (taken & ~registered).any(), "every move off a distributor is registered first"
    delay = taken_week[taken] - registered_week[taken]
    assert delay.min() == PROTECTION_WEEKS, (
        f"first take-over {delay.min()} weeks after registration, expected {PROTECTION_WEEKS}"
        f" (buyers per delay in weeks: {np.bincount(delay)})"
    )
    # A buyer whose need arrives in the week after protection ends is taken then; with
    # w = 1 - exp(-12/52) per week that is ~21% of the registered buyers seen through week P.
    assert np.count_nonzero(delay == PROTECTION_WEEKS) > 0.1 * taken.sum()


# --------------------------------------------------------------------------- line profit


def test_line_profit_margin_on_sales_less_carrying_cost_at_sell_in_price(one_product):
    """Π = margin x sold x list + income - carrying / 52 x stock x list x (1 - margin) - cost
    to serve (none here: ``distributors.cost_to_serve`` is tested on its own).

    Two runs with the same seed that differ only in ``carrying_cost_annual`` (no plan, no
    promotions, no fees, so income is 0 and no decision depends on the carrying cost). The run
    without carrying cost gives each distributor's units sold, Π0 / (margin x list), checked
    against the ledger's sell-through; the other must then cost the stock held after the
    week's sales, (stock after last week's restock - sold), at the sell-in price.
    """
    carrying = 0.5
    runs = [
        ChannelModel(
            one_product(
                "policy.channel_plan=[]",
                f"distributors.carrying_cost_annual={c}",
                "distributors.cost_to_serve={}",
            ),
            3,
        )
        for c in (0.0, carrying)
    ]
    free, costly = runs
    sell_in_price = LIST_PRICE * (1.0 - MARGIN)
    for week in range(1, free.scenario.horizon_weeks + 1):
        stock_before = np.array([d.stock_units[0] for d in free.distributors])
        for model in runs:
            model.step()
        profit0 = np.array([d.line_profit_history[-1] for d in free.distributors])
        profit = np.array([d.line_profit_history[-1] for d in costly.distributors])
        sold = profit0 / (MARGIN * LIST_PRICE)
        through = free.ledger.rows["sell_through_units"][week - 1]
        assert sold.sum() == pytest.approx(through, rel=1e-9), f"week {week}"
        assert costly.ledger.rows["sell_through_units"][week - 1] == through  # same draws
        expected = profit0 - carrying / 52 * (stock_before - sold) * sell_in_price
        np.testing.assert_allclose(profit, expected, rtol=1e-9, err_msg=f"week {week}")
    assert free.ledger.rows["sell_through_units"].sum() > 0


# --------------------------------------------------------------------------- referral fees

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
    "distributors.carrying_cost_annual": "0",
}


def test_referral_fee_is_paid_only_on_accounts_moved_off_a_distributor(one_product):
    """fee x direct revenue of former distributor accounts, credited to their distributors.

    The moved segment reaches e-commerce only through the plan, so all e-commerce revenue is
    from former distributor accounts; inside revenue comes only from the unmoved segment,
    whose buyers also have a distributor. Hence referral fees = fee x revenue_ecommerce, and
    the distributors' line profit (no carrying cost, no promotions) = margin x list x
    sell-through + the fees they were paid.
    """
    fee = 0.08
    scenario = one_product(
        *(f"{key}={value}" for key, value in TWO_SEGMENTS.items()),
        f"policy.distributor_referral_fee={fee}",
        "distributors.cost_to_serve={}",  # line profit = margin + fees only
    )
    model = ChannelModel(scenario, 4)
    model.run()
    rows = model.ledger.rows
    assert rows["revenue_inside"][: PLAN_START_WEEK - 1].sum() > 0
    assert rows["revenue_ecommerce"].sum() > 0
    np.testing.assert_allclose(
        rows["referral_fees"],
        fee * rows["revenue_ecommerce"],
        rtol=1e-9,
        atol=1e-9,
        err_msg="referral fees must be fee x the direct revenue of former distributor accounts",
    )
    income = np.array([d.line_profit_history for d in model.distributors]).sum(axis=0)
    np.testing.assert_allclose(
        income,
        MARGIN * LIST_PRICE * rows["sell_through_units"] + rows["referral_fees"],
        rtol=1e-9,
        err_msg="the fees are the distributors' income",
    )
