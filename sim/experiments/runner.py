"""Runs as data: one pure function of (scenario, seed, replication), and executors to map it.

A run is identified by its :class:`RunKey`; its random numbers come from
``SeedSequence(seed, spawn_key=(replication,))``, which is what ``SeedSequence(seed).spawn``
would hand replication ``replication``. So a run's outputs do not depend on which worker ran
it, on how many workers there are, or on the other runs (docs/ODD.md, "Stochasticity").
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import numba
import numpy as np

from sim.model.model import ChannelModel
from sim.results.runs import RunKey, RunOutput
from sim.scenario.schema import Scenario


def simulate(scenario: Scenario, key: RunKey) -> RunOutput:
    """Run one replication of ``scenario`` and return its weekly metrics and channel P&L."""
    start = time.perf_counter()
    seed = np.random.SeedSequence(key.seed, spawn_key=(key.replication,))
    model = ChannelModel(scenario, seed)
    initial = model.initial_levels()
    model.run()
    seconds = time.perf_counter() - start
    return RunOutput(key, model.ledger.rows, initial, seconds, pnl=model.books.pnl_table())


Task = tuple[Scenario, RunKey]

SCHEDULER_TIMEOUT_SECONDS = 10.0
"""How long to wait for a Dask scheduler before giving up."""


def attempt(scenario: Scenario, key: RunKey) -> RunOutput:
    """:func:`simulate`, but a failure is returned as a run with ``error`` set, not raised.

    One failing parameter combination must not lose the rest of a sweep (STYLE.md point 6);
    the study records the failure in the manifest and leaves the run to be retried.
    """
    try:
        return simulate(scenario, key)
    except Exception as exc:  # recorded and reported by the study
        return RunOutput(key, {}, error=f"{type(exc).__name__}: {exc}")


def execute(
    tasks: Iterable[Task],
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[RunOutput]:
    """Run ``tasks``, yielding outputs as they finish (in any order).

    All executors share this one interface and run the same pure function, so the outputs do
    not depend on the executor. A run that raises comes back with ``error`` set.

    Parameters
    ----------
    tasks
        (scenario, key) pairs.
    workers
        Local worker processes; 1 runs in this process.
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:port``); overrides ``workers``.

    Raises
    ------
    SchedulerUnreachableError
        If ``scheduler`` is given but cannot be reached.
    """
    tasks = list(tasks)
    if scheduler:
        yield from _on_dask(tasks, scheduler)
    elif workers <= 1 or len(tasks) <= 1:
        for scenario, key in tasks:
            yield attempt(scenario, key)
    else:
        yield from _on_processes(tasks, workers)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Fork workers where the platform can: they start at once with the engine imported.

    Importing mesa forces the "spawn" start method on the whole process (its batch runner sets
    it at import), which would re-import numpy, pandas and mesa in every worker and re-run an
    unguarded ``__main__`` script. Workers only run :func:`attempt` and write nothing to the
    parent's console, so forking is safe here.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _share_the_cores(threads: int) -> None:
    """Give each worker its share of the cores for its compiled loops' threads.

    The workers already use the cores, so a worker's loops get ``cores // workers`` threads
    rather than one per core each (which would put twice as many threads as cores to work on
    a full pool). Results do not depend on the number of threads.
    """
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def _on_processes(tasks: list[Task], workers: int) -> Iterator[RunOutput]:
    """Local processes, a bounded number of runs in flight (quick to stop on Ctrl-C)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_worker_context(),
        initializer=_share_the_cores,
        initargs=(threads,),
    )
    pending = iter(tasks)
    running: set[Future[RunOutput]] = set()
    try:
        while True:
            while len(running) < 2 * workers:
                task = next(pending, None)
                if task is None:
                    break
                running.add(pool.submit(attempt, *task))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        pool.shutdown(wait=not running, cancel_futures=True)


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler named by ``--scheduler`` could not be reached."""


def connect(address: str, *, timeout: float = SCHEDULER_TIMEOUT_SECONDS) -> Any:
    """A Dask ``Client`` for the scheduler at ``address``.

    A plain ``tcp://`` address is probed with one socket connection first, so a wrong host or
    a closed port fails at once instead of after Dask's retries.

    Raises
    ------
    SchedulerUnreachableError
        If the address is malformed or nothing answers there within ``timeout`` seconds.
    """
    from dask.distributed import Client
    from distributed.comm import parse_address, parse_host_port

    def unreachable(reason: object) -> SchedulerUnreachableError:
        return SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {address!r}: {reason}. Start one with "
            "`dask scheduler` (and workers with `dask worker ADDRESS`), or drop --scheduler "
            "to run on local processes."
        )

    try:
        scheme, location = parse_address(address)
        if scheme == "tcp":
            host, port = parse_host_port(location)
            socket.create_connection((host, port), timeout=timeout).close()
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise unreachable(exc) from None


def _on_dask(tasks: list[Task], address: str) -> Iterator[RunOutput]:
    from dask.distributed import as_completed as dask_completed

    with connect(address) as client:
        futures = [client.submit(attempt, s, k, pure=False) for s, k in tasks]
        try:
            for future in dask_completed(futures):
                yield future.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
