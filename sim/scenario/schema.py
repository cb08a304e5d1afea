"""Typed scenario schema: one frozen pydantic model per YAML block, and the two documents.

A scenario file holds a :class:`Scenario` (what the model runs) and, beside it at the top
level, the study design run on it (variants, a sweep, an optimize search, uncertainties): the
two together are a :class:`Study`. The blocks live by job in :mod:`~sim.scenario.market`
(buyers, products, channel economics), :mod:`~sim.scenario.sellers` (reps, distributors),
:mod:`~sim.scenario.policy` (the firm's levers) and :mod:`~sim.scenario.design` (the study
design), on the base :class:`~sim.scenario.blocks.Block`; this module re-exports them all.

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

from collections.abc import Mapping
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from sim.scenario.blocks import CHANNELS, Block, Channel, unit_interval
from sim.scenario.design import (
    CONSTRAINT_OPERATORS,
    DEFAULT_OBJECTIVES,
    Constraint,
    Direction,
    Lever,
    Optimize,
    Sweep,
    Uncertainties,
)
from sim.scenario.frozen import FrozenMap, Items, YamlValue
from sim.scenario.market import (
    ChannelCosts,
    ChannelPreference,
    Channels,
    Choice,
    EcommerceAdoption,
    Effort,
    Journey,
    Market,
    Product,
    PurchaseProcess,
    Segment,
    ServiceCostRates,
)
from sim.scenario.policy import Campaign, ChannelShift, Policy, TradePromotion
from sim.scenario.sellers import Distributors, LeadSource, Reps, RepTeam

__all__ = [
    "CHANNELS",
    "CONSTRAINT_OPERATORS",
    "DEFAULT_OBJECTIVES",
    "Block",
    "Campaign",
    "Channel",
    "ChannelCosts",
    "ChannelPreference",
    "ChannelShift",
    "Channels",
    "Choice",
    "Constraint",
    "Direction",
    "Distributors",
    "EcommerceAdoption",
    "Effort",
    "Journey",
    "LeadSource",
    "Lever",
    "Market",
    "Optimize",
    "OutOfHorizonError",
    "Policy",
    "Product",
    "PurchaseProcess",
    "RepTeam",
    "Reps",
    "Scenario",
    "Segment",
    "ServiceCostRates",
    "Study",
    "Sweep",
    "TradePromotion",
    "Uncertainties",
    "UnknownNameError",
    "unit_interval",
]


class UnknownNameError(ValueError):
    """A key names a product or segment that the list defining them does not hold.

    The loader says which of the two was written last (the likelier mistake) and where each
    was written: redefining ``products`` in one's own file can leave a name the parent file
    uses undefined.
    """

    def __init__(self, path: str, name: str, defined_by: str, known: list[str]) -> None:
        self.path, self.name, self.defined_by, self.known = path, name, defined_by, known
        super().__init__(f"{path}: unknown name {name!r}; allowed: {known}")


class OutOfHorizonError(ValueError):
    """A lever starts after the last simulated week, so it would never act.

    The loader says where the start week and, if elsewhere, the horizon were written: a
    horizon shortened with ``--set`` or in a child file is the likelier mistake there.
    """

    def __init__(self, path: str, start_week: int, horizon_weeks: int) -> None:
        self.path, self.start_week, self.horizon_weeks = path, start_week, horizon_weeks
        super().__init__(
            f"{path}: week {start_week} is after the horizon (horizon_weeks {horizon_weeks}), "
            f"so it would never act; allowed: 1..{horizon_weeks}, or a longer horizon_weeks"
        )


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

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        products = [p.name for p in self.products]
        if len(set(products)) != len(products):
            raise ValueError(f"product names must be unique, got {products}")
        segments = [s.name for s in self.market.segments]
        checks: list[tuple[str, tuple[str, ...], str]] = []
        for i, s in enumerate(self.market.segments):
            checks.append((f"market.segments.{i}.product_mix", tuple(s.product_mix), "products"))
        for i, c in enumerate(self.campaigns):
            checks.append((f"campaigns.{i}.segments", c.segments, "market.segments"))
            checks.append((f"campaigns.{i}.products", c.products, "products"))
        for i, t in enumerate(self.policy.trade_promotions):
            checks.append((f"policy.trade_promotions.{i}.product", (t.product,), "products"))
        for i, shift in enumerate(self.policy.channel_plan):
            checks.append((f"policy.channel_plan.{i}.product", (shift.product,), "products"))
            checks.append((f"policy.channel_plan.{i}.segment", (shift.segment,), "market.segments"))
        names = {"products": products, "market.segments": segments}
        for path, used, defined_by in checks:
            for name in used:
                if name not in names[defined_by]:
                    raise UnknownNameError(path, name, defined_by, names[defined_by])
        return self

    @model_validator(mode="after")
    def _levers_start_within_horizon(self) -> Scenario:
        # Weeks run 1..horizon_weeks: a row starting later would be accepted and never act.
        for key, week in self.start_weeks().items():
            if week > self.horizon_weeks:
                raise OutOfHorizonError(f"{key}.start_week", week, self.horizon_weeks)
        return self

    def start_weeks(self) -> dict[str, int]:
        """The ``start_week`` of each campaign, trade promotion and plan row, by key path."""
        weeks = {f"campaigns.{i}": c.start_week for i, c in enumerate(self.campaigns)}
        weeks.update({f"policy.{key}": week for key, week in self.policy.start_weeks().items()})
        return weeks


class Study(Block):
    """A scenario and the study design run on it.

    In a file the design's keys (:meth:`design_keys`) sit at the top level beside the
    scenario's: a study validates from that flat mapping and dumps back to it, so the dump of
    a study is its file's resolved YAML tree. The model runs the :attr:`scenario` (or a
    variant of it, :func:`sim.scenario.loader.variant_of`) and never reads the design.
    """

    scenario: Scenario
    variants: FrozenMap[str, FrozenMap[str, YamlValue]] = Field(
        default=FrozenMap(), description="variant name -> {key.path: value}"
    )
    sweep: Sweep | None = Field(default=None, description="design of `channel-sim sweep`")
    optimize: Optimize | None = Field(
        default=None, description="levers to search for `channel-sim optimize`"
    )
    uncertainties: Uncertainties | None = Field(
        default=None, description="worlds to stress-test an optimize recommendation in"
    )

    @classmethod
    def design_keys(cls) -> tuple[str, ...]:
        """The design's top-level keys in a file: every field but ``scenario``."""
        return tuple(name for name in cls.model_fields if name != "scenario")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        """A file's flat mapping -> the scenario's keys under ``scenario``, the design's beside."""
        if not isinstance(data, Mapping) or isinstance(data.get("scenario"), Scenario):
            return data
        design = cls.design_keys()
        scenario = {key: value for key, value in data.items() if key not in design}
        return {"scenario": scenario, **{key: data[key] for key in design if key in data}}

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        tree = handler(self)
        scenario = tree.pop("scenario")
        return {**scenario, **tree}
