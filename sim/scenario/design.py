"""The study design run on a scenario: a sweep, an optimize search, the uncertainties.

These blocks sit beside the scenario in a file (:class:`sim.scenario.schema.Study`); the model
never reads them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sim.scenario.blocks import Block
from sim.scenario.frozen import FrozenMap, Items, YamlValue


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
