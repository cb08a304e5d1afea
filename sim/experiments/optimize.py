"""Recommend a channel plan: search the levers, re-evaluate the finalists, stress-test the winner.

``channel-sim optimize`` reads the scenario's ``optimize`` block (docs/optimize.md):

1. **Search** (:func:`search`): Optuna proposes lever values (TPE for one objective, NSGA-II for
   several; seeded by the scenario's seed), ``batch`` candidates at a time; each candidate runs
   on the same ``replications`` replication indices (common random numbers) and is scored by
   its mean. Constraints hold on the mean (Optuna's ``constraints_func``). The study lives in
   ``study.db`` (SQLite) in the results folder: a killed search resumes where it stopped.
2. **Finalists**: the best feasible candidates are re-evaluated, with the scenario as written
   (``baseline``), on ``finalist_replications`` replication indices the search never used, as a
   ``compare`` study; the best feasible one there is recommended, with its paired 95% CI
   against the baseline (so the winner is not the luckiest draw of the search).
3. **Stress test** (:mod:`sim.experiments.stress`), when the scenario has ``uncertainties``.

The search core takes the evaluation as a parameter (a function of lever values and a
replication index), so it runs on a toy objective as well as on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.experiments import stress
from sim.experiments.candidates import (
    Candidate,
    Evaluate,
    Levers,
    candidate_scenario,
    model_evaluator,
)
from sim.experiments.options import ProgressHook, StudyOptions, with_options
from sim.experiments.study import BASE_VARIANT, Cell, Source, resolve, scenario_hash, study
from sim.metrics import SUMMARY_BY_NAME
from sim.results.stats import mean_ci, paired_differences
from sim.results.store import Results, RunStore, write_csv, write_text
from sim.results.tables import SUMMARY_METRICS
from sim.scenario.levers import LEVERS_BY_NAME
from sim.scenario.loader import ScenarioError, with_changes
from sim.scenario.schema import Lever, Optimize, Scenario, Study

RECOMMENDED = "recommended"
"""Name of the recommended plan's variant in ``recommendation.yaml``."""

OWN_FILES = (
    "study.db",
    "optimization.csv",
    "recommendation.yaml",
    "stress.csv",
    "stress.json",
    "regret.csv",
    "prim_box.csv",
)
"""What optimize writes besides a compare study's files (removed by ``--overwrite``)."""


# --------------------------------------------------------------------------- search


def search(
    block: Optimize,
    evaluate: Evaluate,
    *,
    replications: Sequence[int],
    seed: int,
    storage: str | None = None,
    study_name: str = "optimize",
    progress: Callable[[int], None] | None = None,
) -> list[Candidate]:
    """Run ``block.trials`` candidates through ``evaluate``; resume a stored study.

    Parameters
    ----------
    block
        Levers, objectives, constraints, trials and batch size.
    evaluate
        Scores a batch of (lever values, replication) jobs.
    replications
        Replication indices every candidate runs (common random numbers).
    seed
        Seeds the sampler; with the same seed and batch size the same candidates come out.
    storage
        Optuna storage URL (``sqlite:///.../study.db``); ``None`` keeps the study in memory.
    study_name
        Name of the study in ``storage``.
    progress
        Called with the number of jobs finished in each batch.

    Returns
    -------
    Every finished candidate, in trial order (those of an earlier, interrupted call
    included; a trial it left unfinished is evaluated now, not asked again).
    """
    import optuna
    from optuna.trial import Trial, TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        sampler=_sampler(block, seed),
        directions=list(block.objectives.values()),
        load_if_exists=True,
    )
    space = {path: _distribution(lever) for path, lever in block.levers.items()}
    # trials a killed search left running: finish them first (Optuna has no public handle
    # from a stored trial back to a live one, hence the private id)
    left = [Trial(study, t._trial_id) for t in study.get_trials(states=(TrialState.RUNNING,))]
    while True:
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        wanted = min(block.batch, block.trials - done) - len(left)
        batch = left + [study.ask(space) for _ in range(max(0, wanted))]
        left = []
        if not batch:
            break
        jobs = [(trial.params, r) for trial in batch for r in replications]
        scores = evaluate(jobs)
        for i, trial in enumerate(batch):
            _tell(study, trial, scores[i * len(replications) : (i + 1) * len(replications)], block)
        if progress:
            progress(len(jobs))
    return [
        Candidate(t.number, dict(t.params), _arrays(t.user_attrs["metrics"]))
        for t in study.get_trials(states=(TrialState.COMPLETE,))
    ]


