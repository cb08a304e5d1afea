"""The sample a run simulates: a share of the firm's accounts, each a super-individual.

A scenario describes the whole firm: its accounts, prospects, reps, distributor network and
fixed costs. ``market.sample_share`` ``s`` simulates that share of its accounts, each standing
for ``w = 1 / s`` real ones (super-individuals, Scheffer et al. 1995, *Ecol. Model.* 80:161).
The model runs on the sample's scenario (:meth:`FirmSample.scenario_of`), a scaled replica of
the firm: what counts accounts (customers, prospects) and every firm-level amount of capacity or
money a week (reps' calls and headcount cost, channels' fixed and capacity costs, orchestration
and targeting fixed costs, campaigns' spend, accounts per distributor) is multiplied by ``s``;
every agent of the firm is still simulated, every rep and every distributor, each with its
share of the sampled accounts. Rates, shares, prices and costs per order, line, unit, call or
account do not change. The ledger multiplies what counts accounts, units, incidents, leads or
money by ``w`` (:attr:`sim.metrics.Unit.scales_with_firm`), so every output is the firm's
(docs/ODD.md §7.12, "Sampling").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from sim.channels import CHANNELS
from sim.scenario.customers import CustomerBase
from sim.scenario.schema import Scenario

B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True)
class FirmSample:
    """Which share of the firm's accounts a run simulates.

    Attributes
    ----------
    accounts
        The firm's customer accounts at week 0 (``market.buyers``, or the rows of
        ``market.customer_base``).
    simulated
        The accounts the run simulates: ``round(s x accounts)``, at least one.
    """

    accounts: int
    simulated: int

    @classmethod
    def of(cls, scenario: Scenario, accounts: int | None = None) -> FirmSample:
        """The sample of ``scenario``'s firm (``accounts``: its count if not ``market.buyers``)."""
        accounts = scenario.market.buyers if accounts is None else accounts
        return cls(accounts, max(1, round(accounts * scenario.market.sample_share)))

    @property
    def share(self) -> float:
        """The share of the firm's accounts simulated (``simulated / accounts``)."""
        return self.simulated / self.accounts

    @property
    def weight(self) -> float:
        """Real accounts each simulated one stands for (``accounts / simulated``)."""
        return self.accounts / self.simulated

    def scenario_of(self, firm: Scenario) -> Scenario:
        """The scenario of the sample: the firm with its account counts and capacities x share.

        At a share of 1 the firm's scenario itself, so a full run is unchanged.
        """
        if self.simulated == self.accounts:
            return firm
        s = self.share
        market = firm.market.model_copy(
            update={"buyers": self.simulated, "prospects": round(firm.market.prospects * s)}
        )
        channels = firm.channels.model_copy(
            update={
                name: _scaled(
                    getattr(firm.channels, name),
                    s,
                    "fixed_cost_weekly",
                    "capacity_step_orders",
                    "capacity_step_cost_weekly",
                )
                for name in CHANNELS
            }
        )
        reps = _scaled(firm.reps, s, "targeting_cost_weekly").model_copy(
            update={
                team: _scaled(getattr(firm.reps, team), s, "calls_per_week", "loaded_cost_annual")
                for team in ("field", "inside")
            }
        )
        return firm.model_copy(
            update={
                "market": market,
                "channels": channels,
                "reps": reps,
                "distributors": _scaled(firm.distributors, s, "accounts_per_distributor"),
                "campaigns": tuple(_scaled(c, s, "cost_weekly") for c in firm.campaigns),
                "policy": _scaled(
                    firm.policy,
                    s,
                    "orchestration_fixed_cost_weekly",
                    "orchestration_capacity_weekly",
                ),
            }
        )

    def accounts_of(self, base: CustomerBase, rng: np.random.Generator) -> CustomerBase:
        """The simulated accounts of the firm's customer base: a simple random sample.

        ``rng``: the ``setup`` stream, drawn from only when the sample is not the whole base.
        """
        if self.simulated == len(base):
            return base
        return base.rows(np.sort(rng.choice(len(base), self.simulated, replace=False)))


def _scaled(block: B, share: float, *fields: str) -> B:
    """``block`` with ``fields`` multiplied by ``share``."""
    return block.model_copy(update={name: getattr(block, name) * share for name in fields})
