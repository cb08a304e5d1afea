"""Prototype: what a fused, compiled kernel would buy for the buyers' channel choice.

The engine's choice stage (``ChannelModel._open_channels``, ``_prices``, ``_utility`` and
``population.choose_channels``) runs as a chain of numpy passes over this week's needs. This
script times that chain against one numba loop doing the same work need by need, on the needs
of one week of the baseline at ``--buyers`` buyers, and checks that both pick the same
channels. It is the measurement behind the "fused kernel" design in README, "Performance".

numba is not a dependency of channel-sim; without it the script times the numpy chain only::

    .venv/bin/python benchmarks/fused_choice.py --buyers 1000000

The kernel covers the baseline's choice rules (no offers, no sell-through promotion, no
distributor ordering app); the numpy side is the engine's own code.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _kernel():
    import numba

    @numba.njit(cache=False)
    def choose(
        buyer, product, uniform, segment, effort, relationship, current, adopter, field_rep,
        inside_rep, distributor, distributor_open, segment_open, preference, realisation,
        assisted, price_weight, habit_weight, relationship_weight, effort_weight,
        ecommerce_penalty, competitor_utility,
    ):  # fmt: skip
        n = len(buyer)
        out = np.empty(n, np.int64)
        utility = np.empty(5)
        open_ = np.empty(5, np.bool_)
        cumulative = np.empty(5)
        for i in range(n):
            b = buyer[i]
            s = segment[b]
            e = np.float64(effort[b])
            for c in range(4):
                open_[c] = segment_open[s, c]
                utility[c] = (
                    preference[s, c]
                    - price_weight * (realisation[c] - 1.0)
                    + np.float64(np.float32(relationship_weight) * relationship[b, c])
                    - (effort_weight * e if assisted[c] else 0.0)
                )
            open_[0] = open_[0] and field_rep[b] >= 0
            open_[1] = open_[1] and inside_rep[b] >= 0
            open_[2] = open_[2] and distributor_open[distributor[b]]
            open_[4] = True
            k = current[b, product[i]]
            if k >= 0:
                utility[k] += habit_weight
            if not adopter[b]:
                utility[3] -= ecommerce_penalty
            utility[4] = competitor_utility + effort_weight * e
            top = -np.inf
            for c in range(5):
                if open_[c] and utility[c] > top:
                    top = utility[c]
            total = 0.0
            for c in range(5):
                if open_[c]:
                    total += np.exp(utility[c] - top)
                cumulative[c] = total
            threshold = uniform[i] * total
            chosen = 0
            for c in range(5):
                if cumulative[c] < threshold:
                    chosen += 1
            out[i] = min(chosen, 4) if total > 0 else -1
        return out

    return choose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from sim.model.model import ChannelModel
    from sim.model.population import ASSISTED, choose_channels
    from sim.scenario.loader import load_scenario

    scenario = load_scenario(
        ROOT / "scenarios" / "baseline.yaml", [f"market.buyers={args.buyers}", "horizon_weeks=2"]
    )
    model = ChannelModel(scenario, 1)
    model.step()
    model.week += 1
    buyer, product = model._arriving_needs()
    uniform = np.random.default_rng(2).random(len(buyer))

    def numpy_chain() -> np.ndarray:
        open_ = model._open_channels(buyer)
        prices = model._prices(buyer, product)
        utility = model._utility(buyer, product, prices=prices)
        return choose_channels(
            utility, np.column_stack([open_, np.ones(len(buyer), bool)]), uniform
        )

    def timed(fn) -> tuple[float, np.ndarray]:
        best, result = float("inf"), None
        for _ in range(args.repeat):
            start = time.process_time()
            result = fn()
            best = min(best, time.process_time() - start)
        return best, result

    n = len(buyer)
    t_numpy, expected = timed(numpy_chain)
    print(f"{n:,} needs; numpy chain {t_numpy * 1e3:.1f} ms CPU = {t_numpy / n * 1e9:.0f} ns/need")
    try:
        kernel = _kernel()
    except ImportError:
        print("numba is not installed: no fused kernel to compare")
        return 0
    pop = model.population
    choice = scenario.market.choice
    arguments = (
        buyer, product, uniform, pop.segment, pop.effort, pop.relationship,
        pop.current_channel, pop.adopter, pop.field_rep, pop.inside_rep, pop.distributor,
        model.distributor_open, model.segment_open, model.preference, model.realisation,
        ASSISTED, choice.price_weight, choice.habit_weight, choice.relationship_weight,
        choice.effort_weight, choice.non_adopter_ecommerce_penalty, choice.competitor_utility,
    )  # fmt: skip
    kernel(*(a[:10] if isinstance(a, np.ndarray) and len(a) == n else a for a in arguments))
    t_fused, got = timed(lambda: kernel(*arguments))
    print(
        f"fused numba kernel {t_fused * 1e3:.1f} ms CPU = {t_fused / n * 1e9:.0f} ns/need "
        f"({t_numpy / t_fused:.1f}x); same choices: {np.mean(got == expected):.6f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