def _tell(study: Any, trial: Any, rows: Sequence[Mapping[str, float]], block: Optimize) -> None:
    """Store a trial's per-replication metrics and constraint values; report its means."""
    metrics = {name: [row[name] for row in rows] for name in rows[0]}
    means = {name: float(np.mean(values)) for name, values in metrics.items()}
    trial.set_user_attr("metrics", metrics)
    for constraint in block.constraints:
        trial.set_constraint(str(constraint), constraint.violation(means[constraint.metric]))
    study.tell(trial, [means[name] for name in block.objectives])


def _sampler(block: Optimize, seed: int) -> Any:
    """TPE for one objective, NSGA-II for several; both read the trials' constraint values."""
    from optuna.samplers import NSGAIISampler, TPESampler

    if len(block.objectives) == 1:
        return TPESampler(seed=seed)
    return NSGAIISampler(seed=seed, population_size=max(block.batch, 4))


def _distribution(lever: Lever) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if lever.choices is not None:
        return CategoricalDistribution(list(lever.choices))
    assert lever.low is not None and lever.high is not None  # the schema checked it
    if lever.type == "int":
        return IntDistribution(round(lever.low), round(lever.high))
    return FloatDistribution(lever.low, lever.high)


def _arrays(metrics: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    return {name: np.asarray(values, dtype=float) for name, values in metrics.items()}


# --------------------------------------------------------------------------- selection


def feasible(candidate: Candidate, block: Optimize) -> bool:
    """Whether the candidate's means satisfy every constraint."""
    return all(c.violation(candidate.mean(c.metric)) <= 0 for c in block.constraints)


def pareto_front(candidates: Sequence[Candidate], block: Optimize) -> list[bool]:
    """Whether each candidate is non-dominated on the objectives' means."""
    if not candidates:
        return []
    sign = np.array([1.0 if d == "maximize" else -1.0 for d in block.objectives.values()])
    scores = np.array([[c.mean(m) for m in block.objectives] for c in candidates]) * sign
    return [
        not any(np.all(other >= own) and np.any(other > own) for other in scores) for own in scores
    ]


def ranked(candidates: Sequence[Candidate], block: Optimize) -> list[Candidate]:
    """Feasible candidates, best first: Pareto front first, then by the first objective."""
    pool = [c for c in candidates if feasible(c, block)]
    front = pareto_front(pool, block)
    metric, direction = next(iter(block.objectives.items()))
    sign = 1.0 if direction == "maximize" else -1.0
    order = sorted(range(len(pool)), key=lambda i: (not front[i], -sign * pool[i].mean(metric)))
    return [pool[i] for i in order]


# --------------------------------------------------------------------------- checks


def check_metrics(block: Optimize) -> None:
    """Objectives and constraints must name summary metrics.

    Raises
    ------
    ScenarioError
        Naming the key path (``optimize.constraints.0``), the bad name and the allowed ones.
    """
    named = [(f"optimize.objectives.{name}", name) for name in block.objectives]
    named += [(f"optimize.constraints.{i}", c.metric) for i, c in enumerate(block.constraints)]
    for where, name in named:
        if name not in SUMMARY_METRICS:
            raise ScenarioError(
                f"{where}: {name!r} is not a summary metric; allowed: {', '.join(SUMMARY_METRICS)}"
            )


def check_paths(scenario: Scenario, values: Mapping[str, Sequence[Any]], where: str) -> None:
    """Every value of every key path must give a valid scenario (bounds, choices).

    Raises
    ------
    ScenarioError
        Naming ``where`` (``optimize.levers``), the key path and the reason.
    """
    for path, options in values.items():
        if path.split(".")[0] in ("seed", "replications", "name", *Study.design_keys()):
            raise ScenarioError(f"{where}.{path}: this key cannot be varied; it defines the study")
        for value in options:
            try:
                candidate_scenario(scenario, {path: value})
            except ScenarioError as exc:
                detail = str(exc).removeprefix("variant 'candidate': ")
                raise ScenarioError(f"{where}.{path} = {value!r}: {detail}") from None


def lever_ends(lever: Lever) -> list[Any]:
    """The values a lever's validity is checked at: its bounds, or all its choices."""
    if lever.choices is not None:
        return list(lever.choices)
    low, high = lever.low, lever.high
    return [round(low), round(high)] if lever.type == "int" else [low, high]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tables


def candidate_rows(candidates: Sequence[Candidate], block: Optimize, *, stage: str) -> pd.DataFrame:
    """``optimization.csv`` rows: levers, each objective's and constraint's mean and 95% CI."""
    metrics = list(dict.fromkeys([*block.objectives, *(c.metric for c in block.constraints)]))
    pool = [c for c in candidates if feasible(c, block)]
    front = {c.trial for c, on in zip(pool, pareto_front(pool, block), strict=True) if on}
    rows = []
    for candidate in candidates:
        row: dict[str, Any] = {"stage": stage, "trial": candidate.trial, "variant": candidate.name}
        row.update({path: candidate.levers.get(path) for path in block.levers})
        row["replications"] = len(next(iter(candidate.metrics.values())))
        for metric in metrics:
            bounds = SUMMARY_BY_NAME[metric].unit.bounds
            mean, low, high = mean_ci(candidate.metrics[metric], bounds=bounds)
            row.update({f"{metric}_mean": mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        broken = [str(c) for c in block.constraints if c.violation(candidate.mean(c.metric)) > 0]
        row.update(feasible=not broken, violated="; ".join(broken), pareto=candidate.trial in front)
        rows.append(row)
    return pd.DataFrame(rows)


def recommendation_yaml(
    resolved: Study, levers: Levers, comparison: pd.DataFrame, block: Optimize
) -> str:
    """``recommendation.yaml``: the scenario as optimised, its plan as variant ``recommended``.

    ``channel-sim compare`` on the file re-runs the comparison; ``with_changes(scenario,
    variants["recommended"])`` gives the recommended plan.
    """
    name = resolved.scenario.name
    lines = [f"Recommended by `channel-sim optimize` for scenario {name!r}."]
    for metric in block.objectives:
        row = comparison[comparison["metric"] == metric].iloc[0]
        lines.append(
            f"{metric}: recommended - as written = {row.mean_difference:,.0f} "
            f"(95% CI {row.ci_low:,.0f} .. {row.ci_high:,.0f}; paired over replications "
            f"0..{int(row.n) - 1}, common random numbers)"
        )
    lines.append(
        f"Reproduce: channel-sim compare THIS_FILE --replications {block.finalist_replications}"
    )
    tree = resolved.model_dump(mode="json", by_alias=True)
    tree.update(
        name=f"{name}_recommendation",
        description=" ".join(lines[:2]),
        variants={RECOMMENDED: dict(levers)},
        sweep=None,
        optimize=None,
        uncertainties=None,
    )
    header = "".join(f"# {line}\n" for line in lines)
    return header + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def recommended_changes(recommendation: Study) -> dict[str, Any]:
    """The recommended plan's ``key.path: value`` changes, from a loaded recommendation file."""
    if RECOMMENDED not in recommendation.variants:
        raise ScenarioError(
            f"scenario {recommendation.scenario.name!r} has no variant {RECOMMENDED!r}; "
            "give a recommendation.yaml written by `channel-sim optimize`"
        )
    return dict(recommendation.variants[RECOMMENDED])


# --------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class Recommendation:
    """What :func:`optimize` concluded."""

    results: Results
    candidates: pd.DataFrame
    recommended: Candidate | None
    baseline: Candidate
    finalists: list[Candidate]
    stress: Any = None
    unmet: str | None = None
    """Why no plan is recommended (:func:`unmet_constraints`), when none is."""


@with_options
def optimize(
    scenario: Source,
    options: StudyOptions,
    *,
    progress: ProgressHook | None = None,
) -> Recommendation:
    """Search the ``optimize`` block's levers, recommend a plan, stress-test it.

    Writes ``optimization.csv``, ``recommendation.yaml`` (when a plan meets the constraints),
    the finalists' compare study (``summary.csv``, ``comparison.csv``, ...), and with an
    ``uncertainties`` block ``stress.csv``, ``regret.csv`` and ``prim_box.csv``. Re-running
    the same command resumes the search and the finalists' runs.
    """
    resolved, block = _resolve(scenario, options)
    written = resolved.scenario  # the plan as written
    root = Path(options.out) if options.out is not None else Path("results") / written.name
    digest = scenario_hash(resolved)
    tree = resolved.model_dump(mode="json", by_alias=True)
    RunStore(root, written.name, digest, overwrite=options.overwrite, resolved=tree)  # or refuses
    if options.overwrite:
        for name in OWN_FILES:
            (root / name).unlink(missing_ok=True)
    tally = _Tally(_total_runs(resolved), progress)
    tally.add(0)  # the input is checked: progress can show
    first = block.finalist_replications  # the search runs replications the finalists do not
    searched = search(
        block,
        model_evaluator(written, workers=options.workers, scheduler=options.scheduler),
        replications=range(first, first + block.replications),
        seed=written.seed,
        storage=f"sqlite:///{(root / 'study.db').resolve()}",
        study_name=f"{written.name}-{digest[:16]}",
        progress=tally.add,
    )
    finalists = ranked(searched, block)[: block.finalists]
    results = _reevaluate(resolved, finalists, options, tally)
    as_written = Candidate(-1, {p: value_at(written, p) for p in block.levers}, {})
    baseline, *reevaluated = _from_summary(results.summary, [as_written, *finalists])
    best = ranked([baseline, *reevaluated], block)
    recommended = best[0] if best else None
    table = pd.concat(
        [
            candidate_rows(searched, block, stage="search"),
            candidate_rows([baseline, *reevaluated], block, stage="finalist"),
        ],
        ignore_index=True,
    )
    table["recommended"] = (table["stage"] == "finalist") & (
        table["trial"] == (recommended.trial if recommended else None)
    )
    write_csv(root / "optimization.csv", table)
    (root / "recommendation.yaml").unlink(missing_ok=True)
    outcome = Recommendation(results, table, recommended, baseline, reevaluated)
    if recommended is None:
        return replace(outcome, unmet=unmet_constraints(table, block, results))
    if recommended.trial >= 0:
        assert results.comparison is not None
        own = results.comparison[results.comparison["variant"] == recommended.name]
        text = recommendation_yaml(resolved, recommended.levers, own, block)
        write_text(root / "recommendation.yaml", text)
    # PRIM looks for where the choice loses: to the plan as written, or to the best finalist
    rival = baseline if recommended.trial >= 0 else next(iter(best[1:]), None)
    if resolved.uncertainties is None or rival is None:
        return outcome
    tested = stress.stress_test(
        written,
        resolved.uncertainties,
        [baseline, *reevaluated],
        recommended=recommended.name,
        rival=rival.name,
        objective=next(iter(block.objectives.items())),
        root=root,
        workers=options.workers,
        scheduler=options.scheduler,
        progress=tally.add,
    )
    return replace(outcome, stress=tested)


def unmet_constraints(table: pd.DataFrame, block: Optimize, results: Results) -> str:
    """Say what was searched, which constraint no plan met, the best value reached, what to do.

    Parameters
    ----------
    table
        ``optimization.csv``: every candidate of the search and of the finalists' stage.
    block
        The optimize block searched.
    results
        The finalists' study (the plan as written and any finalist), kept on disk.
    """
    search = table[table["stage"] == "search"]
    ranges = ", ".join(f"{path} {_span(lever)}" for path, lever in block.levers.items())
    lines = [
        f"no plan meets optimize.constraints: searched {len(search)} candidates over "
        f"{_count(len(block.levers), 'lever')} ({ranges}), "
        f"{_count(block.replications, 'replication')} each, and the plan as written on "
        f"{block.finalist_replications}; a constraint holds on the mean over replications"
    ]
    for i, constraint in enumerate(block.constraints):
        means = table[f"{constraint.metric}_mean"]
        met = int((means.apply(constraint.violation) <= 0).sum())
        best_at = means.idxmax() if constraint.operator == ">=" else means.idxmin()
        best = table.loc[best_at]
        plan = "the plan as written" if best["trial"] < 0 else f"trial {best['trial']}"
        written = table[(table["stage"] == "finalist") & (table["trial"] < 0)]
        as_written = float(written[f"{constraint.metric}_mean"].iloc[0]) if len(written) else None
        line = (
            f"optimize.constraints.{i} {constraint}: met by {met} of {len(table)} evaluations; "
            f"the best reached {means[best_at]:,.4g} ({plan})"
        )
        if as_written is not None:
            line += f", the plan as written {as_written:,.4g}"
        lines.append(line + _ceiling(constraint, results))
        if met:
            continue
        lines.append(
            f"  to change: relax it (e.g. '{constraint.metric} {constraint.operator} "
            f"{_rounded_toward(means[best_at], constraint.operator)}'), widen optimize.levers, "
            "search more (--trials), or change the scenario so the bound can be reached"
        )
    lines.append(
        f"kept in {results.path}: optimization.csv (every candidate), study.db (the search, "
        "resumed by the same command), the plan as written's runs; no recommendation.yaml"
    )
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _span(lever: Lever) -> str:
    if lever.choices is not None:
        return "/".join(str(c) for c in lever.choices)
    return f"{lever.low:g}..{lever.high:g}"


def _rounded_toward(value: float, operator: str) -> str:
    """A bound a little inside ``value`` (3 significant digits), as text."""
    text = f"{value:.3g}"
    bound = float(text)
    if (operator == ">=" and bound > value) or (operator == "<=" and bound < value):
        step = 10 ** (np.floor(np.log10(abs(value))) - 2) if value else 0.0
        bound = bound - step if operator == ">=" else bound + step
    return f"{bound:g}"


def _ceiling(constraint: Any, results: Results) -> str:
    """For ``distributors_active_end >= bound``: the distributors there are to keep."""
    if constraint.metric != "distributors_active_end" or constraint.operator != ">=":
        return ""
    try:
        weekly = pd.read_parquet(
            results.path / "timeseries.parquet", columns=["week", "distributors_active"]
        )
    except (OSError, ValueError, KeyError):
        return ""
    start = float(weekly.loc[weekly["week"] == weekly["week"].min(), "distributors_active"].max())
    if start >= constraint.bound:
        return ""
    return (
        f"; the scenario has only {_count(round(start), 'distributor')} in its first week, "
        f"fewer than "
        f"{constraint.bound:g} (the network's size follows market.buyers and "
        "distributors.accounts_per_distributor)"
    )


def _resolve(source: Source, options: StudyOptions) -> tuple[Study, Optimize]:
    """The study to optimise (replications = the finalists'), its block, checked."""
    if options.replications is not None:
        raise ScenarioError(
            "--replications: optimize runs optimize.replications per candidate and "
            "optimize.finalist_replications per finalist; set those, e.g. "
            "--set optimize.replications=4"
        )
    resolved = resolve(source, options)
    block = resolved.optimize
    if block is None:
        raise ScenarioError(
            f"scenario {resolved.scenario.name!r} has no optimize block; add e.g. {_example()}"
        )
    resolved = with_changes(
        resolved,
        {"replications": block.finalist_replications},
        source="optimize.finalist_replications",
    )
    check_metrics(block)
    written = resolved.scenario
    check_paths(written, {p: lever_ends(v) for p, v in block.levers.items()}, "optimize.levers")
    if resolved.uncertainties is not None:
        check_paths(written, resolved.uncertainties.parameters, "uncertainties.parameters")
    return resolved, block


def _example() -> str:
    """An ``optimize`` block searching the referral fee over the workshop's range."""
    lever = LEVERS_BY_NAME["distributor_referral_fee"]
    assert lever.span is not None
    levers = f"{{{lever.key_path}: [{lever.span.low:g}, {lever.span.high:g}]}}"
    return (
        f"optimize: {{levers: {levers}, objectives: {{npv_contribution_with_terminal: maximize}}}}"
    )


def _reevaluate(
    resolved: Study, finalists: Sequence[Candidate], options: StudyOptions, tally: _Tally
) -> Results:
    """The finalists and the plan as written, as a compare study (replications 0..n-1)."""
    assert resolved.optimize is not None
    written = resolved.scenario
    cells = [Cell(BASE_VARIANT, written)]
    cells += [Cell(c.name, candidate_scenario(written, c.levers)) for c in finalists]
    before = tally.done
    return study(
        resolved,
        cells,
        command="optimize",
        options=replace(options, overwrite=False),  # the folder was opened (or cleared) already
        progress=lambda finished, _total: tally.add(before + finished - tally.done),
        manifest={"optimize": resolved.optimize.model_dump(mode="json")},
        analyse=_paired,
    )


@dataclass
class _Tally:
    """Runs finished across the stages, reported to a progress hook."""

    total: int
    hook: ProgressHook | None
    done: int = 0

    def add(self, runs: int) -> None:
        self.done += runs
        if self.hook:
            self.hook(self.done, self.total)


def _paired(results: Results) -> None:
    results.comparison = paired_differences(results.summary, reference=BASE_VARIANT)


def _from_summary(summary: pd.DataFrame, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates re-scored on the finalists' study (its ``summary.csv``)."""
    scored = []
    for candidate in candidates:
        rows = summary[summary["variant"] == candidate.name].sort_values("replication")
        metrics = {m: rows[m].to_numpy(dtype=float) for m in SUMMARY_METRICS}
        scored.append(replace(candidate, metrics=metrics))
    return scored


def value_at(scenario: Scenario, key_path: str) -> Any:
    """The value at ``key.path`` in ``scenario`` (digits index into lists)."""
    node: Any = scenario.model_dump(mode="json", by_alias=True)
    for part in key_path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _total_runs(resolved: Study) -> int:
    block = resolved.optimize
    assert block is not None
    runs = block.trials * block.replications + (block.finalists + 1) * block.finalist_replications
    if resolved.uncertainties is not None:
        u = resolved.uncertainties
        runs += u.worlds * (block.finalists + 1) * u.replications
    return runs
