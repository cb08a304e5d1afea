"""What each role may see: what that player would really know, never another team's numbers.

=================  ========================================================================
distributor:<i>    its own P&L, accounts and demand trend week by week (the firm's figures),
                   its status, markup and effort; our announced terms (wholesale price,
                   referral fee, deal registration, the plan's moves) and announcements; its
                   competitor line's offer
manufacturer       its channel P&L (by channel, so far) and weekly margin; the plan and its
                   levers; what the distributors announce, and what it sees of each in the
                   market (carrying our line or not, its resale price)
competitor         its line's offer, the units of our demand its line won, the market
facilitator        the market (the projector view) and who has decided, not what
=================  ========================================================================

Every money, account and unit figure is the firm's: the engine's sample figures times the
sample's weight (:mod:`sim.model.sample`), as the ledger's are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.channels import CHANNELS, DISTRIBUTOR
from sim.wargame import roles

if TYPE_CHECKING:
    from sim.wargame.game import Game


MARKET_COLUMNS: tuple[str, ...] = (
    "revenue",
    "revenue_field",
    "revenue_inside",
    "revenue_distributor",
    "revenue_ecommerce",
    "active_customers",
    "distributors_active",
    "lost_to_competitor_units",
)
"""Weekly metrics anyone in the room may see on the projector (no team's private figures)."""


def view(game: Game, role: str) -> dict[str, Any]:
    """``role``'s view of ``game`` (JSON-ready), with the round and the game's clock."""
    with game.lock:
        common = _common(game, role)
        if role == roles.FACILITATOR:
            return {**common, **facilitator_view(game)}
        if role == roles.MANUFACTURER:
            return {**common, **manufacturer_view(game)}
        if role == roles.COMPETITOR:
            return {**common, **competitor_view(game)}
        d = roles.distributor_index(role)
        if d is None:
            raise KeyError(role)
        return {**common, **distributor_view(game, d)}


def _common(game: Game, role: str) -> dict[str, Any]:
    """What every role sees: the round, the clock, its own decisions."""
    first, last = game.weeks_of(game.round + 1)
    own = {}
    if role in game.setup.roles:
        schema = roles.schema_of(role)
        own = {
            "pending": game.pending[role].fields_set() if role in game.pending else None,
            "decided": [d[role].fields_set() if role in d else {} for d in game.played],
            "fields": {name: info.description for name, info in schema.model_fields.items()},
        }
    return {
        "role": role,
        "scenario": game.firm.name,
        "round": game.round,
        "rounds": game.setup.rounds,
        "round_weeks": game.setup.round_weeks,
        "week": game.model.week,
        "next_weeks": None if game.finished else [first, last],
        "finished": game.finished,
        "started": game.started,
        "deadline": game.deadline,
        **own,
    }


def market(game: Game) -> dict[str, Any]:
    """The projector's view: the market's weekly figures, the firm's (:data:`MARKET_COLUMNS`)."""
    series = game.paths["game"].timeseries()
    return {"weeks": _records(series[["week", *MARKET_COLUMNS]])}


def facilitator_view(game: Game) -> dict[str, Any]:
    """The market, and which teams have decided for the coming round (not what)."""
    return {
        "teams": list(game.setup.roles),
        "submitted": sorted(game.pending),
        "market": market(game),
    }


def manufacturer_view(game: Game) -> dict[str, Any]:
    """Our channel P&L, the levers in force, and what we see of each distributor."""
    model = game.model
    pnl = model.books.pnl_table()
    by_channel = pnl.groupby("channel", sort=False)[
        ["revenue", "cogs", "cost_to_serve", "commissions", "referral_fees", "contribution_margin"]
    ].sum()
    series = game.paths["game"].timeseries()
    weekly = ["week", "revenue", "contribution_margin", "gross_margin", "cost_to_serve"]
    policy = model.firm.policy
    seen = [
        {
            "distributor": d,
            "carries_our_line": bool(agent.active),
            "resale_price": float(model.network.resale_price[d]),
        }
        for d, agent in enumerate(model.distributors)
    ]
    return {
        "channel_pnl": [
            {"channel": str(c), **{k: float(v) for k, v in row.items()}}
            for c, row in by_channel.iterrows()
        ],
        "weekly": _records(series[weekly]),
        "levers": _terms(game),
        "channel_plan": [r.model_dump(mode="json", by_alias=True) for r in policy.channel_plan],
        "plan_choices": {
            "products": [p.name for p in model.firm.products],
            "segments": [s.name for s in model.firm.market.segments],
            "channels": list(CHANNELS),
        },
        "distributors": seen,
        "announcements": _announcements(game, lambda r: roles.distributor_index(r) is not None),
        "market": market(game),
    }


def distributor_view(game: Game, d: int) -> dict[str, Any]:
    """Distributor ``d``'s own business, our terms and announcements, its competitor's offer."""
    model = game.model
    weeks = game.paths["game"].distributors()
    own = weeks[weeks["distributor"] == d].drop(columns="distributor")
    agent = model.distributors[d]
    firm = model.firm
    return {
        "distributor": d,
        "status": agent.status.name.lower(),
        "markup": float(agent.markup),
        "effort": float(agent.effort),
        "dependence_on_our_line": float(agent.line_share),
        "weekly": _records(own),
        "rounds_pnl": _rounds_pnl(game, own),
        "our_terms": {**_terms(game), "channel_plan": _plan_for_distributors(game)},
        "announcements": _announcements(game, lambda r: r == roles.MANUFACTURER),
        "competitor_offer": {
            "alternative_margin": firm.distributors.alternative_margin,
            "its_margin_at_your_price": float(agent.alternative_margin_rate),
        },
        "products": [p.name for p in firm.products],
    }


def competitor_view(game: Game) -> dict[str, Any]:
    """The competitor line's offer, our demand its line won week by week, the market."""
    series = game.paths["game"].timeseries()
    return {
        "offer": {"alternative_margin": game.model.firm.distributors.alternative_margin},
        "weekly": _records(series[["week", "lost_to_competitor_units"]]),
        "market": market(game),
    }


def _terms(game: Game) -> dict[str, Any]:
    """Our terms to distributors in force: what the distributors are told."""
    firm = game.model.firm
    return {
        "wholesale_price_share_of_list": 1.0 - firm.distributors.margin,
        "distributor_margin": firm.distributors.margin,
        "distributor_referral_fee": firm.policy.distributor_referral_fee,
        "deal_registration": firm.policy.deal_registration,
    }


def _plan_for_distributors(game: Game) -> list[dict[str, Any]]:
    """The plan's moves off distributors, as announced: product, segment, to, when, how much."""
    rows = game.model.firm.policy.channel_plan
    return [
        {
            "product": r.product,
            "segment": r.segment,
            "to": r.to,
            "start_week": r.start_week,
            "ramp_weeks": r.ramp_weeks,
            "share": r.share,
        }
        for r in rows
        if r.from_ == CHANNELS[DISTRIBUTOR]
    ]


def _announcements(game: Game, shown: Any) -> list[dict[str, Any]]:
    """Announcements made in the rounds played by the roles ``shown`` accepts."""
    said = []
    for number, decisions in enumerate(game.played, start=1):
        for role, decision in decisions.items():
            if shown(role) and decision.announcement:
                said.append({"round": number, "role": role, "text": decision.announcement})
    return said


def _rounds_pnl(game: Game, own: pd.DataFrame) -> list[dict[str, Any]]:
    """A distributor's profit per round played: our line and its whole portfolio."""
    out = []
    for number in range(1, game.round + 1):
        first, last = game.weeks_of(number)
        weeks = own[(own["week"] >= first) & (own["week"] <= last)]
        out.append(
            {
                "round": number,
                "line_profit": float(weeks["line_profit"].sum()),
                "total_profit": float(weeks["total_profit"].sum()),
            }
        )
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN as null)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]
