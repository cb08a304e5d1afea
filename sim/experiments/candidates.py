"""Candidate plans: lever values, evaluated on the model with common random numbers.

A candidate is the scenario with some ``key.path`` values applied. The search
(:mod:`sim.experiments.optimize`) and the stress test (:mod:`sim.experiments.stress`) both
score candidates through :func:`model_evaluator`; replication *r* of every candidate uses the
same seed, so their differences are paired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.experiments.runner import execute
from sim.experiments.study import BASE_VARIANT, RunsFailedError
from sim.metrics import summarise_run
from sim.results.runs import RunKey
from sim.results.tables import run_frame
from sim.scenario.loader import variant_of
from sim.scenario.schema import Scenario

Levers = Mapping[str, Any]
"""Lever values by key path, e.g. ``{"policy.distributor_referral_fee": 0.05}``."""

Job = tuple[Levers, int]
"""One evaluation: lever values and a replication index."""

Evaluate = Callable[[Sequence[Job]], list[dict[str, float]]]
"""Summary metrics of each job, in the jobs' order; must be a pure function of each job."""


@dataclass(frozen=True)
class Candidate:
    """Lever values and their summary metrics, one value per replication.

    ``trial`` is the Optuna trial number (``-1`` for the scenario as written).
    """

    trial: int
    levers: Levers
    metrics: Mapping[str, np.ndarray]

    @property
    def name(self) -> str:
        """Variant name: ``trial_<n>``, or ``baseline``."""
        return BASE_VARIANT if self.trial < 0 else f"trial_{self.trial}"

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over the replications."""
        return float(np.mean(self.metrics[metric]))


def model_evaluator(
    scenario: Scenario,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    world: Levers | None = None,
) -> Evaluate:
    """Evaluate jobs on the model: ``scenario`` with the job's levers (and ``world``) applied.

    Replication *r* is seeded ``SeedSequence(scenario.seed, spawn_key=(r,))`` whatever the
    levers, so candidates share their random numbers (common random numbers).
    """

    def evaluate(jobs: Sequence[Job]) -> list[dict[str, float]]:
        tasks = [
            (
                candidate_scenario(scenario, {**(world or {}), **levers}),
                RunKey(f"job{i}", r, scenario.seed),
            )
            for i, (levers, r) in enumerate(jobs)
        ]
        scores: dict[int, dict[str, float]] = {}
        for output in execute(tasks, workers=workers, scheduler=scheduler):
            if output.error is not None:
                raise RunsFailedError(
                    f"a run failed ({output.key.stem}: {output.error}); the search so far is "
                    "kept: run the same command again to resume"
                )
            frame = run_frame(scenario.name, output)
            scores[int(output.key.variant[3:])] = summarise_run(
                frame, scenario.discount_rate_annual
            )
        return [scores[i] for i in range(len(jobs))]

    return evaluate


def candidate_scenario(scenario: Scenario, levers: Levers) -> Scenario:
    """``scenario`` with lever values applied."""
    return variant_of(scenario, "candidate", levers)
