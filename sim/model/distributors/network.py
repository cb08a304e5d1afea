"""The distributor network: every rule that involves the firm's distributors, phase by phase.

The model calls :class:`DistributorNetwork` as it calls the other owners:

========================  ===================================================================
set-up                    :meth:`~DistributorNetwork.sign`: the network's size mix, a
                          distributor for each week-0 distributor buyer, stock for its demand
phase 3, buyers           :meth:`~DistributorNetwork.sell_competitor_lines` (converted lines
                          are its to sell), :meth:`~DistributorNetwork.observe` (the demand it
                          could win and won), :meth:`~DistributorNetwork.steer` (retaliation:
                          conversions and leaks)
phase 4, respond          :meth:`~DistributorNetwork.serve` (fill from stock)
phase 6, orders           :meth:`~DistributorNetwork.invoice` (its sales and cost to serve,
                          our payments to it)
phase 8, distributors     :meth:`~DistributorNetwork.update`: the outlook of each book, every
                          distributor's week (``business``: P&L, markup, decisions,
                          restock), exits and the hand-over of their accounts
phase 9, collect          :meth:`~DistributorNetwork.levels`
========================  ===================================================================

docs/ODD.md §7.8.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from sim.channels import CHANNELS, DIRECT, DISTRIBUTOR
from sim.model import buyers, choice
from sim.model.buyers import BuyerRules
from sim.model.costs import ServiceCosts
from sim.model.distributors import business
from sim.model.distributors.agent import Distributor
from sim.model.distributors.book import line_outlook
from sim.model.distributors.business import DistributorState, DistributorStatus
from sim.model.distributors.players import Play, Seats
from sim.model.policy import ChannelPlan
from sim.model.population import ACTIVE, PROSPECT, Population, put_cells, take_cells
from sim.model.week import Needs, World
from sim.scenario.schema import Distributors as DistributorsConfig

EQUILIBRIUM_ITERATIONS = 50
"""Newton steps allowed to the starting prices' fixed point (a handful reach 1e-10)."""


