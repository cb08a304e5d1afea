"""Parameter sweeps: a design over the scenario's ``sweep`` block, run, then sensitivity indices.

The design comes from SALib (Herman & Usher 2017) except the full-factorial grid:

``grid``
    Every combination of ``samples`` evenly spaced levels per parameter (``samples ** D``
    points, bounds included).
``lhs``
    ``samples`` points of a Latin hypercube (``SALib.sample.latin``).
``sobol``
    Saltelli's scheme on a scrambled Sobol' sequence (``SALib.sample.sobol``) with
    ``N = samples`` and second-order terms: ``N * (2D + 2)`` points. Use a power of 2 for N.

Each design point (a *sample*) is the scenario with the swept ``key.path`` values applied, as a
variant is; keys whose value in the scenario is an integer (``ramp_weeks``, counts) get the
point's value rounded to the nearest integer. Every sample runs every replication, and
replication *i* uses the same seed in every sample (common random numbers), so differences
between samples are not blurred by different random draws.

``sensitivity.csv`` is computed on each output's mean over replications per sample:

- ``sobol``: first-order and total Sobol' indices with bootstrap 95% confidence half-widths
  (``S1, S1_conf, ST, ST_conf``) from ``SALib.analyze.sobol`` (Saltelli et al. 2010). The
  second-order indices are in the manifest (``sweep.second_order``).
- ``lhs``, ``grid``: standardized regression coefficients (``SRC``, ``SRC_conf``: 95% t
  half-width) of a linear fit of the standardized output on the standardized parameters, and
  the fit's ``R2``. ``SRC ** 2`` approximates a first-order index when ``R2`` is near 1; a low
  ``R2`` says the response is non-linear and a Sobol' design is needed.

References
----------
Herman, J. and Usher, W. (2017) SALib: An open-source Python library for sensitivity
analysis. Journal of Open Source Software 2(9). Saltelli, A. et al. (2010) Variance based
sensitivity analysis of model output. Computer Physics Communications 181(2), 259-270.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.options import ProgressHook, StudyOptions, with_options
from sim.experiments.study import BASE_VARIANT, Cell, Source, resolve, study
from sim.results.store import Results
from sim.results.tables import ID_COLUMNS, SUMMARY_METRICS
from sim.scenario.loader import ScenarioError, variant_of
from sim.scenario.schema import Scenario, Study, Sweep

RESERVED_KEYS = frozenset({*ID_COLUMNS, "sample", "replications", "extends", *Study.design_keys()})
"""Key paths that cannot be swept (they identify runs or define the study itself)."""

MAX_GRID_POINTS = 1_000_000
"""Largest full-factorial design accepted (``samples ** parameters``)."""


@dataclass(frozen=True)
class Design:
    """Points of a sweep design.

    Attributes
    ----------
    method
        ``grid``, ``lhs`` or ``sobol``.
    parameters
        Swept key path -> (low, high).
    points
        One row per sample, one column per parameter (in ``parameters`` order), unrounded.
    second_order
        Whether a Sobol' design carries the second-order (cross) blocks.
    notes
        Warnings raised while sampling (e.g. N not a power of 2).
    """

    method: str
    parameters: dict[str, tuple[float, float]]
    points: np.ndarray
    second_order: bool = True
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """Swept key paths."""
        return list(self.parameters)

    @property
    def problem(self) -> dict[str, Any]:
        """The SALib problem definition."""
        return {
            "num_vars": len(self.parameters),
            "names": self.names,
            "bounds": [list(bounds) for bounds in self.parameters.values()],
        }


def design(sweep: Sweep, *, seed: int | None = None) -> Design:
    """The design points of a ``sweep`` block (deterministic for a given ``seed``).

    Parameters
    ----------
    sweep
        Method, samples and parameter bounds.
    seed
        Seeds the Latin hypercube and the Sobol' scrambling.
    """
    parameters = {name: (float(low), float(high)) for name, (low, high) in sweep.parameters.items()}
    if sweep.method == "grid" and sweep.samples ** len(parameters) > MAX_GRID_POINTS:
        raise ScenarioError(
            f"sweep: a grid of {sweep.samples} levels on {len(parameters)} parameters has "
            f"{sweep.samples ** len(parameters):,} points (at most {MAX_GRID_POINTS:,}); "
            "use fewer levels, or method lhs or sobol"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if sweep.method == "grid":
            levels = [np.linspace(low, high, sweep.samples) for low, high in parameters.values()]
            points = np.array(list(itertools.product(*levels)), dtype=float)
        else:
            problem = Design(sweep.method, parameters, np.empty((0, 0))).problem
            if sweep.method == "lhs":
                from SALib.sample import latin

                points = latin.sample(problem, sweep.samples, seed=seed)
            else:
                from SALib.sample import sobol

                points = sobol.sample(problem, sweep.samples, calc_second_order=True, seed=seed)
    notes = tuple(dict.fromkeys(str(w.message) for w in caught))
    return Design(sweep.method, parameters, np.asarray(points, dtype=float), True, notes)


def sample_cells(scenario: Scenario, plan: Design) -> list[Cell]:
    """One :class:`Cell` per design point: the scenario with the point's values applied.

    Raises
    ------
    ScenarioError
        If a key path cannot be swept or a point gives an invalid scenario (e.g. bounds
        outside what the key allows); the message names the sample and its values.
    """
    reserved = [name for name in plan.names if name.split(".")[0] in RESERVED_KEYS]
    if reserved:
        raise ScenarioError(
            f"sweep.parameters: {reserved[0]!r} cannot be swept; it identifies runs or the study"
        )
    current = scenario.model_dump(by_alias=True)
    integral = {name: _is_int(_lookup(current, name)) for name in plan.names}

    def value(name: str, raw: float) -> float | int:
        return round(float(raw)) if integral[name] else float(raw)

    for name, bounds in plan.parameters.items():  # the whole range must be valid
        for bound in bounds:
            _apply(scenario, {name: value(name, bound)}, "sweep.parameters")
    cells = []
    for index, point in enumerate(plan.points):
        values = {name: value(name, raw) for name, raw in zip(plan.names, point, strict=True)}
        variant = _apply(scenario, values, f"sweep: sample {index} {values}")
        cells.append(Cell(BASE_VARIANT, variant, index, values))
    return cells


def _apply(scenario: Scenario, values: dict[str, float | int], where: str) -> Scenario:
    try:
        return variant_of(scenario, "sweep", values)
    except ScenarioError as exc:
        detail = str(exc).removeprefix("variant 'sweep': ").replace("variants.sweep: ", "")
        raise ScenarioError(f"{where}: {detail}") from None


def sensitivity(
    plan: Design,
    outputs: Mapping[str, np.ndarray],
    *,
    seed: int | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Sensitivity indices of each output to each swept parameter.

    Parameters
    ----------
    plan
        The design the outputs were computed on.
    outputs
        Output name -> one value per design point, in design order.
    seed
        Seeds the bootstrap of the Sobol' confidence intervals.
    level
        Confidence level of the ``*_conf`` half-widths.

    Returns
    -------
    DataFrame
        One row per output x parameter: ``output, parameter, S1, S1_conf, ST, ST_conf`` for a
        Sobol' design, ``output, parameter, SRC, SRC_conf, R2`` otherwise; then ``note``
        (why a row is NaN, e.g. an output that does not vary).
    """
    rows = []
    for output, values in outputs.items():
        y = np.asarray(values, dtype=float)
        if len(y) != len(plan.points):
            raise ValueError(f"{output}: {len(y)} values for {len(plan.points)} design points")
        note = ""
        if not np.all(np.isfinite(y)):
            note = "missing or infinite values"
        elif np.ptp(y) == 0:
            note = "constant across samples"
        if plan.method == "sobol":
            indices = _sobol_indices(plan, y, seed=seed, level=level) if not note else {}
            for i, name in enumerate(plan.names):
                row: dict[str, Any] = {"output": output, "parameter": name}
                for column in ("S1", "S1_conf", "ST", "ST_conf"):
                    row[column] = float(indices[column][i]) if indices else float("nan")
                rows.append({**row, "note": note})
        else:
            src, conf, r2 = _src(plan.points, y, level) if not note else (None, None, np.nan)
            for i, name in enumerate(plan.names):
                rows.append(
                    {
                        "output": output,
                        "parameter": name,
                        "SRC": float(src[i]) if src is not None else float("nan"),
                        "SRC_conf": float(conf[i]) if conf is not None else float("nan"),
                        "R2": float(r2),
                        "note": note,
                    }
                )
    return pd.DataFrame(rows)


