"""Typed scenario schema: one frozen pydantic model per YAML block.

Every field maps one-to-one to a YAML key, and a scenario is a plain, immutable value: lists
are tuples, mappings :class:`~sim.scenario.frozen.FrozenMap`, so equal scenarios hash equal.
Derive a changed scenario with :func:`sim.scenario.loader.with_changes`.

Units: money in one currency unit; time in weeks unless the key says ``_annual`` (per year);
"share" is a fraction in [0, 1]; effort and relationship are on a 0-1 scale; utilities are in
the logit's utility units. Each default equals the value ``scenarios/baseline.yaml`` sets (a
test checks it), and its description gives its source, or "assumption" for a number we chose;
the sources are listed in ``shared/CASES.md`` ("Figures for calibration") and ``docs/ODD.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.channels import CHANNELS, ChannelName
from sim.scenario.frozen import FrozenMap, Items, YamlValue

Channel = ChannelName


class Block(BaseModel):
    """Base for every scenario block: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    renamed_keys: ClassVar[dict[str, str]] = {}
    """Old key -> new key, so a file written before a rename gets a clear error."""


def unit_interval(default: float, description: str) -> Any:
    """A field holding a share or probability in [0, 1]."""
    return Field(default=default, ge=0.0, le=1.0, description=description)


# --------------------------------------------------------------------------- market


class ChannelPreference(Block):
    """Alternative-specific constants of the channel-choice logit (utility units; 0 = neutral)."""

    field: float = 0.0
    inside: float = 0.0
    distributor: float = 0.0
    ecommerce: float = 0.0


class PurchaseProcess(Block):
    """Buy-till-you-die purchase process of a segment's accounts (BG/NBD; Fader, Hardie & Lee 2005).

    Each account's order rate is the segment's ``orders_per_year`` times a Gamma(r, scale 1/r)
    multiplier (mean 1); after each repeat order the account stops buying for good with a
    probability drawn once per account from Beta(a, b).
    """

    order_rate_shape: float = Field(
        gt=0.0, description="r: gamma shape of an account's order-rate multiplier (mean 1)"
    )
    dropout_a: float = Field(
        gt=0.0, description="a: beta shape of the probability of stopping after an order"
    )
    dropout_b: float = Field(
        gt=0.0, description="b: beta shape of the probability of stopping after an order"
    )
    reference_effort: float = unit_interval(
        0.0,
        "customer effort (0-1) at which the dropout was observed: an account's dropout is "
        "scaled by (1 + (m - 1) effort) / (1 + (m - 1) reference_effort), m = "
        "effort_churn_multiplier; calibrate sets the model's own mean effort over the "
        "calibration period",
    )


class Segment(Block):
    """A buyer segment: size, spend, ordering rhythm, channel taste and contact rules."""

    name: str = Field(min_length=1)
    share: float = Field(gt=0.0, le=1.0, description="share of buyer accounts")
    spend_annual: float = Field(
        gt=0.0, description="mean annual spend potential at list price, money a year"
    )
    spend_sigma: float = Field(
        default=0.8,
        ge=0.0,
        le=3.0,
        description="sigma of log annual spend across accounts (lognormal); assumption",
    )
    orders_per_year: float = Field(gt=0.0, le=260.0, description="orders per product per year")
    product_mix: FrozenMap[str, float] = Field(
        description="share of the segment's spend on each product (shares sum to 1)"
    )
    channel_preference: ChannelPreference = ChannelPreference()
    channels: Items[Channel] = Field(
        default=CHANNELS,
        min_length=1,
        description="channels that may serve this segment before any channel plan; default all",
    )
    digital_adopters_initial: float = unit_interval(
        0.2, "share of accounts already buying online at week 0; assumption"
    )
    do_not_email: float = unit_interval(
        0.1, "share of accounts that opted out of marketing email; assumption"
    )
    purchase_process: PurchaseProcess | None = Field(
        default=None,
        description="order-rate heterogeneity and dropout; None: one rate, churn from effort only",
    )

    @model_validator(mode="after")
    def _mix_sums_to_one(self) -> Segment:
        total = sum(self.product_mix.values())
        if any(v < 0 for v in self.product_mix.values()) or abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"product_mix shares must be >= 0 and sum to 1 (they sum to {total:g})"
            )
        return self


