"""ChannelModel: wires the population and the agents and orders the weekly phases.

The nine phases of a week, in order (docs/ODD.md, "Process overview and scheduling"):

1. policy            channel-plan ramps, promotions, orchestration running cost
2. campaigns         touch buyers, nudge adoption, make offers
3. buyers            adoption, needs, journey across channels, logit channel choice, plan
4. respond           reps spend selling time; distributors fill orders from stock
5. conflict          incidents by type; orchestration resolves a share
6. orders, ledger    revenue, COGS, cost to serve, commissions, referral fees, rebates
7. experience, churn effort and satisfaction; churn hazard
8. distributors      line profit, threat, effort, retaliation, exit, restock (sell-in)
9. collect           weekly metrics
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.model.agents import CampaignAgent, Distributor, Rep
from sim.model.ledger import Ledger
from sim.model.policy import ChannelPlan, Promotions
from sim.model.population import (
    ACTIVE,
    ASSISTED,
    CHURNED,
    DISTRIBUTOR,
    ECOMMERCE,
    FIELD,
    INSIDE,
    NEVER,
    PROSPECT,
    choose_channels,
    create_population,
    geometric_weeks,
    put_cells,
    rows_any,
    take_cells,
    weekly_probability,
)
from sim.scenario.schema import CHANNELS, Scenario

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

COMPETITOR = len(CHANNELS)
"""Index of the outside option (a competitor's line) in the choice arrays."""


@dataclass
class Needs:
    """Needs of the week that reached one of our channels (one row per buyer x product)."""

    buyer: np.ndarray
    product: np.ndarray
    units: np.ndarray
    channel: np.ndarray
    price: np.ndarray  # fraction of list the buyer pays
    touched: np.ndarray  # (n, 4) other channels worked for the same need
    filled: np.ndarray  # share of units delivered
    incidents: np.ndarray  # unresolved conflicts per need
    taken: np.ndarray  # the plan moved this buyer x product off its distributor this week


class ChannelModel(mesa.Model):
    """Channel-conflict model of one firm's buyers, reps, distributors and campaigns.

    Parameters
    ----------
    scenario
        A validated scenario.
    seed
        Root of all randomness for this run: an int or a ``numpy.random.SeedSequence``.

    """

    relationship_half_life = 26.0
    """Weeks for a channel relationship to halve without contact (assumption)."""
    quote_validity_weeks = 4
    """Weeks a quote is remembered when a contradicting offer arrives (assumption)."""
    price_tolerance = 0.02
    """Price gap, as a fraction of list, that a buyer notices as a contradiction (assumption)."""
    order_lift = 0.10
    """Relationship gained with a channel per order through it (assumption)."""
    initial_relationship = 0.5
    """Relationship with the channels a buyer already uses at week 0 (assumption)."""
    conflict_rep_calls = 0.1
    """Calls' worth of a rep's selling time one unresolved conflict in the rep's accounts eats
    (assumption: a tenth of a call spent sorting it out)."""

    def __init__(self, scenario: Scenario, seed: int | np.random.SeedSequence) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.streams = {
            name: np.random.default_rng(child)
            for name, child in zip(STREAMS, root.spawn(len(STREAMS)), strict=True)
        }
        super().__init__(rng=self.streams["mesa"])
        self.scenario = scenario
        self.week = 0
        self._set_constants()
        self.population = create_population(scenario, self.streams["setup"])
        self.plan = ChannelPlan(scenario)
        self.promotions = Promotions(scenario)
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(0)
        self.ledger = Ledger(scenario.horizon_weeks)
        self.orchestration_share = (
            scenario.policy.orchestration_coverage
            if scenario.policy.coordination == "orchestrated"
            else 0.0
        )
        self.reps = self._hire_reps()
        self.distributors = self._sign_distributors()
        self.campaigns = [CampaignAgent(self, spec) for spec in scenario.campaigns]
        self._schedule_hazard_checks()
        self.initial_channel_inventory_units = self.channel_inventory_units()
        self.initial_customers = int(self.population.active_mask().sum())

    # ------------------------------------------------------------------ set-up

    def _set_constants(self) -> None:
        sc = self.scenario
        self.list_price = np.array([p.list_price for p in sc.products])
        self.unit_cost = np.array([p.unit_cost for p in sc.products])
        self.sell_in_price = self.list_price * (1.0 - sc.distributors.margin)
        channels = [getattr(sc.channels, c) for c in CHANNELS]
        self.realisation = np.array([c.price_realisation for c in channels])
        self.cost_per_order = np.array([c.cost_per_order for c in channels])
        self.fixed_cost_weekly = sum(c.fixed_cost_weekly for c in channels)
        self.cost_per_call = np.array([sc.reps.field.cost_per_call, sc.reps.inside.cost_per_call])
        """Cost of one field and one inside call (indexed by FIELD, INSIDE)."""
        segments = sc.market.segments
        self.preference = np.array(
            [[getattr(s.channel_preference, c) for c in CHANNELS] for s in segments]
        )
        self.segment_open = np.array([[c in s.channels for c in CHANNELS] for s in segments])
        self.orders_per_year = np.array([s.orders_per_year for s in segments])
        self.need_probability = weekly_probability(self.orders_per_year)
        market = sc.market
        self.churn_rate_annual = -np.log1p(-market.base_churn_annual)
        self.churn_check_probability = weekly_probability(
            self.churn_rate_annual * market.effort_churn_multiplier
        )
        bass = market.ecommerce_adoption
        self.adoption_check_probability = weekly_probability(bass.p + bass.q)

    def _hire_reps(self) -> list[Rep]:
        pop = self.population
        rng = self.streams["setup"]
        reps: list[Rep] = []
        for kind, column in (("field", pop.field_rep), ("inside", pop.inside_rep)):
            team = getattr(self.scenario.reps, kind)
            team_reps = [Rep(self, kind, team, i) for i in range(team.count)]
            if team_reps:
                covered = np.flatnonzero(pop.spend_annual >= team.min_account_spend)
                covered = covered[pop.status[covered] == ACTIVE]
                column[covered] = rng.integers(team.count, size=len(covered))
                order = np.argsort(column[covered], kind="stable")
                for rep, accounts in zip(
                    team_reps,
                    np.split(
                        covered[order],
                        np.searchsorted(column[covered][order], np.arange(1, team.count)),
                    ),
                    strict=True,
                ):
                    rep.accounts = accounts
            reps.extend(team_reps)
        return reps

    def _sign_distributors(self) -> list[Distributor]:
        pop = self.population
        count = self.scenario.distributors.count
        if count:
            pop.distributor[:] = self.streams["setup"].integers(count, size=pop.size)
        # One slot per distributor, plus a closed one that index -1 (no distributor) reads.
        self.distributor_open = np.append(np.ones(count, dtype=bool), False)
        probabilities = self._initial_channel_probabilities()
        pop.current_channel[:] = self._draw_initial_channels(probabilities)
        self._seed_relationships()
        weekly_units = pop.units_per_order * self.need_probability[pop.segment, None]
        active = pop.active_mask()
        demand = np.zeros((count, len(self.list_price)))
        for p in range(len(self.list_price)):
            expected = weekly_units[:, p] * probabilities[:, p, DISTRIBUTOR] * active
            slot = np.bincount(pop.distributor + 1, weights=expected, minlength=count + 1)
            demand[:, p] = slot[1:]  # slot 0 holds buyers without a distributor
        distributors = [Distributor(self, d, demand[d]) for d in range(count)]
        book = self._annual_value() * (pop.current_channel == DISTRIBUTOR) * active[:, None]
        for d, value in enumerate(
            np.bincount(pop.distributor + 1, weights=book.sum(axis=1), minlength=count + 1)[1:]
        ):
            distributors[d].book_value_annual = float(value)
        return distributors

    def _annual_value(
        self, buyer: np.ndarray | None = None, product: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, P) annual spend of each buyer on each product, at list price.

        With ``buyer`` and ``product``, only those (n,) pairs (no full-population pass).
        """
        pop = self.population
        orders_a_year = 52.0 * self.need_probability  # at most one need a week per product
        if buyer is not None:
            return (
                pop.units_per_order[buyer, product]
                * orders_a_year[pop.segment[buyer]]
                * self.list_price[product]
            )
        return pop.units_per_order * orders_a_year[pop.segment, None] * self.list_price

    def _initial_channel_probabilities(self) -> np.ndarray:
        """(N, P, 5) logit probabilities of the four channels and the competitor at week 0."""
        pop = self.population
        n, n_products = pop.units_per_order.shape
        everyone = np.arange(n)
        open_ = np.column_stack([self._open_channels(everyone), np.ones(n, dtype=bool)])
        probabilities = np.zeros((n, n_products, COMPETITOR + 1))
        for p in range(n_products):
            utility = self._utility(everyone, np.full(n, p))
            # Row max and row sum column by column: the same values as .max(axis=1) and
            # .sum(axis=1) (sequential adds), without numpy's slow reductions of a short axis.
            top = utility[:, 0].copy()
            for j in range(1, utility.shape[1]):
                np.maximum(top, utility[:, j], out=top)
            weights = np.where(open_, np.exp(utility - top[:, None]), 0.0)
            total = weights[:, 0].copy()
            for j in range(1, weights.shape[1]):
                total += weights[:, j]
            probabilities[:, p] = weights / total[:, None]
        return probabilities

    def _draw_initial_channels(self, probabilities: np.ndarray) -> np.ndarray:
        """Current channel per buyer x product, drawn among our channels only."""
        ours = probabilities[..., :COMPETITOR]
        # Sums along the short channel axis one channel at a time (same sequential adds).
        total = ours[..., 0].copy()
        for c in range(1, COMPETITOR):
            total += ours[..., c]
        ours = ours / np.maximum(total, 1e-300)[..., None]
        uniform = self.streams["setup"].random(ours.shape[:2])
        cumulative = ours[..., 0].copy()
        current = (cumulative < uniform).astype(np.int64)
        for c in range(1, COMPETITOR):
            cumulative += ours[..., c]
            current += cumulative < uniform
        bought = self.population.units_per_order > 0
        return np.where(bought, np.minimum(current, COMPETITOR - 1), -1).astype(np.int8)

    def _seed_relationships(self) -> None:
        """Start each buyer with the relationship its current channels would have built."""
        pop = self.population
        for c in range(len(CHANNELS)):
            uses = (pop.current_channel == c).any(axis=1)
            pop.relationship[uses, c] = self.initial_relationship

    def _schedule_hazard_checks(self) -> None:
        pop = self.population
        rng = self.streams["setup"]
        pop.next_churn_check[:] = geometric_weeks(rng, self.churn_check_probability, pop.size)
        pop.next_adoption_check[:] = geometric_weeks(rng, self.adoption_check_probability, pop.size)

    # ------------------------------------------------------------------ the week

    def step(self) -> None:
        """Advance one week through the nine phases."""
        self.week += 1
        self._apply_policy()
        for campaign in self.campaigns:
            campaign.step()
        needs = self._buyers_act()
        self._respond(needs)
        self._resolve_conflicts(needs)
        self._book_orders(needs)
        self._experience_and_churn(needs)
        for distributor in self.distributors:
            distributor.step()
        self._inbound_accounts()
        self._collect()

    def run(self) -> None:
        """Step through the whole horizon."""
        while self.week < self.scenario.horizon_weeks:
            self.step()

    # 1 ---------------------------------------------------------------- policy
    def _apply_policy(self) -> None:
        self.sell_in_discount, self.sell_through_discount = self.promotions.discounts(self.week)
        policy = self.scenario.policy
        cost = self.fixed_cost_weekly
        if self.orchestration_share > 0:
            accounts = np.count_nonzero(self.population.status == ACTIVE)
            cost += policy.orchestration_fixed_cost_weekly + (
                policy.orchestration_cost_per_account_annual
                * self.orchestration_share
                * accounts
                / 52
            )
        self.ledger.book("cost_to_serve", cost)

    # 3 ---------------------------------------------------------------- buyers
    def _buyers_act(self) -> Needs:
        self._adopt_ecommerce()
        pop = self.population
        buyer, product = self._arriving_needs()
        pop.age_relationships(buyer, self.week, self.relationship_half_life)
        open_ = self._open_channels(buyer)
        prices = self._prices(buyer, product)
        utility = self._utility(buyer, product, prices=prices)
        choice_rng = self.streams["choice"]
        choice = choose_channels(
            utility,
            np.column_stack([open_, np.ones(len(buyer), bool)]),
            choice_rng.random(len(buyer)),
        )
        ours = (choice >= 0) & (choice < COMPETITOR)
        lost_units = take_cells(pop.units_per_order, buyer[~ours], product[~ours]).sum()
        # np.compress filters rows of 2-D arrays ~7x faster than boolean indexing, same rows
        buyer, product, choice = (np.compress(ours, x) for x in (buyer, product, choice))
        open_ = np.compress(ours, open_, axis=0)
        channel, taken = self._follow_plan(buyer, product, choice)
        price = prices[np.flatnonzero(ours), channel]
        touched = open_ & (
            self.streams["journey"].random(open_.shape)
            < self.scenario.market.journey.extra_touch_prob
        )
        touched[np.arange(len(buyer)), channel] = False
        units = take_cells(pop.units_per_order, buyer, product).astype(float)
        keep = self._distributor_keeps(buyer, channel)
        self.ledger.book("lost_to_competitor_units", lost_units + units[~keep].sum())
        if not keep.all():  # drop the needs a distributor sold from a competitor's line
            buyer, product, units, channel, price, taken = (
                x[keep] for x in (buyer, product, units, channel, price, taken)
            )
            touched = np.compress(keep, touched, axis=0)
        return Needs(
            buyer=buyer,
            product=product,
            units=units,
            channel=channel,
            price=price,
            touched=touched,
            filled=np.ones(len(buyer)),
            incidents=np.zeros(len(buyer)),
            taken=taken,
        )

    def _adopt_ecommerce(self) -> None:
        """Bass adoption by thinning: checks at the maximum hazard, accepted at the actual one."""
        pop = self.population
        due = np.flatnonzero(pop.next_adoption_check == self.week)
        pop.next_adoption_check[due] = np.minimum(
            self.week
            + geometric_weeks(self.streams["adoption"], self.adoption_check_probability, len(due)),
            NEVER,
        )
        active = pop.status == ACTIVE
        n_active = np.count_nonzero(active)
        share = np.count_nonzero(pop.adopter & active) / n_active if n_active else 0.0
        bass = self.scenario.market.ecommerce_adoption
        hazard = weekly_probability(bass.p + bass.q * share)
        accept = (
            self.streams["adoption"].random(len(due)) * self.adoption_check_probability < hazard
        )
        pop.adopter[due[accept & active[due]]] = True

    def _arriving_needs(self) -> tuple[np.ndarray, np.ndarray]:
        pop = self.population
        n_products = pop.next_need.shape[1]
        flat = np.flatnonzero(pop.next_need.ravel() == self.week)
        buyer, product = np.divmod(flat, n_products)
        gap = geometric_weeks(
            self.streams["needs"], self.need_probability[pop.segment[buyer]], len(flat)
        )
        pop.next_need.ravel()[flat] = np.minimum(self.week + gap, NEVER)
        active = pop.status[buyer] == ACTIVE
        return np.compress(active, buyer), np.compress(active, product)

    def _open_channels(self, buyer: np.ndarray) -> np.ndarray:
        pop = self.population
        open_ = np.take(self.segment_open, pop.segment[buyer], axis=0)  # a new array
        open_[:, FIELD] &= pop.field_rep[buyer] >= 0
        open_[:, INSIDE] &= pop.inside_rep[buyer] >= 0
        open_[:, DISTRIBUTOR] &= self.distributor_open[pop.distributor[buyer]]
        return open_

    def _prices(self, buyer: np.ndarray, product: np.ndarray) -> np.ndarray:
        """(n, 4) price each channel would charge, as a fraction of list."""
        pop = self.population
        price = np.tile(self.realisation, (len(buyer), 1))
        pass_through = self.scenario.distributors.promotion_pass_through
        if self.sell_through_discount.any():  # otherwise a multiplication by exactly 1
            price[:, DISTRIBUTOR] *= 1.0 - pass_through * self.sell_through_discount[product]
        has_offer = (pop.offer_channel[buyer] >= 0) & (pop.offer_until[buyer] >= self.week)
        rows = np.flatnonzero(has_offer)
        covered = (pop.offer_products[buyer[rows]] >> product[rows].astype(np.uint64)) & np.uint64(
            1
        )
        rows = rows[covered.astype(bool)]
        price[rows, pop.offer_channel[buyer[rows]]] *= 1.0 - pop.offer_discount[buyer[rows]]
        return price

    def _utility(
        self, buyer: np.ndarray, product: np.ndarray, *, prices: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, 5) logit utilities of the four channels and the competitor's line.

        ``prices``: this week's :meth:`_prices` of the same rows, if already computed.
        """
        pop = self.population
        choice = self.scenario.market.choice
        effort = pop.effort[buyer, None].astype(float)
        utility = np.empty((len(buyer), COMPETITOR + 1))
        utility[:, :COMPETITOR] = (
            # np.take(..., axis=0) gathers rows ~4x faster than fancy indexing, same values
            np.take(self.preference, pop.segment[buyer], axis=0)
            - choice.price_weight
            * ((self._prices(buyer, product) if prices is None else prices) - 1.0)
            + choice.relationship_weight * np.take(pop.relationship, buyer, axis=0)
            - choice.effort_weight * effort * ASSISTED
        )
        current = take_cells(pop.current_channel, buyer, product)
        habit = np.flatnonzero(current >= 0)
        put_cells(
            utility,
            habit,
            current[habit],
            take_cells(utility, habit, current[habit]) + choice.habit_weight,
        )
        utility[:, ECOMMERCE] -= choice.non_adopter_ecommerce_penalty * ~pop.adopter[buyer]
        if self.scenario.distributors.digital_ordering:
            utility[:, DISTRIBUTOR] += choice.digital_ordering_utility * pop.adopter[buyer]
        utility[:, COMPETITOR] = choice.competitor_utility + choice.effort_weight * effort[:, 0]
        return utility

    def _follow_plan(
        self, buyer: np.ndarray, product: np.ndarray, choice: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Redirect choices the channel plan has moved; deal registration defers a move.

        Returns the channel of each need and whether the plan took it off the buyer's
        distributor for the first time.
        """
        pop = self.population
        channel, moved = self.plan.redirect(
            self.week, pop.segment[buyer], product, choice, pop.migration_key[buyer]
        )
        if self.scenario.policy.deal_registration:
            from_distributor = moved & (choice == DISTRIBUTOR)
            first = from_distributor & (pop.protected_until[buyer] < 0)
            pop.protected_until[buyer[first]] = (
                self.week + self.scenario.distributors.deal_protection_weeks - 1
            )
            protected = from_distributor & (pop.protected_until[buyer] >= self.week)
            channel[protected] = DISTRIBUTOR
            moved &= ~protected
        forced = buyer[moved]
        newly_online = forced[(channel[moved] == ECOMMERCE) & ~pop.adopter[forced]]
        pop.adopter[newly_online] = True
        effort = self.scenario.market.choice.forced_switch_effort
        current = take_cells(pop.current_channel, buyer, product)
        switched = moved & (current != channel)
        pop.effort[buyer[switched]] = np.minimum(1.0, pop.effort[buyer[switched]] + effort)
        return channel, switched & (current == DISTRIBUTOR)

    def _distributor_keeps(self, buyer: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """False where a distributor with low effort, or retaliating, sells a competitor's line."""
        cfg = self.scenario.distributors
        at_distributor = np.flatnonzero(channel == DISTRIBUTOR)
        d = self.population.distributor[buyer[at_distributor]]
        effort = np.array([x.effort for x in self.distributors])
        retaliating = np.array([x.status == "retaliating" for x in self.distributors])
        leak = cfg.effort_leak * (1.0 - effort[d]) + cfg.retaliation_steer * retaliating[d]
        keep = np.ones(len(buyer), dtype=bool)
        keep[at_distributor] = self.streams["journey"].random(len(at_distributor)) >= leak
        return keep

    # 4 ---------------------------------------------------------------- respond
    def _respond(self, needs: Needs) -> None:
        self.agents_by_type[Rep].shuffle_do("step") if self.reps else None
        if not self.distributors:
            return
        # Every distributor sees its demand, zero included (its forecast and profit use it).
        at = np.flatnonzero(needs.channel == DISTRIBUTOR)
        n_products = len(self.list_price)
        d = self.population.distributor[needs.buyer[at]]
        key = d * n_products + needs.product[at]
        demand = np.bincount(
            key, weights=needs.units[at], minlength=len(self.distributors) * n_products
        )
        demand = demand.reshape(len(self.distributors), n_products)
        fill = np.vstack(
            [
                dist.fill(demand[i]) if dist.active else np.ones(n_products)
                for i, dist in enumerate(self.distributors)
            ]
        )
        needs.filled[at] = fill[d, needs.product[at]]

    # 5 ---------------------------------------------------------------- conflict
    def conflicts(self, kind: str, buyers: np.ndarray, *, resolvable: bool = True) -> np.ndarray:
        """Record ``conflict_incident``s of ``kind``; return which stay unresolved.

        The orchestrator sees and resolves each incident with probability
        ``orchestration_coverage`` (only when coordination is orchestrated).
        """
        share = self.orchestration_share if resolvable else 0.0
        resolved = self.streams["orchestration"].random(len(buyers)) < share
        self.ledger.book(f"conflicts_{kind}", np.count_nonzero(~resolved))
        self.ledger.book("conflicts_resolved", np.count_nonzero(resolved))
        return ~resolved

    def _resolve_conflicts(self, needs: Needs) -> None:
        pop = self.population
        sc = self.scenario
        channel, touched, b = needs.channel, needs.touched, needs.buyer
        assisted = ASSISTED[channel]

        def incident(kind: str, mask: np.ndarray, resolvable: bool = True) -> np.ndarray:
            unresolved = np.zeros(len(b), dtype=bool)
            unresolved[mask] = self.conflicts(kind, b[mask], resolvable=resolvable)
            needs.incidents += unresolved
            return unresolved

        double = assisted & rows_any(touched & ASSISTED)
        wasted = incident("double_coverage", double)
        calls = touched[wasted][:, [FIELD, INSIDE]].sum(axis=0)
        self.ledger.book("cost_to_serve", calls @ self.cost_per_call)
        self._charge_rep_time(b[wasted])

        prices = self._prices(b, needs.product)
        # The buyer saw a lower price from another of our channels than the one it pays.
        undercut = prices < needs.price[:, None] - self.price_tolerance
        incident("contradictory_price", rows_any(touched & undercut))
        incident("repeated_information", assisted & rows_any(touched))

        has_rep = (pop.field_rep[b] >= 0) | (pop.inside_rep[b] >= 0)
        if sc.policy.rep_compensation == "channel_specific":
            fight = incident("rep_vs_web_credit", (channel == ECOMMERCE) & has_rep)
            pulled = fight & (
                self.streams["orchestration"].random(len(b)) < sc.reps.resist_web_orders
            )
            rep_channel = np.where(pop.field_rep[b] >= 0, FIELD, INSIDE)
            channel[pulled] = rep_channel[pulled]
            needs.price[pulled] = self.realisation[rep_channel[pulled]]
            self._charge_rep_time(b[pulled])
            self.ledger.book(
                "cost_to_serve",
                np.bincount(rep_channel[pulled], minlength=2)[:2] @ self.cost_per_call,
            )

        self._record_accounts_taken(needs)

    def _record_accounts_taken(self, needs: Needs) -> None:
        """Accounts the channel plan moved off a distributor raise that distributor's threat."""
        pop = self.population
        d = pop.distributor[needs.buyer]
        taken = needs.taken & (d >= 0)
        incident = np.flatnonzero(taken)
        self.conflicts("account_taken_direct", needs.buyer[incident], resolvable=False)
        needs.incidents[incident] += 1
        pop.former_distributor_account[needs.buyer[taken]] = True
        value = self._annual_value(needs.buyer[taken], needs.product[taken])
        moved = np.bincount(d[taken], weights=value, minlength=len(self.distributors))
        for distributor, amount in zip(self.distributors, moved, strict=True):
            if amount:
                distributor.record_moved(float(amount))

    def _charge_rep_time(self, buyers: np.ndarray) -> None:
        """Unresolved conflicts cost the accounts' reps selling time (``conflict_rep_calls``)."""
        pop = self.population
        for column, offset in (
            (pop.field_rep, 0),
            (pop.inside_rep, self.scenario.reps.field.count),
        ):
            rep = column[buyers]
            rep = rep[rep >= 0]
            _credit(self.reps[offset:], rep, None, "conflict_calls", scale=self.conflict_rep_calls)

    # 6 ---------------------------------------------------------------- orders, ledger
    def _book_orders(self, needs: Needs) -> None:
        pop = self.population
        ledger = self.ledger
        b, p, c = needs.buyer, needs.product, needs.channel
        served_units = needs.units * needs.filled
        ledger.book("stockout_units", float((needs.units - served_units).sum()))
        value = served_units * self.list_price[p] * needs.price
        direct = c != DISTRIBUTOR
        direct_value = np.where(direct, value, 0.0)
        revenue_by_channel = np.bincount(c, weights=direct_value, minlength=4)
        for ch, name in enumerate(CHANNELS):
            if ch != DISTRIBUTOR:
                ledger.book(f"revenue_{name}", revenue_by_channel[ch])
        ledger.book("cogs", float((served_units * self.unit_cost[p])[direct].sum()))
        orders = np.bincount(c, minlength=4)
        ledger.book(
            "cost_to_serve",
            float(
                orders[[FIELD, INSIDE, ECOMMERCE]] @ self.cost_per_order[[FIELD, INSIDE, ECOMMERCE]]
            ),
        )
        ledger.book("sell_through_units", float(served_units[~direct].sum()))
        self._book_rebates(needs, served_units)
        self._book_commissions(b, c, direct_value)
        self._book_referral_fees(b, c, direct_value)
        assisted_direct = np.flatnonzero((c == FIELD) | (c == INSIDE))
        quoted = b[assisted_direct]
        pop.quote_channel[quoted] = c[assisted_direct]
        pop.quote_price[quoted] = needs.price[assisted_direct]
        pop.quote_week[quoted] = self.week
        rel = take_cells(pop.relationship, b, c)
        put_cells(pop.relationship, b, c, rel + self.order_lift * (1.0 - rel))
        put_cells(pop.current_channel, b, p, c)

    def _book_rebates(self, needs: Needs, served_units: np.ndarray) -> None:
        """Sell-through promotion payments and deal-registration margin, paid to distributors."""
        if not self.sell_through_discount.any() and not self.scenario.policy.deal_registration:
            return  # nothing to pay: no sell-through promotion, no registered deals
        pop = self.population
        cfg = self.scenario.distributors
        at = needs.channel == DISTRIBUTOR
        p = needs.product[at]
        base = served_units[at] * self.sell_in_price[p]
        registered = pop.protected_until[needs.buyer[at]] >= self.week
        rebate = (
            base * self.sell_through_discount[p]
            + served_units[at] * self.list_price[p] * cfg.deal_registration_margin * registered
        )
        self.ledger.book("revenue_distributor", -float(rebate.sum()))
        self._pay_distributors(pop.distributor[needs.buyer[at]], rebate)

    def _pay_distributors(self, distributor: np.ndarray, amount: np.ndarray) -> None:
        _credit(self.distributors, distributor, amount, "week_income")

    def _book_commissions(
        self, buyer: np.ndarray, channel: np.ndarray, revenue: np.ndarray
    ) -> None:
        pop = self.population
        reps = self.scenario.reps
        neutral = self.scenario.policy.rep_compensation == "channel_neutral"
        offset = 0
        for kind, column in ((FIELD, pop.field_rep), (INSIDE, pop.inside_rep)):
            team = reps.field if kind == FIELD else reps.inside
            rep = column[buyer]
            credited = (rep >= 0) & ((channel == kind) | (neutral & (channel != DISTRIBUTOR)))
            pay = revenue[credited] * team.commission_rate
            self.ledger.book("commissions", float(pay.sum()))
            _credit(
                self.reps[offset : offset + team.count], rep[credited], pay, "compensation_earned"
            )
            offset += team.count

    def _book_referral_fees(
        self, buyer: np.ndarray, channel: np.ndarray, revenue: np.ndarray
    ) -> None:
        fee = self.scenario.policy.distributor_referral_fee
        if fee <= 0 or not self.distributors:
            return
        pop = self.population
        d = pop.distributor[buyer]
        former = (
            (channel != DISTRIBUTOR)
            & pop.former_distributor_account[buyer]
            & self.distributor_open[d]
        )
        amount = revenue[former] * fee
        self.ledger.book("referral_fees", float(amount.sum()))
        self._pay_distributors(d[former], amount)

    def book_sell_in(self, distributor: Distributor, order_units: np.ndarray) -> None:
        """Book a distributor's restock as the manufacturer's sell-in."""
        price = self.sell_in_price * (1.0 - self.sell_in_discount)
        self.ledger.book("revenue_distributor", float(order_units @ price))
        self.ledger.book("cogs", float(order_units @ self.unit_cost))
        self.ledger.book("sell_in_units", float(order_units.sum()))
        self.ledger.book(
            "cost_to_serve", float(np.count_nonzero(order_units)) * self.cost_per_order[DISTRIBUTOR]
        )
        # The discount saved on the purchase is the distributor's promotion income.
        distributor.week_income += float(order_units @ (self.sell_in_price * self.sell_in_discount))

    # 7 ---------------------------------------------------------------- experience, churn
    def _experience_and_churn(self, needs: Needs) -> None:
        pop = self.population
        effort_cfg = self.scenario.market.effort
        stockout = needs.filled < 1.0
        friction = needs.incidents * effort_cfg.per_conflict + stockout * effort_cfg.per_stockout
        rough = friction > 0
        b = needs.buyer
        np.add.at(pop.effort, b[rough], friction[rough].astype(np.float32))
        np.minimum(pop.effort, 1.0, out=pop.effort)
        pop.effort[b[~rough]] *= 1.0 - effort_cfg.recovery_per_order
        pop.satisfaction[b] += 0.1 * ((~rough).astype(np.float32) - pop.satisfaction[b])
        self._churn()

    def _churn(self) -> None:
        """Churn by thinning: checks at the hazard for full effort, accepted at the buyer's own."""
        pop = self.population
        market = self.scenario.market
        rng = self.streams["churn"]
        due = np.flatnonzero(pop.next_churn_check == self.week)
        pop.next_churn_check[due] = np.minimum(
            self.week + geometric_weeks(rng, self.churn_check_probability, len(due)), NEVER
        )
        multiplier = 1.0 + (market.effort_churn_multiplier - 1.0) * pop.effort[due]
        hazard = weekly_probability(self.churn_rate_annual * multiplier)
        leaves = (rng.random(len(due)) * self.churn_check_probability < hazard) & (
            pop.status[due] == ACTIVE
        )
        self.churn(due[leaves])

    def churn(self, buyers: np.ndarray) -> None:
        """Lose ``buyers`` to a competitor."""
        pop = self.population
        pop.status[buyers] = CHURNED
        pop.churn_week[buyers] = self.week

    # 8 ---------------------------------------------------------------- distributors
    def distributor_exits(self, distributor: Distributor) -> None:
        """A distributor drops the line: stock is written off, some accounts leave with it."""
        pop = self.population
        self.distributor_open[distributor.index] = False
        self.ledger.book("channel_inventory_removed_units", float(distributor.stock_units.sum()))
        distributor.stock_units = np.zeros_like(distributor.stock_units)
        accounts = np.flatnonzero((pop.distributor == distributor.index) & (pop.status == ACTIVE))
        rng = self.streams["churn"]
        leaving = rng.random(len(accounts)) < self.scenario.distributors.exit_churn_share
        self.churn(accounts[leaving])
        remaining = [d.index for d in self.distributors if d.active]
        if remaining:
            pop.distributor[accounts[~leaving]] = rng.choice(remaining, size=int((~leaving).sum()))

    def win_prospects(self, rep: Rep | None, count: int) -> None:
        """Turn up to ``count`` prospects into active accounts, won by ``rep`` or inbound.

        New accounts are covered by the allocation rules (``reps.*.min_account_spend``); the
        winning rep keeps the account it won.
        """
        pop = self.population
        prospects = np.flatnonzero(pop.status == PROSPECT)[:count]
        pop.status[prospects] = ACTIVE
        rng = self.streams["reps"]
        offset = 0
        for kind, column in (("field", pop.field_rep), ("inside", pop.inside_rep)):
            team = getattr(self.scenario.reps, kind)
            if rep is not None and rep.kind == kind:
                column[prospects] = rep.index
            elif team.count:
                covered = prospects[pop.spend_annual[prospects] >= team.min_account_spend]
                column[covered] = rng.integers(team.count, size=len(covered))
            for i in np.unique(column[prospects][column[prospects] >= 0]):
                owner = self.reps[offset + i]
                owner.accounts = np.concatenate([owner.accounts, prospects[column[prospects] == i]])
            offset += team.count

    def _inbound_accounts(self) -> None:
        rate = self.scenario.market.inbound_accounts_annual * self.initial_customers
        if rate > 0:
            self.win_prospects(None, int(self.streams["reps"].poisson(rate / 52.0)))

    # 9 ---------------------------------------------------------------- collect
    def channel_inventory_units(self) -> float:
        """Units in distributors' stock."""
        return float(sum(d.stock_units.sum() for d in self.distributors))

    def _collect(self) -> None:
        pop = self.population
        active = pop.status == ACTIVE
        n_active = int(np.count_nonzero(active))
        working = [d for d in self.distributors if d.active]
        capacity = sum(r.capacity_calls / r.selling_time for r in self.reps)
        self.ledger.close_week(
            self.week,
            {
                "active_customers": n_active,
                "churned_customers": int(np.count_nonzero(pop.status == CHURNED)),
                "distributors_active": len(working),
                "distributors_retaliating": sum(d.status == "retaliating" for d in working),
                "distributor_effort_mean": float(np.mean([d.effort for d in working]))
                if working
                else 0.0,
                "distributor_threat_mean": float(np.mean([d.threat for d in working]))
                if working
                else 0.0,
                "channel_inventory_units": self.channel_inventory_units(),
                "ecommerce_adopters_share": np.count_nonzero(pop.adopter & active)
                / max(n_active, 1),
                "customer_effort_mean": float(pop.effort[active].mean()) if n_active else 0.0,
                "rep_selling_time": sum(r.calls_made for r in self.reps) / capacity
                if capacity
                else 0.0,
            },
        )


def _credit(
    agents: list,
    index: np.ndarray,
    amount: np.ndarray | None,
    attribute: str,
    *,
    scale: float = 1.0,
) -> None:
    """Add ``amount`` (1 each if None) x ``scale`` to ``attribute`` of ``agents[index]``.

    Amounts are summed per agent with one bincount; agents with nothing owed are skipped.
    """
    totals = np.bincount(index, weights=amount, minlength=len(agents))
    for i in np.flatnonzero(totals):
        agent = agents[i]
        setattr(agent, attribute, getattr(agent, attribute) + scale * float(totals[i]))