def second_order(
    plan: Design, outputs: Mapping[str, np.ndarray], *, seed: int | None = None
) -> list[dict[str, Any]]:
    """Second-order Sobol' indices (``S2``, ``S2_conf``) per output and parameter pair."""
    rows = []
    for output, values in outputs.items():
        y = np.asarray(values, dtype=float)
        if plan.method != "sobol" or not np.all(np.isfinite(y)) or np.ptp(y) == 0:
            continue
        indices = _sobol_indices(plan, y, seed=seed, level=0.95)
        for i, j in itertools.combinations(range(len(plan.names)), 2):
            rows.append(
                {
                    "output": output,
                    "parameters": [plan.names[i], plan.names[j]],
                    "S2": float(indices["S2"][i, j]),
                    "S2_conf": float(indices["S2_conf"][i, j]),
                }
            )
    return rows


@with_options
def sweep(
    scenario: Source,
    options: StudyOptions,
    *,
    progress: ProgressHook | None = None,
) -> Results:
    """Run the scenario's ``sweep`` block: every design point x replication, then sensitivity.

    The design is seeded by the scenario's seed, so re-running the same command resumes the
    same runs. Returns :class:`Results` whose ``.timeseries`` and ``.summary`` have a
    ``sample`` column and one column per swept key path, and ``.sensitivity`` (also
    ``sensitivity.csv``). Raises :class:`ScenarioError` if the scenario has no ``sweep``
    block, or a key path or output is not valid.
    """
    resolved = resolve(scenario, options)
    block = resolved.sweep
    if block is None:
        raise ScenarioError(
            f"scenario {resolved.scenario.name!r} has no sweep block; add e.g. "
            "sweep: {method: sobol, samples: 64, parameters: {key.path: [low, high]}, "
            "outputs: [contribution_margin]}"
        )
    unknown = [name for name in block.outputs if name not in SUMMARY_METRICS]
    if unknown:
        raise ScenarioError(
            f"sweep.outputs: {unknown[0]!r} is not a summary metric; "
            f"allowed: {', '.join(SUMMARY_METRICS)}"
        )
    seed = resolved.scenario.seed
    plan = design(block, seed=seed)
    cells = sample_cells(resolved.scenario, plan)
    record = {
        "sweep": {
            "method": plan.method,
            "samples": block.samples,
            "design_points": len(plan.points),
            "parameters": {name: list(bounds) for name, bounds in plan.parameters.items()},
            "integer_parameters": [
                name for name in plan.names if isinstance(cells[0].columns[name], int)
            ],
            "outputs": list(block.outputs),
            "design_seed": seed,
            "notes": list(plan.notes),
        }
    }

    def analyse(results: Results) -> None:
        means = results.summary.groupby("sample")[list(block.outputs)].mean()
        means = means.reindex(range(len(plan.points)))
        outputs = {name: means[name].to_numpy() for name in block.outputs}
        results.sensitivity = sensitivity(plan, outputs, seed=seed)
        results.manifest["sweep"]["second_order"] = second_order(plan, outputs, seed=seed)

    return study(
        resolved,
        cells,
        command="sweep",
        options=options,
        progress=progress,
        manifest=record,
        analyse=analyse,
    )