class EcommerceAdoption(Block):
    """Bass diffusion of e-commerce adoption (Sultan, Farley & Lehmann 1990)."""

    p: float = Field(
        default=0.02,
        ge=0.0,
        le=5.0,
        description="innovation, per year; Sultan, Farley & Lehmann (1990) mean 0.03, rounded down",
    )
    q: float = Field(
        default=0.40,
        ge=0.0,
        le=5.0,
        description="imitation, per year; Sultan, Farley & Lehmann (1990) mean 0.38",
    )


class Choice(Block):
    """Weights of the multinomial-logit channel choice (utility units)."""

    price_weight: float = Field(
        default=10.0,
        ge=0.0,
        description="utility lost per unit of price as a fraction of list; assumption: a 10% "
        "price gap = 1 utility",
    )
    habit_weight: float = Field(
        default=1.5,
        ge=0.0,
        description="utility of the channel used last time for the product; assumption",
    )
    relationship_weight: float = Field(
        default=1.5,
        ge=0.0,
        description="utility at full relationship (1) with the channel; assumption",
    )
    effort_weight: float = Field(
        default=1.0,
        ge=0.0,
        description="utility lost in assisted channels at full effort (1); assumption",
    )
    non_adopter_ecommerce_penalty: float = Field(
        default=6.0,
        ge=0.0,
        description="utility penalty of e-commerce for non-adopters; assumption: they almost "
        "never order online",
    )
    competitor_utility: float = Field(
        default=-1.0,
        description="utility of buying the need from a competitor's line; assumption: "
        "calibrated so we win roughly 3 needs in 4",
    )
    digital_ordering_utility: float = Field(
        default=1.0,
        ge=0.0,
        description="appeal of a distributor's ordering app to adopters; assumption (case 6)",
    )
    forced_switch_effort: float = unit_interval(
        0.2, "effort (0-1 scale) added when a plan removes the chosen channel; assumption"
    )


class Journey(Block):
    """Non-linear buying journey: extra channels touched for the same need."""

    extra_touch_prob: float = unit_interval(
        0.15,
        "probability each other open channel is also touched, per need; McKinsey B2B Pulse "
        "(buyers use ~10 channels), value an assumption",
    )


class Effort(Block):
    """Customer effort, on a 0-1 scale (0 effortless, 1 high effort; CEB effort research)."""

    per_conflict: float = unit_interval(
        0.05, "effort added per unresolved conflict incident; assumption (CEB effort drivers)"
    )
    per_stockout: float = unit_interval(0.10, "effort added per distributor stock-out; assumption")
    recovery_per_order: float = unit_interval(
        0.20, "share of the buyer's effort removed by a clean order or a rep call; assumption"
    )


class Market(Block):
    """The buyer population and its behaviour."""

    buyers: int = Field(
        default=20_000, ge=1, le=20_000_000, description="buyer accounts at week 0; assumption"
    )
    prospects: int = Field(
        default=8_000,
        ge=0,
        le=20_000_000,
        description="non-customer accounts in the territory reps can win; assumption",
    )
    inbound_accounts_annual: float = Field(
        default=0.12,
        ge=0.0,
        le=10.0,
        description="inbound new accounts a year, per initial account; assumption: inbound "
        "wins roughly replace churn",
    )
    segments: Items[Segment] = Field(min_length=1)
    ecommerce_adoption: EcommerceAdoption = EcommerceAdoption()
    base_churn_annual: float = Field(
        default=0.10,
        ge=0.0,
        lt=1.0,
        description="churn probability a year at zero effort; assumption",
    )
    effort_churn_multiplier: float = Field(
        default=3.0,
        ge=1.0,
        le=50.0,
        description="churn hazard multiplier at full effort (1); CEB: 96% vs 9% of high- vs "
        "low-effort customers disloyal, ~3x",
    )
    choice: Choice = Choice()
    journey: Journey = Journey()
    effort: Effort = Effort()
    referrals_per_account_annual: float = Field(
        default=0.05,
        ge=0.0,
        description="referral leads a satisfied account gives a year; assumption",
    )
    customer_base: str | None = Field(
        default=None,
        description="CSV or Parquet file of real accounts (segment, entry_week, ...; see "
        "sim/scenario/customers.py), relative to the scenario file that names it; its rows "
        "replace the `buyers` drawn at random",
    )

    @model_validator(mode="after")
    def _segments_consistent(self) -> Market:
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1 (they sum to {total:g})")
        return self


