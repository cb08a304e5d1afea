"""Throughput and memory of the engine, and its speed-up over the plain reference.

Usage (from anywhere)::

    .venv/bin/python benchmarks/engine.py       # 10^4, 10^5, 10^6 buyers x 260 weeks
    .venv/bin/python benchmarks/engine.py --sizes 10000 100000 --weeks 52
    .venv/bin/python benchmarks/engine.py --json results/bench.json
    .venv/bin/python benchmarks/engine.py --sizes              # only the plain-vs-vectorised part
    .venv/bin/python benchmarks/engine.py --threads 1 2         # scaling with 1 and 2 threads

Every measurement runs in a fresh Python process, so its peak resident memory is its own: the
parent reads it from ``os.wait4`` (the child's ``rusage``; ``ru_maxrss`` is KiB on Linux).

1. **Scaling**: the full model on ``scenarios/baseline.yaml`` with ``market.buyers = N`` and
   prospects scaled in the baseline's proportion (everything else as shipped: 40 field and 20
   inside reps, 20 distributors), for ``--weeks`` weeks. Throughput is buyer-weeks per second
   of ``model.run()`` (wall clock; set-up is timed separately), and per CPU second (robust
   when other processes share the machine).
2. **Plain vs vectorised**: :class:`sim.model.reference.ReferenceModel` (one Mesa agent per
   buyer) and :class:`sim.model.model.ChannelModel` on the same docking scenario
   (``reference.DOCKING_OVERRIDES``: buyer rules only) at ``--plain-size`` buyers x
   ``--plain-weeks`` weeks, one after the other in one fresh process of this run (and the
   full model at the same size). The ratio is fast / plain throughput at that size; the
   table also gives the full model at the largest size against the plain one.
   ``--plain-size 0`` skips this part.
3. **Compile time**: a 1,000-buyer, 2-week run in a fresh process with an empty numba cache
   (``NUMBA_CACHE_DIR`` in a temporary folder: every kernel compiles) and again with that cache
   warm; wall time of the whole process, interpreter start included. The figures of parts 1
   and 2 are with the installation's cache warm (a first warm-up run fills it).

Numba's threads: ``--threads`` sets ``NUMBA_NUM_THREADS`` of the children (default: numba's,
one per core); results are bit-identical whatever the count (``tests/test_kernel.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TARGET_SECONDS = 10.0  # 10^6 buyers x 260 weeks (issue 15)
TARGET_BUYER_WEEKS_PER_S = 1_000_000 * 260 / TARGET_SECONDS
TARGET_RSS_KIB_PER_BUYER = 1.0
TARGET_RATIO = 100


# ---------------------------------------------------------------------- child side


def _scenario(kind: str, buyers: int, weeks: int):
    from sim.model.reference import DOCKING_OVERRIDES
    from sim.scenario.loader import load_raw, load_scenario

    raw, _ = load_raw(BASELINE)
    market = raw["market"]
    prospects = round(buyers * market.get("prospects", 0) / market["buyers"])
    overrides = [
        f"market.buyers={buyers}",
        f"market.prospects={prospects}",
        f"horizon_weeks={weeks}",
    ]
    if kind != "full":
        overrides = [*overrides, *DOCKING_OVERRIDES]
    return load_scenario(BASELINE, overrides)


def child(engine: str, kind: str, buyers: int, weeks: int, seed: int) -> dict:
    """Build and run one model in this process; return timings."""
    import numpy as np

    from sim.model.model import ChannelModel
    from sim.model.reference import ReferenceModel

    scenario = _scenario(kind, buyers, weeks)
    cls = ReferenceModel if engine == "plain" else ChannelModel
    t0 = time.perf_counter()
    c0 = time.process_time()
    model = cls(scenario, np.random.SeedSequence(seed))
    t1 = time.perf_counter()
    c1 = time.process_time()
    model.run()
    t2 = time.perf_counter()
    c2 = time.process_time()
    rows = model.rows if engine == "plain" else model.ledger.rows
    return {
        "engine": engine,
        "scenario": kind,
        "buyers": buyers,
        "weeks": weeks,
        "setup_s": t1 - t0,
        "run_s": t2 - t1,
        "run_cpu_s": c2 - c1,
        "setup_cpu_s": c1 - c0,
        "revenue": float(rows["revenue"].sum()),
    }


# ---------------------------------------------------------------------- parent side


def measure(
    jobs: list[tuple[str, str, int, int]], seed: int, env: dict[str, str] | None = None
) -> list[dict]:
    """Run ``(engine, scenario kind, buyers, weeks)`` jobs in one fresh interpreter.

    Each result gains the child's peak RSS (for one job: that job's peak) and the child's
    whole wall time (``process_s``). ``env`` adds environment variables for the child.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--seed", str(seed), "--child"]
    cmd += [",".join(map(str, job)) for job in jobs]
    start = time.perf_counter()
    # The children import this checkout's engine, whatever is installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, env=env)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}): {' '.join(cmd)}")
    process_s = time.perf_counter() - start
    results = [json.loads(line) for line in out.decode().strip().splitlines()[-len(jobs) :]]
    for r in results:
        r["process_s"] = process_s
        r["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        bw = r["buyers"] * r["weeks"]
        r["buyer_weeks_per_s"] = bw / r["run_s"]
        r["buyer_weeks_per_cpu_s"] = bw / max(r["run_cpu_s"], 1e-9)
    return results


def _fmt_rate(x: float) -> str:
    return f"{x / 1e6:8.3f} M" if x >= 1e5 else f"{x / 1e3:8.1f} k"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--weeks", type=int, default=260)
    parser.add_argument("--plain-size", type=int, default=2_000)
    parser.add_argument("--plain-weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--threads", type=int, nargs="+", default=[0], help="0: numba's default")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--child", nargs="+", metavar="JOB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        for job in args.child:
            engine, kind, buyers, weeks = job.split(",")
            result = child(engine, kind, int(buyers), int(weeks), args.seed)
            print(json.dumps(result), flush=True)
        return 0

    print(
        f"channel-sim engine benchmark  python {platform.python_version()}  "
        f"{os.cpu_count()} CPUs  load {os.getloadavg()[0]:.1f}  "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    measure([("fast", "full", 1_000, 2)], args.seed)  # fill the installation's kernel cache
    scaling = []
    for threads in args.threads:
        scaling += _scaling(args.sizes, args.weeks, args.seed, threads)
    n, w = args.plain_size, args.plain_weeks
    plain = fast = full = None
    if n > 0:
        plain, fast, full = _compare(n, w, args.seed, scaling)
    compile_times = _compile_times(args.seed)
    if scaling:
        _targets(max(scaling, key=lambda r: (r["buyers"], r["buyer_weeks_per_s"])))
    print(f"   load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "scaling": scaling,
                    "plain": plain,
                    "fast_docking": fast,
                    "fast_full": full,
                    "compile": compile_times,
                },
                indent=2,
            )
        )
    return 0


