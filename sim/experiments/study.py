"""Studies: a plan of runs for a scenario (its replications, its variants), executed and saved.

A study (:class:`~sim.scenario.schema.Study`) is the scenario and the design its file gives.

``run``, ``compare`` and ``sweep`` (:mod:`sim.experiments.sweep`) share one path,
:func:`study`: a list of :class:`Cell` (variants or sweep samples) times the replications gives
the run keys; runs already on disk are skipped, the rest execute (in this process, in local
processes or on Dask), each is written as it finishes, then the tables are combined and the
manifest written.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.experiments.options import ProgressHook, StudyOptions, with_options
from sim.experiments.runner import RunKey, execute
from sim.results.stats import paired_differences
from sim.results.store import Results, RunStore
from sim.results.tables import run_frame
from sim.scenario.loader import load_study, variant_of, with_changes
from sim.scenario.sanity import firm_warnings
from sim.scenario.schema import Scenario, Study

BASE_VARIANT = "baseline"
"""Variant name of the unmodified scenario."""


Source = Study | Scenario | str | Path
"""What a study command runs: a study, a scenario (no study design), or a file's path."""


def resolve(source: Source, options: StudyOptions) -> Study:
    """Load a study (if given a path, with ``options.overrides``) and apply the options."""
    if isinstance(source, Scenario):
        resolved = Study(scenario=source)
    elif isinstance(source, Study):
        resolved = source
    else:
        resolved = load_study(source, options.overrides or ())
    changes: dict[str, Any] = {}
    if options.replications is not None:
        changes["replications"] = options.replications
    if options.seed is not None:
        changes["seed"] = options.seed
    return with_changes(resolved, changes, source="run options") if changes else resolved


@with_options
def run(
    scenario: Source,
    options: StudyOptions,
    *,
    progress: ProgressHook | None = None,
) -> Results:
    """Run a scenario's replications and write ``timeseries.parquet``, ``summary.csv``.

    ``scenario`` is a :class:`Study`, a :class:`Scenario` or the path of a YAML file
    (``overrides`` apply to a file only). Returns :class:`Results` with ``.timeseries`` (one
    row per replication x week) and ``.summary``.
    """
    resolved = resolve(scenario, options)
    cells = [Cell(BASE_VARIANT, resolved.scenario)]
    return study(resolved, cells, command="run", options=options, progress=progress)


@with_options
def compare(
    scenario: Source,
    options: StudyOptions,
    *,
    progress: ProgressHook | None = None,
) -> Results:
    """Run every variant with common random numbers; paired differences vs the first.

    The variants are the scenario unchanged (``baseline``) followed by each entry of its
    ``variants`` block, unless that block's first entry is itself named ``baseline``.
    Replication *i* of every variant uses the same seed, so differences are paired. The
    result also has ``.comparison`` (``comparison.csv``).
    """
    resolved = resolve(scenario, options)
    cells = [Cell(BASE_VARIANT, resolved.scenario)]
    cells += [
        Cell(name, variant_of(resolved.scenario, name, changes))
        for name, changes in resolved.variants.items()
    ]

    def analyse(results: Results) -> None:
        results.comparison = paired_differences(results.summary, reference=BASE_VARIANT)

    return study(
        resolved, cells, command="compare", options=options, progress=progress, analyse=analyse
    )


def scenario_hash(resolved: Study) -> str:
    """SHA-256 of the resolved scenario file's canonical JSON: the scenario and its design.

    A results folder holds one study: another variant, sweep or search is another hash.
    """
    text = json.dumps(resolved.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Cell:
    """One point of a study, replicated: a variant of the scenario, or one sweep sample.

    Parameters
    ----------
    variant
        Variant name (``baseline`` for the unmodified scenario and for sweep samples).
    scenario
        The scenario this cell runs.
    sample
        Index of the sweep sample, ``None`` outside sweeps.
    columns
        Extra identifying columns of its rows: the swept key paths and their values.
    """

    variant: str
    scenario: Scenario
    sample: int | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)


class RunsFailedError(RuntimeError):
    """Some runs raised; the others are saved and the same command retries the failed ones."""


