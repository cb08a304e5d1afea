"""The firm's levers: campaigns, trade promotions, the channel plan and the policy block."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from sim.scenario.blocks import Block, Channel, unit_interval
from sim.scenario.frozen import Items


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
    start_week: int = Field(default=1, ge=1, description="first week, at most horizon_weeks")
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
    start_week: int = Field(ge=1, description="first week, at most horizon_weeks")
    weeks: int = Field(ge=1, description="duration, weeks")
    basis: Literal["sell_in", "sell_through"] = "sell_in"


class ChannelShift(Block):
    """Move a share of a product x segment from one channel to another, ramped linearly."""

    product: str
    segment: str
    from_: Channel = Field(alias="from")
    to: Channel
    start_week: int = Field(ge=1, description="first week of the move, at most horizon_weeks")
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
        "share of touches the orchestrator's data records (each channel's touch of a need "
        "is recorded with this probability; an incident is seen only when every touch it "
        "involves is recorded). Conflicts only: call targeting is reps.next_best_action_share",
    )
    orchestration_capacity_weekly: float = Field(
        default=3_000.0,
        ge=0.0,
        description="incidents a week the orchestrator (system and account managers) can "
        "resolve, firm-wide; seen incidents beyond it stay unresolved; assumption",
    )
    orchestration_cost_per_capacity_weekly: float = Field(
        default=2.0,
        ge=0.0,
        description="money a week per incident a week of orchestration capacity (account "
        "managers' time and system throughput); assumption",
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

    def start_weeks(self) -> dict[str, int]:
        """The ``start_week`` of each trade promotion and plan row, by key path under policy."""
        weeks = {f"trade_promotions.{i}": t.start_week for i, t in enumerate(self.trade_promotions)}
        weeks.update({f"channel_plan.{i}": c.start_week for i, c in enumerate(self.channel_plan)})
        return weeks