# --------------------------------------------------------------------------- products, channels


class Product(Block):
    """A product line."""

    name: str = Field(min_length=1)
    list_price: float = Field(gt=0.0, description="list price, money per unit")
    unit_cost: float = Field(ge=0.0, description="manufacturer's cost of goods, money per unit")


class ServiceCostRates(Block):
    """Activity-based cost to serve of orders (time-driven ABC, Kaplan & Anderson 2004).

    An order is one buyer's lines through one channel in one week; a line is one product of
    it. Its cost is ``cost_per_order`` (order handling) + ``cost_per_line`` per line
    (pick and pack) + freight ``max(freight_minimum, freight_rate x order value)`` (one
    shipment per order, so small orders cost more per unit) + credit and collection
    ``value x (bad_debt_share + days_sales_outstanding / 365 x discount_rate_annual)``
    (the scenario's cost of capital carries the receivable). Defaults: no cost.
    """

    cost_per_order: float = Field(
        default=0.0, ge=0.0, description="order handling, money per order"
    )
    cost_per_line: float = Field(
        default=0.0, ge=0.0, description="fulfilment (pick, pack), money per order line"
    )
    freight_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="freight, share of the shipment's value"
    )
    freight_minimum: float = Field(
        default=0.0, ge=0.0, description="minimum freight charge, money per shipment"
    )
    bad_debt_share: float = unit_interval(0.0, "share of credit sales never collected")
    days_sales_outstanding: float = Field(
        default=0.0, ge=0.0, le=365.0, description="days a sale waits to be paid"
    )


class ChannelCosts(ServiceCostRates):
    """Price realisation and the manufacturer's cost to serve of one channel.

    For ``distributor`` the order costs are those of the distributors' bulk restocks (our
    sell-in); the distributor bears the cost of serving its own buyers
    (``distributors.cost_to_serve``).
    """

    price_realisation: float = Field(
        default=1.0, gt=0.0, le=1.5, description="buyer's price as a fraction of list"
    )
    fixed_cost_weekly: float = Field(
        default=0.0, ge=0.0, description="fixed running cost, money per week"
    )
    capacity_step_orders: int = Field(
        default=0,
        ge=0,
        description="orders a week one capacity step handles (e-commerce platform tiers); "
        "0: no steps",
    )
    capacity_step_cost_weekly: float = Field(
        default=0.0, ge=0.0, description="money per week per capacity step in use"
    )


class Channels(Block):
    """Per-channel economics (time-driven ABC; docs/ODD.md, "Cost to serve").

    Prices: field 0.90 of list (negotiated discounts; assumption), inside 0.95 (assumption),
    distributor 1.00 (the buyer pays list), e-commerce 0.97 (assumption). Order handling 30 a
    manual order (APQC 2024: $26-34), 5 a digital one (APQC 2024: < $5), 30 a distributor
    restock (assumption: a bulk EDI order). Pick and pack 4 a line from our warehouse, 2 a
    bulk restock line (assumption; warehouse benchmarks put a picked line at $1-5). Freight
    3% of a direct shipment's value, minimum 25 (assumption from carrier rate cards: a ground
    parcel $10-15 a box, less-than-truckload from ~$100); 1.5% of a bulk restock, minimum 100
    (assumption: truckload / LTL to a distributor's warehouse). Credit: direct accounts pay in
    50 days (credit surveys: DSO 40-60), 0.75% bad debt (credit surveys: 0.5-1%); web orders
    mostly by card, 10 days, 0.25% (assumption); distributors 45 days, 0.2% bad debt
    (assumption: few, vetted accounts). E-commerce platform 2,000 a week plus 2,000 a week per
    2,500 orders a week (assumption: hosting and licence tiers).
    """

    field: ChannelCosts = ChannelCosts(
        price_realisation=0.90, cost_per_order=30.0, cost_per_line=4.0, freight_rate=0.03,
        freight_minimum=25.0, bad_debt_share=0.0075, days_sales_outstanding=50.0,
    )  # fmt: skip
    inside: ChannelCosts = ChannelCosts(
        price_realisation=0.95, cost_per_order=30.0, cost_per_line=4.0, freight_rate=0.03,
        freight_minimum=25.0, bad_debt_share=0.0075, days_sales_outstanding=50.0,
    )  # fmt: skip
    distributor: ChannelCosts = ChannelCosts(
        price_realisation=1.0, cost_per_order=30.0, cost_per_line=2.0, freight_rate=0.015,
        freight_minimum=100.0, bad_debt_share=0.002, days_sales_outstanding=45.0,
    )  # fmt: skip
    ecommerce: ChannelCosts = ChannelCosts(
        price_realisation=0.97, cost_per_order=5.0, cost_per_line=4.0, freight_rate=0.03,
        freight_minimum=25.0, bad_debt_share=0.0025, days_sales_outstanding=10.0,
        fixed_cost_weekly=2_000.0, capacity_step_orders=2_500, capacity_step_cost_weekly=2_000.0,
    )  # fmt: skip


