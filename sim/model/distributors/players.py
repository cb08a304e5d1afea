"""Distributors played by people: a seated team's decisions replace the model's rules.

A war-game (:mod:`sim.wargame`) seats a team in a distributor's chair for a round with
:meth:`~sim.model.distributors.network.DistributorNetwork.seat`. Each field of its
:class:`Play` that the team set replaces one rule of the distributor's weekly update
(docs/ODD.md §7.8); a field left ``None`` is played by the model's own rule:

============  ===========================================================================
``markup``    its resale price over our wholesale price, minus 1 (instead of moving toward
              the inverse-elasticity markup, :func:`business.set_markup`)
``effort``    its push of our line, 0-1 (instead of moving toward ``v(k) / a``)
``push``      the products whose lines it pushes to the competitor's line: a need placed
              with it on one of them converts with probability ``retaliation_steer``, on
              the others never (instead of converting where ``keep < convert_below``)
``exit``      True: it drops our line at its next update; False: it stays whatever its P&L
              says (instead of :func:`business.decide`'s exit rule)
============  ===========================================================================

The seats hold NaN (or -1) where the model decides, so an empty seat changes no number: the
game with every seat empty is the run itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.distributors.business import DistributorState, DistributorStatus


@dataclass(frozen=True)
class Play:
    """One distributor's decisions for the weeks it is seated; ``None``: the model's rule.

    Attributes
    ----------
    markup
        Resale price over our wholesale price, minus 1 (0.25: resale at 1.25 x its cost).
    effort
        Its push of our line, 0-1.
    push
        Indices of the products whose lines it pushes to the competitor's line (empty: none).
    exit
        Drop our line (True) or keep it (False).
    """

    markup: float | None = None
    effort: float | None = None
    push: tuple[int, ...] | None = None
    exit: bool | None = None


MODEL = -1
"""In :attr:`Seats.exit`: the model's exit rule decides."""


class Seats:
    """The decisions of the seated distributors, one row each; NaN or -1 where the model decides.

    Parameters
    ----------
    distributors, products
        The network's size.
    """

    def __init__(self, distributors: int, products: int) -> None:
        self.markup = np.full(distributors, np.nan)
        self.effort = np.full(distributors, np.nan)
        self.push = np.full((distributors, products), np.nan)
        """(D, P) 1: push its lines of that product, 0: do not, NaN: the model's rule."""
        self.exit = np.full(distributors, MODEL, dtype=np.int8)

    @property
    def taken(self) -> bool:
        """Some seat holds a decision (else every rule is the model's)."""
        return bool(
            (~np.isnan(self.markup)).any()
            or (~np.isnan(self.effort)).any()
            or (~np.isnan(self.push)).any()
            or (self.exit != MODEL).any()
        )

    def seat(self, distributor: int, play: Play | None) -> None:
        """Put ``play`` in ``distributor``'s chair (``None``: the model plays it again)."""
        play = play or Play()
        d = distributor
        self.markup[d] = np.nan if play.markup is None else play.markup
        self.effort[d] = np.nan if play.effort is None else play.effort
        self.push[d] = np.nan
        if play.push is not None:
            self.push[d] = 0.0
            self.push[d, list(play.push)] = 1.0
        self.exit[d] = MODEL if play.exit is None else int(play.exit)

    def set_markup(self, state: DistributorState, rows: np.ndarray) -> None:
        """Hold the seated markups of ``rows`` (after the model's rule moved the others)."""
        chosen = ~np.isnan(self.markup[rows])
        state.markup[rows[chosen]] = self.markup[rows[chosen]]

    def decide(self, state: DistributorState, rows: np.ndarray, exits: np.ndarray) -> np.ndarray:
        """Apply the seated effort and exit decisions of ``rows``; the rows that exit now.

        ``exits``: those the model's rule would have dropping our line this week.
        """
        chosen = ~np.isnan(self.effort[rows])
        state.effort[rows[chosen]] = self.effort[rows[chosen]]
        pushing = (self.push[rows] == 1.0).any(axis=1)
        quiet = (self.push[rows] == 0.0).all(axis=1)
        status = state.status[rows]
        working = status != DistributorStatus.EXITED
        state.status[rows[pushing & working]] = DistributorStatus.RETALIATING
        state.status[rows[quiet & working & (status == DistributorStatus.RETALIATING)]] = (
            DistributorStatus.ACTIVE
        )
        leave = rows[self.exit[rows] == 1]
        kept = np.intersect1d(rows[self.exit[rows] == 0], exits)
        # The model's rule had marked these exited; the team keeps the line.
        state.status[kept] = np.where(
            (self.push[kept] == 1.0).any(axis=1),
            DistributorStatus.RETALIATING,
            DistributorStatus.ACTIVE,
        )
        state.status[leave] = DistributorStatus.EXITED
        return np.union1d(np.setdiff1d(exits, kept), leave).astype(np.int64)

    def pushes(self, distributor: np.ndarray, product: np.ndarray, model: np.ndarray) -> np.ndarray:
        """Whether each need's distributor pushes its line to the competitor's (1) or not (0).

        ``model``: the model's rule, 1 where converting the line pays the distributor; a
        seated push list replaces it (the push then succeeds with ``retaliation_steer``, as the
        model's does).
        """
        seated = self.push[distributor, product]
        chosen = ~np.isnan(seated)
        if not chosen.any():
            return model
        pushed = model.astype(float)
        pushed[chosen] = seated[chosen]
        return pushed
