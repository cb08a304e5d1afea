"""The channel catalogue: every sales channel declared once, read by every module.

The scenario schema's channel names, the per-channel arrays of the engine (their order is
the catalogue's), the revenue flows of the ledger, the figures' colours and labels and the
sets of direct and assisted channels all come from :data:`CATALOGUE`. Adding a channel is
one entry here plus its scenario block (``channels.<name>``) and the rules that treat it
specially (SPEC §3).

This module imports nothing, so every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ChannelName = Literal["field", "inside", "distributor", "ecommerce"]
"""The channel names as a type, for the scenario schema (``tests/test_channels.py`` checks
that it lists :data:`CATALOGUE`'s names in order)."""


@dataclass(frozen=True)
class Channel:
    """One sales channel.

    Attributes
    ----------
    name
        Fixed name (SPEC §4): scenario keys, output columns (``revenue_<name>``).
    label
        Name for people: tables, figures, the dashboard.
    assisted
        A person serves the buyer (a rep, a distributor's counter): the buyer's effort weighs
        on the channel and conflicts between assisted channels cost both sides time.
    partner
        Sold through a third party that buys from us (sell-in) and resells (sell-through);
        the others are our direct channels.
    colour
        Its fixed colour in every figure (Okabe & Ito 2008 palette, colour-blind safe).
    """

    name: ChannelName
    label: str
    assisted: bool
    partner: bool
    colour: str


CATALOGUE: tuple[Channel, ...] = (
    Channel("field", "Field sales", assisted=True, partner=False, colour="#0072B2"),
    Channel("inside", "Inside sales", assisted=True, partner=False, colour="#E69F00"),
    Channel("distributor", "Distributors (sell-in)", assisted=True, partner=True, colour="#D55E00"),
    Channel("ecommerce", "E-commerce", assisted=False, partner=False, colour="#009E73"),
)
"""The channels, in the fixed order of every per-channel array."""

CHANNELS: tuple[ChannelName, ...] = tuple(c.name for c in CATALOGUE)
"""Channel names, in catalogue order."""

FIELD, INSIDE, DISTRIBUTOR, ECOMMERCE = range(len(CATALOGUE))
"""Index of each channel in per-channel arrays."""

COMPETITOR = len(CATALOGUE)
"""Index of the outside option (a competitor's line) in the choice arrays, after ours."""

ASSISTED = np.array([c.assisted for c in CATALOGUE])
"""(C,) bool: channels where a person serves the buyer."""

DIRECT: tuple[str, ...] = tuple(c.name for c in CATALOGUE if not c.partner)
"""Names of our direct channels (no reseller between us and the buyer)."""

REP_CHANNELS: tuple[str, ...] = ("field", "inside")
"""Channels staffed by our own reps (``reps.<name>``), in the order reps are created."""

LABELS: dict[str, str] = {c.name: c.label for c in CATALOGUE}
COLOURS: dict[str, str] = {c.name: c.colour for c in CATALOGUE}
