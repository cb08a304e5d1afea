"""Typed scenario schema: one frozen pydantic model per YAML block.

Every field maps one-to-one to a YAML key. Money is in one currency unit, time in weeks
unless the key says ``_annual``. Defaults come from the public figures in
``shared/CASES.md``; the source of each is given in the field description and in
``docs/ODD.md`` (parameter table).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CHANNELS: tuple[str, ...] = ("field", "inside", "distributor", "ecommerce")
"""Channel names, in the fixed order used for every per-channel array."""

Channel = Literal["field", "inside", "distributor", "ecommerce"]


class Block(BaseModel):
    """Base for every scenario block: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def unit_interval(default: float, description: str) -> Any:
    """A field holding a share or probability in [0, 1]."""
    return Field(default=default, ge=0.0, le=1.0, description=description)


# --------------------------------------------------------------------------- market


class ChannelPreference(Block):
    """Alternative-specific constants of the channel-choice logit (utility units)."""

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


class Segment(Block):
    """A buyer segment: size, spend, ordering rhythm, channel taste and contact rules."""

    name: str = Field(min_length=1)
    share: float = Field(gt=0.0, le=1.0, description="share of buyer accounts")
    spend_annual: float = Field(gt=0.0, description="mean annual spend potential at list price")
    spend_sigma: float = Field(
        default=0.8, ge=0.0, le=3.0, description="lognormal sigma of spend across accounts"
    )
    orders_per_year: float = Field(gt=0.0, le=260.0, description="orders per product per year")
    product_mix: dict[str, float] = Field(
        description="share of the segment's spend on each product (sums to 1)"
    )
    channel_preference: ChannelPreference = ChannelPreference()
    channels: list[Channel] = Field(
        default_factory=lambda: list(CHANNELS),
        min_length=1,
        description="channels that may serve this segment before any channel plan",
    )
    digital_adopters_initial: float = unit_interval(
        0.2, "share of accounts already buying online at week 0"
    )
    do_not_email: float = unit_interval(0.1, "share of accounts that opted out of marketing email")
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

    p: float = Field(default=0.02, ge=0.0, le=5.0, description="innovation, per year")
    q: float = Field(default=0.40, ge=0.0, le=5.0, description="imitation, per year")


class Choice(Block):
    """Weights of the multinomial-logit channel choice (utility units)."""

    price_weight: float = Field(
        default=10.0, ge=0.0, description="utility per unit of price as a fraction of list"
    )
    habit_weight: float = Field(
        default=2.0, ge=0.0, description="utility of staying with the channel used last time"
    )
    relationship_weight: float = Field(
        default=1.5, ge=0.0, description="utility of a full relationship with the channel"
    )
    effort_weight: float = Field(
        default=1.0, ge=0.0, description="utility lost in assisted channels at full effort"
    )
    non_adopter_ecommerce_penalty: float = Field(
        default=6.0, ge=0.0, description="utility penalty of e-commerce for non-adopters"
    )
    competitor_utility: float = Field(
        default=-1.0, description="utility of buying the need from a competitor's line"
    )
    digital_ordering_utility: float = Field(
        default=1.0, ge=0.0, description="appeal of a distributor's ordering app to adopters"
    )
    forced_switch_effort: float = unit_interval(
        0.2, "effort added when a plan removes the chosen channel"
    )


class Journey(Block):
    """Non-linear buying journey: extra channels touched for the same need."""

    extra_touch_prob: float = unit_interval(
        0.25, "chance each other open channel is also touched per need"
    )


class Effort(Block):
    """Customer effort (0 = effortless, 1 = high effort; CEB customer-effort research)."""

    per_conflict: float = unit_interval(0.15, "effort added by an unresolved conflict incident")
    per_stockout: float = unit_interval(0.10, "effort added by a distributor stock-out")
    recovery_per_order: float = unit_interval(0.10, "share of effort removed by a clean order")


