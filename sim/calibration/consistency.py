"""Calibrate to what the model observes, not to what it is fed.

Two corrections make the calibrated model reproduce the data it was fitted on, both measured
on one probe run of the calibrated scenario over the calibration period:

- **Needs won.** The data records orders placed with us; in the model a need may also go to a
  competitor's line (the logit's outside option, a distributor steering it away). So the model's
  need rate and spend potential are the data's order rate and spend divided by the share of
  needs (in units) our channels win over the period.
- **Effort at which dropout was seen.** The data's dropout happened at the service the customers
  actually had; the model raises dropout with customer effort. So the fitted dropout is taken to
  hold at the model's own mean effort at its dropout decisions (the account-weeks with an order)
  over the period, and only effort above or below that changes dropout in a war-game.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.model import ChannelModel
from sim.scenario.loader import with_changes
from sim.scenario.schema import Scenario

PROBE_ACCOUNTS = 20_000
"""Accounts drawn for the probe run (a share's sampling SD is below 0.005 at this size)."""


@dataclass(frozen=True)
class Observation:
    """What the model sees of its own calibrated buyers over the calibration period."""

    won_share: float
    """Share of need units placed with our channels (the rest went to a competitor's line)."""
    reference_effort: dict[str, float]
    """Per segment: mean customer effort at the dropout decisions."""


def observe(scenario: Scenario, weeks: int) -> Observation:
    """Run ``scenario`` with ``PROBE_ACCOUNTS`` random accounts and no newcomers for ``weeks``."""
    probe = with_changes(
        scenario,
        {
            "market.buyers": PROBE_ACCOUNTS,
            "market.prospects": 0,
            "market.inbound_accounts_annual": 0.0,
            "market.customer_base": None,
            "horizon_weeks": weeks,
        },
        source="calibrate",
    )
    model = ChannelModel(probe, probe.seed, journal=True)
    assert model.books.journal is not None
    pop, journal = model.population, model.books.journal["orders"]
    segments = len(scenario.market.segments)
    effort, decisions = np.zeros(segments), np.zeros(segments)
    won_units = 0.0
    for _ in range(weeks):
        model.step()
        lines = journal.pop() if journal else None
        if lines is not None:
            won_units += float(lines["units"].sum())
            ordered = np.unique(lines["buyer"].to_numpy())
            weights = pop.effort[ordered]
            effort += np.bincount(pop.segment[ordered], weights=weights, minlength=segments)
            decisions += np.bincount(pop.segment[ordered], minlength=segments)
    rows = model.ledger.rows
    won_units += float(rows["stockout_units"].sum())  # placed with us, not delivered
    lost_units = float(rows["lost_to_competitor_units"].sum())
    mean = np.divide(effort, decisions, out=np.zeros_like(effort), where=decisions > 0)
    return Observation(
        won_share=won_units / (won_units + lost_units) if won_units else 1.0,
        reference_effort={s.name: float(mean[i]) for i, s in enumerate(scenario.market.segments)},
    )
