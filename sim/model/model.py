"""ChannelModel: wires the population and the agents and orders the weekly phases.

The nine phases of a week, in order (docs/ODD.md, "Process overview and scheduling"):

1. policy            channel-plan ramps, promotions, running costs    ``policy``, ``books``
2. campaigns         touch buyers, nudge adoption, make offers        ``campaigns``
3. buyers            adoption, needs, logit choice, the plan, steering ``buyers``, ``choice``,
                                                                      ``distributors``
4. respond           reps spend selling time; distributors fill       ``reps``, ``distributors``
5. conflict          incidents by type; orchestration resolves some   ``conflicts``
6. orders, ledger    revenue, COGS, cost to serve, commissions, fees  ``books``, ``distributors``
7. experience, churn effort and satisfaction; churn hazard            ``buyers``
8. distributors      P&L, threat, markup, effort, status, restock     ``distributors``
9. collect           weekly metrics, customer equity                  ``ledger``, ``valuation``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mesa
import numpy as np

from sim.channels import REP_CHANNELS
from sim.model import buyers, choice
from sim.model.books import Books
from sim.model.buyers import BuyerRules
from sim.model.campaigns import CampaignAgent
from sim.model.conflicts import Orchestrator, find_conflicts
from sim.model.distributors import Distributor, DistributorNetwork
from sim.model.draws import stream_key
from sim.model.policy import ChannelPlan, Promotions
from sim.model.population import ACTIVE, CHURNED, create_population, customer_base
from sim.model.reps import Rep
from sim.model.sample import FirmSample
from sim.model.shopping import shop
from sim.model.territories import Territories
from sim.model.valuation import customer_equity
from sim.scenario.loader import with_changes
from sim.scenario.schema import Scenario

STREAMS: tuple[str, ...] = (
    "setup",
    "adoption",
    "needs",
    "choice",
    "journey",
    "orchestration",
    "reps",
    "churn",
    "campaigns",
    "mesa",
)
"""Independent random streams, spawned in this order from the run's SeedSequence, so a policy
change in one mechanism does not shift the draws of another (common random numbers)."""

AMENDABLE: tuple[str, ...] = (
    "policy.channel_plan",
    "policy.distributor_referral_fee",
    "policy.deal_registration",
    "distributors.margin",
    "distributors.alternative_margin",
)
"""Keys :meth:`ChannelModel.amend` may change between weeks (and their sub-keys): the levers
a manufacturer and a competitor move in a war-game (:mod:`sim.wargame`). Each is read week by
week by its owner, so a change takes effect from the next week on."""


class ChannelModel(mesa.Model):
    """Channel-conflict model of one firm's buyers, reps, distributors and campaigns.

    Parameters
    ----------
    scenario
        A validated scenario.
    seed
        Root of all randomness for this run: an int or a ``numpy.random.SeedSequence``.
    journal
        Keep the order journal (``books.journal``): per-line records, for audits and tests.

    """

    def __init__(
        self, scenario: Scenario, seed: int | np.random.SeedSequence, *, journal: bool = False
    ) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        children = dict(zip(STREAMS, root.spawn(len(STREAMS)), strict=True))
        self.streams = {name: np.random.default_rng(child) for name, child in children.items()}
        self.keys = {name: stream_key(child) for name, child in children.items()}
        """Each stream's key for the compiled rules' counter-based draws (``sim.model.draws``)."""
        super().__init__(rng=self.streams["mesa"])
        setup = self.streams["setup"]
        self.firm = scenario
        """The scenario as given: the whole firm."""
        base = customer_base(scenario)
        self.sample = FirmSample.of(scenario, None if base is None else len(base))
        self.scenario = scenario = self.sample.scenario_of(scenario)
        """The sample's scenario, which the agents read (:mod:`sim.model.sample`)."""
        self.week = 0
        self.rules = BuyerRules.from_scenario(scenario)
        base = None if base is None else self.sample.accounts_of(base, setup)
        self.population = pop = create_population(scenario, setup, base)
        self.plan = ChannelPlan(scenario)
        self.promotions = Promotions(scenario)
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(0)
        self.books = Books(scenario, weight=self.sample.weight, journal=journal)
        self.ledger = self.books.ledger
        self.orchestrator = Orchestrator(scenario, self.streams["orchestration"], self.books)
        self.reps = [
            Rep(self, kind, team, i)
            for kind in REP_CHANNELS
            for team in [getattr(scenario.reps, kind)]
            for i in range(team.count)
        ]
        self.territories = Territories(scenario, pop, self.reps, self.streams["reps"])
        self.territories.allocate_accounts(setup)
        self.weekly_value = buyers.annual_value(pop, self.rules, self.books.list_price) / 52.0
        """(N, P) expected weekly value at list of each buyer x product (order size and rate
        are fixed for the run)."""
        has_network = scenario.distributors.accounts_per_distributor > 0
        probabilities = choice.initial_channel_probabilities(
            pop, self.rules, distributors=has_network
        )
        buyers.draw_initial_channels(pop, probabilities, setup)
        self.network = DistributorNetwork(self, self.plan, self.weekly_value)
        self.network.sign(setup)
        self.distributors: list[Distributor] = self.network.agents
        self.campaigns = [CampaignAgent(self, spec) for spec in scenario.campaigns]
        buyers.schedule_hazard_checks(pop, self.rules, setup)
        self.initial_channel_inventory_units = self.network.channel_inventory_units()
        self.initial_customers = int(pop.active_mask().sum())
        self.dropout = bool(pop.dropout.any())
        """Some accounts have a purchase process: they drop out after orders (BG/NBD)."""

    def initial_levels(self) -> dict[str, float]:
        """The firm's levels before week 1, which the summary's changes start from."""
        return {
            "active_customers": self.initial_customers * self.sample.weight,
            "channel_inventory_units": self.initial_channel_inventory_units * self.sample.weight,
        }

    @property
    def resale_price(self) -> np.ndarray:
        """(D + 1,) each distributor's resale price as a fraction of list (last: none)."""
        return self.network.resale_price

    def amend(self, changes: Mapping[str, Any], *, source: str) -> None:
        """Change some of the firm's levers from the next week on (:data:`AMENDABLE` keys).

        The firm's scenario gets ``changes`` (validated like a file, errors naming ``source``),
        the sample's scenario follows, and each owner reads its part again: the books our
        policy and wholesale price (the distributors' restocks from now on are sold in at
        it), the channel plan its rows, the network the wholesale price and the competitor
        line's margin. What was booked stays booked.

        Raises
        ------
        ScenarioError
            For a bad value (naming ``source``, the key, the value and what is allowed).
        ValueError
            For a key outside :data:`AMENDABLE`.
        """
        for key in changes:
            if not any(key == k or key.startswith(f"{k}.") for k in AMENDABLE):
                raise ValueError(f"{key} cannot change during a run; these can: {AMENDABLE}")
        self.firm = with_changes(self.firm, changes, source=source)
        self.scenario = self.sample.scenario_of(self.firm)
        self.books.reprice(self.scenario)
        self.plan = ChannelPlan(self.scenario)
        self.network.plan = self.plan
        self.network.reprice()

    # ------------------------------------------------------------------ the week

    def step(self) -> None:
        """Advance one week through the nine phases."""
        self.week += 1
        week, pop, network, keys = self.week, self.population, self.network, self.keys
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(week)
        self.books.running_costs(
            int(np.count_nonzero(pop.status == ACTIVE)),
            self.orchestrator.coverage,
            targeting=self.scenario.reps.next_best_action_share > 0,
        )
        for campaign in self.campaigns:
            campaign.step()
        needs = shop(self, network)
        if self.reps:
            self.agents_by_type[Rep].shuffle_do("step")
        network.serve(needs)
        find_conflicts(needs, self)
        payments = self.books.orders(
            needs,
            pop,
            distributor_open=network.open,
            sell_through_discount=self.sell_through_discount,
            week=week,
        )
        network.invoice(needs, payments)
        buyers.remember_orders(pop, needs, week)
        buyers.live_with_experience(pop, self.rules, needs)
        if self.dropout:
            buyers.drop_out(pop, self.rules, needs, week, keys["churn"])
        buyers.churn(pop, self.rules, week, keys["churn"])
        network.update(week, self.streams["churn"])
        self.territories.enter(week)
        self.territories.inbound(self.initial_customers)
        self._collect()

    def run(self) -> None:
        """Step through the whole horizon."""
        while self.week < self.scenario.horizon_weeks:
            self.step()

    # ------------------------------------------------------------------ collect

    def _collect(self) -> None:
        pop = self.population
        lost = pop.lost_to_competitor_lines()
        active = pop.active_mask() & ~lost
        n_active = int(np.count_nonzero(active))
        capacity = sum(r.capacity_calls / r.selling_time for r in self.reps)
        self.books.settle_week()
        self.books.ledger.close_week(
            self.week,
            {
                "active_customers": n_active,
                "churned_customers": int(np.count_nonzero(pop.status == CHURNED))
                + int(np.count_nonzero(lost)),
                "customers_lost_to_competitor_lines": int(np.count_nonzero(lost)),
                **self.network.levels(),
                "ecommerce_adopters_share": np.count_nonzero(pop.adopter & active)
                / max(n_active, 1),
                "customer_effort_mean": float(pop.effort[active].mean()) if n_active else 0.0,
                "rep_selling_time": sum(r.calls_made for r in self.reps) / capacity
                if capacity
                else 0.0,
                "customer_equity": customer_equity(
                    pop, self.rules, self.books, self.scenario.discount_rate_annual
                ),
            },
        )
