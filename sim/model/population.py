"""The buyer population, kept as a struct of numpy arrays (one row per account).

Buyers are far too many for one Python object each, so their state lives in columns and every
buyer rule is a vectorised function of those columns. Events that are rare per buyer-week
(needs, churn checks, adoption checks) are scheduled with geometric waiting times, so a week
only touches the buyers that have something happening (see docs/ODD.md, "Scheduling").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from sim.channels import CHANNELS
from sim.model.draws import NEVER
from sim.scenario.customers import CustomerBase, read_customer_base
from sim.scenario.schema import Scenario

PROSPECT, ACTIVE, CHURNED, ENTERING = 0, 1, 2, 3
"""Values of :attr:`Population.status` (``ENTERING``: a customer-base account not yet active)."""


@lru_cache(maxsize=8)
def _decay_factors(half_life_weeks: float) -> np.ndarray:
    """float32 ``2 ** (-k / half_life_weeks)`` for k = 0 .. NEVER weeks (a lookup, not exp2)."""
    return np.exp2(-np.arange(NEVER + 1) / half_life_weeks).astype(np.float32)


def weekly_probability(rate_annual: np.ndarray | float) -> np.ndarray:
    """Probability of at least one event in a week for a Poisson rate per year.

    Returns an array (0-d for a scalar rate).
    """
    return np.asarray(-np.expm1(-np.asarray(rate_annual) / 52.0))


def geometric_weeks(
    rng: np.random.Generator, p_weekly: np.ndarray | float, size: int
) -> np.ndarray:
    """Weeks until the next event of a weekly Bernoulli(p) process (>= 1); NEVER if p = 0."""
    p = np.broadcast_to(np.asarray(p_weekly, dtype=float), (size,))
    live = p > 0
    if live.all():  # the usual case: the same draws without masking
        return np.minimum(rng.geometric(p), NEVER)
    weeks = np.full(size, NEVER, dtype=np.int64)
    weeks[live] = rng.geometric(p[live])
    return np.minimum(weeks, NEVER)


@dataclass
class Population:
    """Columns of buyer state. Index ``b`` is a buyer; ``p`` a product; ``c`` a channel.

    Attributes hold money in currency units and time as week numbers (1-based; 0 = before
    the run). Shares and probabilities are in [0, 1].
    """

    segment: np.ndarray  # int8 (N,)
    spend_annual: np.ndarray  # float32 (N,), at list price
    status: np.ndarray  # int8 (N,): PROSPECT, ACTIVE, CHURNED, ENTERING
    churn_week: np.ndarray  # int16 (N,), NEVER until churned
    adopter: np.ndarray  # bool (N,): buys online
    do_not_email: np.ndarray  # bool (N,)
    effort: np.ndarray  # float32 (N,): 0 effortless .. 1 high effort
    satisfaction: np.ndarray  # float32 (N,): running share of clean orders
    relationship: np.ndarray  # float32 (N, 4): strength with each channel, 0..1
    relationship_week: np.ndarray  # int16 (N,): week the relationship was last aged
    current_channel: np.ndarray  # int8 (N, P): channel of the last order, -1 none
    units_per_order: np.ndarray  # float32 (N, P): 0 where the product is not bought
    orders_per_week: np.ndarray  # float64 (N,): Poisson rate of orders per product line
    dropout: np.ndarray  # float32 (N,): probability of stopping after an order (0: never)
    entry_week: np.ndarray  # int16 (N,): week an ENTERING account becomes active
    next_need: np.ndarray  # int16 (N, P): week of the next need
    next_churn_check: np.ndarray  # int16 (N,)
    next_adoption_check: np.ndarray  # int16 (N,)
    field_rep: np.ndarray  # int32 (N,): -1 none
    inside_rep: np.ndarray  # int32 (N,): -1 none
    distributor: np.ndarray  # int32 (N,): -1 none
    quote_channel: np.ndarray  # int8 (N,): channel of the last quote, -1 none
    quote_price: np.ndarray  # float32 (N,): last quote as a fraction of list
    quote_week: np.ndarray  # int16 (N,)
    offer_channel: np.ndarray  # int8 (N,): channel of a campaign offer, -1 none
    offer_discount: np.ndarray  # float32 (N,)
    offer_until: np.ndarray  # int16 (N,): last week the offer holds
    offer_products: np.ndarray  # uint64 (N,): bit p set if the offer covers product p
    migration_key: np.ndarray  # float32 (N,): order in which channel plans move accounts
    registered_until: np.ndarray  # int16 (N, P): last week a registered deal is protected, -1
    moved_off_distributor_week: np.ndarray  # int16 (N, P): week the plan moved the line, -1
    alternative_line: np.ndarray  # bool (N, P): a distributor took the line to a competitor's

    @property
    def size(self) -> int:
        """Number of rows (customers and prospects)."""
        return len(self.segment)

    def active_mask(self) -> np.ndarray:
        """Boolean mask of active accounts (buyers still placing needs)."""
        return self.status == ACTIVE

    def lost_to_competitor_lines(self) -> np.ndarray:
        """Boolean mask of active accounts with every line they buy on a competitor's line.

        Their distributor moved each of their lines to its competitor's line (or took them
        there when it left): they still buy, from the distributor, but nothing from us, so a
        strategist counts them as lost customers.
        """
        lost = self.active_mask() & rows_any(self.alternative_line)
        rows = np.flatnonzero(lost)
        lost[rows] = ~rows_any((self.units_per_order[rows] > 0) & ~self.alternative_line[rows])
        return lost

    def customer_mask(self) -> np.ndarray:
        """Boolean mask of our customers: active accounts with a line still bought from us."""
        return self.active_mask() & ~self.lost_to_competitor_lines()

    def age_relationships(self, buyers: np.ndarray, week: int, half_life_weeks: float) -> None:
        """Decay the relationships of ``buyers`` to ``week`` (lazy exponential ageing).

        A buyer listed twice is aged once (the second time, no week has passed).
        """
        factors = _decay_factors(half_life_weeks)
        _age(buyers, week, factors, self.relationship, self.relationship_week)


@njit(cache=True)
def _age(
    buyers: np.ndarray,
    week: int,
    factors: np.ndarray,
    relationship: np.ndarray,
    relationship_week: np.ndarray,
) -> None:
    for b in buyers:
        factor = factors[week - relationship_week[b]]  # float32, as the relationships
        for c in range(relationship.shape[1]):
            relationship[b, c] *= factor
        relationship_week[b] = week


def create_population(
    scenario: Scenario, rng: np.random.Generator, base: CustomerBase | None = None
) -> Population:
    """Draw the initial customers and prospects of a scenario.

    Customers are ``market.buyers`` accounts drawn by segment share, or the accounts of
    ``base`` (the simulated rows of ``market.customer_base``, :func:`customer_base`). Spend is
    lognormal with the segment's mean (``spend_annual``) and ``spend_sigma``; orders per
    product line arrive as a Poisson process at ``orders_per_year`` (a week with at least one
    is a need, ``buyers.arriving_needs``); an order's size makes the expected annual spend
    equal the drawn spend potential. With a segment ``purchase_process`` (BG/NBD), each
    account's order rate and spend are scaled by its own Gamma(r, 1/r) multiplier and it draws
    a Beta(a, b) dropout.
    """
    market = scenario.market
    customers = len(base) if base is not None else market.buyers
    n = customers + market.prospects
    shares = np.array([s.share for s in market.segments])
    if base is None:
        segment = rng.choice(len(shares), size=n, p=shares).astype(np.int8)
    else:
        drawn = rng.choice(len(shares), size=market.prospects, p=shares).astype(np.int8)
        segment = np.concatenate([base.segment, drawn])
    sigma = np.array([s.spend_sigma for s in market.segments])[segment]
    mean = np.array([s.spend_annual for s in market.segments])[segment]
    potential = mean * rng.lognormal(-0.5 * sigma**2, sigma)
    multiplier, dropout = _purchase_processes(scenario, segment, base, rng)
    spend = (potential * multiplier).astype(np.float32)

    products = [p.name for p in scenario.products]
    mix = np.array([[s.product_mix.get(p, 0.0) for p in products] for s in market.segments])
    orders = np.array([s.orders_per_year for s in market.segments])
    list_price = np.array([p.list_price for p in scenario.products])
    orders_a_year = orders[segment] * multiplier
    units = (spend[:, None] * mix[segment] / orders_a_year[:, None] / list_price).astype(np.float32)
    need_p = weekly_probability(orders_a_year)

    entry_week = np.zeros(n, dtype=np.int16)
    status = np.full(n, PROSPECT, dtype=np.int8)
    status[:customers] = ACTIVE
    if base is not None:
        entry_week[:customers] = base.entry_week
        status[:customers][base.entry_week > 0] = ENTERING
    next_need = np.stack(
        [
            np.where(units[:, j] > 0, entry_week + geometric_weeks(rng, need_p, n), NEVER)
            for j in range(len(products))
        ],
        axis=1,
    )
    adopt0 = np.array([s.digital_adopters_initial for s in market.segments])[segment]
    dne = np.array([s.do_not_email for s in market.segments])[segment]
    return Population(
        segment=segment,
        spend_annual=spend,
        status=status,
        churn_week=np.full(n, NEVER, dtype=np.int16),
        adopter=rng.random(n) < adopt0,
        do_not_email=rng.random(n) < dne,
        effort=np.zeros(n, dtype=np.float32),
        satisfaction=np.full(n, 0.7, dtype=np.float32),
        relationship=np.zeros((n, len(CHANNELS)), dtype=np.float32),
        relationship_week=np.zeros(n, dtype=np.int16),
        current_channel=np.full((n, len(products)), -1, dtype=np.int8),
        units_per_order=units,
        orders_per_week=orders_a_year / 52.0,
        dropout=dropout,
        entry_week=entry_week,
        next_need=np.minimum(next_need, NEVER).astype(np.int16),
        next_churn_check=np.zeros(n, dtype=np.int16),
        next_adoption_check=np.zeros(n, dtype=np.int16),
        field_rep=np.full(n, -1, dtype=np.int32),
        inside_rep=np.full(n, -1, dtype=np.int32),
        distributor=np.full(n, -1, dtype=np.int32),
        quote_channel=np.full(n, -1, dtype=np.int8),
        quote_price=np.ones(n, dtype=np.float32),
        quote_week=np.zeros(n, dtype=np.int16),
        offer_channel=np.full(n, -1, dtype=np.int8),
        offer_discount=np.zeros(n, dtype=np.float32),
        offer_until=np.zeros(n, dtype=np.int16),
        offer_products=np.zeros(n, dtype=np.uint64),
        migration_key=rng.random(n, dtype=np.float32),
        registered_until=np.full((n, len(products)), -1, dtype=np.int16),
        moved_off_distributor_week=np.full((n, len(products)), -1, dtype=np.int16),
        alternative_line=np.zeros((n, len(products)), dtype=bool),
    )


def customer_base(scenario: Scenario) -> CustomerBase | None:
    """The accounts of ``market.customer_base``, or None without one."""
    path = scenario.market.customer_base
    if path is None:
        return None
    return read_customer_base(path, [s.name for s in scenario.market.segments])


def _purchase_processes(
    scenario: Scenario,
    segment: np.ndarray,
    base: CustomerBase | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Each account's order-rate multiplier (mean 1) and dropout probability per order.

    Drawn from its segment's ``purchase_process`` (Gamma(r, 1/r) and Beta(a, b)), unless the
    customer base gives them; 1 and 0 where neither does (no draws then, so scenarios without
    purchase processes keep their random streams). The dropout is returned at zero effort:
    divided by the effort multiplier at the process's ``reference_effort``.
    """
    n = len(segment)
    multiplier, dropout = np.ones(n), np.zeros(n)
    reference = np.ones(len(scenario.market.segments))  # effort multiplier the data saw
    slope = scenario.market.effort_churn_multiplier - 1.0
    for s, spec in enumerate(scenario.market.segments):
        process = spec.purchase_process
        if process is None:
            continue
        rows = np.flatnonzero(segment == s)
        r = process.order_rate_shape
        multiplier[rows] = rng.gamma(r, 1.0 / r, size=len(rows))
        dropout[rows] = rng.beta(process.dropout_a, process.dropout_b, size=len(rows))
        reference[s] = 1.0 + slope * process.reference_effort
    if base is not None:
        customers = slice(0, len(base))
        if base.order_rate_multiplier is not None:
            multiplier[customers] = base.order_rate_multiplier
        if base.dropout_probability is not None:
            dropout[customers] = base.dropout_probability
    # Stored at zero effort: drop_out scales it back up by the account's own effort.
    return multiplier, (dropout / reference[segment]).astype(np.float32)


def rows_any(mask: np.ndarray) -> np.ndarray:
    """Row-wise ``any`` of an (n, k) boolean array: ``mask.any(axis=1)``, fast.

    numpy reduces a short last axis slowly (~90 ns a row for k = 4); a C-contiguous boolean
    row of 1, 2, 4 or 8 bytes is read as one unsigned integer instead (~1 ns a row).
    """
    n, k = mask.shape
    if mask.dtype == np.bool_ and mask.flags.c_contiguous and k in (1, 2, 4, 8):
        return mask.view(f"u{k}").reshape(n) != 0
    result = np.zeros(n, dtype=bool)
    for j in range(k):
        result |= mask[:, j]
    return result


def take_cells(table: np.ndarray, row: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``table[row, column]`` of a 2-D array, read by flat index (faster than tuple indexing)."""
    return np.take(table, np.asarray(row, dtype=np.intp) * table.shape[1] + column)


def put_cells(table: np.ndarray, row: np.ndarray, column: np.ndarray, values: np.ndarray) -> None:
    """``table[row, column] = values`` of a 2-D array, written in place by flat index."""
    np.put(table, np.asarray(row, dtype=np.intp) * table.shape[1] + column, values)
