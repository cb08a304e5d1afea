"""Runs as data: one pure function of (scenario, seed, replication), and executors to map it.

A run is identified by its :class:`RunKey`; its random numbers come from
``SeedSequence(seed, spawn_key=(replication,))``, which is what ``SeedSequence(seed).spawn``
would hand replication ``replication``. So a run's outputs do not depend on which worker ran
it, on how many workers there are, or on the other runs (docs/ODD.md, "Stochasticity").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from sim.model.model import ChannelModel
from sim.scenario.schema import Scenario


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
    """Weekly metrics of one run plus the levels before week 1."""

    key: RunKey
    weekly: dict[str, np.ndarray]
    initial: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def simulate(scenario: Scenario, key: RunKey) -> RunOutput:
    """Run one replication of ``scenario`` and return its weekly metrics."""
    start = time.perf_counter()
    seed = np.random.SeedSequence(key.seed, spawn_key=(key.replication,))
    model = ChannelModel(scenario, seed)
    initial = {
        "active_customers": float(model.initial_customers),
        "channel_inventory_units": model.initial_channel_inventory_units,
    }
    model.run()
    return RunOutput(key, model.ledger.rows, initial, time.perf_counter() - start)


Task = tuple[Scenario, RunKey]


def execute(
    tasks: Iterable[Task],
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[RunOutput]:
    """Run ``tasks``, yielding outputs as they finish (in any order).

    Parameters
    ----------
    tasks
        (scenario, key) pairs.
    workers
        Local worker processes; 1 runs in this process.
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:port``); overrides ``workers``.
    """
    tasks = list(tasks)
    if scheduler:
        yield from _on_dask(tasks, scheduler)
    elif workers <= 1 or len(tasks) <= 1:
        for scenario, key in tasks:
            yield simulate(scenario, key)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(simulate, scenario, key) for scenario, key in tasks]
            for future in as_completed(futures):
                yield future.result()


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler named by ``--scheduler`` could not be reached."""


def _on_dask(tasks: list[Task], address: str) -> Iterator[RunOutput]:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {address!r}: {exc}"
        ) from None
    with client:
        futures = [client.submit(simulate, s, k, pure=False) for s, k in tasks]
        for future in dask_completed(futures):
            yield future.result()
