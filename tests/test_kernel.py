"""The compiled buyer kernel and its counter-based random numbers (issue 15)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from scipy import stats

from sim.channels import ECOMMERCE
from sim.metrics import CONFLICT_TYPES
from sim.model.buyers import (
    ORDER_LIFT,
    PRICE_TOLERANCE,
    SATISFACTION_UPDATE,
    live_with_experience,
    orders_in_week,
    remember_orders,
)
from sim.model.choice import channel_prices, logit_draw
from sim.model.conflicts import find_conflicts
from sim.model.draws import geometric, philox4x32, stream_key, uniform, uniforms4
from sim.model.kernel import PARALLEL_FROM
from sim.model.model import ChannelModel
from sim.model.population import NEVER
from sim.model.reps import Rep
from sim.model.shopping import shop
from sim.model.week import Needs
from sim.scenario.loader import load_scenario

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
from sim.model import kernel
from sim.model.model import ChannelModel
from sim.scenario.loader import load_scenario

kernel.PARALLEL_FROM = int(sys.argv[1])
scenario = load_scenario(sys.argv[2], sys.argv[3:])
model = ChannelModel(scenario, 7)
model.run()
digest = hashlib.sha256()
for name, column in sorted(vars(model.population).items()):
    digest.update(name.encode() + np.ascontiguousarray(column).tobytes())
for name in sorted(model.ledger.rows):
    digest.update(name.encode() + np.asarray(model.ledger.rows[name]).tobytes())
print(digest.hexdigest())
"""