class Market(Block):
    """The buyer population and its behaviour."""

    buyers: int = Field(default=20_000, ge=1, le=20_000_000, description="buyer accounts")
    prospects: int = Field(default=0, ge=0, le=20_000_000, description="non-customers reps can win")
    inbound_accounts_annual: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="inbound new accounts a year, per initial account",
    )
    segments: list[Segment] = Field(min_length=1)
    ecommerce_adoption: EcommerceAdoption = EcommerceAdoption()
    base_churn_annual: float = Field(
        default=0.10, ge=0.0, lt=1.0, description="yearly churn probability at zero effort"
    )
    effort_churn_multiplier: float = Field(
        default=3.0, ge=1.0, le=50.0, description="churn hazard multiplier at full effort"
    )
    choice: Choice = Choice()
    journey: Journey = Journey()
    effort: Effort = Effort()
    referrals_per_account_annual: float = Field(
        default=0.05, ge=0.0, description="referral leads a satisfied account gives per year"
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
    list_price: float = Field(gt=0.0, description="list price per unit")
    unit_cost: float = Field(ge=0.0, description="manufacturer's cost of goods per unit")


class ChannelCosts(Block):
    """Price realisation and cost to serve of one channel."""

    price_realisation: float = Field(
        default=1.0, gt=0.0, le=1.5, description="buyer's price as a fraction of list"
    )
    cost_per_order: float = Field(default=0.0, ge=0.0, description="order handling per order")
    fixed_cost_weekly: float = Field(default=0.0, ge=0.0, description="fixed running cost per week")


class Channels(Block):
    """Per-channel economics (APQC 2024 order handling; industry call-cost surveys)."""

    field: ChannelCosts = ChannelCosts(price_realisation=0.90, cost_per_order=30.0)
    inside: ChannelCosts = ChannelCosts(price_realisation=0.95, cost_per_order=30.0)
    distributor: ChannelCosts = ChannelCosts(price_realisation=1.0, cost_per_order=30.0)
    ecommerce: ChannelCosts = ChannelCosts(
        price_realisation=0.97, cost_per_order=5.0, fixed_cost_weekly=2_000.0
    )


# --------------------------------------------------------------------------- reps


class RepTeam(Block):
    """A team of field or inside reps."""

    count: int = Field(default=0, ge=0, le=100_000)
    calls_per_week: float = Field(gt=0.0, description="calls a rep could make at 100% selling")
    selling_time: float = Field(
        default=0.30, gt=0.0, le=1.0, description="share of working time spent selling"
    )
    cost_per_call: float = Field(ge=0.0, description="fully loaded cost of one call")
    commission_rate: float = Field(
        default=0.03, ge=0.0, le=1.0, description="share of credited revenue"
    )
    min_account_spend: float = Field(
        default=0.0, ge=0.0, description="allocation rule: smallest annual spend this team covers"
    )
    prospecting_share: float = unit_interval(0.0, "share of selling calls spent prospecting")
    call_lift: float = unit_interval(0.1, "relationship gained with the rep's channel per call")


class LeadSource(Block):
    """Where prospecting calls find leads, and how often a lead converts."""

    conversion: float = unit_interval(0.0, "probability a worked lead becomes an account")


class Reps(Block):
    """Field and inside sales teams (sales-productivity studies; coffee case)."""

    field: RepTeam = RepTeam(
        count=40, calls_per_week=20.0, cost_per_call=300.0, commission_rate=0.03,
        min_account_spend=60_000.0, call_lift=0.15,
    )  # fmt: skip
    inside: RepTeam = RepTeam(
        count=20, calls_per_week=100.0, cost_per_call=50.0, commission_rate=0.02,
        min_account_spend=15_000.0, call_lift=0.08,
    )  # fmt: skip
    referral: LeadSource = LeadSource(conversion=0.90)
    outbound: LeadSource = LeadSource(conversion=0.01)
    resist_web_orders: float = unit_interval(
        0.3, "chance a channel-specific rep pulls an account's web order back to their own channel"
    )


# --------------------------------------------------------------------------- distributors


class Distributors(Block):
    """Independent distributors carrying the line (Grainger/Fastenal margins; vendor programmes)."""

    count: int = Field(default=20, ge=0, le=100_000)
    margin: float = Field(
        default=0.30, ge=0.0, lt=1.0, description="distributor gross margin on list"
    )
    target_weeks_cover: float = Field(default=6.0, gt=0.0, le=52.0, description="order-up-to stock")
    reorder_weeks_cover: float = Field(default=3.0, ge=0.0, le=52.0, description="reorder point")
    carrying_cost_annual: float = Field(
        default=0.25, ge=0.0, le=2.0, description="inventory carrying cost per year, share of value"
    )
    forward_buy_weeks_per_discount: float = Field(
        default=120.0,
        ge=0.0,
        description="extra weeks of cover bought per unit of sell-in discount",
    )
    max_forward_buy_weeks: float = Field(default=12.0, ge=0.0, le=52.0)
    promotion_pass_through: float = unit_interval(
        0.5, "share of a sell-through discount passed on to buyers"
    )
    threat_window_weeks: int = Field(default=13, ge=1, le=260)
    threat_sensitivity: float = Field(
        default=3.0, ge=0.0, description="effort lost per unit of threat"
    )
    effort_adjust_rate: float = unit_interval(
        0.2, "weekly speed at which effort moves to its target"
    )
    referral_fee_effort: float = Field(
        default=2.0, ge=0.0, description="effort regained per unit of referral fee"
    )
    deal_registration_effort: float = unit_interval(
        0.15, "effort regained when deal registration is on"
    )
    deal_registration_margin: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="extra margin on registered deals"
    )
    deal_protection_weeks: int = Field(default=13, ge=0, le=104, description="90 days typical")
    retaliation_threat: float = unit_interval(0.10, "threat above which a distributor retaliates")
    retaliation_steer: float = unit_interval(
        0.3, "share of its accounts' needs a retaliating one steers away"
    )
    exit_threat: float = unit_interval(0.15, "threat above which a distributor counts a bad week")
    exit_profit_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="bad week when line profit < ratio x its adapting reference",
    )
    exit_churn_share: float = unit_interval(
        0.3, "share of an exiting distributor's accounts it takes along"
    )
    profit_adaptation_weeks: float = Field(
        default=52.0, ge=1.0, description="time constant of the reference line profit"
    )
    exit_after_weeks: int = Field(default=8, ge=1, le=260, description="bad weeks in a row to exit")
    effort_leak: float = unit_interval(
        0.3, "share of needs lost to a competitor's line at zero effort"
    )
    digital_ordering: bool = Field(
        default=False, description="distributors run their own B2B ordering app (case 6)"
    )


