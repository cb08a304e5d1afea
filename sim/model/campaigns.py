"""Marketing campaigns, as Mesa agents: touches, e-commerce nudges and offers (phase 2).

docs/ODD.md §7.2.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.channels import CHANNELS
from sim.model.buyers import PRICE_TOLERANCE, QUOTE_VALIDITY_WEEKS
from sim.model.population import ACTIVE, weekly_probability
from sim.model.week import World
from sim.scenario.schema import Campaign


class CampaignAgent(mesa.Agent):
    """A marketing campaign: touches buyers of its segments while it runs.

    Email campaigns skip do-not-email buyers. Touched non-adopters may adopt e-commerce
    (Bass ``p`` raised by ``adoption_boost_annual``); an offer cuts the price in the nudged
    channel and, in a siloed firm, can undercut a quote the buyer already holds.
    """

    model: World

    def __init__(self, model: World, spec: Campaign) -> None:
        super().__init__(model)
        self.spec = spec
        segments = [s.name for s in model.scenario.market.segments]
        chosen = spec.segments or segments
        self.segment_mask = np.isin(np.arange(len(segments)), [segments.index(s) for s in chosen])
        self.channel = CHANNELS.index(spec.channel)
        products = [p.name for p in model.scenario.products]
        offered = spec.products or products
        self.product_bits = np.uint64(sum(1 << products.index(p) for p in offered))

    def running(self, week: int) -> bool:
        """True in the campaign's weeks."""
        return self.spec.start_week <= week < self.spec.start_week + self.spec.weeks

    def step(self) -> None:
        """Touch this week's share of the target buyers."""
        model = self.model
        if not self.running(model.week):
            return
        pop = model.population
        rng = model.streams["campaigns"]
        eligible = (pop.status == ACTIVE) & self.segment_mask[pop.segment]
        if self.spec.medium == "email":
            eligible &= ~pop.do_not_email
        candidates = np.flatnonzero(eligible)
        touched = candidates[rng.random(len(candidates)) < self.spec.reach]
        model.books.campaign(self.spec.cost_weekly)
        if self.spec.adoption_boost_annual > 0:
            extra = weekly_probability(self.spec.adoption_boost_annual)
            newcomers = touched[~pop.adopter[touched]]
            pop.adopter[newcomers[rng.random(len(newcomers)) < extra]] = True
        if self.spec.offer_discount > 0:
            self._make_offer(touched)

    def _make_offer(self, touched: np.ndarray) -> None:
        model = self.model
        pop = model.population
        offer_price = model.rules.realisation[self.channel] * (1.0 - self.spec.offer_discount)
        recent = model.week - pop.quote_week[touched] <= QUOTE_VALIDITY_WEEKS
        contradicts = (
            recent
            & (pop.quote_channel[touched] >= 0)
            & (pop.quote_channel[touched] != self.channel)
            & (pop.quote_price[touched] > offer_price + PRICE_TOLERANCE)
        )
        clash = touched[contradicts]
        unresolved = model.orchestrator.record("contradictory_price", clash)
        # A resolved clash means the orchestrator aligned the offer: that buyer gets none.
        receives = np.setdiff1d(touched, clash[~unresolved], assume_unique=True)
        pop.offer_channel[receives] = self.channel
        pop.offer_discount[receives] = self.spec.offer_discount
        pop.offer_until[receives] = model.week + self.spec.offer_weeks - 1
        pop.offer_products[receives] = self.product_bits