def _digest(threads: int, parallel_from: int, *overrides: str) -> str:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "PYTHONPATH": str(root)}
    scenario = root / "scenarios" / "orchestration.yaml"
    out = subprocess.run(
        [sys.executable, "-c", _RUN_AND_HASH, str(parallel_from), str(scenario), *overrides],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_results_are_bit_identical_whatever_the_number_of_threads():
    """Every population column and every weekly ledger row, hashed, after 10,000 buyers x 12
    weeks (several 2,048-need blocks a week) with distributors, orchestration (resolution
    draws) and channel-specific pay (web-order pulls): every loop parallel on 1, 2 and 3
    threads, and small loops serial (the default threshold), agree bit for bit."""
    overrides = (
        "market.buyers=10000",
        "horizon_weeks=12",
        "policy.coordination=orchestrated",
        "policy.orchestration_coverage=0.5",
    )
    digests = {
        (threads, parallel_from): _digest(threads, parallel_from, *overrides)
        for threads, parallel_from in ((1, 0), (2, 0), (3, 0), (2, PARALLEL_FROM))
    }
    assert len(set(digests.values())) == 1, digests


# ------------------------------------------------------------------ conflicts and experience


def _model(*overrides: str) -> ChannelModel:
    scenario = load_scenario(
        Path(__file__).resolve().parents[1] / "scenarios" / "orchestration.yaml",
        ["market.buyers=5000", *overrides],
    )
    return ChannelModel(scenario, 11)


def _plain_incidents(model: ChannelModel, needs: Needs) -> np.ndarray:
    """Unresolved incidents of each need by ODD §7.5 with nothing resolved (siloed), written
    out need by need from the channel prices of a second call (not the compiled loop)."""
    pop, rules = model.population, model.rules
    assisted = (True, True, True, False)
    count = np.zeros(len(needs.buyer))
    for i, (b, p, c) in enumerate(zip(needs.buyer, needs.product, needs.channel, strict=True)):
        prices = channel_prices(
            pop, rules, np.array([b]), p, model.week, model.sell_through_discount,
            model.resale_price,
        )[0]  # fmt: skip
        touched = [k for k in range(4) if needs.touched[i, k]]
        count[i] += assisted[c] and any(assisted[k] for k in touched)
        count[i] += any(prices[k] < needs.price[i] - PRICE_TOLERANCE for k in touched)
        count[i] += assisted[c] and bool(touched)
        has_rep = pop.field_rep[b] >= 0 or pop.inside_rep[b] >= 0
        count[i] += c == ECOMMERCE and has_rep  # rep_compensation: channel_specific
        count[i] += needs.taken[i] and pop.distributor[b] >= 0
    return count


def test_conflicts_match_the_rules_need_by_need():
    """Siloed, channel-specific pay: each need's unresolved incidents equal a plain count of
    the ODD's incident types; a rep pulls a web order back only where it fought for it."""
    model = _model()
    for _ in range(3):
        model.step()
    model.week += 1
    needs = shop(model, model.network)
    model.agents_by_type[Rep].shuffle_do("step")  # phase 4, as ChannelModel.step
    model.network.serve(needs)
    web = needs.channel == ECOMMERCE
    expected = _plain_incidents(model, needs)
    assert expected.sum() > 100
    find_conflicts(needs, model)
    np.testing.assert_array_equal(needs.incidents, expected)
    pulled = web & (needs.channel != ECOMMERCE)
    assert pulled.any()
    assert np.all(needs.incidents[pulled] >= 1)


def test_orchestration_resolves_what_its_data_sees():
    """Theory of the resolver with unlimited capacity (ODD §7.5): an incident is seen only
    when every touch it involves is recorded, each with probability coverage ``κ``, and every
    incident involves at least two touches, so at ``κ`` = 0.8 the resolved share of
    resolvable incidents over 8 weeks is at most ``κ² = 0.64`` and at least ``κ⁵ = 0.33``
    (within 4.4 binomial standard errors: false alarm 1e-5; measured 0.646 of 7,514, most
    incidents involving two touches); at ``κ`` = 1 every one is seen and resolved. The old
    rule (resolve a share ``κ`` = 0.8) is 28 standard errors above the upper bound."""
    for coverage, low, high in ((0.8, 0.8**5, 0.8**2), (1.0, 1.0, 1.0)):
        model = _model(
            "policy.coordination=orchestrated",
            f"policy.orchestration_coverage={coverage}",
            "policy.orchestration_capacity_weekly=1e9",
        )
        for _ in range(8):
            model.step()
        rows = model.ledger.rows
        resolved = rows["conflicts_resolved"][:8].sum()
        unresolved = sum(
            rows[f"conflicts_{kind}"][:8].sum()
            for kind in CONFLICT_TYPES
            if kind != "account_taken_direct"
        )
        n = resolved + unresolved
        se = np.sqrt(high * (1 - high) / n)
        assert n > 2_000
        assert low - 4.4 * se <= resolved / n <= high + 4.4 * se, (coverage, resolved / n)


def test_experience_and_memory_follow_the_rules_buyer_by_buyer():
    """Effort, satisfaction, quotes, relationship lifts and habits after one week's needs,
    against a plain loop over the needs (ODD §7.6-7.7)."""
    model = _model()
    model.step()
    pop = model.population
    rng = np.random.default_rng(3)
    buyer = np.sort(rng.choice(2_000, 3_000))
    n = len(buyer)
    needs = Needs(
        buyer=buyer,
        product=rng.integers(0, pop.current_channel.shape[1], n),
        units=np.ones(n),
        orders=np.ones(n, dtype=np.int64),
        channel=rng.integers(0, 4, n),
        price=rng.uniform(0.8, 1.0, n),
        touched=np.zeros((n, 4), dtype=bool),
        filled=np.where(rng.random(n) < 0.2, 0.5, 1.0),
        incidents=rng.integers(0, 3, n) * (rng.random(n) < 0.3),
        taken=np.zeros(n, dtype=bool),
    )
    pop.effort[:] = rng.random(pop.size).astype(np.float32) * 0.9
    before = {k: v.copy() for k, v in vars(pop).items()}
    remember_orders(pop, needs, 9)
    live_with_experience(pop, model.rules, needs)
    cfg = model.rules.market.effort
    effort, satisfaction = before["effort"].astype(float), before["satisfaction"].astype(float)
    relationship = before["relationship"].astype(float)
    for b in np.unique(buyer):
        rows = np.flatnonzero(buyer == b)
        friction = [
            needs.incidents[i] * cfg.per_conflict + (needs.filled[i] < 1) * cfg.per_stockout
            for i in rows
        ]
        for f in friction:
            satisfaction[b] += SATISFACTION_UPDATE * ((f == 0) - satisfaction[b])
        effort[b] = min(1.0, effort[b] + sum(friction))
        if min(friction) == 0:
            effort[b] *= 1 - cfg.recovery_per_order
        for c in set(needs.channel[rows]):
            relationship[b, c] += ORDER_LIFT * (1 - relationship[b, c])
        last = rows[-1]
        assisted_direct = [i for i in rows if needs.channel[i] in (0, 1)]
        if assisted_direct:
            assert pop.quote_channel[b] == needs.channel[assisted_direct[-1]]
            assert pop.quote_price[b] == np.float32(needs.price[assisted_direct[-1]])
            assert pop.quote_week[b] == 9
        assert pop.current_channel[b, needs.product[last]] == needs.channel[last]
    np.testing.assert_allclose(pop.effort, effort, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pop.satisfaction, satisfaction, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pop.relationship, relationship, rtol=1e-5, atol=1e-6)


@njit(cache=True)
def _geometric_draws(key, n, p):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = geometric(uniform(key, i, 1, 0, 1), p)
    return out


@pytest.mark.parametrize("p", [0.9, 0.3, 0.02, 0.0005])
def test_geometric_waiting_weeks_follow_the_geometric_law(p):
    """Counts of 1, 2, ... weeks (tail pooled, expected >= 50 per cell) against Geom(p)'s pmf:
    chi-square at alpha = 0.001 on 400,000 draws; power >= 0.9 against cell probabilities
    alternating ±5% (asserted; 4 cells at p = 0.9 up to ~18,000 at p = 0.0005)."""
    weeks = _geometric_draws(_keys(1)[0], N_DRAWS, p)
    assert weeks.min() >= 1
    cells = int(stats.geom.isf(50 / N_DRAWS, p))  # last cell: the tail beyond
    assert _chi_square_power(N_DRAWS, cells, 0.05) >= 0.9
    observed = np.bincount(np.minimum(weeks, cells), minlength=cells + 1)[1:]
    expected = stats.geom.pmf(np.arange(1, cells + 1), p)
    expected[-1] = stats.geom.sf(cells - 1, p)
    assert stats.chisquare(observed, expected * N_DRAWS).pvalue > ALPHA
    assert geometric(0.5, 0.0) == NEVER


@njit(cache=True)
def _order_counts(key, n, rate):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = orders_in_week(rate, uniform(key, i, 1, 0, 1), uniform(key, i, 1, 0, 2))
    return out


@pytest.mark.parametrize("rate", [0.05, 0.6, 3.0])
def test_orders_in_a_need_week_are_zero_truncated_poisson(rate):
    """Orders in a week with at least one, against Poisson(rate) given >= 1 (tail pooled,
    expected >= 50 a cell): chi-square at alpha = 0.001 on 400,000 draws, power >= 0.9
    against cells alternating ±5% (asserted)."""
    k = _order_counts(_keys(1)[0], N_DRAWS, rate)
    assert k.min() >= 1
    pmf = stats.poisson.pmf(np.arange(1, 60), rate) / -np.expm1(-rate)
    cells = max(2, int(np.sum(pmf * N_DRAWS >= 50)))
    assert _chi_square_power(N_DRAWS, cells, 0.05) >= 0.9
    observed = np.bincount(np.minimum(k, cells), minlength=cells + 1)[1:]
    expected = pmf[:cells].copy()
    expected[-1] = 1.0 - expected[:-1].sum()
    assert stats.chisquare(observed, expected * N_DRAWS).pvalue > ALPHA


# --------------------------------------------------------------------------- first compile


def _engine_function(folder: Path, name: str, package: str = "sim"):
    """A fresh function (its own numba cache entry) in a module of ``package``, from a file.

    A real module file (registered in ``sys.modules``) so numba's cache can load it back.
    """
    module = f"{package}._probe_{name}"
    if module not in sys.modules:
        path = folder / f"_probe_{name}.py"
        path.write_text("def add_one(x):\n    return x + 1\n", encoding="utf-8")
        spec = importlib.util.spec_from_file_location(module, path)
        assert spec is not None and spec.loader is not None
        sys.modules[module] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module])
    return sys.modules[module].add_one


