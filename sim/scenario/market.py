"""The market: buyer segments and their behaviour, products, and per-channel economics."""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.scenario.blocks import CHANNELS, Block, Channel, unit_interval
from sim.scenario.frozen import FrozenMap, Items


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
        default=20_000,
        ge=1,
        le=20_000_000,
        description="the firm's buyer accounts at week 0; assumption",
    )
    sample_share: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="share of the firm's accounts a run simulates; each simulated account "
        "stands for 1/sample_share real ones and every output is the firm's (docs/ODD.md "
        "§7.12)",
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
    capacity_step_orders: float = Field(
        default=0.0,
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
