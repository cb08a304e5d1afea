"""Who plays a war-game and what each role decides (SPEC §8).

Roles: ``manufacturer`` (our plan's moves, referral fee, deal registration, wholesale price),
``distributor:<i>`` (its markup, the lines it pushes to the competitor's line, its effort,
leaving our line), ``competitor`` (what its line pays distributors) and ``facilitator`` (who
starts and advances the rounds). A decision is a typed value checked like a scenario key: a
bad value is refused with a message naming the field, the value and what is allowed, and a
field left empty (``null``) is played by the model's own rule.

A decision becomes engine effects here, in one place: the manufacturer's and the
competitor's are changes to the firm's scenario (:meth:`ChannelModel.amend`), a
distributor's is a :class:`~sim.model.distributors.players.Play` for its seat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.model.distributors.players import Play
from sim.scenario.loader import ScenarioError, with_changes
from sim.scenario.schema import Scenario

MANUFACTURER = "manufacturer"
COMPETITOR = "competitor"
FACILITATOR = "facilitator"
DISTRIBUTOR = "distributor"
"""Role names; a distributor's is ``distributor:<i>``, ``i`` its index in the network."""

DISTRIBUTOR_TEAMS = "distributors"
"""Every distributor team together: a team of the after-action review, not a role."""

DEFAULT_ROLES: tuple[str, ...] = (MANUFACTURER, "distributor:0", "distributor:1")
"""Three teams on one laptop: our firm and two distributors (the competitor is the model's)."""

ANNOUNCEMENT_CHARS = 500
"""Longest announcement a team may make in a round (characters)."""


class DecisionError(ValueError):
    """A decision refused: the message names the field, the bad value and what is allowed."""


class Decision(BaseModel):
    """A role's decision for the coming round; every field ``None``: the model's rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    announcement: str | None = Field(
        default=None,
        max_length=ANNOUNCEMENT_CHARS,
        description="what the team tells the others this round (the manufacturer's reach the "
        "distributors, a distributor's the manufacturer)",
    )

    def fields_set(self) -> dict[str, Any]:
        """The fields the team set (not ``None``), by name, as JSON values."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}


class DistributorDecision(Decision):
    """A distributor team's decision (its seat in :mod:`sim.model.distributors.players`)."""

    markup: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="resale price over our wholesale price, minus 1 (0.25: resale at 1.25 x "
        "what it pays us), 0 to 2",
    )
    effort: float | None = Field(
        default=None, ge=0.0, le=1.0, description="its push of our line, 0 (none) to 1 (full)"
    )
    push_to_competitor: list[str] | None = Field(
        default=None,
        description="products whose lines it pushes to the competitor's line (empty: none)",
    )
    exit: bool | None = Field(
        default=None, description="true: drop our line this round; false: keep it"
    )


class ManufacturerDecision(Decision):
    """Our firm's levers: each is a scenario key (:data:`MANUFACTURER_KEYS`)."""

    channel_plan: list[dict[str, Any]] | None = Field(
        default=None,
        description="the plan's moves, rows as in policy.channel_plan (product, segment, from, "
        "to, start_week, ramp_weeks, share); replaces the plan from the next week on",
    )
    distributor_referral_fee: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="share of direct revenue from a distributor's former accounts paid to it",
    )
    deal_registration: bool | None = Field(
        default=None, description="protect the deals distributors register"
    )
    distributor_margin: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="our wholesale discount off list: distributors pay list x (1 - margin)",
    )


class CompetitorDecision(Decision):
    """The competitor line's terms to distributors."""

    alternative_margin: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the distributors' gross margin on the competitor's line at list: what "
        "its line pays them",
    )


MANUFACTURER_KEYS: dict[str, str] = {
    "channel_plan": "policy.channel_plan",
    "distributor_referral_fee": "policy.distributor_referral_fee",
    "deal_registration": "policy.deal_registration",
    "distributor_margin": "distributors.margin",
}
"""Each manufacturer field's scenario key."""

COMPETITOR_KEYS: dict[str, str] = {"alternative_margin": "distributors.alternative_margin"}
"""Each competitor field's scenario key."""


def parse_roles(text: str | None, distributors: int) -> tuple[str, ...]:
    """The roles teams take, checked: ``manufacturer,distributor:0,...``.

    Raises
    ------
    DecisionError
        For a role that does not exist (naming it and the roles allowed).
    """
    names = DEFAULT_ROLES if not text else tuple(r.strip() for r in text.split(",") if r.strip())
    allowed = (
        f"{MANUFACTURER}, {COMPETITOR}, or {DISTRIBUTOR}:0 .. {DISTRIBUTOR}:{distributors - 1}"
        if distributors
        else f"{MANUFACTURER}, {COMPETITOR} (this network has no distributors)"
    )
    for name in names:
        if name in (MANUFACTURER, COMPETITOR):
            continue
        kind, _, index = name.partition(":")
        if kind != DISTRIBUTOR or not index.isdigit() or int(index) >= distributors:
            raise DecisionError(f"--roles: {name!r} is not a role; allowed: {allowed}")
    if len(set(names)) != len(names):
        raise DecisionError(f"--roles: a role is named twice in {','.join(names)}")
    if not names:
        raise DecisionError(f"--roles: no role given; allowed: {allowed}")
    return names