def test_the_compile_notice_comes_once_before_compiling_and_not_from_the_cache(
    tmp_path, monkeypatch, capsys
):
    """``progress_bar`` (run, compare, sweep, optimize, backtest) says the notice once, before
    numba compiles an engine function; not when numba loads it from its cache, and not for a
    function of another package."""
    from numba import config

    from sim import cli
    from sim.model.kernel import before_compiling

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))  # a cold cache of its own
    said: list[int] = []

    def say() -> None:
        said.append(len(list(tmp_path.rglob("*.nbi"))))  # indexes written before saying

    with before_compiling(say):
        assert njit(cache=True)(_engine_function(tmp_path, "a"))(1) == 2
        assert njit(cache=True)(_engine_function(tmp_path, "b"))(1) == 2
    assert said == [0]  # once, before the first compilation ended
    assert len(list(tmp_path.rglob("*.nbi"))) == 2

    with before_compiling(say):
        assert njit(cache=True)(_engine_function(tmp_path, "a"))(2) == 3  # new dispatcher: cache
        assert njit(cache=True)(_engine_function(tmp_path, "c", package="elsewhere"))(1) == 2
    assert said == [0]

    with cli.progress_bar("simulating"):
        njit(cache=True)(_engine_function(tmp_path, "d"))(1)
    assert capsys.readouterr().err.strip() == cli.COMPILING
    with cli.progress_bar("simulating"):
        njit(cache=True)(_engine_function(tmp_path, "d"))(1)
    assert capsys.readouterr().err == ""
