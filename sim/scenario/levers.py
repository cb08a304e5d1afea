"""The workshop's policy levers, declared once: key path, label, unit, range, default.

The dashboard's controls, the report's description of a policy and ``optimize``'s example of
an ``optimize`` block read these declarations. A lever's default and, for a lever with
choices, the choices are the schema's own (:mod:`sim.scenario.policy`), so they cannot drift
from what a scenario file means. A key path with ``*`` names a field of every entry of a list
(every row of the channel plan, every trade promotion): the workshop sets them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel

from sim.scenario.schema import Scenario

Unit = Literal["share", "weeks", "switch", "choice"]
"""How a lever's value reads: a share in [0, 1], whole weeks, on/off, or one of its choices."""

EVERY = "*"
"""The part of a key path standing for every entry of a list."""


@dataclass(frozen=True)
class Span:
    """The range a workshop explores, in the key's unit, and the step between its values."""

    low: float
    high: float
    step: float


@dataclass(frozen=True)
class PolicyLever:
    """A lever a workshop moves.

    Attributes
    ----------
    name
        Short identifier (``distributor_referral_fee``).
    key_path
        Where it sits in a scenario file (``policy.distributor_referral_fee``); ``*`` for every
        entry of a list (``policy.channel_plan.*.share``).
    label
        How the workshop calls it.
    unit
        How its value reads (:data:`Unit`).
    span
        The range a workshop explores (``share`` and ``weeks`` levers).
    applies_when
        ``(lever name, value)`` the lever only matters at (coverage only when orchestrated).
    """

    name: str
    key_path: str
    label: str
    unit: Unit
    span: Span | None = None
    applies_when: tuple[str, Any] | None = None

    @property
    def per_entry(self) -> bool:
        """Whether the lever sets a field of every entry of a list."""
        return EVERY in self.key_path.split(".")

    @property
    def default(self) -> Any:
        """The schema's default of the key."""
        model, name = _owner(self.key_path)
        return model.model_fields[name].default

    @property
    def choices(self) -> tuple[Any, ...]:
        """The values a ``choice`` lever takes (the schema's literals); empty otherwise."""
        if self.unit != "choice":
            return ()
        model, name = _owner(self.key_path)
        return get_args(model.model_fields[name].annotation)

    def show(self, value: Any) -> str:
        """The value as the workshop reads it (``5%``, ``26 weeks``, ``on``)."""
        if value is None:
            return "none"
        if self.unit == "share":
            return f"{value:.0%}"
        if self.unit == "weeks":
            return f"{value} weeks"
        if self.unit == "switch":
            return "on" if value else "off"
        return str(value)

    def value_in(self, tree: Mapping[str, Any]) -> Any:
        """Its value in a scenario's YAML tree (a per-entry lever: the first entry's, or None).

        A key the tree leaves out has the schema default.
        """
        head, _, field = self.key_path.partition(f".{EVERY}.")
        node = _at(tree, head)
        if not self.per_entry:
            return self.default if node is None else node
        if not node:
            return None
        return node[0].get(field, self.default)

    def key_paths(self, tree: Mapping[str, Any]) -> list[str]:
        """The concrete key paths it sets in a scenario's YAML tree (one per list entry)."""
        if not self.per_entry:
            return [self.key_path]
        head, _, field = self.key_path.partition(f".{EVERY}.")
        return [f"{head}.{i}.{field}" for i in range(len(_at(tree, head) or ()))]


LEVERS: tuple[PolicyLever, ...] = (
    PolicyLever(
        "plan_share", "policy.channel_plan.*.share", "Migration share", "share", Span(0, 1, 0.05)
    ),
    PolicyLever(
        "ramp_weeks", "policy.channel_plan.*.ramp_weeks", "Migration ramp", "weeks", Span(0, 104, 1)
    ),
    PolicyLever("coordination", "policy.coordination", "Coordination", "choice"),
    PolicyLever(
        "orchestration_coverage",
        "policy.orchestration_coverage",
        "Orchestration coverage",
        "share",
        Span(0, 1, 0.05),
        applies_when=("coordination", "orchestrated"),
    ),
    PolicyLever("rep_compensation", "policy.rep_compensation", "Rep compensation", "choice"),
    PolicyLever(
        "distributor_referral_fee",
        "policy.distributor_referral_fee",
        "Distributor referral fee",
        "share",
        Span(0, 0.20, 0.01),
    ),
    PolicyLever("deal_registration", "policy.deal_registration", "Deal registration", "switch"),
    PolicyLever(
        "promotion_basis", "policy.trade_promotions.*.basis", "Trade promotion basis", "choice"
    ),
)
"""The workshop levers, in the order the dashboard shows them."""

LEVERS_BY_NAME: dict[str, PolicyLever] = {lever.name: lever for lever in LEVERS}


def _at(tree: Mapping[str, Any], key_path: str) -> Any:
    node: Any = tree
    for part in key_path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _owner(key_path: str) -> tuple[type[BaseModel], str]:
    """The schema block holding the key's last part, and that part."""
    *parents, name = key_path.split(".")
    model: type[BaseModel] = Scenario
    for part in parents:
        if part != EVERY:
            model = _block_in(model.model_fields[part].annotation)
    return model, name


def _block_in(annotation: Any) -> type[BaseModel]:
    """The block type of a field: itself, or the entry type of a list of blocks."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(
        arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)
    )
