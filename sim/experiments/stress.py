"""Stress-test a recommendation: sampled worlds, regret, and where it loses (PRIM).

The scenario's ``uncertainties`` block gives ranges for inputs nobody controls (Bass p and q,
the distributors' reaction, price sensitivity). A seeded Latin hypercube (McKay, Beckman &
Conover 1979; ``scipy.stats.qmc.LatinHypercube``) samples ``worlds`` points; every policy (the
scenario as written, the recommendation, the other finalists) runs in every world on the same
replication indices (common random numbers). In each world a policy's *regret* is the best
policy's objective minus its own (Savage 1951; Lempert, Popper & Bankes 2003): a robust plan
has a small maximum regret.

Scenario discovery (Bryant & Lempert 2010) then asks in which region of the uncertainties the
recommendation loses to the baseline (or, when the recommendation is to keep the plan as
written, where the best finalist beats it), with PRIM (Friedman & Fisher 1999) from the EMA
Workbench (Kwakkel 2017): boxes are peeled 5% at a time (``peel_alpha = 0.05``) towards the
losing worlds; the box reported is the one with the largest coverage (share of all losing
worlds inside it) among those whose density (share of worlds inside it that lose) reaches
``threshold``.

References
----------
Bryant, B.P. and Lempert, R.J. (2010) Thinking inside the box. Technological Forecasting and
Social Change 77(1), 34-49. Friedman, J.H. and Fisher, N.I. (1999) Bump hunting in
high-dimensional data. Statistics and Computing 9, 123-143. Kwakkel, J.H. (2017) The
Exploratory Modeling Workbench. Environmental Modelling & Software 96, 239-250.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.experiments.candidates import Candidate, model_evaluator
from sim.results.store import write_csv, write_text
from sim.scenario.schema import Scenario, Uncertainties


@dataclass(frozen=True)
class Box:
    """A PRIM box: bounds per uncertainty and how well it captures the losing worlds.

    ``limits`` has one row per uncertainty: ``parameter, low, high, restricted`` (restricted:
    the box is narrower than the sampled range).
    """

    limits: pd.DataFrame
    coverage: float
    density: float
    mass: float

    def statement(self, outcome: str) -> str:
        """The box in words: ``outcome when x > a and y < b``."""
        terms = []
        for row in self.limits[self.limits["restricted"]].itertuples():
            if row.low_restricted and row.high_restricted:
                terms.append(f"{row.parameter} is between {row.low:.4g} and {row.high:.4g}")
            elif row.low_restricted:
                terms.append(f"{row.parameter} > {row.low:.4g}")
            else:
                terms.append(f"{row.parameter} < {row.high:.4g}")
        where = " and ".join(terms) if terms else "anywhere in the sampled ranges"
        return (
            f"{outcome} when {where} (coverage {self.coverage:.0%} of those worlds, "
            f"density {self.density:.0%} of the worlds in the box)"
        )


@dataclass(frozen=True)
class Stress:
    """Results of a stress test (also written as CSV files)."""

    worlds: pd.DataFrame
    table: pd.DataFrame
    regret: pd.DataFrame
    box: Box | None
    statement: str


def sample_worlds(block: Uncertainties, *, seed: int) -> pd.DataFrame:
    """``block.worlds`` Latin-hypercube points, one column per key path, in the keys' units."""
    bounds = np.array(list(block.parameters.values()), dtype=float)
    unit = qmc.LatinHypercube(d=len(bounds), seed=seed).random(block.worlds)
    points = qmc.scale(unit, bounds[:, 0], bounds[:, 1])
    return pd.DataFrame(points, columns=list(block.parameters))