def distributor_index(role: str) -> int | None:
    """``i`` of ``distributor:<i>``; ``None`` for any other role."""
    kind, _, index = role.partition(":")
    return int(index) if kind == DISTRIBUTOR and index.isdigit() else None


def schema_of(role: str) -> type[Decision]:
    """The decision type of ``role``."""
    if role == MANUFACTURER:
        return ManufacturerDecision
    if role == COMPETITOR:
        return CompetitorDecision
    if distributor_index(role) is not None:
        return DistributorDecision
    raise DecisionError(f"{role!r} makes no decisions")


def parse_decision(role: str, payload: Any, firm: Scenario, *, next_week: int = 1) -> Decision:
    """``payload`` (JSON) as ``role``'s decision, checked against the firm's scenario.

    ``next_week``: the first week the decision plays in; a new plan move may not start
    before it.

    Raises
    ------
    DecisionError
        Naming the field, the bad value and what is allowed; nothing is changed.
    """
    schema = schema_of(role)
    if not isinstance(payload, Mapping):
        raise DecisionError(f"a decision is a JSON object of fields; got {type(payload).__name__}")
    try:
        decision = schema.model_validate(dict(payload))
    except ValidationError as exc:
        raise DecisionError(_describe(exc, schema)) from None
    if isinstance(decision, DistributorDecision) and decision.push_to_competitor is not None:
        products = [p.name for p in firm.products]
        unknown = [p for p in decision.push_to_competitor if p not in products]
        if unknown:
            raise DecisionError(
                f"push_to_competitor: {unknown[0]!r} is not a product; allowed: "
                f"{', '.join(products)}"
            )
    changes = scenario_changes(decision)
    if changes:
        try:
            changed = with_changes(firm, changes, source=f"{role}'s decision")
        except ScenarioError as exc:
            raise DecisionError(_named(str(exc), schema)) from None
        _check_plan_starts(changed, firm, next_week)
    return decision


def _check_plan_starts(changed: Scenario, firm: Scenario, next_week: int) -> None:
    """A plan row that starts before ``next_week`` must be one already in the plan.

    The past is played: a new move (or a started one given an earlier start) would move
    lines in weeks already booked. A started row may change its share and ramp.
    """
    held = {_row_key(r) for r in firm.policy.channel_plan}
    for i, row in enumerate(changed.policy.channel_plan):
        if row.start_week < next_week and _row_key(row) not in held:
            raise DecisionError(
                f"channel_plan.{i}.start_week: {row.start_week} is in the past; a new move "
                f"starts in week {next_week} or later (the coming round's first week); "
                "a started move keeps its start_week"
            )


def _row_key(row: Any) -> tuple[Any, ...]:
    """A plan row's identity: what it moves, from where to where, from when."""
    return (row.product, row.segment, row.from_, row.to, row.start_week)


def scenario_changes(decision: Decision) -> dict[str, Any]:
    """The scenario changes a manufacturer's or competitor's decision makes ({} for others)."""
    keys = (
        MANUFACTURER_KEYS
        if isinstance(decision, ManufacturerDecision)
        else COMPETITOR_KEYS
        if isinstance(decision, CompetitorDecision)
        else {}
    )
    values = decision.fields_set()
    return {key: values[name] for name, key in keys.items() if name in values}


def play_of(decision: DistributorDecision, firm: Scenario) -> Play:
    """A distributor's decision as its seat's :class:`Play` (products by index)."""
    products = [p.name for p in firm.products]
    push = decision.push_to_competitor
    return Play(
        markup=decision.markup,
        effort=decision.effort,
        push=None if push is None else tuple(products.index(p) for p in push),
        exit=decision.exit,
    )


def _describe(exc: ValidationError, schema: type[Decision]) -> str:
    """Each refused field: its name, the value given, pydantic's reason and what it means."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(decision)"
        name = str(error["loc"][0]) if error["loc"] else ""
        info = schema.model_fields.get(name)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(schema.model_fields)
            lines.append(f"{field}: not a field of this decision; allowed: {allowed}")
            continue
        meaning = f"; {name} is {info.description}" if info and info.description else ""
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {reason} (got {error.get('input')!r}){meaning}")
    return "\n".join(lines)


def _named(message: str, schema: type[Decision]) -> str:
    """A scenario error's key paths read as the decision's field names."""
    keys = MANUFACTURER_KEYS if schema is ManufacturerDecision else COMPETITOR_KEYS
    for name, key in keys.items():
        message = message.replace(key, name)
    return message
