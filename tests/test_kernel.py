"""The compiled buyer kernel and its counter-based random numbers (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from scipy import stats

from sim.model.buyers import logit_draw
from sim.model.draws import philox4x32, stream_key, uniform, uniforms4

N_DRAWS = 400_000
ALPHA = 0.001


@njit(cache=True)
def _uniforms(key, n, week, slot, draw, stride):
    """``uniform`` at buyers 0, stride, 2 stride, ... (n of them)."""
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(key, i * stride, week, slot, draw)
    return out


@njit(cache=True)
def _uniforms4(key, n, week):
    out = np.empty((n, 4))
    for i in range(n):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = uniforms4(key, i, week, 0, 0)
    return out


def _keys(count: int) -> list[np.ndarray]:
    return [stream_key(s) for s in np.random.SeedSequence(2026).spawn(count)]


@pytest.mark.parametrize(
    ("counter", "key", "expected"),
    [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((2**32 - 1,) * 4, (2**32 - 1,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox_matches_random123_known_answers(counter, key, expected):
    """Random123's ``kat_vectors`` for philox4x32 with 10 rounds."""
    assert tuple(int(w) for w in philox4x32(*counter, *key)) == expected


def _chi_square_power(n: int, bins: int, relative_deviation: float) -> float:
    """Power of the equal-bins chi-square test at ``ALPHA`` against bin probabilities
    alternating ``(1 ± relative_deviation) / bins`` (noncentral chi-square)."""
    noncentrality = n * relative_deviation**2
    critical = stats.chi2.ppf(1 - ALPHA, bins - 1)
    return float(stats.ncx2.sf(critical, bins - 1, noncentrality))


def test_uniform_is_uniform():
    """KS and 100-bin chi-square at alpha = 0.001 on 400,000 draws.

    Power: the chi-square test detects bins alternating 1 ± 1.5% of their share with
    probability >= 0.9 (asserted below, from the noncentral chi-square); the KS test detects a
    CDF error of 0.0038 (its critical value is 1.95 / sqrt(n) = 0.0031) with probability ~0.8
    (the statistic's spread there is ~0.5 / sqrt(n)).
    """
    assert _chi_square_power(N_DRAWS, 100, 0.015) >= 0.9
    key = _keys(1)[0]
    for week, slot, draw, stride in ((1, 0, 0, 1), (260, 3, 1, 7), (17, 5, 2, 1)):
        u = _uniforms(key, N_DRAWS, week, slot, draw, stride)
        assert u.min() >= 0.0 and u.max() < 1.0
        assert stats.kstest(u, "uniform").pvalue > ALPHA
        counts = np.bincount((u * 100).astype(int), minlength=100)
        assert stats.chisquare(counts).pvalue > ALPHA


def test_four_uniforms_of_a_block_are_uniform_and_uncorrelated():
    """Each of the four 32-bit uniforms passes KS at alpha = 0.001, and their pairwise
    correlations stay within 4.4 / sqrt(n) (|z| > 4.4 has probability 1e-5 under
    independence; a correlation of 0.01 gives z = 6.3, detected with probability > 0.95)."""
    u = _uniforms4(_keys(1)[0], N_DRAWS, 3)
    for j in range(4):
        assert stats.kstest(u[:, j], "uniform").pvalue > ALPHA
    r = np.corrcoef(u.T)[np.triu_indices(4, 1)]
    assert np.all(np.abs(r) < 4.4 / np.sqrt(N_DRAWS))


def test_streams_and_neighbouring_counters_are_independent():
    """Draws at the same counter under different keys, and at neighbouring buyers, weeks and
    draw indices under one key: correlation within 4.4 / sqrt(n) (power as above) and a
    10 x 10 chi-square of the pairs at alpha = 0.001 (power >= 0.9 against cells alternating
    ±1.5%; asserted)."""
    assert _chi_square_power(N_DRAWS, 100, 0.015) >= 0.9
    a, b = _keys(2)
    base = _uniforms(a, N_DRAWS, 5, 1, 0, 1)
    others = {
        "another key": _uniforms(b, N_DRAWS, 5, 1, 0, 1),
        "next week": _uniforms(a, N_DRAWS, 6, 1, 0, 1),
        "next slot": _uniforms(a, N_DRAWS, 5, 2, 0, 1),
        "next draw": _uniforms(a, N_DRAWS, 5, 1, 1, 1),
        "next buyer": np.roll(base, -1),
    }
    for name, other in others.items():
        r = np.corrcoef(base, other)[0, 1]
        assert abs(r) < 4.4 / np.sqrt(N_DRAWS), name
        cells = (base * 10).astype(int) * 10 + (other * 10).astype(int)
        assert stats.chisquare(np.bincount(cells, minlength=100)).pvalue > ALPHA, name


