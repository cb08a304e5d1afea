"""channel-sim: an agent-based channel-conflict simulation engine.

The Python API mirrors the command line::

    import sim
    results = sim.run("scenarios/direct_shift.yaml", replications=5)
    results.timeseries  # one row per replication x week
    results.summary     # one row per replication
    sim.sweep("scenarios/direct_shift.yaml", replications=1)  # .sensitivity
    sim.load_results("results/direct_shift")
    sim.wargame.create("scenarios/direct_shift.yaml", "results/game")  # docs/wargame.md

Names are imported on first use, so ``import sim`` (and ``channel-sim --help``) stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChannelModel": "sim.model.model",
    "Results": "sim.results.store",
    "ScenarioError": "sim.scenario.loader",
    "compare": "sim.experiments.study",
    "load_results": "sim.results.store",
    "load_scenario": "sim.scenario.loader",
    "load_study": "sim.scenario.loader",
    "run": "sim.experiments.study",
    "sweep": "sim.experiments.sweep",
}

_SUBPACKAGES = ("wargame",)
"""Packages offered as ``sim.<name>`` on first use (``sim.wargame.create(...)``)."""

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"sim.{name}")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBPACKAGES])