# --------------------------------------------------------------------------- reps


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


# --------------------------------------------------------------------------- distributors


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
        default=0.30,
        ge=0.0,
        lt=1.0,
        description="our wholesale discount off list: a distributor pays list x (1 - margin), "
        "its gross margin when it resells at list; industrial/MRO 30-45% (Grainger, Fastenal); "
        "lever (fixed wholesale price)",
    )
    line_share_mean: float = Field(
        default=0.30,
        gt=0.0,
        lt=1.0,
        description="our line's mean share of a distributor's sales (its dependence on us), "
        "drawn per distributor from a Beta with concentration 8; assumption",
    )
    alternative_margin: float = unit_interval(
        0.29,
        "distributor's gross margin on the competitor line it carries when it resells at list "
        "(it sells both lines at its one resale price); assumption: a little below ours",
    )
    line_fixed_cost_share: float = unit_interval(
        0.08,
        "fixed cost of carrying our line (line management, training, systems, minimum "
        "stock), share of its initial sales of our line, a week; shed if it drops the line; "
        "assumption: independent distributors' thin net margins (low single digits)",
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


# --------------------------------------------------------------------------- campaigns, policy


class Campaign(Block):
    """A marketing campaign touching a segment's buyers."""

    name: str = Field(min_length=1)
    segments: Items[str] = Field(default=(), description="segments touched; empty = all")
    products: Items[str] = Field(
        default=(), description="products the offer covers; empty = all products"
    )
    channel: Channel = Field(default="ecommerce", description="channel nudged / of the offer")
    medium: Literal["email", "digital_ad", "direct_mail"] = Field(
        default="email", description="only email skips do-not-email accounts"
    )
    start_week: int = Field(default=1, ge=1, description="first week")
    weeks: int = Field(default=4, ge=1, description="duration, weeks")
    reach: float = unit_interval(0.1, "share of targeted buyers touched per week")
    cost_weekly: float = Field(default=0.0, ge=0.0, description="money per week while it runs")
    adoption_boost_annual: float = Field(
        default=0.0, ge=0.0, description="added Bass p for touched buyers, per year"
    )
    offer_discount: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="price cut offered, share off the channel's price"
    )
    offer_weeks: int = Field(default=4, ge=1, description="weeks an offer stays valid")


class TradePromotion(Block):
    """A discount to distributors on one product."""

    product: str
    discount: float = Field(gt=0.0, lt=1.0, description="share off the distributor's price")
    start_week: int = Field(ge=1, description="first week")
    weeks: int = Field(ge=1, description="duration, weeks")
    basis: Literal["sell_in", "sell_through"] = "sell_in"


class ChannelShift(Block):
    """Move a share of a product x segment from one channel to another, ramped linearly."""

    product: str
    segment: str
    from_: Channel = Field(alias="from")
    to: Channel
    start_week: int = Field(ge=1, description="first week of the move")
    ramp_weeks: int = Field(default=0, ge=0, description="weeks to reach the full share")
    share: float = Field(
        default=1.0, ge=0.0, le=1.0, description="share of the segment's accounts moved"
    )

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True
    )

    @model_validator(mode="after")
    def _distinct(self) -> ChannelShift:
        if self.from_ == self.to:
            raise ValueError(f"'from' and 'to' are both {self.to!r}")
        return self


