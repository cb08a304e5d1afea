"""Phase 3, buyers: the week's needs, from their arrival to the channel that takes them.

Adoption, the needs due, the lines a distributor sells from its competitor's line, the
channel logit, the demand each distributor sees, the channel plan, the journey's other
touches and the distributors' steering, in that order (docs/ODD.md §7.3). The rules are the
buyers' (``buyers``, ``choice``) and the distributor network's; this module only orders them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.channels import COMPETITOR
from sim.model import buyers, choice
from sim.model.population import take_cells
from sim.model.week import Needs, World

if TYPE_CHECKING:
    from sim.model.distributors import DistributorNetwork


def shop(model: World, network: DistributorNetwork) -> Needs:
    """The week's needs that reached one of our channels.

    Needs on lines a distributor sells from a competitor's line are lost to us, as are those
    the logit gives the competitor and those a distributor steers away.
    """
    pop, rules, week, keys = model.population, model.rules, model.week, model.keys
    buyers.adopt_ecommerce(pop, rules, week, keys["adoption"])
    buyer, product, orders = buyers.arriving_needs(pop, rules, week, keys["needs"])
    units = take_cells(pop.units_per_order, buyer, product) * orders
    buyer, product, orders, units = network.sell_competitor_lines(buyer, product, orders, units)
    pop.age_relationships(buyer, week, buyers.RELATIONSHIP_HALF_LIFE_WEEKS)
    terms = choice.choice_terms(
        rules,
        distributor_open=network.open,
        resale_price=network.resale_price,
        sell_through_discount=model.sell_through_discount,
    )
    open_, prices, chosen, expected = choice.choose_channels(
        pop, terms, buyer, product, week, keys["choice"]
    )
    network.observe(buyer, product, units, open_, (chosen, expected))
    ours = (chosen >= 0) & (chosen < COMPETITOR)
    lost = np.flatnonzero(~ours)
    model.books.lost_units(pop.segment[buyer[lost]], product[lost], units[lost])
    # np.compress filters rows of 2-D arrays ~7x faster than boolean indexing, same rows
    buyer, product, orders, units, chosen = (
        np.compress(ours, x) for x in (buyer, product, orders, units, chosen)
    )
    open_ = np.compress(ours, open_, axis=0)
    scenario = model.scenario
    channel, taken = buyers.follow_plan(
        pop,
        rules,
        model.plan,
        week,
        buyer,
        product,
        chosen,
        deal_protection_weeks=scenario.distributors.deal_protection_weeks
        if scenario.policy.deal_registration
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
            rules, open_, channel, buyer, product, week, keys["journey"]
        ),
        filled=np.ones(n),
        incidents=np.zeros(n),
        taken=taken,
    )
    network.steer(needs, week, model.streams["journey"])
    return needs
