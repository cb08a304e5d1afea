"""Parallel efficiency of a sweep: the same sweep on 1 and on 2 local worker processes.

Runs a small Latin-hypercube sweep of the direct-shift scenario twice, in the same process,
once with ``workers=1`` and once with ``workers=2`` (fresh results folders, so nothing is
resumed), checks both give the same table, and prints::

    speed-up             = T1 / T2
    parallel efficiency  = T1 / (2 * T2)

Wall-clock times include everything a user waits for: starting the worker processes, the runs,
writing each run, combining the tables. Other load on the machine lowers the efficiency; run
it on an idle machine with at least 2 cores. The seconds per run measured inside the workers
show contention: if they grow with 2 workers, the two processes did not each get a core. "Workers
busy" (the runs' own time / (workers x wall time)) is the executor's overhead alone: process
start, hand-off, writing and combining, whatever the load.

Usage::

    .venv/bin/python benchmarks/parallel_efficiency.py [--samples 12] [--buyers 5000] [--weeks 52]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import sim
from sim.scenario.loader import load_study, with_changes
from sim.scenario.schema import Sweep

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=12, help="LHS samples (runs)")
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternate 1 and 2 workers this often; best time"
    )
    args = parser.parse_args()

    study = load_study(
        ROOT / "scenarios" / "direct_shift.yaml",
        [f"market.buyers={args.buyers}", f"horizon_weeks={args.weeks}"],
    )
    block = Sweep(
        method="lhs",
        samples=args.samples,
        parameters={
            "policy.channel_plan.0.ramp_weeks": (4, 104),
            "policy.distributor_referral_fee": (0, 0.1),
            "distributors.alternative_margin": (0.15, 0.3),
        },
        outputs=["contribution_margin", "churn_rate_annual"],
    )
    study = with_changes(study, {"sweep": block, "replications": 1}, source="benchmark")
    print(
        f"sweep: lhs, {args.samples} samples x 1 replication, {args.buyers} buyers, "
        f"{args.weeks} weeks; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}"
    )
    seconds: dict[int, list[float]] = {1: [], 2: []}
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            for workers in (1, 2):
                out = Path(tmp) / f"w{workers}_{attempt}"
                start = time.perf_counter()
                results = sim.sweep(study, out=out, workers=workers)
                seconds[workers].append(time.perf_counter() - start)
                tables[workers] = results.timeseries
                busy = sum(results.manifest["run_seconds"].values())
                print(
                    f"  workers={workers}: {seconds[workers][-1]:.2f} s; "
                    f"{busy / args.samples:.2f} s per run inside the workers; workers busy "
                    f"{busy / (workers * seconds[workers][-1]):.0%} of the wall time "
                    f"(load average {os.getloadavg()[0]:.2f})"
                )
    if not tables[1].equals(tables[2]):
        raise SystemExit("outputs differ between 1 and 2 workers")
    t1, t2 = min(seconds[1]), min(seconds[2])
    speedup = t1 / t2
    print(f"best of {args.repeat}: T1 = {t1:.2f} s, T2 = {t2:.2f} s")
    print(f"speed-up T1/T2 = {speedup:.2f}")
    print(f"parallel efficiency T1/(2*T2) = {speedup / 2:.2f}")
    print(f"per run (1 worker): {t1 / args.samples:.2f} s; outputs identical: yes")
    if os.getloadavg()[0] > (os.cpu_count() or 1) - 1:
        print("warning: other work is loading the machine; efficiency is understated")


if __name__ == "__main__":
    main()