def _scaling(sizes: list[int], weeks: int, seed: int, threads: int) -> list[dict]:
    label = f"{threads} numba threads" if threads else "numba's default threads"
    print(f"\n1. Scaling: full model, {BASELINE.name}, {weeks} weeks, one process each, {label}")
    print(
        f"{'buyers':>10} {'setup s':>8} {'run s':>8} {'buyer-weeks/s':>14} "
        f"{'per CPU s':>12} {'peak RSS MiB':>13} {'KiB/buyer':>10} {'us/buyer-wk':>12}"
    )
    env = {"NUMBA_NUM_THREADS": str(threads)} if threads else None
    rows = []
    for buyers in sizes:
        (r,) = measure([("fast", "full", buyers, weeks)], seed, env)
        r["threads"] = threads
        rows.append(r)
        print(
            f"{buyers:>10,} {r['setup_s']:>8.2f} {r['run_s']:>8.2f} "
            f"{_fmt_rate(r['buyer_weeks_per_s']):>14} {_fmt_rate(r['buyer_weeks_per_cpu_s']):>12} "
            f"{r['peak_rss_mib']:>13.0f} {r['peak_rss_mib'] * 1024 / buyers:>10.2f} "
            f"{1e6 / r['buyer_weeks_per_s']:>12.3f}"
        )
    return rows