def stress_test(
    scenario: Scenario,
    uncertainties: Uncertainties,
    policies: Sequence[Candidate],
    *,
    recommended: str,
    rival: str,
    objective: tuple[str, str],
    root: Path,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Stress:
    """Run every policy in every sampled world; write ``stress.csv``, ``regret.csv``, PRIM box.

    Parameters
    ----------
    scenario
        The resolved scenario, as written.
    uncertainties
        The worlds to sample and the replications in each.
    policies
        The candidate plans; the first is the baseline.
    recommended, rival
        Names of the recommended policy and of the one PRIM looks for it losing to.
    objective
        (summary metric, ``maximize`` | ``minimize``) regret is measured on.
    root
        Results folder.
    """
    worlds = sample_worlds(uncertainties, seed=scenario.seed)
    evaluate = model_evaluator(scenario, workers=workers, scheduler=scheduler)
    jobs = [
        ({**world, **policy.levers}, r)
        for world in worlds.to_dict("records")
        for policy in policies
        for r in range(uncertainties.replications)
    ]
    scores = evaluate(jobs)
    if progress:
        progress(len(jobs))
    metric, direction = objective
    values = np.array([s[metric] for s in scores]).reshape(len(worlds), len(policies), -1)
    means = values.mean(axis=2)  # world x policy
    sign = 1.0 if direction == "maximize" else -1.0
    signed = sign * means  # higher is better
    regret = signed.max(axis=1, keepdims=True) - signed  # in the metric's own unit, >= 0
    names = [p.name for p in policies]
    baseline = means[:, 0]
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "world": w,
                    "policy": names,
                    **{k: worlds.iloc[w][k] for k in worlds.columns},
                    f"{metric}_mean": means[w],
                    "regret": regret[w],
                    "loses_to_baseline": sign * (means[w] - baseline[w]) < 0,
                }
            )
            for w in range(len(worlds))
        ],
        ignore_index=True,
    )
    summary = regret_table(table, names)
    at = {name: i for i, name in enumerate(names)}
    losing = sign * (means[:, at[recommended]] - means[:, at[rival]]) < 0
    box = prim_box(worlds, losing) if 0 < losing.sum() < len(losing) else None
    outcome = f"the recommendation ({recommended}) loses to {rival}"
    if box is not None:
        statement = f"{box.statement(outcome)}; it loses in {losing.sum()} of {len(losing)} worlds"
    elif losing.any():
        statement = f"{outcome} in every one of the {len(losing)} sampled worlds"
    else:
        statement = f"{outcome} in none of the {len(losing)} sampled worlds"
    robust = summary.loc[summary["max_regret"].idxmin()]
    statement += (
        f". Smallest maximum regret: {robust['policy']} ({robust['max_regret']:,.0f}; mean "
        f"{robust['mean_regret']:,.0f})"
    )
    record = {
        "statement": statement,
        "recommended": recommended,
        "rival": rival,
        "losing_worlds": [int(w) for w in np.flatnonzero(losing)],
        "worlds": len(worlds),
        "replications": uncertainties.replications,
    }
    if box is not None:
        record.update(coverage=box.coverage, density=box.density, mass=box.mass)
    write_text(root / "stress.json", json.dumps(record, indent=2))
    write_csv(root / "stress.csv", table)
    write_csv(root / "regret.csv", summary)
    if box is not None:
        write_csv(
            root / "prim_box.csv", box.limits.assign(coverage=box.coverage, density=box.density)
        )
    else:
        (root / "prim_box.csv").unlink(missing_ok=True)
    return Stress(worlds, table, summary, box, statement)


def regret_table(table: pd.DataFrame, policies: Sequence[str]) -> pd.DataFrame:
    """Per policy: mean and max regret over worlds, share of worlds it is best, loses."""
    grouped = table.groupby("policy", sort=False)
    out = pd.DataFrame(
        {
            "mean_regret": grouped["regret"].mean(),
            "max_regret": grouped["regret"].max(),
            "share_best": grouped["regret"].apply(lambda r: float((r == 0).mean())),
            "share_loses_to_baseline": grouped["loses_to_baseline"].mean(),
        }
    )
    return out.reindex(list(policies)).rename_axis("policy").reset_index()


def prim_box(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    threshold: float = 0.8,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> Box:
    """The PRIM box of the points where ``y`` is true (EMA Workbench's implementation).

    Parameters
    ----------
    x
        One row per point, one column per uncertainty.
    y
        Whether the outcome of interest happened at each point.
    threshold
        Density a box must reach to be preferred; among those the one with the largest
        coverage is returned (the densest one if none reaches it).
    peel_alpha
        Share of the points peeled away at each step.
    mass_min
        Smallest share of the points a box may hold.
    """
    with warnings.catch_warnings():  # EMA warns at import about optional parallel back-ends
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        found = prim.Prim(
            x.reset_index(drop=True),
            np.asarray(y, dtype=bool),
            threshold=threshold,
            peel_alpha=peel_alpha,
            mass_min=mass_min,
        ).find_box()
    trajectory = found.peeling_trajectory
    dense = trajectory[trajectory["density"] >= threshold]
    pick = dense["coverage"].idxmax() if not dense.empty else trajectory["density"].idxmax()
    limits = found.box_lims[int(pick)]
    low, high = x.min(), x.max()
    frame = pd.DataFrame(
        {
            "parameter": list(x.columns),
            "low": [float(limits[c].iloc[0]) for c in x.columns],
            "high": [float(limits[c].iloc[1]) for c in x.columns],
        }
    )
    frame["low_restricted"] = frame["low"] > low.to_numpy()
    frame["high_restricted"] = frame["high"] < high.to_numpy()
    frame["restricted"] = frame["low_restricted"] | frame["high_restricted"]
    row = trajectory.loc[pick]
    return Box(frame, float(row["coverage"]), float(row["density"]), float(row["mass"]))
