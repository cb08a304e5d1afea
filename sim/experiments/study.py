"""Studies: a plan of runs for a scenario (its replications, its variants), executed and saved.

``run`` and ``compare`` share one path: build the run keys, skip the runs already on disk,
execute the rest (in this process, in local processes or on Dask), write each run as it
finishes, then combine the tables and write the manifest.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.experiments.runner import RunKey, RunOutput, execute
from sim.experiments.stats import paired_differences
from sim.results.store import Results, RunStore
from sim.results.tables import run_frame, summarise
from sim.scenario.loader import load_scenario, variant_of
from sim.scenario.schema import Scenario

ProgressHook = Callable[[int, int], None]
"""Called with (runs finished, runs in total) as runs finish."""

BASE_VARIANT = "baseline"
"""Variant name of the unmodified scenario."""


def resolve(
    scenario: Scenario | str | Path,
    *,
    overrides: Iterable[str] = (),
    replications: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load a scenario (if given a path) and apply the run options."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    changes: dict[str, Any] = {}
    if replications is not None:
        changes["replications"] = replications
    if seed is not None:
        changes["seed"] = seed
    return scenario.model_copy(update=changes) if changes else scenario


def run(
    scenario: Scenario | str | Path,
    *,
    overrides: Iterable[str] = (),
    replications: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressHook | None = None,
) -> Results:
    """Run a scenario's replications and write ``timeseries.parquet``, ``summary.csv``.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a YAML file.
    overrides
        ``key.path=value`` strings applied to a file (ignored for a Scenario object).
    replications, seed
        Override the scenario's values.
    out
        Results folder; default ``results/<scenario name>``.
    workers, scheduler
        Local processes, or the address of a Dask scheduler.
    progress
        Called as runs finish.

    Returns
    -------
    Results
        With ``.timeseries`` (one row per replication x week) and ``.summary``.
    """
    resolved = resolve(scenario, overrides=overrides, replications=replications, seed=seed)
    return _study(resolved, {BASE_VARIANT: resolved}, "run", out, workers, scheduler, progress)


def compare(
    scenario: Scenario | str | Path,
    *,
    overrides: Iterable[str] = (),
    replications: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: ProgressHook | None = None,
) -> Results:
    """Run every variant with common random numbers; paired differences vs the first.

    The variants are the scenario unchanged (``baseline``) followed by each entry of its
    ``variants`` block, unless that block's first entry is itself named ``baseline``.
    Replication *i* of every variant uses the same seed, so differences are paired.
    Parameters are those of :func:`run`; the result also has ``.comparison``.
    """
    resolved = resolve(scenario, overrides=overrides, replications=replications, seed=seed)
    variants = {BASE_VARIANT: resolved}
    for name, changes in resolved.variants.items():
        variants[name] = variant_of(resolved, name, changes)
    results = _study(resolved, variants, "compare", out, workers, scheduler, progress)
    results.comparison = paired_differences(results.summary, reference=BASE_VARIANT)
    results.save()
    return results


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON."""
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _study(
    scenario: Scenario,
    variants: dict[str, Scenario],
    command: str,
    out: str | Path | None,
    workers: int,
    scheduler: str | None,
    progress: ProgressHook | None,
) -> Results:
    started = time.perf_counter()
    root = Path(out) if out is not None else Path("results") / scenario.name
    store = RunStore(root, scenario_hash(scenario))
    keys = [
        (variant, RunKey(name, replication, scenario.seed))
        for name, variant in variants.items()
        for replication in range(scenario.replications)
    ]
    done = store.finished()
    todo = [(v, k) for v, k in keys if k.stem not in done]
    timings: dict[str, float] = {}

    def finish(output: RunOutput) -> None:
        store.save(output.key.stem, run_frame(scenario.name, output))
        timings[output.key.stem] = round(output.seconds, 3)
        if progress:
            progress(len(keys) - len(todo) + len(timings), len(keys))

    if progress:
        progress(len(keys) - len(todo), len(keys))
    for output in execute(todo, workers=workers, scheduler=scheduler):
        finish(output)
    timeseries = store.load(k.stem for _, k in keys)
    results = Results(
        path=root,
        timeseries=timeseries,
        summary=summarise(timeseries, scenario.discount_rate_annual),
        manifest=_manifest(scenario, keys, command, workers, scheduler, timings, started),
    )
    results.manifest["resumed_runs"] = len(keys) - len(todo)
    results.save()
    return results


def _manifest(
    scenario: Scenario,
    keys: Sequence[tuple[Scenario, RunKey]],
    command: str,
    workers: int,
    scheduler: str | None,
    timings: dict[str, float],
    started: float,
) -> dict[str, Any]:
    packages = ("channel-sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy")
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "resolved_scenario": scenario.model_dump(mode="json", by_alias=True),
        "command": command,
        "argv": sys.argv,
        "seed": scenario.seed,
        "seeding": "numpy.random.SeedSequence(seed, spawn_key=(replication,))",
        "replications": scenario.replications,
        "runs": [
            {
                "variant": k.variant,
                "replication": k.replication,
                "seed": k.seed,
                "file": f"runs/{k.stem}.parquet",
            }
            for _, k in keys
        ],
        "workers": workers,
        "scheduler": scheduler,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in packages},
        "run_seconds": timings,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
