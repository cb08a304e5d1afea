"""ChannelModel: wires the population and the agents and orders the weekly phases.

The nine phases of a week, in order (docs/ODD.md, "Process overview and scheduling"):

1. policy            channel-plan ramps, promotions, running costs    ``policy``, ``books``
2. campaigns         touch buyers, nudge adoption, make offers        ``agents.CampaignAgent``
3. buyers            adoption, needs, logit channel choice, the plan  ``buyers``
4. respond           reps spend selling time; distributors fill       ``agents``
5. conflict          incidents by type; orchestration resolves some   ``conflicts``
6. orders, ledger    revenue, COGS, cost to serve, commissions, fees  ``books``
7. experience, churn effort and satisfaction; churn hazard            ``buyers``
8. distributors      line profit, threat, effort, status, restock     ``agents.Distributor``
9. collect           weekly metrics, customer equity                  ``ledger``, ``valuation``
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.model import buyers
from sim.model.agents import (
    CampaignAgent,
    Distributor,
    Rep,
    credit_distributors,
    line_keep_share,
    line_outlook,
    resale_prices,
    serve_from_stock,
    steer_needs,
)
from sim.model.books import Books
from sim.model.buyers import COMPETITOR, BuyerRules, Needs
from sim.model.conflicts import Orchestrator, find_conflicts
from sim.model.draws import stream_key
from sim.model.policy import ChannelPlan, Promotions
from sim.model.population import (
    ACTIVE,
    CHURNED,
    DISTRIBUTOR,
    create_population,
    put_cells,
    take_cells,
)
from sim.model.territories import Territories
from sim.model.valuation import customer_equity
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
        self.scenario = scenario
        self.week = 0
        self.rules = BuyerRules.from_scenario(scenario)
        self.population = create_population(scenario, setup)
        self.plan = ChannelPlan(scenario)
        self.promotions = Promotions(scenario)
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(0)
        self.books = Books(scenario, journal=journal)
        self.ledger = self.books.ledger
        self.orchestrator = Orchestrator(scenario, self.streams["orchestration"], self.books)
        self.reps = [
            Rep(self, kind, team, i)
            for kind, team in (("field", scenario.reps.field), ("inside", scenario.reps.inside))
            for i in range(team.count)
        ]
        self.territories = Territories(scenario, self.population, self.reps, self.streams["reps"])
        self.territories.allocate_accounts(setup)
        self.distributors = self._sign_distributors()
        self.territories.distributors = self.distributors
        self.resale_price = resale_prices(self.distributors, self.rules)
        """(D + 1,) each distributor's resale price as a fraction of list (last: none)."""
        self.weekly_value = buyers.annual_value(self.population, self.rules, self.books.list_price)
        self.weekly_value /= 52.0
        """(N, P) expected weekly value at list of each buyer x product (order size and rate
        are fixed for the run)."""
        self.campaigns = [CampaignAgent(self, spec) for spec in scenario.campaigns]
        buyers.schedule_hazard_checks(self.population, self.rules, setup)
        self.initial_channel_inventory_units = self.channel_inventory_units()
        self.initial_customers = int(self.population.active_mask().sum())
        self.dropout = bool(self.population.dropout.any())
        """Some accounts have a purchase process: they drop out after orders (BG/NBD)."""

    def _sign_distributors(self) -> list[Distributor]:
        """Draw week-0 channels, give distributor buyers a distributor, sign the distributors.

        Each is stocked for the demand its accounts are expected to place with it.
        """
        pop, rules, setup = self.population, self.rules, self.streams["setup"]
        density = self.scenario.distributors.accounts_per_distributor
        probabilities = buyers.initial_channel_probabilities(pop, rules, distributors=density > 0)
        buyers.draw_initial_channels(pop, probabilities, setup)
        self.distributor_open = self.territories.assign_distributors(setup)
        count = len(self.distributor_open) - 1
        weekly_units = pop.units_per_order * pop.orders_per_week[:, None]
        active = pop.active_mask()
        demand = np.zeros((count, len(self.books.list_price)))
        for p in range(demand.shape[1]):
            expected = weekly_units[:, p] * probabilities[:, p, DISTRIBUTOR] * active
            slot = np.bincount(pop.distributor + 1, weights=expected, minlength=count + 1)
            demand[:, p] = slot[1:]  # slot 0 holds buyers without a distributor
        # Each distributor's expected share of its accounts' needs (value at list) at week 0.
        value = weekly_units * self.books.list_price * active[:, None]
        won = value * probabilities[:, :, DISTRIBUTOR]
        slot = pop.distributor + 1
        share = np.bincount(slot, weights=won.sum(axis=1), minlength=count + 1)[1:] / np.maximum(
            np.bincount(slot, weights=value.sum(axis=1), minlength=count + 1)[1:], 1e-12
        )
        weight = self.territories.size_weight
        return [
            Distributor(self, d, demand[d], float(weight[d]), float(share[d])) for d in range(count)
        ]

    # ------------------------------------------------------------------ the week

    def step(self) -> None:
        """Advance one week through the nine phases."""
        self.week += 1
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(self.week)
        self.books.running_costs(
            int(np.count_nonzero(self.population.status == ACTIVE)),
            self.orchestrator.coverage,
            targeting=self.scenario.reps.next_best_action_share > 0,
        )
        for campaign in self.campaigns:
            campaign.step()
        needs = self._buyers_shop()
        self._respond(needs)
        find_conflicts(needs, self)
        self.books.orders(
            needs,
            self.population,
            self.distributors,
            distributor_open=self.distributor_open,
            sell_through_discount=self.sell_through_discount,
            week=self.week,
        )
        buyers.remember_orders(self.population, needs, self.week)
        buyers.live_with_experience(self.population, self.rules, needs)
        if self.dropout:
            buyers.drop_out(self.population, self.rules, needs, self.week, self.keys["churn"])
        buyers.churn(self.population, self.rules, self.week, self.keys["churn"])
        self._distributors_update()
        self.territories.enter(self.week)
        self.territories.inbound(self.initial_customers)
        self._collect()

    def run(self) -> None:
        """Step through the whole horizon."""
        while self.week < self.scenario.horizon_weeks:
            self.step()

    def _distributors_update(self) -> None:
        """Phase 8: each distributor books its week and decides; exits hand on their accounts."""
        pop = self.population
        outlook = line_outlook(self.distributors, pop, self.plan, self.week, self.weekly_value)
        exiting: list[Distributor] = []
        for distributor, (keep, lowest, follow) in zip(
            self.distributors, np.column_stack(outlook), strict=True
        ):
            if distributor.active:
                distributor.step(float(keep), float(lowest), float(follow))
                if not distributor.active:
                    exiting.append(distributor)
        # After every decision, so accounts re-home only to distributors that stay.
        for distributor in exiting:
            self.territories.release(
                distributor, self.week, self.distributor_open, self.streams["churn"]
            )
        self.resale_price = resale_prices(self.distributors, self.rules)

    def _buyers_shop(self) -> Needs:
        """Phase 3: adoption, needs, the logit choice, the plan, the journey.

        Needs that a distributor sells from a competitor's line are lost to us.
        """
        pop, rules, week, streams = self.population, self.rules, self.week, self.streams
        buyers.adopt_ecommerce(pop, rules, week, self.keys["adoption"])
        buyer, product, orders = buyers.arriving_needs(pop, rules, week, self.keys["needs"])
        units = take_cells(pop.units_per_order, buyer, product) * orders
        buyer, product, orders, units = self._alternative_lines(buyer, product, orders, units)
        pop.age_relationships(buyer, week, buyers.RELATIONSHIP_HALF_LIFE_WEEKS)
        terms = buyers.choice_terms(
            rules,
            distributor_open=self.distributor_open,
            resale_price=self.resale_price,
            sell_through_discount=self.sell_through_discount,
        )
        open_, prices, choice = buyers.choose_channels(
            pop, terms, buyer, product, week, self.keys["choice"]
        )
        self._show_distributors_their_demand(buyer, product, units, open_, choice)
        ours = (choice >= 0) & (choice < COMPETITOR)
        lost = np.flatnonzero(~ours)
        self.books.lost_units(pop.segment[buyer[lost]], product[lost], units[lost])
        # np.compress filters rows of 2-D arrays ~7x faster than boolean indexing, same rows
        buyer, product, orders, units, choice = (
            np.compress(ours, x) for x in (buyer, product, orders, units, choice)
        )
        open_ = np.compress(ours, open_, axis=0)
        policy = self.scenario.policy
        channel, taken = buyers.follow_plan(
            pop,
            rules,
            self.plan,
            week,
            buyer,
            product,
            choice,
            deal_protection_weeks=self.scenario.distributors.deal_protection_weeks
            if policy.deal_registration
            else None,
        )
        n = len(buyer)
        needs = Needs(
            buyer=buyer,
            product=product,
            units=units,
            orders=orders,
            channel=channel,
            price=prices[np.flatnonzero(ours), channel],
            touched=buyers.journey_touches(
                rules, open_, channel, buyer, product, week, self.keys["journey"]
            ),
            filled=np.ones(n),
            incidents=np.zeros(n),
            taken=taken,
        )
        at = needs.channel == DISTRIBUTOR
        line_keep = np.ones(n)
        if self.distributors:
            rows = np.flatnonzero(at)
            line_keep[rows] = line_keep_share(
                self.distributors, pop, self.plan, week, needs.buyer[rows], needs.product[rows]
            )
        keep, converted = steer_needs(
            self.distributors, pop.distributor[needs.buyer], at, line_keep, streams["journey"]
        )
        self._convert(needs, converted)
        leaked = np.flatnonzero(~keep)
        self.books.lost_units(
            pop.segment[needs.buyer[leaked]], needs.product[leaked], needs.units[leaked]
        )
        if not keep.all():
            needs.keep(keep)
        return needs

    def _alternative_lines(
        self, buyer: np.ndarray, product: np.ndarray, orders: np.ndarray, units: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Take out the needs of lines on a distributor's competitor line; return the others.

        They are lost to us; an active distributor sells them from its competitor line.
        """
        pop = self.population
        gone = take_cells(pop.alternative_line, buyer, product)
        if not gone.any():
            return buyer, product, orders, units
        b, p = buyer[gone], product[gone]
        self.books.lost_units(pop.segment[b], p, units[gone])
        d = pop.distributor[b]
        sold = (d >= 0) & self.distributor_open[d]
        value = units[gone] * self.books.list_price[p] * self.resale_price[d]
        credit_distributors(
            self.distributors,
            d[sold],
            np.column_stack([value[sold], np.zeros(np.count_nonzero(sold))]),
            Distributor.sell_alternative,
        )
        kept = ~gone
        return buyer[kept], product[kept], orders[kept], units[kept]

    def _show_distributors_their_demand(
        self,
        buyer: np.ndarray,
        product: np.ndarray,
        units: np.ndarray,
        open_: np.ndarray,
        choice: np.ndarray,
    ) -> None:
        """Each distributor sees its accounts' needs it could serve and those that chose it.

        Needs on lines the plan has moved off it are not its to win (value at list).
        """
        pop = self.population
        could = open_[:, DISTRIBUTOR] & (
            take_cells(pop.moved_off_distributor_week, buyer, product) < 0
        )
        rows = np.flatnonzero(could)
        value = units[rows] * self.books.list_price[product[rows]]
        won = choice[rows] == DISTRIBUTOR
        credit_distributors(
            self.distributors,
            pop.distributor[buyer[rows]],
            np.column_stack([value, value * won]),
            Distributor.observe,
        )

    def _convert(self, needs: Needs, converted: np.ndarray) -> None:
        """Move the converted needs' lines to their distributor's competitor line.

        The distributor sells this need from that line and pays the conversion cost,
        ``conversion_cost`` x the line's sales over the planning horizon.
        """
        rows = np.flatnonzero(converted)
        if not len(rows):
            return
        pop, cfg = self.population, self.scenario.distributors
        b, p = needs.buyer[rows], needs.product[rows]
        put_cells(pop.alternative_line, b, p, np.ones(len(rows), dtype=bool))
        d = pop.distributor[b]
        value = needs.units[rows] * self.books.list_price[p] * self.resale_price[d]
        horizon_sales = (
            buyers.annual_value(pop, self.rules, self.books.list_price, b, p)
            * self.resale_price[d]
            * cfg.planning_horizon_weeks
            / 52.0
        )
        credit_distributors(
            self.distributors,
            d,
            np.column_stack([value, cfg.conversion_cost * horizon_sales]),
            Distributor.sell_alternative,
        )

    def _respond(self, needs: Needs) -> None:
        """Phase 4: reps work in random order; each distributor fills its week's demand.

        Every distributor sees its demand, zero included: its forecast and profit use it.
        """
        if self.reps:
            self.agents_by_type[Rep].shuffle_do("step")
        at = np.flatnonzero(needs.channel == DISTRIBUTOR)
        needs.filled[at] = serve_from_stock(
            self.distributors,
            self.population.distributor[needs.buyer[at]],
            needs.product[at],
            needs.units[at],
        )

    # ------------------------------------------------------------------ collect

    def channel_inventory_units(self) -> float:
        """Units in distributors' stock."""
        return float(sum(d.stock_units.sum() for d in self.distributors))

    def _collect(self) -> None:
        pop = self.population
        active = pop.status == ACTIVE
        n_active = int(np.count_nonzero(active))
        working = [d for d in self.distributors if d.active]
        capacity = sum(r.capacity_calls / r.selling_time for r in self.reps)
        self.books.settle_week()
        self.books.ledger.close_week(
            self.week,
            {
                "active_customers": n_active,
                "churned_customers": int(np.count_nonzero(pop.status == CHURNED)),
                "distributors_active": len(working),
                "distributors_retaliating": sum(d.retaliating for d in working),
                "distributor_effort_mean": float(np.mean([d.effort for d in working]))
                if working
                else 0.0,
                "distributor_threat_mean": float(np.mean([d.threat for d in working]))
                if working
                else 0.0,
                "distributor_markup_mean": float(np.mean([d.markup for d in working]))
                if working
                else 0.0,
                "distributors_exited": len(self.distributors) - len(working),
                "channel_inventory_units": self.channel_inventory_units(),
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
