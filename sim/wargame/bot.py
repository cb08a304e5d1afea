"""Scripted players: for tests, and for a solo user who wants the other seats taken.

A bot reads its role's view (what a team would see, :mod:`sim.wargame.views`) and returns a
decision (a dict of fields; ``{}`` leaves everything to the model). :func:`play` runs bots
in-process; :class:`Client` is the same over the HTTP API, so a bot can take a seat in a game
people play in the browser::

    from sim.wargame import bot
    seat = bot.Client("http://127.0.0.1:8766", token)     # distributor:1's token
    seat.submit(bot.Retaliator().decide(seat.state()))
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sim.wargame.game import Game


class Bot(Protocol):
    """A player: a decision from a view."""

    def decide(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """The decision for the coming round (JSON fields; ``{}``: the model's rules)."""
        ...


class ModelBot:
    """Leaves every decision to the model."""

    def decide(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """``{}``: the model decides."""
        return {}


@dataclass(frozen=True)
class HoldPrice:
    """A distributor that keeps one markup and full effort, whatever happens."""

    markup: float = 0.25

    def decide(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """Its markup and full effort; nothing once it has dropped our line."""
        if view.get("status") == "exited":
            return {}
        return {"markup": self.markup, "effort": 1.0, "exit": False}


@dataclass(frozen=True)
class Retaliator:
    """A distributor that answers the plan's moves off it.

    It pushes the moved products to the competitor's line and cuts its effort; it drops our
    line once its profit on it is gone.
    """

    effort: float = 0.3

    def decide(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """Push the moved products; exit after a round in which our line lost it money."""
        if view.get("status") == "exited":
            return {}
        moved = sorted({row["product"] for row in view["our_terms"]["channel_plan"]})
        if not moved:
            return {}
        rounds = view.get("rounds_pnl") or []
        losing = bool(rounds) and rounds[-1]["line_profit"] < 0
        return {
            "push_to_competitor": moved,
            "effort": self.effort,
            "exit": True if losing else None,
            "announcement": f"we push {', '.join(moved)} to the competitor's line",
        }


@dataclass(frozen=True)
class Manufacturer:
    """Our firm, paying a referral fee on the lines it moves and registering deals."""

    referral_fee: float = 0.05

    def decide(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """The fee and deal registration."""
        return {"distributor_referral_fee": self.referral_fee, "deal_registration": True}


def play(game: Game, bots: Mapping[str, Bot], *, rounds: int | None = None) -> int:
    """Let ``bots`` (by role) decide and advance ``rounds`` rounds (default: to the end).

    Roles without a bot are left to whoever else submits (or to the model). Returns the
    rounds played.
    """
    from sim.wargame.views import view

    left = game.setup.rounds - game.round if rounds is None else rounds
    for _ in range(left):
        for role, player in bots.items():
            game.submit(role, player.decide(view(game, role)))
        game.advance()
    return game.round


@dataclass(frozen=True)
class Client:
    """One seat of a served game, over its HTTP API (``Authorization: Bearer TOKEN``)."""

    url: str
    token: str

    def state(self) -> dict[str, Any]:
        """``GET /api/state``: the seat's view."""
        return self._call("/api/state")

    def submit(self, decision: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/decision``; a refusal raises ``ValueError`` with the server's message."""
        return self._call("/api/decision", dict(decision))

    def advance(self) -> dict[str, Any]:
        """``POST /api/advance`` (a facilitator's token)."""
        return self._call("/api/advance", {})

    def _call(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            message = json.loads(error.read()).get("error", error.reason)
            raise ValueError(f"{error.code}: {message}") from None
