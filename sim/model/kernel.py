"""Compiled loops over the week's needs or buyers, run on every core when the week is big.

The buyer rules live with their owners (``sim.model.buyers``, ``sim.model.conflicts``); each
loop over needs or buyers is declared with :func:`kernel` and written with ``numba.prange``.
Their random numbers are counter-based (``sim.model.draws``), so results are bit-identical
whatever the number of threads (``NUMBA_NUM_THREADS``) and whichever of the two compilations
runs.

Two compilations of one source: a parallel launch costs ~60-90 µs (waking the threads), more
than a small week's whole loop, so loops over fewer than :data:`PARALLEL_FROM` items run the
serial compilation (``prange`` is ``range`` there).

Threading layer: numba's own ``workqueue``. OpenMP (GNU) aborts a process forked after a
parallel launch (the sweep runner forks its workers) and TBB is not on the loader path of a pip
install; ``workqueue`` survives forks but aborts when two Python threads launch at once, so
parallel launches take a process-wide lock. Set ``NUMBA_THREADING_LAYER`` to choose another.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

import numba

PARALLEL_FROM = 10_000
"""Items (needs or buyers) from which a loop runs on numba's threads."""
RECORDS_PARALLEL_FROM = 300
"""The same for loops that read records of arrays (``ChoiceColumns``, ``BookColumns``, ...):
their serial compilation reads the records' arrays ~10x slower per item than the parallel
one, which passes each array on its own (measured: the choice loop 650 vs 60 ns a need), so
the parallel launch (~90 us) pays from a few hundred items."""
LAYER = "workqueue"

_LAUNCH = threading.Lock()


class Kernel:
    """A loop compiled twice from one source: serial for small sizes, parallel for big ones.

    Call it as ``kernel(size, *args)`` with ``size`` the number of items the loop visits.
    """

    def __init__(self, function: Callable[..., None], *, records: bool = False) -> None:
        self.parallel = numba.njit(cache=True, parallel=True)(function)
        self.serial = numba.njit(cache=True)(_renamed(function, f"{function.__qualname__}_serial"))
        self.records = records
        self.__doc__ = function.__doc__

    def __call__(self, size: int, *args: Any) -> None:
        """Run the loop over ``size`` items."""
        threshold = min(PARALLEL_FROM, RECORDS_PARALLEL_FROM) if self.records else PARALLEL_FROM
        if size < threshold:
            self.serial(*args)
            return
        with _LAUNCH:
            if numba.config.THREADING_LAYER == "default":  # type: ignore[attr-defined]
                numba.config.THREADING_LAYER = LAYER  # type: ignore[attr-defined]
            self.parallel(*args)


def kernel(function: Callable[..., None]) -> Kernel:
    """Declare a compiled loop (``prange`` over needs or buyers) as a :class:`Kernel`."""
    return Kernel(function)


def records_kernel(function: Callable[..., None]) -> Kernel:
    """:func:`kernel` for a loop that reads records of arrays (:data:`RECORDS_PARALLEL_FROM`)."""
    return Kernel(function, records=True)


def _renamed(function: Callable[..., None], qualname: str) -> Callable[..., None]:
    """A copy of ``function`` under another qualified name (its own numba cache file)."""
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__qualname__ = qualname
    copy.__module__ = function.__module__
    return copy