# --------------------------------------------------------------------------- campaigns, policy


class Campaign(Block):
    """A marketing campaign touching a segment's buyers."""

    name: str = Field(min_length=1)
    segments: list[str] = Field(default_factory=list, description="empty = all segments")
    products: list[str] = Field(
        default_factory=list, description="products the offer covers; empty = all products"
    )
    channel: Channel = "ecommerce"
    medium: Literal["email", "digital_ad", "direct_mail"] = "email"
    start_week: int = Field(default=1, ge=1)
    weeks: int = Field(default=4, ge=1)
    reach: float = unit_interval(0.1, "share of targeted buyers touched per week")
    cost_weekly: float = Field(default=0.0, ge=0.0)
    adoption_boost_annual: float = Field(
        default=0.0, ge=0.0, description="added Bass p for touched buyers, per year"
    )
    offer_discount: float = Field(default=0.0, ge=0.0, lt=1.0, description="price cut offered")
    offer_weeks: int = Field(default=4, ge=1, description="how long an offer stays valid")


class TradePromotion(Block):
    """A discount to distributors on one product."""

    product: str
    discount: float = Field(gt=0.0, lt=1.0, description="share off the distributor's price")
    start_week: int = Field(ge=1)
    weeks: int = Field(ge=1)
    basis: Literal["sell_in", "sell_through"] = "sell_in"


