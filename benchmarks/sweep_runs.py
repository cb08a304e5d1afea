"""Marginal cost of a sweep's small run: the README's Sobol' sweep at two sizes, 2 workers.

The direct-shift scenario's own ``sweep`` block (Sobol', 3 parameters: ``N (2D + 2) = 8N``
runs) at ``--buyers`` x ``--weeks`` (the README's first-look command: 2,000 x 52), one
replication, on ``--workers`` local processes, at ``N = --small`` and ``N = --large``, after
a one-sample warm-up that compiles or loads the kernels. The
marginal seconds a run = (T_large - T_small) / (runs_large - runs_small): what each extra run
costs once the workers are up, writing included. From it, the projected wall time of the
README's full sweep (N = 256: 2,048 runs) = T_small + (2,048 - runs_small) x marginal.

Usage::

    .venv/bin/python benchmarks/sweep_runs.py [--small 16] [--large 48] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import sim
from sim.scenario.loader import load_study

ROOT = Path(__file__).resolve().parents[1]
TARGET_MARGINAL_S = 0.146  # issue 19: a 2,048-run Sobol' sweep in <= 5 minutes
FULL_RUNS = 2_048


def timed_sweep(samples: int, args: argparse.Namespace, folder: Path) -> tuple[float, int]:
    """Wall seconds and runs of the direct-shift sweep with ``samples`` Sobol' base samples."""
    overrides = [f"market.buyers={args.buyers}", f"horizon_weeks={args.weeks}"]
    overrides += ["replications=1", f"sweep.samples={samples}"]
    study = load_study(ROOT / "scenarios" / "direct_shift.yaml", overrides)
    start = time.perf_counter()
    results = sim.sweep(study, out=folder, workers=args.workers)
    return time.perf_counter() - start, len(results.summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--small", type=int, default=16, help="Sobol' N of the smaller sweep")
    parser.add_argument("--large", type=int, default=48, help="Sobol' N of the larger sweep")
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(
        f"direct_shift Sobol' sweep, {args.buyers} buyers x {args.weeks} weeks, "
        f"{args.workers} workers; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        # Compile (or load) every kernel first: forked workers inherit them.
        timed_sweep(1, args, Path(tmp) / "warm-up")
        small_s, small_runs = timed_sweep(args.small, args, Path(tmp) / "small")
        print(f"  N = {args.small}: {small_runs} runs in {small_s:.1f} s")
        large_s, large_runs = timed_sweep(args.large, args, Path(tmp) / "large")
        print(f"  N = {args.large}: {large_runs} runs in {large_s:.1f} s")
    marginal = (large_s - small_s) / (large_runs - small_runs)
    projected = small_s + (FULL_RUNS - small_runs) * marginal
    verdict = "met" if marginal <= TARGET_MARGINAL_S else "NOT met"
    print(
        f"marginal {marginal:.3f} s a run (target <= {TARGET_MARGINAL_S} s: {verdict}); "
        f"projected {FULL_RUNS:,}-run sweep {projected / 60:.1f} min; "
        f"load at the end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