def study(
    resolved: Study,
    cells: Sequence[Cell],
    *,
    command: str,
    options: StudyOptions,
    progress: ProgressHook | None = None,
    manifest: Mapping[str, Any] | None = None,
    analyse: Callable[[Results], None] | None = None,
) -> Results:
    """Run every cell's replications, resuming from the runs already on disk.

    The one path behind ``run``, ``compare`` and ``sweep``. Replication *i* of every cell uses
    the same seed (common random numbers). Each finished run is written atomically to
    ``runs/<stem>.parquet`` as it arrives; ``timeseries.parquet`` and the summary are then
    built from those files, one run at a time.

    Parameters
    ----------
    resolved
        The resolved study (its scenario's name, seed, replications and its hash define the
        runs).
    cells
        What to replicate.
    command
        ``run``, ``compare`` or ``sweep``, for the manifest.
    options
        Output folder, workers, scheduler, overwrite (the seed and replications are already
        in ``scenario``).
    progress
        Called as runs finish.
    manifest
        Extra manifest entries.
    analyse
        Adds the command's own tables (comparison, sensitivity) to the results before they
        are written; skipped when some runs failed.

    Raises
    ------
    ResultsFolderError
        If the folder holds runs of another resolved scenario and ``options.overwrite`` is
        false.
    RunsFailedError
        After saving the rest, if any run raised.
    """
    started = time.perf_counter()
    scenario = resolved.scenario
    root = Path(options.out) if options.out is not None else Path("results") / scenario.name
    digest = scenario_hash(resolved)
    tree = resolved.model_dump(mode="json", by_alias=True)
    store = RunStore(root, scenario.name, digest, overwrite=options.overwrite, resolved=tree)
    for stale in (*root.glob(".*.tmp"), *store.runs.glob(".*.tmp")):
        stale.unlink(missing_ok=True)  # left by a killed job, mid-write
    plan = {
        key.stem: (cell, key)
        for cell in cells
        for key in (
            RunKey(cell.variant, replication, scenario.seed, cell.sample)
            for replication in range(scenario.replications)
        )
    }
    done = store.finished()
    todo = [(cell.scenario, key) for stem, (cell, key) in plan.items() if stem not in done]
    resumed = len(plan) - len(todo)
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    if progress:
        progress(resumed, len(plan))
    for output in execute(todo, workers=options.workers, scheduler=options.scheduler):
        stem = output.key.stem
        if output.error is None:
            store.save(stem, run_frame(scenario.name, output, plan[stem][0].columns), output.pnl)
            timings[stem] = round(output.seconds, 3)
        else:
            failures[stem] = output.error
        if progress:
            progress(resumed + len(timings) + len(failures), len(plan))
    finished = [stem for stem in plan if stem not in failures]
    if not finished:
        raise RunsFailedError(_failure_message(failures, len(plan)))
    summary = store.combine(finished, scenario.discount_rate_annual)
    record = _manifest(resolved, plan, command, options, timings, started)
    record.update(resumed_runs=resumed, failed_runs=failures, **dict(manifest or {}))
    results = Results(path=root, summary=summary, manifest=record)
    for table, owner in (("comparison.csv", "compare"), ("sensitivity.csv", "sweep")):
        if command != owner:  # a previous command's table would not describe these results
            (root / table).unlink(missing_ok=True)
    if analyse is not None and not failures:
        analyse(results)
    results.save()
    if failures:
        raise RunsFailedError(_failure_message(failures, len(plan)))
    return results


def _failure_message(failures: Mapping[str, str], total: int) -> str:
    stem, error = next(iter(failures.items()))
    return (
        f"{len(failures)} of {total} runs failed (first: {stem}: {error}); the other runs are "
        "saved and listed in manifest.json; run the same command again to retry the failed ones"
    )


def _manifest(
    resolved: Study,
    plan: Mapping[str, tuple[Cell, RunKey]],
    command: str,
    options: StudyOptions,
    timings: dict[str, float],
    started: float,
) -> dict[str, Any]:
    packages = ("channel-sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy")
    scenario = resolved.scenario
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(resolved),
        "resolved_scenario": resolved.model_dump(mode="json", by_alias=True),
        "warnings": firm_warnings(scenario),
        "command": command,
        "argv": sys.argv,
        "seed": scenario.seed,
        "seeding": "numpy.random.SeedSequence(seed, spawn_key=(replication,))",
        "replications": scenario.replications,
        "runs": [
            {
                "variant": key.variant,
                "replication": key.replication,
                "seed": key.seed,
                **({} if key.sample is None else {"sample": key.sample, **cell.columns}),
                "file": f"runs/{stem}.parquet",
            }
            for stem, (cell, key) in plan.items()
        ],
        "workers": options.workers,
        "scheduler": options.scheduler,
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