class ChannelShift(Block):
    """Move a share of a product x segment from one channel to another, ramped linearly."""

    product: str
    segment: str
    from_: Channel = Field(alias="from")
    to: Channel
    start_week: int = Field(ge=1)
    ramp_weeks: int = Field(default=0, ge=0)
    share: float = Field(default=1.0, ge=0.0, le=1.0)

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True
    )

    @model_validator(mode="after")
    def _distinct(self) -> ChannelShift:
        if self.from_ == self.to:
            raise ValueError(f"'from' and 'to' are both {self.to!r}")
        return self


class Policy(Block):
    """The firm's levers."""

    coordination: Literal["siloed", "orchestrated"] = "siloed"
    orchestration_coverage: float = unit_interval(
        0.0, "share of touches the orchestrator sees and resolves"
    )
    orchestration_cost_per_account_annual: float = Field(default=20.0, ge=0.0)
    orchestration_fixed_cost_weekly: float = Field(default=1_500.0, ge=0.0)
    rep_compensation: Literal["channel_specific", "channel_neutral"] = "channel_specific"
    deal_registration: bool = False
    distributor_referral_fee: float = unit_interval(
        0.0, "share of direct revenue from a distributor's accounts"
    )
    trade_promotions: list[TradePromotion] = Field(default_factory=list)
    channel_plan: list[ChannelShift] = Field(default_factory=list)


class Sweep(Block):
    """Design of a parameter sweep."""

    method: Literal["grid", "lhs", "sobol"] = "lhs"
    samples: int = Field(default=16, ge=1, le=1_000_000)
    parameters: dict[str, tuple[float, float]] = Field(min_length=1)
    outputs: list[str] = Field(default_factory=lambda: ["contribution_margin", "churn_rate_annual"])

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Sweep:
        for path, (low, high) in self.parameters.items():
            if not low < high:
                raise ValueError(f"parameters.{path}: low {low:g} must be below high {high:g}")
        return self


# --------------------------------------------------------------------------- scenario


class Scenario(Block):
    """A complete, validated scenario."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(default=20261123, ge=0, lt=2**63)
    horizon_weeks: int = Field(default=156, ge=1, le=2_600)
    replications: int = Field(default=10, ge=1, le=100_000)
    discount_rate_annual: float = Field(default=0.08, ge=0.0, le=1.0, description="for NPV")
    market: Market
    products: list[Product] = Field(min_length=1, max_length=64)
    channels: Channels = Channels()
    reps: Reps = Reps()
    distributors: Distributors = Distributors()
    campaigns: list[Campaign] = Field(default_factory=list)
    policy: Policy = Policy()
    variants: dict[str, dict[str, object]] = Field(default_factory=dict)
    sweep: Sweep | None = None

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        products = [p.name for p in self.products]
        if len(set(products)) != len(products):
            raise ValueError(f"product names must be unique, got {products}")
        segments = [s.name for s in self.market.segments]
        checks: list[tuple[str, list[str], list[str]]] = []
        for i, s in enumerate(self.market.segments):
            checks.append((f"market.segments.{i}.product_mix", list(s.product_mix), products))
        for i, c in enumerate(self.campaigns):
            checks.append((f"campaigns.{i}.segments", c.segments, segments))
            checks.append((f"campaigns.{i}.products", c.products, products))
        for i, t in enumerate(self.policy.trade_promotions):
            checks.append((f"policy.trade_promotions.{i}.product", [t.product], products))
        for i, shift in enumerate(self.policy.channel_plan):
            checks.append((f"policy.channel_plan.{i}.product", [shift.product], products))
            checks.append((f"policy.channel_plan.{i}.segment", [shift.segment], segments))
        for path, used, known in checks:
            for name in used:
                if name not in known:
                    raise ValueError(f"{path}: unknown name {name!r}; allowed: {known}")
        return self
