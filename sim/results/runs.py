"""What identifies one run and what it returns: plain values, free of the engine.

The engine fills a :class:`RunOutput`; the results package turns it into rows. Keeping these
records here lets ``sim.results`` and ``sim.report`` work without importing the engine or
mesa, and keeps imports flowing one way: experiments -> results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RunKey:
    """Which run: a variant (``baseline`` when there are none), a replication and a seed."""

    variant: str
    replication: int
    seed: int
    sample: int | None = None

    @property
    def stem(self) -> str:
        """File-name stem unique to this run."""
        sample = "" if self.sample is None else f"s{self.sample:05d}_"
        return f"{sample}{self.variant}_r{self.replication:04d}"


@dataclass
class RunOutput:
    """Weekly metrics of one run, its channel P&L, the levels before week 1 (or its error).

    ``pnl`` holds the run's ``channel_pnl.csv`` rows without the run identifiers.
    """

    key: RunKey
    weekly: dict[str, np.ndarray]
    initial: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    pnl: pd.DataFrame | None = None
