"""Launching the compiled (numba ``parallel=True``) buyer rules on every core, safely.

The rules themselves live with their owners (``sim.model.buyers``); each compiled loop splits
its needs over numba's threads. Their random numbers are counter-based (``sim.model.draws``),
so results are bit-identical whatever the number of threads (``numba.set_num_threads``).

Threading layer: numba's own ``workqueue``. OpenMP (GNU) aborts a process forked after a
parallel launch (the sweep runner forks its workers) and TBB is not on the loader path of a pip
install; ``workqueue`` survives forks but aborts when two Python threads launch at once (the
dashboard serves sessions from threads), so launches take a process-wide lock. Set
``NUMBA_THREADING_LAYER`` to choose another layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numba

_LAUNCH = threading.Lock()
LAYER = "workqueue"


def launch(kernel: Callable[..., Any], *args: Any) -> Any:
    """Run a ``parallel=True`` kernel on ``args``: one launch at a time in this process."""
    with _LAUNCH:
        if numba.config.THREADING_LAYER == "default":  # type: ignore[attr-defined]
            numba.config.THREADING_LAYER = LAYER  # type: ignore[attr-defined]
        return kernel(*args)
