"""The war-game with people in the loop (SPEC §8): teams play roles, the model plays the market.

============  ==========================================================================
``roles``     role names, each role's decision (typed, checked like scenario keys) and
              what it does in the engine
``game``      a game: its setup, its decisions, its paths; create, load (replaying the
              decisions), resume, submit, advance
``track``     one path: the model stepped round by round with some decisions put in
``views``     what each role may see
``review``    the after-action review (``review.csv``, ``report.html``)
``files``     the game's folder, written atomically; ``tokens.json``
``server``    the HTTP JSON API and the pages (``channel-sim wargame``)
``bot``       scripted players, for tests and solo users
============  ==========================================================================

The Python API mirrors the server's::

    import sim.wargame as wg
    game = wg.create("scenarios/direct_shift.yaml", "results/game", roles="manufacturer")
    wg.view(game, "distributor:0")["weekly"]
    wg.submit(game, "distributor:0", {"markup": 0.3, "exit": False})
    wg.advance(game)        # plays the round; writes report.html
    game = wg.load("results/game")  # the same game, replayed
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.wargame.game import Game, GameError
from sim.wargame.roles import Decision, DecisionError


def create(
    scenario: str | Path,
    out: str | Path,
    *,
    roles: str | Sequence[str] | None = None,
    round_weeks: int = 13,
    rounds: int | None = None,
    overrides: Sequence[str] = (),
) -> Game:
    """Start a game of ``scenario`` in the folder ``out`` (:meth:`Game.create`)."""
    return Game.create(
        scenario, out, roles_=roles, round_weeks=round_weeks, rounds=rounds, overrides=overrides
    )


def load(out: str | Path) -> Game:
    """The game the folder ``out`` holds, at its last round (:meth:`Game.load`)."""
    return Game.load(out)


def view(game: Game, role: str) -> dict[str, Any]:
    """What ``role`` sees of ``game`` (:func:`sim.wargame.views.view`)."""
    from sim.wargame.views import view as role_view

    return role_view(game, role)


def submit(game: Game, role: str, decision: dict[str, Any] | Decision) -> Decision:
    """``role``'s decision for the coming round (:meth:`Game.submit`); refused: DecisionError."""
    payload = decision.fields_set() if isinstance(decision, Decision) else decision
    return game.submit(role, payload)


def advance(game: Game) -> int:
    """Play the coming round; return the rounds played (:meth:`Game.advance`)."""
    return game.advance()


__all__ = [
    "Decision",
    "DecisionError",
    "Game",
    "GameError",
    "advance",
    "create",
    "load",
    "submit",
    "view",
]