# --------------------------------------------------------------------------- internals


def _lookup(tree: Any, key_path: str) -> Any:
    node = tree
    for part in key_path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _sobol_indices(plan: Design, y: np.ndarray, *, seed: int | None, level: float) -> Any:
    from SALib.analyze import sobol

    return sobol.analyze(
        plan.problem, y, calc_second_order=plan.second_order, conf_level=level, seed=seed
    )


def _src(points: np.ndarray, y: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Standardized regression coefficients, their t half-widths, and the fit's R^2."""
    spread = points.std(axis=0)
    x = (points - points.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    z = (y - y.mean()) / y.std()
    design_matrix = np.column_stack([np.ones(len(z)), x])
    coef, *_ = np.linalg.lstsq(design_matrix, z, rcond=None)
    residuals = z - design_matrix @ coef
    r2 = 1.0 - float(residuals @ residuals) / float(z @ z)
    dof = len(z) - design_matrix.shape[1]
    if dof > 0:
        sigma2 = float(residuals @ residuals) / dof
        cov = sigma2 * np.linalg.pinv(design_matrix.T @ design_matrix)
        half = stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(np.diag(cov))[1:]
    else:
        half = np.full(points.shape[1], np.nan)
    src = np.where(spread > 0, coef[1:], np.nan)
    return src, half, r2