class DistributorNetwork:
    """The firm's distributors and the rules between them, our buyers and us.

    Parameters
    ----------
    model
        The model (what the distributors see of it).
    plan
        The channel plan (what it announces to the distributors).
    weekly_value
        (N, P) expected weekly value at list of each buyer x product.

    Attributes
    ----------
    agents
        The distributors (:class:`Distributor`), index = position.
    state
        Their state, one row each (:class:`~sim.model.distributors.business.DistributorState`).
    open
        (D + 1,) bool: carrying our line; the last slot, which index -1 (no distributor)
        reads, is closed.
    resale_price
        (D + 1,) each distributor's resale price as a fraction of list; the last slot is the
        distributor channel's price realisation.
    size_weight
        (D,) each distributor's expected share of the distributor-buying accounts.
    """

    def __init__(self, model: World, plan: ChannelPlan, weekly_value: np.ndarray) -> None:
        self.model = model
        self.cfg: DistributorsConfig = model.scenario.distributors
        self.pop: Population = model.population
        self.rules: BuyerRules = model.rules
        self.plan = plan
        self.weekly_value = weekly_value
        self.agents: list[Distributor] = []
        self.state = DistributorState.empty(0, len(model.books.list_price))
        self.unit_cost = model.books.list_price * (1.0 - self.cfg.margin)
        """(P,) what a distributor pays us per unit: our wholesale price (before promotions)."""
        self.open = np.zeros(1, dtype=bool)
        self.service_costs = ServiceCosts.from_rates(
            self.cfg.cost_to_serve, model.scenario.discount_rate_annual
        )
        """What serving its buyers' orders costs a distributor (``distributors.cost_to_serve``):
        order handling, picking per line, freight with a minimum per shipment, credit and
        collection; paid out of its margin."""
        self.size_weight = np.empty(0)
        self.resale_price = self._resale_prices()
        self.week_pnl = business.WeekPnl(0.0, 0.0)
        """The active distributors' P&L on our line in the week last booked."""
        self.seats = Seats(0, len(model.books.list_price))
        """Decisions of distributors played by people (:mod:`.players`); empty: the model's."""
        self._keep_table: tuple[int, np.ndarray] | None = None

    # ------------------------------------------------------------------ set-up

    def sign(self, rng: np.random.Generator) -> None:
        """Give the week-0 distributor buyers a distributor; sign, price and stock them.

        Each starts in its steady state: at the fixed point of its pricing rule
        (:meth:`_price_at_equilibrium`), stocked for the demand its accounts are then expected
        to place with it.

        Parameters
        ----------
        rng
            The ``setup`` stream.
        """
        pop = self.pop
        self._assign(rng)
        count = len(self.open) - 1
        self.state = DistributorState.empty(count, len(self.model.books.list_price))
        self.state.size_weight[:] = self.size_weight
        probability = self._price_at_equilibrium()
        weekly_units = pop.units_per_order * pop.orders_per_week[:, None]
        expected = weekly_units * probability * pop.active_mask()[:, None]
        for p in range(expected.shape[1]):
            self.state.forecast_units[:, p] = self._by_distributor(expected[:, p])
        self.agents = [Distributor(self.model, d, self.state) for d in range(count)]
        self.seats = Seats(count, len(self.model.books.list_price))
        self.resale_price = self._resale_prices()

    def _price_at_equilibrium(self, tolerance: float = 1e-10) -> np.ndarray:
        """Set every distributor's markup at the fixed point of its pricing rule; (N, P) shares.

        Its share ``s(m)`` of its accounts' needs (value at list) falls with its markup ``m``
        and the rule's target ``g(s)`` (:func:`business.target_markup`) rises with the share,
        so ``m = g(s(m))`` has one root; logit demand gives ``g'(m) = -s / (1 - s)``, so Newton's
        step is ``m += (1 - s) (g - m)``. The share is the one the weekly choice gives its
        accounts (current channels, relationships and habits included) and its cost rate the
        one its service costs give the orders expected at that price, so nothing drifts when
        nothing changes (docs/ODD.md §7.8, "Steady start").

        Returns
        -------
        (N, P) each buyer x product's probability of choosing its distributor at the prices set.
        """
        state, cfg, pop = self.state, self.cfg, self.pop
        rows = np.arange(len(state.markup))
        beta = self.rules.market.choice.price_weight
        value = self.weekly_value * pop.active_mask()[:, None]
        state.markup[:] = self.rules.realisation[DISTRIBUTOR] / (1.0 - cfg.margin) - 1.0
        for _ in range(EQUILIBRIUM_ITERATIONS):
            probability = self._distributor_probabilities()
            won = self._by_distributor((value * probability).sum(axis=1))
            offered = self._by_distributor((value * (probability > 0)).sum(axis=1))
            state.share_seen[:] = np.minimum(
                business.MAX_SHARE_SEEN, won / np.maximum(offered, 1e-300)
            )
            state.cost_rate[:] = self._expected_cost_rate(probability)
            step = (1.0 - state.share_seen) * (
                business.target_markup(state, rows, cfg, beta) - state.markup
            )
            state.markup[:] += step
            if not len(step) or np.abs(step).max() < tolerance:
                break
        return self._distributor_probabilities()

    def _distributor_probabilities(self) -> np.ndarray:
        """(N, P) each buyer x product's logit probability of its distributor, at their prices."""
        terms = choice.choice_terms(
            self.rules,
            distributor_open=self.open,
            resale_price=self._resale_prices(),
            sell_through_discount=np.zeros(len(self.model.books.list_price)),
        )
        return choice.channel_probabilities(self.pop, terms)[:, :, DISTRIBUTOR]

    def _expected_cost_rate(self, probability: np.ndarray) -> np.ndarray:
        """(D,) each distributor's cost to serve per unit of sales on its expected orders.

        Each buyer orders each product ``orders_per_week`` times a week, ``units_per_order``
        units at the distributor's price; an order is costed on its own (one line), which
        the orders of infrequent buyers mostly are (``distributors.cost_to_serve``).
        """
        pop, list_price = self.pop, self.model.books.list_price
        orders = pop.orders_per_week[:, None] * probability * pop.active_mask()[:, None]
        b, p = np.nonzero(orders)
        value = (
            pop.units_per_order[b, p] * list_price[p] * self._resale_prices()[pop.distributor[b]]
        )
        cost = self.service_costs.of_lines(np.arange(len(b)), value).sum(axis=1)
        revenue = self._by_distributor(np.bincount(b, orders[b, p] * value, len(pop.status)))
        spent = self._by_distributor(np.bincount(b, orders[b, p] * cost, len(pop.status)))
        return spent / np.maximum(revenue, 1e-300)

    def _by_distributor(self, per_buyer: np.ndarray) -> np.ndarray:
        """(D,) sums of a per-buyer column over each distributor's accounts."""
        count = len(self.open) - 1
        return np.bincount(self.pop.distributor + 1, weights=per_buyer, minlength=count + 1)[1:]

    def _assign(self, rng: np.random.Generator) -> None:
        """Size the network and give each buyer with a week-0 distributor line a distributor.

        The network has ``round(accounts / accounts_per_distributor)`` distributors (at least
        one; none at density 0), each with a lognormal size weight (``size_sigma``, stratified
        by quantile so a small network has the large network's size mix); a buyer with a
        week-0 line through the distributor channel joins one with probability proportional
        to its weight, the others have none.
        """
        cfg, pop = self.cfg, self.pop
        accounts = int(np.count_nonzero(pop.status != PROSPECT))
        count = (
            max(1, round(accounts / cfg.accounts_per_distributor))
            if cfg.accounts_per_distributor
            else 0
        )
        # Stratified lognormal draws (one per 1/D quantile band, in random order): the same
        # size distribution at any simulated scale, five distributors or five hundred.
        quantile = (rng.permutation(count) + rng.random(count)) / max(count, 1)
        weight = np.exp(cfg.size_sigma * special.ndtri(quantile))
        self.size_weight = weight / weight.sum() if count else weight
        uses = np.flatnonzero((pop.current_channel == DISTRIBUTOR).any(axis=1))
        if count:
            pop.distributor[uses] = rng.choice(count, size=len(uses), p=self.size_weight)
        self.open = np.append(np.ones(count, dtype=bool), False)

    # ------------------------------------------------------------------ phase 3: buyers

    def sell_competitor_lines(
        self, buyer: np.ndarray, product: np.ndarray, orders: np.ndarray, units: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Take out the needs of lines on a distributor's competitor line; return the others.

        They are lost to us; an active distributor sells them from its competitor line.
        """
        pop, books = self.pop, self.model.books
        gone = take_cells(pop.alternative_line, buyer, product)
        if not gone.any():
            return buyer, product, orders, units
        b, p = buyer[gone], product[gone]
        books.lost_units(pop.segment[b], p, units[gone], converted_lines=True)
        d = pop.distributor[b]
        sold = (d >= 0) & self.open[d]
        value = units[gone] * books.list_price[p] * self.resale_price[d]
        self._credit(d[sold], {"week_alternative_revenue": value[sold]})
        kept = ~gone
        return buyer[kept], product[kept], orders[kept], units[kept]

    def observe(
        self,
        buyer: np.ndarray,
        product: np.ndarray,
        units: np.ndarray,
        open_: np.ndarray,
        choice: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Each distributor sees its accounts' needs it could serve and those that chose it.

        Needs on lines the plan has moved off it are not its to win (value at list).
        ``choice``: each need's chosen channel and its probability of the distributor
        channel, what the distributor expected to win.
        """
        chosen, probability = choice
        pop = self.pop
        could = open_[:, DISTRIBUTOR] & (
            take_cells(pop.moved_off_distributor_week, buyer, product) < 0
        )
        rows = np.flatnonzero(could)
        value = units[rows] * self.model.books.list_price[product[rows]]
        won = chosen[rows] == DISTRIBUTOR
        self._credit(
            pop.distributor[buyer[rows]],
            {
                "week_offered_value": value,
                "week_won_value": value * won,
                "week_expected_won_value": value * probability[rows],
            },
        )

    def steer(self, needs: Needs, week: int, rng: np.random.Generator) -> None:
        """Retaliation: needs placed with a distributor that go to a competitor's line.

        With one uniform ``u`` per need placed with distributor ``d`` (``rng``: the
        ``journey`` stream): it is *converted* (the line moves to the competitor's line for
        good) if converting that line pays ``d`` (its keep share, :meth:`line_keep`, is
        below ``d``'s ``convert_below``, :func:`business.decide`) and ``u < retaliation_steer`` (the
        push succeeds); otherwise it *leaks* (this need only) if ``u`` falls in the next
        ``effort_leak x (1 - effort_d)``. Converted and leaked needs are lost to us and leave
        ``needs``.
        """
        pop, cfg = self.pop, self.cfg
        rows = np.flatnonzero(needs.channel == DISTRIBUTOR)
        keep = np.ones(len(needs.buyer), dtype=bool)
        converted = np.zeros(len(needs.buyer), dtype=bool)
        if self.agents:
            line_keep = self.line_keep(week, needs.buyer[rows], needs.product[rows])
            d = pop.distributor[needs.buyer[rows]]
            pays = line_keep < self.state.convert_below[d]
            steer = cfg.retaliation_steer * self.seats.pushes(d, needs.product[rows], pays)
            u = rng.random(len(rows))
            converted[rows] = u < steer
            keep[rows] = u >= steer + cfg.effort_leak * (1.0 - self.state.effort[d])
        self._convert(needs, converted)
        for lost, on_converted_line in ((~keep & ~converted, False), (converted, True)):
            rows = np.flatnonzero(lost)
            self.model.books.lost_units(
                pop.segment[needs.buyer[rows]],
                needs.product[rows],
                needs.units[rows],
                converted_lines=on_converted_line,
            )
        if not keep.all():
            needs.keep(keep)

    def _convert(self, needs: Needs, converted: np.ndarray) -> None:
        """Move the converted needs' lines to their distributor's competitor line.

        The distributor sells this need from that line and pays the conversion cost,
        ``conversion_cost`` x the line's sales over the planning horizon.
        """
        rows = np.flatnonzero(converted)
        if not len(rows):
            return
        pop, cfg, list_price = self.pop, self.cfg, self.model.books.list_price
        b, p = needs.buyer[rows], needs.product[rows]
        put_cells(pop.alternative_line, b, p, np.ones(len(rows), dtype=bool))
        d = pop.distributor[b]
        value = needs.units[rows] * list_price[p] * self.resale_price[d]
        horizon_sales = (
            buyers.annual_value(pop, self.rules, list_price, b, p)
            * self.resale_price[d]
            * cfg.planning_horizon_weeks
            / 52.0
        )
        self._credit(
            d,
            {
                "week_alternative_revenue": value,
                "week_conversion_cost": cfg.conversion_cost * horizon_sales,
            },
        )

    # ------------------------------------------------------------------ phases 4 and 6

    def serve(self, needs: Needs) -> None:
        """Each distributor fills its week's demand from stock (``needs.filled``).

        Every distributor sees its demand, zero included: its forecast and profit use it.
        """
        at = np.flatnonzero(needs.channel == DISTRIBUTOR)
        if not self.agents:
            needs.filled[at] = 1.0
            return
        distributor, product = self.pop.distributor[needs.buyer[at]], needs.product[at]
        stock = self.state
        count, n_products = stock.stock_units.shape
        demand = np.bincount(
            distributor * n_products + product,
            weights=needs.units[at],
            minlength=count * n_products,
        ).reshape(count, n_products)
        active = np.flatnonzero(self.open[:-1])
        demand = demand[active]
        sold = np.minimum(stock.stock_units[active], demand)
        stock.week_demand_units[active] = demand
        stock.stock_units[active] -= sold
        stock.week_sold_units[active] = sold
        fill = np.ones((count, n_products))
        with np.errstate(divide="ignore", invalid="ignore"):
            fill[active] = np.where(demand > 0, sold / demand, 1.0)
        needs.filled[at] = fill[distributor, product]

    def invoice(self, needs: Needs, payments: tuple[np.ndarray, np.ndarray]) -> None:
        """Each distributor's sales to its buyers this week, their cost to serve, our payments.

        One order = one buyer's lines with its distributor (:meth:`ServiceCosts.of_week`) at
        the distributors' rates (:attr:`service_costs`), invoiced at its
        resale price; ``payments`` are (D,) amounts we paid each (rebates, referral fees), added
        to its income in that order; the referral fees are also kept apart (``decide`` does
        not read them as margin on the lines it still sells).
        """
        if not self.agents:
            return
        at = np.flatnonzero(needs.channel == DISTRIBUTOR)
        b, p = needs.buyer[at], needs.product[at]
        value = (
            needs.units[at] * needs.filled[at] * self.model.books.list_price[p] * needs.price[at]
        )
        if len(b):
            distributor = self.pop.distributor[b]
            cost = self.service_costs.totals_by_buyer(b, value, needs.orders[at])
            self._credit(distributor, {"week_revenue": value, "week_cost_to_serve": cost})
        rebates, referral_fees = payments
        self.state.week_income += rebates
        self.state.week_income += referral_fees
        self.state.week_referral_income += referral_fees

    # ------------------------------------------------------------------ phase 8

    def update(self, week: int, rng: np.random.Generator) -> None:
        """Every distributor books its week and decides; exits hand on their accounts.

        ``rng``: the ``churn`` stream (the hand-over's draws).
        """
        state, cfg = self.state, self.cfg
        *outlook, book_value = line_outlook(self, week)
        self._keep_table = None  # the steps below change the loss rates
        rows = np.flatnonzero(state.status != DistributorStatus.EXITED)
        self.week_pnl = business.week_pnl(state, rows, cfg, self.unit_cost)
        expected = book_value[rows] * state.resale_price(cfg, rows)
        our, total = business.book_week(
            state, rows, cfg, self.unit_cost, (expected, self.model.sample.share)
        ).tolist()
        for d, line_profit, total_profit in zip(rows.tolist(), our, total, strict=True):
            self.agents[d].line_profit_history.append(line_profit)
            self.agents[d].total_profit_history.append(total_profit)
        keep, lowest, follow = (x[rows] for x in outlook)
        state.threat[rows] = 1.0 - keep
        business.set_markup(state, rows, cfg, self.rules.market.choice.price_weight)
        fee = self.model.scenario.policy.distributor_referral_fee
        exits = business.decide(state, rows, cfg, fee, (keep, lowest, follow))
        if self.seats.taken:
            self.seats.set_markup(state, rows)
            exits = self.seats.decide(state, rows, exits)
        exits = exits.tolist()
        for d in exits:
            self.model.books.written_off(float(state.stock_units[d].sum()))
            state.stock_units[d] = 0.0
        staying = rows[state.status[rows] != DistributorStatus.EXITED]
        self._sell_in(
            staying, business.restock(state, staying, cfg, self.model.sell_in_discount), week
        )
        # After every decision, so accounts re-home only to distributors that stay.
        for d in exits:
            self._hand_over(d, rng)
        self.resale_price = self._resale_prices()

    def _sell_in(self, rows: np.ndarray, orders: np.ndarray, week: int) -> None:
        """Book the week's restocks as our sell-in; the promotion discount saved is income."""
        if len(rows):
            saved = self.model.books.sell_in(rows, orders, self.model.sell_in_discount, week)
            self.state.week_income[rows] += saved

    def _hand_over(self, distributor: int, rng: np.random.Generator) -> None:
        """Hand on an exiting distributor's accounts (docs/ODD.md §7.8, "Exit").

        Only its own lines are touched: each buyer x product line last bought through it
        follows it to its competitor line with :meth:`follow_probability` (lost to us for
        good); its accounts move to a remaining distributor (by size weight) and lose their
        relationship with the distributor channel; those it served (a line last bought
        through it) gain ``rehome_effort``, so each re-homes with the new distributor or one of
        our direct channels by its own choice.
        """
        pop, cfg = self.pop, self.cfg
        self.open[distributor] = False
        accounts = np.flatnonzero(pop.distributor == distributor)
        lines = (pop.current_channel[accounts] == DISTRIBUTOR) & ~pop.alternative_line[accounts]
        row, product = np.nonzero(lines)
        served = accounts[row]
        line_share = np.full(len(served), self.state.line_share[distributor])
        follows = rng.random(len(served)) < self.follow_probability(served, line_share)
        pop.alternative_line[served[follows], product[follows]] = True
        # Lines moved off it earned it referral fees, the deals it registered were its own;
        # its successor never served them.
        pop.moved_off_distributor_week[accounts] = -1
        pop.registered_until[accounts] = -1
        pop.relationship[accounts, DISTRIBUTOR] = 0.0
        # Only the accounts it served must find another source; the others never bought
        # through it and notice nothing.
        bought = (pop.current_channel[accounts] == DISTRIBUTOR).any(axis=1)
        served_accounts = accounts[bought & (pop.status[accounts] == ACTIVE)]
        pop.effort[served_accounts] = np.minimum(
            1.0, pop.effort[served_accounts] + cfg.rehome_effort
        )
        remaining = np.flatnonzero(self.state.status != DistributorStatus.EXITED)
        if len(remaining):
            weight = self.size_weight[remaining] / self.size_weight[remaining].sum()
            pop.distributor[accounts] = rng.choice(remaining, size=len(accounts), p=weight)
        else:
            pop.distributor[accounts] = -1

    # ------------------------------------------------------------------ people in the loop

    def seat(self, distributor: int, play: Play | None) -> None:
        """Seat a team's decisions in ``distributor``'s chair (``None``: the model's rules).

        Its markup takes effect at once (its resale price this coming week); the other
        decisions at its next update (:mod:`.players`).

        Raises
        ------
        ValueError
            If there is no such distributor, or it has already dropped our line.
        """
        if not 0 <= distributor < len(self.agents):
            raise ValueError(f"no distributor {distributor}: the network has {len(self.agents)}")
        if self.state.status[distributor] == DistributorStatus.EXITED and play is not None:
            raise ValueError(f"distributor {distributor} has dropped our line")
        self.seats.seat(distributor, play)
        if play is not None and play.markup is not None:
            self.state.markup[distributor] = play.markup
            self.resale_price = self._resale_prices()

    def reprice(self) -> None:
        """Read our wholesale price and the competitor line's terms again (``self.cfg``).

        After the model's scenario was amended between weeks (:meth:`ChannelModel.amend`).
        """
        self.cfg = self.model.scenario.distributors
        self.unit_cost = self.model.books.list_price * (1.0 - self.cfg.margin)
        for agent in self.agents:
            agent.cfg = self.cfg
        self._keep_table = None
        self.resale_price = self._resale_prices()

    # ------------------------------------------------------------------ what a book holds

    def follow_probability(self, buyer: np.ndarray, line_share: np.ndarray) -> np.ndarray:
        """Probability that a line follows its exiting distributor to the competitor's line.

        ``(1 - line_share) / (1 + exp(-(follow_intercept + follow_weight x (R_dist - R_us))))``:
        rising with the buyer's relationship with the distributor channel, falling with that
        with our strongest direct channel, and only as far as the distributor has an
        alternative line (``1 - line_share``, its sales that are not ours).
        """
        relationship = np.take(self.pop.relationship, buyer, axis=0)
        distributor = relationship[:, DISTRIBUTOR]
        # Column by column: numpy reduces a short last axis slowly.
        first, *others = (relationship[:, CHANNELS.index(c)] for c in DIRECT)
        direct = first
        for column in others:
            direct = np.maximum(direct, column)
        closeness = distributor.astype(float) - direct.astype(float)
        odds = self.cfg.follow_intercept + self.cfg.follow_weight * closeness
        return (1.0 - line_share) / (1.0 + np.exp(-odds))

    def survival(self) -> np.ndarray:
        """(T, D) chance a line is still there ``k - 1`` weeks on, at each loss rate."""
        loss_rate = self.state.loss_rate_weekly
        horizon = self.cfg.planning_horizon_weeks
        return (1.0 - np.minimum(loss_rate, 1.0)) ** np.arange(horizon)[:, None]

    def keep_table(self, week: int) -> np.ndarray:
        """(P, S, D) keep share of an unprotected line by its product, segment, distributor.

        Such a line's :meth:`line_keep_share` depends on nothing else: the survival sum at its
        distributor's loss rate, or, for a product x segment the plan has announced moves
        for, the survival-weighted share not yet moved, over the horizon ``T``. Kept for the
        week until the distributors' next update changes their loss rates.
        """
        if self._keep_table is not None and self._keep_table[0] == week:
            return self._keep_table[1]
        horizon = self.cfg.planning_horizon_weeks
        survival = self.survival()
        n_segments = len(self.model.scenario.market.segments)
        table = np.empty((len(self.model.books.list_price), n_segments, survival.shape[1]))
        table[:] = survival.sum(axis=0)
        cell_product, cell_segment, moved_within = self.plan.announced(week, horizon, DISTRIBUTOR)
        kept_weeks = (1.0 - moved_within) @ survival  # (C, D)
        for c in range(len(cell_product)):
            table[cell_product[c], cell_segment[c]] = kept_weeks[c]
        table /= horizon
        self._keep_table = (week, table)
        return table

    def protected(self, week: int, buyer: np.ndarray, product: np.ndarray) -> np.ndarray:
        """Which buyer x product lines are deals a distributor registered and still protects."""
        if not self.model.scenario.policy.deal_registration:
            return np.zeros(len(buyer), dtype=bool)
        return take_cells(self.pop.registered_until, buyer, product) > week

    def line_keep(self, week: int, buyer: np.ndarray, product: np.ndarray) -> np.ndarray:
        """:meth:`line_keep_share` of each line, read from :meth:`keep_table` where it can be."""
        pop = self.pop
        keep = self.keep_table(week)[product, pop.segment[buyer], pop.distributor[buyer]]
        rows = np.flatnonzero(self.protected(week, buyer, product))
        if len(rows):
            keep[rows] = self.line_keep_share(week, buyer[rows], product[rows])
        return keep

    def line_keep_share(self, week: int, buyer: np.ndarray, product: np.ndarray) -> np.ndarray:
        """Expected share of the planning horizon ``T`` each buyer x product line stays ours.

        ``sum_{k=1..T} (1 - q(k)) (1 - h)^(k - 1) / T``: ``h`` its distributor's measured loss
        rate, ``q(k)`` the chance the plan has moved it within ``k`` weeks. For a line still
        unmoved, what the plan has announced for its product x segment
        (:meth:`ChannelPlan.announced`). For a deal the distributor registered, 0 while it is
        protected (``week + k <= registered_until``), then the share of its product x segment
        the plan has moved by ``week + k`` (:meth:`planned_share`): the distributor does not
        know in which order the plan takes lines, so nothing tells it the protected line is
        not among them.
        """
        pop, plan = self.pop, self.plan
        horizon = self.cfg.planning_horizon_weeks
        survival = self.survival()
        d = pop.distributor[buyer]
        keep = survival.sum(axis=0)[d]
        cell_product, cell_segment, moved_within = plan.announced(week, horizon, DISTRIBUTOR)
        kept_weeks = (1.0 - moved_within) @ survival  # (C, D)
        segment = pop.segment[buyer]
        protected_weeks = take_cells(pop.registered_until, buyer, product).astype(np.int64) - week
        protected = protected_weeks > 0
        moved_by = self.planned_share(week) if protected.any() else {}
        ahead = np.arange(1, horizon + 1)
        for c in range(len(cell_product)):
            cell = (product == cell_product[c]) & (segment == cell_segment[c])
            rows = np.flatnonzero(cell & ~protected)
            keep[rows] = kept_weeks[c, d[rows]]
            rows = np.flatnonzero(cell & protected)
            if len(rows):
                share = moved_by[int(cell_product[c]), int(cell_segment[c])]
                moved = np.where(ahead > protected_weeks[rows, None], share, 0.0)  # (n, T)
                keep[rows] = ((1.0 - moved) * survival[:, d[rows]].T).sum(axis=1)
        return keep / horizon

    def planned_share(self, week: int) -> dict[tuple[int, int], np.ndarray]:
        """Share of each product x segment the plan has moved off distributors by each week ahead.

        Returns
        -------
        (T,) shares by ``week + 1 .. week + T`` from the rows started by ``week``, keyed by
        (product, segment).
        """
        plan, horizon = self.plan, self.cfg.planning_horizon_weeks
        started = np.flatnonzero((plan.source == DISTRIBUTOR) & (plan.start_week <= week))
        moved = np.array([plan.moved_share(week + k) for k in range(1, horizon + 1)])  # (T, rows)
        cells: dict[tuple[int, int], np.ndarray] = {}
        for i in started.tolist():
            key = (int(plan.product[i]), int(plan.segment[i]))
            cells[key] = cells.get(key, np.zeros(horizon)) + moved[:, i]
        return {key: np.minimum(share, 1.0) for key, share in cells.items()}

    # ------------------------------------------------------------------ collect

    def channel_inventory_units(self) -> float:
        """Units in distributors' stock."""
        return float(sum(self.state.stock_units.sum(axis=1).tolist()))

    def levels(self) -> dict[str, float]:
        """The network's weekly levels (``sim.metrics``): counts, means over active ones, stock."""
        state = self.state
        working = np.flatnonzero(state.status != DistributorStatus.EXITED)

        def mean(column: np.ndarray) -> float:
            return float(np.mean(column[working])) if len(working) else 0.0

        return {
            "distributors_active": len(working),
            "distributors_retaliating": int(
                np.count_nonzero(state.status == DistributorStatus.RETALIATING)
            ),
            "distributor_effort_mean": mean(state.effort),
            "distributor_threat_mean": mean(state.threat),
            "distributor_markup_mean": mean(state.markup),
            "distributor_gross_margin_mean": self.week_pnl.gross_margin_mean,
            "distributor_profit": self.week_pnl.operating_profit,
            "distributors_exited": len(self.agents) - len(working),
            "lines_lost_to_competitor": int(np.count_nonzero(self.pop.alternative_line)),
            "channel_inventory_units": self.channel_inventory_units(),
        }

    # ------------------------------------------------------------------ helpers

    def _resale_prices(self) -> np.ndarray:
        realisation = self.rules.realisation[DISTRIBUTOR]
        return np.append(self.state.resale_price(self.cfg, slice(None)), realisation)

    def _credit(self, distributor: np.ndarray, amounts: dict[str, np.ndarray]) -> None:
        """Add ``amounts`` per need (by column of the state) to each need's distributor."""
        if not len(distributor) or not self.agents:
            return
        for column, amount in amounts.items():
            getattr(self.state, column)[:] += np.bincount(
                distributor, weights=amount, minlength=len(self.agents)
            )
