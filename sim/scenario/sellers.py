"""Who sells our line: the field and inside rep teams, and the independent distributors."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from sim.scenario.blocks import Block, unit_interval
from sim.scenario.market import ServiceCostRates


class RepTeam(Block):
    """A team of field or inside reps (defaults per team: see :class:`Reps`)."""

    renamed_keys: ClassVar[dict[str, str]] = {
        "min_account_spend": "min_account_spend_annual",
        "cost_per_call": "variable_cost_per_call",
    }

    count: int = Field(default=0, ge=0, le=100_000, description="reps in the team")
    calls_per_week: float = Field(gt=0.0, description="calls a rep could make at 100% selling")
    selling_time: float = Field(
        default=0.30,
        gt=0.0,
        le=1.0,
        description="share of working time spent selling; sales-productivity studies: 21-41%",
    )
    loaded_cost_annual: float = Field(
        default=0.0,
        ge=0.0,
        description="fully loaded cost of one rep (pay, benefits, tools), money a year, paid "
        "whatever the rep does",
    )
    variable_cost_per_call: float = Field(
        default=0.0, ge=0.0, description="cost of one call on top of headcount (travel), money"
    )
    commission_rate: float = Field(
        default=0.03, ge=0.0, le=1.0, description="share of credited revenue; assumption"
    )
    min_account_spend_annual: float = Field(
        default=0.0,
        ge=0.0,
        description="allocation rule: smallest annual spend potential (money a year) of an "
        "account this team covers",
    )
    prospecting_share: float = unit_interval(
        0.0, "share of selling calls spent prospecting; assumption"
    )
    call_lift: float = unit_interval(
        0.1, "relationship (0-1 scale) gained with the rep's channel per call; assumption"
    )


class LeadSource(Block):
    """Where prospecting calls find leads, and how often a lead converts."""

    conversion: float = unit_interval(0.0, "probability a worked lead becomes an account")


class Reps(Block):
    """Field and inside sales teams.

    Defaults: 40 field and 20 inside reps (assumption); 20 and 100 calls a week at 100%
    selling (assumption); loaded cost 200,000 and 100,000 a rep a year (sales compensation
    surveys: field ~150-250k, inside ~80-120k), plus 60 travel a field call and 2 an inside
    call (assumption), so a call costs ~700 and ~66 at 30% selling time (industry surveys:
    field ~$300, range 140-600; inside ~$50); commission 3% and 2% (assumption); field covers
    accounts from 60,000 a year, inside from 15,000 (allocation rule, case 3; assumption);
    relationship lift 0.15 and 0.08 a call (assumption). Referred leads convert 90%, cold
    leads 1% (coffee case). Calls by habit (``next_best_action_share`` 0).
    """

    field: RepTeam = RepTeam(
        count=40, calls_per_week=20.0, loaded_cost_annual=200_000.0, variable_cost_per_call=60.0,
        commission_rate=0.03, min_account_spend_annual=60_000.0, call_lift=0.15,
    )  # fmt: skip
    inside: RepTeam = RepTeam(
        count=20, calls_per_week=100.0, loaded_cost_annual=100_000.0, variable_cost_per_call=2.0,
        commission_rate=0.02, min_account_spend_annual=15_000.0, call_lift=0.08,
    )  # fmt: skip
    next_best_action_share: float = unit_interval(
        0.0,
        "share of account calls aimed by next-best action (under-served, at-risk, high-potential "
        "accounts) instead of habit; lever (case 4), off",
    )
    targeting_cost_weekly: float = Field(
        default=500.0,
        ge=0.0,
        description="running cost of lead scoring and dashboards while next_best_action_share "
        "> 0, money a week; assumption",
    )
    referral: LeadSource = LeadSource(conversion=0.90)
    outbound: LeadSource = LeadSource(conversion=0.01)
    resist_web_orders: float = unit_interval(
        0.3,
        "probability a channel-specific rep pulls an account's web order back to their own "
        "channel; assumption",
    )


class Distributors(Block):
    """Independent distributors: businesses carrying our line and a competitor's (docs/ODD.md §7.8).

    The network is a density, not a count: a run simulates ``round(accounts /
    accounts_per_distributor)`` distributors, so a sample of the market has proportionally
    fewer distributors of the same size. A scenario file may give ``count`` instead (SPEC §4):
    that many distributors at its ``market.buyers``, which the loader turns into the density
    before any override (:func:`sim.scenario.loader.distributor_count_to_density`).

    Each has a size (its share of the distributor-buying accounts), a dependence on our line
    (``line_share``), the alternative line it carries and its own costs; it sets its resale
    price as a markup over our wholesale price, reads its threat from the volume it sees leave
    and the moves announced, and retaliates or exits when its own portfolio P&L says so. Effort
    is its push of our line, 0-1 scale.
    """

    accounts_per_distributor: float = Field(
        default=1_000.0,
        ge=0.0,
        description="initial accounts (market.buyers or the customer base) per distributor: the "
        "network's density, at least one distributor; 0: no distributors; assumption",
    )
    size_sigma: float = Field(
        default=1.0,
        ge=0.0,
        le=3.0,
        description="sigma of the log of a distributor's share of the accounts (lognormal): a "
        "few large distributors carry most volume (at 1.0 the largest fifth holds ~55%); "
        "distribution industry surveys, value an assumption",
    )
    margin: float = Field(
        default=0.36,
        ge=0.0,
        lt=1.0,
        description="our wholesale discount off list: a distributor pays list x (1 - margin); "
        "0.36 lands its gross margin at ~30% at its own equilibrium price (industrial/MRO "
        "30-45%: Grainger, Fastenal); lever (fixed wholesale price)",
    )
    line_share_mean: float = Field(
        default=0.30,
        gt=0.0,
        lt=1.0,
        description="our line's mean share of a distributor's sales (its dependence on us), "
        "drawn per distributor from a Beta with concentration 8; assumption",
    )
    alternative_margin: float = unit_interval(
        0.35,
        "distributor's gross margin on the competitor line it carries when it resells at list "
        "(it sells both lines at its one resale price); assumption: a little below ours",
    )
    line_fixed_cost_share: float = unit_interval(
        0.04,
        "avoidable fixed cost of carrying our line (line management, training, product "
        "specialists, minimum stock), share of its initial sales of our line, a week; shed if "
        "it drops the line; assumption",
    )
    overhead_share: float = unit_interval(
        0.15,
        "shared overhead allocated to our line (branches, management, systems), share of its "
        "sales of our line: in its P&L, not in its decisions, since dropping one line does not "
        "shed it (relevant costing); assumption: with its cost to serve and the line's fixed "
        "cost, operating cost ~25% of sales and an operating margin in low single digits "
        "(independent distributors)",
    )
    conversion_cost: float = unit_interval(
        0.03,
        "cost of converting a line to the competitor's, share of that line's sales over the "
        "planning horizon (switching discounts, selling time); assumption",
    )
    planning_horizon_weeks: int = Field(
        default=52, ge=1, le=520, description="weeks a distributor's decisions look ahead"
    )
    threat_window_weeks: int = Field(
        default=4,
        ge=1,
        le=260,
        description="time constant of a distributor's recent averages of sales and profit, "
        "weeks; assumption: a month",
    )
    trend_weeks: int = Field(
        default=26,
        ge=2,
        le=520,
        description="time constant of its long-run sales average (its own trend), weeks; "
        "assumption",
    )
    markup_adjust_rate: float = unit_interval(
        0.1, "share of the gap to the target markup closed each week; assumption"
    )
    target_weeks_cover: float = Field(
        default=6.0,
        gt=0.0,
        le=52.0,
        description="order-up-to stock, weeks of forecast demand; assumption",
    )
    reorder_weeks_cover: float = Field(
        default=3.0,
        ge=0.0,
        le=52.0,
        description="reorder point, weeks of forecast demand; assumption",
    )
    carrying_cost_annual: float = Field(
        default=0.25,
        ge=0.0,
        le=2.0,
        description="inventory carrying cost a year, share of the stock's value at our "
        "sell-in price; assumption: textbook 20-30%",
    )
    forward_buy_weeks_per_discount: float = Field(
        default=120.0,
        ge=0.0,
        description="extra weeks of cover bought per unit (1 = 100%) of sell-in discount; "
        "'a 10% deal can pull in up to 12 weeks of supply'",
    )
    max_forward_buy_weeks: float = Field(
        default=12.0,
        ge=0.0,
        le=52.0,
        description="cap on the extra weeks of cover; same source",
    )
    promotion_pass_through: float = unit_interval(
        0.5, "share of a sell-through discount passed on to buyers; assumption"
    )
    effort_adjust_rate: float = unit_interval(
        0.2, "share of the gap between effort and its target closed each week; assumption"
    )
    deal_registration_margin: float = Field(
        default=0.05,
        ge=0.0,
        lt=1.0,
        description="extra margin on registered deals, share of list; vendor programmes: "
        "+~5 points",
    )
    deal_protection_weeks: int = Field(
        default=13,
        ge=0,
        le=104,
        description="weeks a registered deal is protected; vendor programmes: 60-180 days, "
        "90 typical",
    )
    retaliation_steer: float = unit_interval(
        0.3,
        "probability a need placed with a retaliating distributor is converted to its "
        "competitor line (the line stays converted); assumption",
    )
    exit_after_weeks: int = Field(
        default=8,
        ge=1,
        le=260,
        description="weeks in a row its P&L must favour dropping our line before it does; "
        "assumption",
    )
    follow_intercept: float = Field(
        default=0.0,
        description="log-odds that a line follows an exiting distributor to its competitor "
        "line when the buyer is as close to it as to us (times the distributor's alternative "
        "share of sales); assumption",
    )
    follow_weight: float = Field(
        default=3.0,
        ge=0.0,
        description="log-odds of following per unit of relationship with the distributor "
        "channel minus that with our strongest direct channel; assumption",
    )
    rehome_effort: float = unit_interval(
        0.2, "customer effort (0-1) added to an account whose distributor exits; assumption"
    )
    effort_leak: float = unit_interval(
        0.3, "share of needs lost to a competitor's line at zero effort; assumption"
    )
    digital_ordering: bool = Field(
        default=False,
        description="distributors run their own B2B ordering app; lever (case 6), off",
    )

    @model_validator(mode="after")
    def _trend_longer_than_window(self) -> Distributors:
        if self.trend_weeks <= self.threat_window_weeks:
            raise ValueError(
                f"trend_weeks ({self.trend_weeks}) must exceed threat_window_weeks "
                f"({self.threat_window_weeks}): the trend is the longer average"
            )
        return self

    cost_to_serve: ServiceCostRates = Field(
        default=ServiceCostRates(
            cost_per_order=12.0,
            cost_per_line=2.0,
            freight_rate=0.02,
            freight_minimum=8.0,
            bad_debt_share=0.005,
            days_sales_outstanding=45.0,
        ),
        description="what a distributor pays to serve its buyers' orders, out of its margin: "
        "handling 12 an order, picking 2 a line, local delivery 2% of value with a minimum of 8 "
        "(assumptions: a branch network's milk runs), 45 days to be paid, 0.5% bad debt "
        "(credit surveys); about 5-8% of its sales, part of the ~24% operating cost of a large "
        "distributor (Grainger 2023)",
    )
