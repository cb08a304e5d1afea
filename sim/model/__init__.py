"""The channel-conflict model: population, agents, policy, ledger and the weekly loop.

``sim.model.ChannelModel`` is imported on first use, so importing a submodule (the ledger,
the population) does not load the whole engine.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ChannelModel"]


def __getattr__(name: str) -> Any:
    if name == "ChannelModel":
        return importlib.import_module("sim.model.model").ChannelModel
    raise AttributeError(f"module 'sim.model' has no attribute {name!r}")