class Policy(Block):
    """The firm's levers (defaults: all off, a siloed firm)."""

    coordination: Literal["siloed", "orchestrated"] = "siloed"
    orchestration_coverage: float = unit_interval(
        0.0,
        "share of resolvable conflict incidents the orchestrator sees and resolves (conflicts "
        "only: call targeting is reps.next_best_action_share)",
    )
    orchestration_cost_per_account_annual: float = Field(
        default=20.0,
        ge=0.0,
        description="money per active account a year at full coverage; assumption",
    )
    orchestration_fixed_cost_weekly: float = Field(
        default=1_500.0, ge=0.0, description="money per week; assumption"
    )
    rep_compensation: Literal["channel_specific", "channel_neutral"] = "channel_specific"
    deal_registration: bool = False
    distributor_referral_fee: float = unit_interval(
        0.0,
        "share of the direct revenue of the buyer x product lines the plan moved off a "
        "distributor, paid to that distributor",
    )
    referral_fee_weeks: int | None = Field(
        default=None,
        ge=1,
        le=2_600,
        description="weeks after a line's move that it earns the fee; None: while the "
        "distributor carries our line",
    )
    trade_promotions: Items[TradePromotion] = ()
    channel_plan: Items[ChannelShift] = ()


class Sweep(Block):
    """Design of a parameter sweep."""

    method: Literal["grid", "lhs", "sobol"] = "lhs"
    samples: int = Field(
        default=16,
        ge=1,
        le=1_000_000,
        description="levels per parameter (grid), points (lhs) or base samples N (sobol)",
    )
    parameters: FrozenMap[str, tuple[float, float]] = Field(
        min_length=1, description="key path -> [low, high], in the key's own unit"
    )
    outputs: Items[str] = Field(
        default=("contribution_margin", "churn_rate_annual"), description="summary metrics"
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Sweep:
        for path, (low, high) in self.parameters.items():
            if not low < high:
                raise ValueError(f"parameters.{path}: low {low:g} must be below high {high:g}")
        return self


class Lever(Block):
    """One decision lever of an ``optimize`` block: a numeric range or a list of choices.

    In YAML, ``[low, high]`` is a range (integer when both bounds are integers), a list of
    anything else (``[false, true]``, ``[siloed, orchestrated]``) is a list of choices, and the
    mapping form ``{low, high, type}`` or ``{choices: [...]}`` says it explicitly.
    """

    low: float | None = Field(default=None, description="lowest value, in the key's unit")
    high: float | None = Field(default=None, description="highest value, in the key's unit")
    type: Literal["int", "float"] = Field(
        default="float", description="int: whole values only (weeks, counts)"
    )
    choices: Items[YamlValue] | None = Field(
        default=None, description="the values to choose among, instead of low and high"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if not isinstance(data, list | tuple):
            return data
        bounds = len(data) == 2 and all(_is_number(v) for v in data)
        if not bounds:
            return {"choices": list(data)}
        whole = all(isinstance(v, int) for v in data)
        return {"low": data[0], "high": data[1], "type": "int" if whole else "float"}

    @model_validator(mode="after")
    def _range_or_choices(self) -> Lever:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either low and high, or choices, not both")
            if len(self.choices) < 2:
                raise ValueError(f"at least two choices are needed, got {list(self.choices)}")
        elif self.low is None or self.high is None:
            raise ValueError("a lever needs [low, high] bounds or a list of choices")
        elif not self.low < self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        return self


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


CONSTRAINT_OPERATORS: tuple[str, ...] = (">=", "<=")
"""Comparisons a constraint may use."""


class Constraint(Block):
    """``metric >= bound`` or ``metric <= bound`` on a candidate's mean over replications.

    Written in YAML as one string, ``distributors_active_end >= 15``.
    """

    metric: str
    operator: Literal[">=", "<="]
    bound: float

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        parts = data.split()
        if len(parts) != 3 or parts[1] not in CONSTRAINT_OPERATORS:
            raise ValueError(
                f"{data!r} is not a constraint; write 'metric >= number' or 'metric <= number'"
            )
        try:
            bound = float(parts[2])
        except ValueError:
            raise ValueError(f"{data!r}: {parts[2]!r} is not a number") from None
        return {"metric": parts[0], "operator": parts[1], "bound": bound}

    def violation(self, value: float) -> float:
        """How far ``value`` is on the wrong side of the bound (<= 0: satisfied)."""
        return self.bound - value if self.operator == ">=" else value - self.bound

    def __str__(self) -> str:
        return f"{self.metric} {self.operator} {self.bound:g}"


Direction = Literal["maximize", "minimize"]

DEFAULT_OBJECTIVES: dict[str, Direction] = {"npv_contribution_with_terminal": "maximize"}


class Optimize(Block):
    """A search over decision levers (``channel-sim optimize``; docs/optimize.md).

    Candidates are evaluated on ``replications`` common replications each; the ``finalists``
    best feasible ones are re-evaluated, with the scenario as written, on
    ``finalist_replications`` other replications, and the best of those is recommended.
    Metric names are checked against ``sim.metrics`` by the command (which imports this module).
    """

    levers: FrozenMap[str, Lever] = Field(min_length=1, description="key path -> range or choices")
    objectives: FrozenMap[str, Direction] = Field(
        default=FrozenMap[str, Direction](DEFAULT_OBJECTIVES),
        min_length=1,
        description="summary metric -> maximize | minimize; the first one picks the winner",
    )
    constraints: Items[Constraint] = Field(
        default=(), description="'metric >= number' or 'metric <= number', on the mean"
    )
    trials: int = Field(default=40, ge=1, le=100_000, description="candidates searched")
    replications: int = Field(default=4, ge=1, le=10_000, description="per candidate (CRN)")
    batch: int = Field(
        default=8,
        ge=1,
        le=1_000,
        description="candidates proposed at once; part of the design, so the search does not "
        "depend on the number of workers",
    )
    finalists: int = Field(
        default=3, ge=1, le=100, description="best feasible candidates re-evaluated"
    )
    finalist_replications: int = Field(
        default=10,
        ge=2,
        le=10_000,
        description="replications 0..n-1 of each finalist and of the plan as written",
    )


class Uncertainties(Block):
    """Worlds to stress-test a recommendation in: a Latin hypercube over uncertain inputs."""

    parameters: FrozenMap[str, tuple[float, float]] = Field(
        min_length=1, description="key path -> [low, high], in the key's own unit"
    )
    worlds: int = Field(default=16, ge=2, le=100_000, description="Latin-hypercube points")
    replications: int = Field(default=2, ge=1, le=10_000, description="per world and policy")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Uncertainties:
        for path, (low, high) in self.parameters.items():
            if not low < high:
                raise ValueError(f"parameters.{path}: low {low:g} must be below high {high:g}")
        return self


# --------------------------------------------------------------------------- scenario


class Scenario(Block):
    """A complete, validated scenario."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(default=20261123, ge=0, lt=2**63, description="root seed; any fixed value")
    horizon_weeks: int = Field(default=156, ge=1, le=2_600, description="three years")
    replications: int = Field(
        default=10, ge=1, le=100_000, description="runs per variant; assumption"
    )
    discount_rate_annual: float = Field(
        default=0.08,
        ge=0.0,
        le=1.0,
        description="for NPV, per year; assumption: a typical industrial cost of capital",
    )
    market: Market
    products: Items[Product] = Field(min_length=1, max_length=64)
    channels: Channels = Channels()
    reps: Reps = Reps()
    distributors: Distributors = Distributors()
    campaigns: Items[Campaign] = ()
    policy: Policy = Policy()
    variants: FrozenMap[str, FrozenMap[str, YamlValue]] = Field(
        default=FrozenMap(), description="variant name -> {key.path: value}"
    )
    sweep: Sweep | None = None
    optimize: Optimize | None = Field(
        default=None, description="levers to search for `channel-sim optimize`"
    )
    uncertainties: Uncertainties | None = Field(
        default=None, description="worlds to stress-test an optimize recommendation in"
    )

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        products = [p.name for p in self.products]
        if len(set(products)) != len(products):
            raise ValueError(f"product names must be unique, got {products}")
        segments = [s.name for s in self.market.segments]
        checks: list[tuple[str, tuple[str, ...], list[str]]] = []
        for i, s in enumerate(self.market.segments):
            checks.append((f"market.segments.{i}.product_mix", tuple(s.product_mix), products))
        for i, c in enumerate(self.campaigns):
            checks.append((f"campaigns.{i}.segments", c.segments, segments))
            checks.append((f"campaigns.{i}.products", c.products, products))
        for i, t in enumerate(self.policy.trade_promotions):
            checks.append((f"policy.trade_promotions.{i}.product", (t.product,), products))
        for i, shift in enumerate(self.policy.channel_plan):
            checks.append((f"policy.channel_plan.{i}.product", (shift.product,), products))
            checks.append((f"policy.channel_plan.{i}.segment", (shift.segment,), segments))
        for path, used, known in checks:
            for name in used:
                if name not in known:
                    raise ValueError(f"{path}: unknown name {name!r}; allowed: {known}")
        return self
