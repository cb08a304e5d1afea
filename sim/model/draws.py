"""Counter-based random numbers: a uniform is a pure function of where it is used.

The compiled buyer kernels (``sim.model.kernel``) draw ``uniform(key, buyer, week, slot,
draw)``: the Philox4x32-10 block cipher (Salmon et al. 2011, "Parallel random numbers: as easy
as 1, 2, 3", SC11; the ``Random123`` library) applied to the counter ``(buyer, week, slot,
draw)`` under a 64-bit stream key. No generator state is carried from one draw to the next,
so needs can be processed in any order, by any number of threads, and every draw — hence
every result — stays bit-identical. ``slot`` is the product (or another small index the rule
names); ``draw`` tells apart the draws one rule makes for the same need.

numba cannot call numpy's Philox bit generator in nopython mode, so the cipher is written
out here; ``tests/test_kernel.py`` checks it against Random123's known-answer vectors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEVER = np.iinfo(np.int16).max
"""Week index meaning "not scheduled": the largest week an int16 schedule column holds."""

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)  # Weyl key increments: golden ratio, sqrt(3) - 1
_W1 = np.uint64(0xBB67AE85)
_LOW32 = np.uint64(0xFFFFFFFF)
_ROUNDS = 10

KEY_SPAWN_INDEX = 2**32 - 1
"""Spawn index of a stream's counter-based key: a grandchild the model never spawns."""


def stream_key(stream: np.random.SeedSequence) -> np.ndarray:
    """(2,) uint64 Philox key (two 32-bit words) of a model stream's ``SeedSequence``.

    Taken from the stream's grandchild at :data:`KEY_SPAWN_INDEX`, so it shares no state
    with the stream's own numpy generator yet follows the run's one random tree.
    """
    grandchild = np.random.SeedSequence(
        stream.entropy, spawn_key=(*stream.spawn_key, KEY_SPAWN_INDEX)
    )
    return grandchild.generate_state(2, np.uint32).astype(np.uint64)


@njit(cache=True, inline="always")
def _mulhilo(a: np.uint64, b: np.uint64) -> tuple[np.uint64, np.uint64]:
    product = a * b  # < 2**64: both factors are 32-bit
    return product >> np.uint64(32), product & _LOW32


@njit(cache=True, inline="always")
def philox4x32(
    c0: np.uint64,
    c1: np.uint64,
    c2: np.uint64,
    c3: np.uint64,
    k0: np.uint64,
    k1: np.uint64,
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """Philox4x32-10 of the counter ``(c0, c1, c2, c3)`` under key ``(k0, k1)``.

    Every argument and result is a 32-bit word held in a uint64.
    """
    c0, c1, c2, c3 = c0 & _LOW32, c1 & _LOW32, c2 & _LOW32, c3 & _LOW32
    k0, k1 = k0 & _LOW32, k1 & _LOW32
    for _ in range(_ROUNDS):
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + _W0) & _LOW32
        k1 = (k1 + _W1) & _LOW32
    return c0, c1, c2, c3


@njit(cache=True, inline="always")
def uniform(key: np.ndarray, buyer: int, week: int, slot: int, draw: int) -> float:
    """Uniform in [0, 1) with 53 random bits for ``(buyer, week, slot, draw)`` under ``key``.

    Two words of one Philox block, combined as numpy's ``random_double`` does.
    """
    w0, w1, _, _ = philox4x32(
        np.uint64(buyer), np.uint64(week), np.uint64(slot), np.uint64(draw), key[0], key[1]
    )
    return ((w0 >> np.uint64(5)) * 67108864.0 + (w1 >> np.uint64(6))) / 9007199254740992.0


@njit(cache=True, inline="always")
def uniforms4(
    key: np.ndarray, buyer: int, week: int, slot: int, draw: int
) -> tuple[float, float, float, float]:
    """Four uniforms in [0, 1) with 32 random bits each, from one Philox block."""
    w0, w1, w2, w3 = philox4x32(
        np.uint64(buyer), np.uint64(week), np.uint64(slot), np.uint64(draw), key[0], key[1]
    )
    scale = 2.0**-32
    return w0 * scale, w1 * scale, w2 * scale, w3 * scale


# --------------------------------------------------------------------------- from uniforms


@njit(cache=True, inline="always")
def geometric(u: float, p: float) -> int:
    """Weeks (>= 1) to the next event of a weekly Bernoulli(``p``) process; NEVER if p = 0.

    Inverse CDF of the geometric distribution at ``u`` in [0, 1).
    """
    if p <= 0.0:
        return NEVER
    return min(NEVER, int(np.floor(np.log1p(-u) / np.log1p(-p))) + 1)


@njit(cache=True, inline="always")
def poisson(mean: float, u: float) -> int:
    """Poisson(``mean``) by inverting its CDF at ``u`` in [0, 1).

    Sequential search: the weekly means here are around 1 or less.
    """
    k = 0
    probability = np.exp(-mean)
    cumulative = probability
    while u >= cumulative and probability > 0.0:
        k += 1
        probability *= mean / k
        cumulative += probability
    return k


BLOCK = 2048
"""Needs per parallel block. Blocks run on whichever thread is free; every draw is a function
of the need (counter-based), so results do not depend on which thread ran what."""


@njit(cache=True, inline="always")
def blocks(n: int) -> int:
    """Blocks of ``BLOCK`` items covering ``n``."""
    return (n + BLOCK - 1) // BLOCK