def _compile_times(seed: int) -> dict:
    """Wall time of a tiny run's whole process with an empty, then a warm, kernel cache."""
    job = ("fast", "full", 1_000, 2)
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        (cold,) = measure([job], seed, env)
        (warm,) = measure([job], seed, env)
    print(
        f"\n3. Compile time (1,000 buyers x 2 weeks, whole process): empty cache "
        f"{cold['process_s']:.1f} s, warm cache {warm['process_s']:.1f} s "
        f"(compiling: {cold['process_s'] - warm['process_s']:.1f} s, once per installation)"
    )
    return {"cold_s": cold["process_s"], "warm_s": warm["process_s"]}


def _compare(n: int, w: int, seed: int, scaling: list[dict]) -> tuple[dict, dict, dict]:
    print(
        f"\n2. Plain (one Mesa agent per buyer) vs vectorised: docking scenario, {n:,} x {w} weeks"
    )
    plain, fast, full = measure(
        [("plain", "docking", n, w), ("fast", "docking", n, w), ("fast", "full", n, w)], seed
    )
    for label, r in (
        ("plain reference", plain),
        ("vectorised, same scenario", fast),
        ("vectorised, full model", full),
    ):
        print(
            f"  {label:<28} run {r['run_s']:7.2f} s  {_fmt_rate(r['buyer_weeks_per_s'])} "
            f"buyer-weeks/s  {_fmt_rate(r['buyer_weeks_per_cpu_s'])} per CPU s"
        )
    best = max([*scaling, full], key=lambda r: r["buyer_weeks_per_s"])
    for basis, key in (("wall clock", "buyer_weeks_per_s"), ("CPU time", "buyer_weeks_per_cpu_s")):
        same = fast[key] / plain[key]
        at_scale = best[key] / plain[key]
        print(
            f"  ratio by {basis:<10}: vectorised / plain at {n:,} buyers, same scenario "
            f"{same:6.1f}x; full model at {best['buyers']:,} buyers / plain "
            f"{at_scale:6.1f}x (target >= {TARGET_RATIO}x)"
        )
    return plain, fast, full


def _targets(big: dict) -> None:
    ok_speed = big["buyer_weeks_per_s"] >= TARGET_BUYER_WEEKS_PER_S
    kib_per_buyer = big["peak_rss_mib"] * 1024 / big["buyers"]
    ok_rss = kib_per_buyer <= TARGET_RSS_KIB_PER_BUYER
    projected = 1_000_000 * 260 / big["buyer_weeks_per_s"]
    projected_cpu = 1_000_000 * 260 / big["buyer_weeks_per_cpu_s"]
    print(
        f"\n4. Targets at {big['buyers']:,} buyers: "
        f"{big['buyer_weeks_per_s'] / 1e6:.2f} M buyer-weeks/s vs "
        f"{TARGET_BUYER_WEEKS_PER_S / 1e6:.1f} M ({'met' if ok_speed else 'NOT met'}; "
        f"10^6 x 260 weeks ~ {projected:.0f} s wall vs {TARGET_SECONDS:.0f} s, "
        f"{projected_cpu:.0f} s of CPU); "
        f"peak RSS {kib_per_buyer:.2f} KiB a buyer vs {TARGET_RSS_KIB_PER_BUYER:.0f} KiB "
        f"({'met' if ok_rss else 'NOT met'})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
