"""Shared fixtures: paths, small scenarios, and a helper to write YAML files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.model.model import ChannelModel
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"

SMALL = (
    "market.buyers=2000",
    "market.prospects=400",
    "horizon_weeks=52",
    "replications=2",
    "reps.field.count=4",
    "reps.inside.count=2",
)
"""Overrides that make the baseline quick to run (about a second per replication)."""


def small(path: str | Path = BASELINE, *extra: str) -> Scenario:
    """Load ``path`` with the :data:`SMALL` overrides and any ``extra`` ones."""
    return load_scenario(path, [*SMALL, *extra])


def run_model(scenario: Scenario, seed: int = 1) -> ChannelModel:
    """Build and run a model over its whole horizon."""
    model = ChannelModel(scenario, seed)
    model.run()
    return model


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """The baseline with 2,000 buyers, 52 weeks, 2 replications."""
    return small()


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML text to ``tmp_path / name`` (folders created) and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


MINIMAL = """\
name: tiny
market:
  buyers: 100
  segments:
    - name: smb
      share: 1.0
      spend_annual: 1000
      orders_per_year: 4
      product_mix: {widget: 1.0}
products:
  - {name: widget, list_price: 10, unit_cost: 6}
"""
"""The smallest valid scenario file, for loader tests that need no parent."""


@pytest.fixture
def minimal_yaml() -> str:
    """Text of the smallest valid scenario."""
    return MINIMAL
