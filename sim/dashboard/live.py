"""The dashboard's engine, free of any UI: scenario + levers -> a model stepped live.

A workshop moves a handful of policy levers; :func:`workshop_scenario` turns a scenario file
(a :class:`~sim.scenario.schema.Study`), one of its variants and the levers into a validated
:class:`~sim.scenario.schema.Scenario`,
scaled down so that it runs live (fewer buyer accounts, with reps and prospects scaled in
proportion so coverage per account stays as in the file). :class:`LiveRun` steps a
:class:`~sim.model.ChannelModel` a few weeks at a time and exposes the weeks done so far.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics import WEEKLY, Kind, summarise_run
from sim.model.model import ChannelModel
from sim.scenario.frozen import FrozenMap
from sim.scenario.levers import LEVERS
from sim.scenario.loader import load_study, variant_of
from sim.scenario.schema import Scenario, Study

SCENARIOS_ENV = "CHANNEL_SIM_SCENARIOS"
"""Environment variable naming the folder of scenario files (set by ``channel-sim dashboard``)."""

RECOMMENDATION_ENV = "CHANNEL_SIM_RECOMMENDATION"
"""Environment variable naming a ``recommendation.yaml`` offered beside the scenario files."""

BASE = "baseline"
"""Name of the unchanged scenario among the variants offered."""


@dataclass(frozen=True)
class Levers:
    """The values of the workshop levers (:data:`sim.scenario.levers.LEVERS`), by lever name.

    A lever on every entry of a list (the channel plan's share and ramp, the promotions'
    basis) reads the first entry, ``None`` where the scenario has none; once moved from that
    value it applies to every entry (unmoved, each entry keeps its own, so a per-entry plan
    such as an optimiser's recommendation survives).
    """

    values: FrozenMap[str, Any] = field(
        default_factory=lambda: FrozenMap(
            (lever.name, None if lever.per_entry else lever.default) for lever in LEVERS
        )
    )

    @classmethod
    def of(cls, scenario: Scenario) -> Levers:
        """The levers as the scenario sets them."""
        tree = scenario.model_dump(by_alias=True)
        return cls(FrozenMap((lever.name, lever.value_in(tree)) for lever in LEVERS))

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def changes(self, scenario: Scenario) -> dict[str, Any]:
        """``key.path: value`` overrides that set these levers on ``scenario``."""
        tree = scenario.model_dump(by_alias=True)
        out: dict[str, Any] = {}
        for lever in LEVERS:
            value = self[lever.name]
            moved = value is not None and value != lever.value_in(tree)
            if not lever.per_entry or moved:
                out.update(dict.fromkeys(lever.key_paths(tree), value))
        return out

    def with_(self, **changes: Any) -> Levers:
        """A copy with some levers changed."""
        unknown = set(changes) - set(self.values)
        if unknown:
            raise KeyError(f"not a workshop lever: {sorted(unknown)}")
        return Levers(FrozenMap({**self.values, **changes}))


def scenario_folder() -> Path:
    """Where scenario files are: ``$CHANNEL_SIM_SCENARIOS``, else ``./scenarios``."""
    return Path(os.environ.get(SCENARIOS_ENV, "scenarios"))


def scenario_files(folder: str | Path | None = None) -> list[Path]:
    """Scenario files offered: a recommendation first, then the folder's ``*.yaml`` by name.

    The recommendation is the file ``$CHANNEL_SIM_RECOMMENDATION`` names, if set.
    A recommendation written by ``channel-sim optimize`` holds the plan as written and the
    variant ``recommended``, so it opens with A = as written and B = the recommendation.
    """
    extra = os.environ.get(RECOMMENDATION_ENV)
    own = sorted(Path(folder or scenario_folder()).glob("*.yaml"))
    return [Path(extra), *own] if extra else own


def scenario_path(name: str) -> Path:
    """The offered file called ``name`` (the recommendation's full path, or one in the folder)."""
    for path in scenario_files():
        if str(path) == name or path.name == name:
            return path
    return scenario_folder() / name


def variants_of(study: Study) -> list[str]:
    """Variant names of a study: ``baseline`` (the scenario unchanged) first, then its variants."""
    return [BASE, *[v for v in study.variants if v != BASE]]


def variant_scenario(study: Study, variant: str) -> Scenario:
    """The scenario with one variant's changes applied (``baseline``: unchanged)."""
    changes: Mapping[str, Any] = study.variants.get(variant, {})
    if variant == BASE and not changes:
        return study.scenario
    return variant_of(study.scenario, variant, changes)


def latest_start_week(study: Study) -> int:
    """The latest week a campaign, channel-plan row or trade promotion starts, over variants.

    0 if there is none. A horizon must reach it: a row starting after the horizon is refused
    (:class:`~sim.scenario.schema.OutOfHorizonError`), so the weeks slider starts there.
    """
    weeks = [0]
    for name in variants_of(study):
        weeks += variant_scenario(study, name).start_weeks().values()
    return max(weeks)


def shortest_horizon(start_week: int, *, step: int) -> int:
    """The shortest horizon in whole ``step`` weeks, at least one step, that reaches a week."""
    return max(1, math.ceil(start_week / step)) * step


def workshop_scenario(
    study: Study,
    variant: str,
    levers: Levers,
    *,
    sample_share: float = 0.1,
    horizon_weeks: int = 104,
) -> Scenario:
    """One side of the dashboard: a variant of the study's scenario with the levers.

    The firm is the file's; a run simulates ``sample_share`` of its accounts
    (``market.sample_share``, :mod:`sim.model.sample`), so it is fast enough to watch live and
    its numbers are still the whole firm's.
    """
    changes: dict[str, Any] = {
        **study.variants.get(variant, {}),
        "market.sample_share": float(sample_share),
        "horizon_weeks": int(horizon_weeks),
        **levers.changes(variant_scenario(study, variant)),
    }
    return variant_of(study.scenario, variant, changes)


def load(path: str | Path) -> Study:
    """Load a scenario file with its variants (raises ``ScenarioError``, a readable message)."""
    return load_study(path)


class LiveRun:
    """A model stepped a few weeks at a time, its weekly metrics readable at any point.

    The model lives in a worker process of its own (forked from a clean fork server with the
    engine imported), so the sessions the dashboard serves at once, each from its own thread,
    run on every core instead of taking turns on one. Call :meth:`close` to stop the worker
    early; it also stops at the horizon and with the dashboard.

    Parameters
    ----------
    scenario
        A validated (small) scenario.
    seed
        Root seed; both sides of an A/B comparison use the same one (common random numbers).
    """

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        context = _worker_context()
        self._pipe, end = context.Pipe()
        self._worker = context.Process(target=_serve, args=(end, scenario, seed), daemon=True)
        self._worker.start()
        end.close()
        self._pending = False
        self._week, self._frame = self._receive()

    @property
    def week(self) -> int:
        """Weeks simulated so far."""
        return self._week

    @property
    def done(self) -> bool:
        """Whether the horizon is reached."""
        return self._week >= self.scenario.horizon_weeks

    def advance(self, weeks: int) -> None:
        """Step up to ``weeks`` more weeks (not past the horizon)."""
        self.request(weeks)
        self.collect()

    def request(self, weeks: int) -> None:
        """Ask the worker for up to ``weeks`` more weeks and return at once (see :meth:`collect`).

        Both sides of a comparison requested before either is collected run at the same time.
        """
        weeks = max(0, min(weeks, self.scenario.horizon_weeks - self._week))
        if weeks and not self._pending:
            self._pipe.send(weeks)
            self._pending = True

    def collect(self) -> None:
        """Wait for the weeks requested, if any."""
        if self._pending:
            self._week, self._frame = self._receive()
            self._pending = False
        if self.done:
            self.close()

    def frame(self) -> pd.DataFrame:
        """Weekly metrics of the weeks done so far (``week`` 1..n and every metric)."""
        return self._frame.copy()

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        if self._worker.is_alive():
            self._pipe.send(None)
            self._worker.join(timeout=5)
            if self._worker.is_alive():
                self._worker.terminate()
        self._pipe.close()

    def _receive(self) -> tuple[int, pd.DataFrame]:
        reply = self._pipe.recv()
        if isinstance(reply, BaseException):
            raise reply
        return reply


def _worker_context() -> (
    multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext
):
    """A fork server with the engine preloaded where the platform has one, else spawn.

    Forking the dashboard itself would copy its server threads' state; the fork server is a
    clean, single-threaded process started once.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.model.model", "sim.metrics"])
    return context


def _serve(pipe: Connection, scenario: Scenario, seed: int) -> None:
    """Worker: build the model, then step it as asked, answering with the weeks done so far."""
    try:
        model = ChannelModel(scenario, seed)
        pipe.send((model.week, _frame(model)))
        while (weeks := pipe.recv()) is not None:
            for _ in range(weeks):
                model.step()
            pipe.send((model.week, _frame(model)))
    except (EOFError, KeyboardInterrupt):  # the dashboard went away
        return
    except Exception as exc:  # the dashboard shows it; the worker ends
        pipe.send(exc)


def _frame(model: ChannelModel) -> pd.DataFrame:
    n = model.week
    rows: Mapping[str, np.ndarray] = model.ledger.rows
    frame = pd.DataFrame({m.name: rows[m.name][:n] for m in WEEKLY})
    frame.insert(0, "week", np.arange(1, n + 1))
    return frame


def headline(frame: pd.DataFrame, discount_rate_annual: float = 0.08) -> dict[str, float]:
    """Numbers so far: levels at the latest week, summary metrics of the weeks done.

    Both as :mod:`sim.metrics` declares them (money and incidents are summed so far).
    """
    if frame.empty:
        return {}
    last = frame.iloc[-1]
    levels = {m.name: float(last[m.name]) for m in WEEKLY if m.kind is Kind.LEVEL}
    return {**levels, **summarise_run(frame, discount_rate_annual)}