def test_stream_keys_follow_the_seed_tree():
    """One seed gives the same keys; spawned streams and seeds give different ones."""
    first = _keys(3)
    assert all(np.array_equal(x, y) for x, y in zip(first, _keys(3), strict=True))
    assert len({tuple(k) for k in first}) == 3
    other = stream_key(np.random.SeedSequence(2027).spawn(1)[0])
    assert not np.array_equal(other, first[0])


# ------------------------------------------------------------------ the logit draw


@njit(cache=True)
def _draw_rows(utility, open_channels, uniforms):
    weights = np.empty(utility.shape[1])
    choice = np.empty(len(utility), dtype=np.int64)
    for i in range(len(utility)):
        choice[i] = logit_draw(utility[i], open_channels[i], uniforms[i], weights)
    return choice


def _choose_channels_plain(utility, open_channels, uniform):
    """Inverse CDF by a row-wise cumsum in numpy (the engine's pre-kernel sampler)."""
    shifted = np.where(open_channels, utility, -np.inf)
    top = shifted.max(axis=1, keepdims=True)
    weights = np.exp(shifted - np.where(np.isfinite(top), top, 0.0))
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    choice = (cumulative < (uniform * total)[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(choice, utility.shape[1] - 1), -1)


@pytest.mark.parametrize("n", [1, 7, 5_000])
def test_logit_draw_matches_a_row_wise_cumsum(n):
    """Same choices as numpy's cumsum sampler (they could differ only where a uniform falls
    within an ulp of a boundary: probability ~1e-12 here)."""
    rng = np.random.default_rng(n)
    utility = rng.normal(scale=3.0, size=(n, 5))
    open_channels = rng.random((n, 5)) < 0.6
    open_channels[:, 4] |= n == 1
    if n > 3:
        open_channels[:2] = False  # nothing open: -1
        open_channels[2] = [False, False, False, False, True]
    uniform = rng.random(n)
    got = _draw_rows(utility, open_channels, uniform)
    assert np.array_equal(got, _choose_channels_plain(utility, open_channels, uniform))


# ------------------------------------------------------------------ threads

_RUN_AND_HASH = """
import hashlib, sys
import numpy as np
from sim.model.model import ChannelModel
from sim.scenario.loader import load_scenario

scenario = load_scenario(sys.argv[1], sys.argv[2:])
model = ChannelModel(scenario, 7)
model.run()
digest = hashlib.sha256()
for name, column in sorted(vars(model.population).items()):
    digest.update(name.encode() + np.ascontiguousarray(column).tobytes())
for name in sorted(model.ledger.rows):
    digest.update(name.encode() + np.asarray(model.ledger.rows[name]).tobytes())
print(digest.hexdigest())
"""


def _digest(threads: int, *overrides: str) -> str:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "PYTHONPATH": str(root)}
    scenario = root / "scenarios" / "orchestration.yaml"
    out = subprocess.run(
        [sys.executable, "-c", _RUN_AND_HASH, str(scenario), *overrides],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_results_are_bit_identical_whatever_the_number_of_threads():
    """Every population column and every weekly ledger row, hashed, after 10,000 buyers x 12
    weeks (several 2,048-need blocks a week) with distributors, orchestration (resolution
    draws) and channel-specific pay (web-order pulls): 1, 2 and 3 threads agree bit for bit."""
    overrides = ("market.buyers=10000", "horizon_weeks=12", "policy.coordination=orchestrated")
    digests = {threads: _digest(threads, *overrides) for threads in (1, 2, 3)}
    assert len(set(digests.values())) == 1, digests
