"""The engine's fast numpy paths give exactly what the plain numpy expressions give.

Each helper in ``sim.model.population`` replaced a slower expression for speed only
(issue 7); results and random streams must not move, so each is checked against the
expression it replaced, bit for bit, including the edge cases.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS

from sim.model.population import (
    NEVER,
    create_population,
    geometric_weeks,
    put_cells,
    rows_any,
    take_cells,
)
from sim.model.reps import weighted_sample
from sim.scenario.loader import load_scenario


@pytest.mark.parametrize("shape", [(0, 4), (9, 4), (9, 3), (9, 1), (9, 2), (9, 8), (9, 5)])
def test_rows_any_matches_any(shape):
    mask = np.random.default_rng(1).random(shape) < 0.3
    assert np.array_equal(rows_any(mask), mask.any(axis=1))
    assert np.array_equal(rows_any(np.asfortranarray(mask)), mask.any(axis=1))
    if shape[1] >= 2:
        view = mask[:, ::2]  # not contiguous
        assert np.array_equal(rows_any(view), view.any(axis=1))


def test_cells_match_tuple_indexing():
    rng = np.random.default_rng(2)
    table = rng.random((50, 4)).astype(np.float32)
    row = rng.integers(0, 50, 200)
    column = rng.integers(0, 4, 200)
    assert np.array_equal(take_cells(table, row, column), table[row, column])
    values = rng.random(200)
    expected = table.copy()
    expected[row, column] = values  # duplicates: one of the values, as for put
    put_cells(table, row, column, values)
    assert np.array_equal(table, expected)
    small = np.zeros((3, 2), dtype=np.int8)
    put_cells(small, np.array([], dtype=np.int64), np.array([], dtype=np.int64), [])
    assert not small.any()


@pytest.mark.parametrize(
    "p",
    [0.3, 0.0, 1e-9, np.array([0.1, 0.0, 0.5, 0.9, 1e-7]), np.array([0.2, 0.4, 0.9])],
)
def test_geometric_weeks_same_draws_with_and_without_mask(p):
    size = np.size(p) if np.ndim(p) else 6

    def masked(rng):
        probability = np.broadcast_to(np.asarray(p, dtype=float), (size,))
        weeks = np.full(size, np.iinfo(np.int16).max, dtype=np.int64)
        live = probability > 0
        weeks[live] = rng.geometric(probability[live])
        return np.minimum(weeks, np.iinfo(np.int16).max)

    got = geometric_weeks(np.random.default_rng(3), p, size)
    assert np.array_equal(got, masked(np.random.default_rng(3)))


def test_weighted_sample_draws_what_numpy_choice_draws():
    """The reps' habit calls: the same indices as ``Generator.choice(replace=False, p=p)``
    from the same seed, and the stream left where numpy leaves it (400 random cases, sizes
    up to the whole population, zero weights included)."""
    rng = np.random.default_rng(0)
    for _ in range(400):
        n = int(rng.integers(1, 120))
        weight = rng.lognormal(0.0, 1.5, n) * (rng.random(n) > 0.1)
        if not weight.any():
            continue
        size = int(rng.integers(1, np.count_nonzero(weight) + 1))
        p = weight / weight.sum()
        seed = int(rng.integers(2**32))
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        expected = theirs.choice(n, size=size, replace=False, p=p)
        np.testing.assert_array_equal(weighted_sample(ours, p, size), expected)
        assert ours.random() == theirs.random()


def test_ageing_relationships_is_the_numpy_expression_it_replaced():
    """``Population.age_relationships`` (compiled) against the numpy expression, bit for bit,
    with buyers listed twice (a buyer's several needs) aged once."""
    rng = np.random.default_rng(1)
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["market.buyers=5000"])
    pop = create_population(scenario, rng)
    n = pop.size
    pop.relationship[:] = rng.random((n, pop.relationship.shape[1]))
    pop.relationship_week[:] = rng.integers(0, 40, n)
    buyers = np.sort(rng.integers(0, n, 3_000))  # duplicates included
    week, half_life = 52, 26.0
    expected = pop.relationship.copy()
    factor = np.exp2(-np.arange(NEVER + 1) / half_life).astype(np.float32)
    elapsed = week - pop.relationship_week[buyers]
    expected[buyers] = np.take(pop.relationship, buyers, axis=0) * factor[elapsed][:, None]
    pop.age_relationships(buyers, week, half_life)
    np.testing.assert_array_equal(pop.relationship, expected)
    assert (pop.relationship_week[buyers] == week).all()
