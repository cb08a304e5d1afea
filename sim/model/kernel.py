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

import multiprocessing
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numba
from numba.core import event as numba_event

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


@contextmanager
def before_compiling(say: Callable[[], None]) -> Iterator[None]:
    """Within this block, call ``say`` once, just before numba first compiles an engine function.

    The engine's functions are compiled with ``cache=True``: numba compiles one only when its
    cache lacks it for this source, numba version and machine (the first run after an install
    or an upgrade, and the parallel loops on the first run big enough for them), and loads it
    otherwise. Its ``numba:compile`` event fires on a real compilation only, so ``say`` is not
    called on later runs. Worker processes forked within the block share the "said" flag: a
    study compiling in two workers at once says it once.
    """
    listener = _FirstCompile(say)
    numba_event.register("numba:compile", listener)
    try:
        yield
    finally:
        numba_event.unregister("numba:compile", listener)


class _FirstCompile(numba_event.Listener):
    """Call ``say`` at the start of the first compilation of a function of this package."""

    def __init__(self, say: Callable[[], None]) -> None:
        self._say = say
        self._said = multiprocessing.Value("b", False)  # shared with forked workers

    def on_start(self, event: numba_event.Event) -> None:
        if event.data["dispatcher"].py_func.__module__.split(".")[0] != __package__.split(".")[0]:
            return
        with self._said.get_lock():
            if self._said.value:
                return
            self._said.value = True
        self._say()

    def on_end(self, event: numba_event.Event) -> None:
        """Nothing: the message precedes the compilation."""
