"""The decision page of an ``optimize`` results folder: what to do, how sure, when it breaks.

Reads ``optimization.csv``, ``comparison.csv``, ``recommendation.yaml`` and, after a stress
test, ``stress.csv``, ``regret.csv`` and ``prim_box.csv`` (written by
:mod:`sim.experiments.optimize`); draws the levers' effect, the finalists' paired differences,
the Pareto front (several objectives) and the stress test.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.metrics import SUMMARY_BY_NAME, Unit, label
from sim.report import figures as fig

FigureHtml = Callable[[str, str], str]
"""Renders a saved figure by name with a caption (``sim.report.html``)."""

TableHtml = Callable[[pd.DataFrame], str]


def is_optimization(folder: Path) -> bool:
    """Whether ``folder`` holds an ``optimize`` study."""
    return (folder / "optimization.csv").is_file()


def decision_figures(folder: Path, manifest: Mapping[str, Any]) -> dict[str, Figure]:
    """The decision page's figures, by name."""
    block = manifest["optimize"]
    objectives = list(block["objectives"])
    table = _candidates(folder)
    comparison = _comparison(folder)
    out = {"decision_levers": _levers_figure(table, list(block["levers"]), objectives[0])}
    if comparison is not None:
        metrics = list(dict.fromkeys([*objectives, *_constraint_metrics(block)]))
        out["decision_finalists"] = _finalists_figure(comparison, metrics)
    if len(objectives) > 1:
        out["decision_pareto"] = _pareto_figure(table, objectives[:2], block["objectives"])
    if (folder / "stress.csv").is_file():
        stress = pd.read_csv(folder / "stress.csv")
        box = pd.read_csv(folder / "prim_box.csv") if (folder / "prim_box.csv").is_file() else None
        record = json.loads((folder / "stress.json").read_text(encoding="utf-8"))
        out["decision_stress"] = _stress_figure(stress, box, objectives[0], record)
    return out


def decision_section(
    folder: Path, manifest: Mapping[str, Any], figure: FigureHtml, table_html: TableHtml
) -> str:
    """HTML of the decision page."""
    block = manifest["optimize"]
    objective = next(iter(block["objectives"]))
    table = _candidates(folder)
    finalists = table[table["stage"] == "finalist"]
    chosen = finalists[finalists["recommended"]]
    parts = [f"<p>{html.escape(_verdict(folder, chosen, objective))}</p>"]
    if not chosen.empty:
        plan = pd.DataFrame(
            {
                "lever": list(block["levers"]),
                "as written": [
                    finalists[finalists["trial"] == -1][p].iloc[0] for p in block["levers"]
                ],
                "recommended": [chosen[p].iloc[0] for p in block["levers"]],
            }
        )
        parts.append(table_html(plan))
    parts.append(
        f"<p>{len(table[table['stage'] == 'search'])} candidates searched on "
        f"{block['replications']} common replications each; the best {block['finalists']} "
        f"feasible ones re-evaluated with the plan as written on {block['finalist_replications']} "
        "other replications (below). Constraints: "
        f"{html.escape('; '.join(_constraints(block)) or 'none')}.</p>"
    )
    shown = ["variant", *block["levers"], f"{objective}_mean", f"{objective}_ci_low"]
    shown += [f"{objective}_ci_high", "feasible", "violated", "recommended"]
    parts.append(table_html(finalists[shown]))
    parts.append(figure("decision_finalists", "Finalists minus the plan as written, paired 95% CI"))
    parts.append(figure("decision_pareto", "Pareto front of the searched candidates"))
    parts.append(figure("decision_levers", f"{label(objective)} against each lever, all trials"))
    if (folder / "stress.csv").is_file():
        parts.append(_stress_html(folder, figure, table_html))
    return "".join(parts)


# --------------------------------------------------------------------------- text


def _verdict(folder: Path, chosen: pd.DataFrame, objective: str) -> str:
    if chosen.empty:
        return "No finalist meets the constraints on the re-evaluation: no plan is recommended."
    if int(chosen["trial"].iloc[0]) < 0:
        return "Keep the plan as written: no finalist beat it on the re-evaluation."
    comparison = _comparison(folder)
    assert comparison is not None
    row = comparison[
        (comparison["variant"] == chosen["variant"].iloc[0]) & (comparison["metric"] == objective)
    ].iloc[0]
    sure = (
        "the 95% CI excludes zero"
        if row["distinguishable"]
        else "but the 95% CI includes zero: not distinguishable from the plan as written"
    )
    return (
        f"Recommended: {chosen['variant'].iloc[0]} (recommendation.yaml). {label(objective)}: "
        f"{row['mean_difference']:+,.0f} currency units vs the plan as written (95% CI "
        f"{row['ci_low']:,.0f} to {row['ci_high']:,.0f}, {int(row['n'])} paired replications); "
        f"{sure}."
    )


def _stress_html(folder: Path, figure: FigureHtml, table_html: TableHtml) -> str:
    regret = pd.read_csv(folder / "regret.csv")
    stress = pd.read_csv(folder / "stress.csv")
    statement = json.loads((folder / "stress.json").read_text(encoding="utf-8"))["statement"]
    worlds = stress["world"].nunique()
    return (
        "<h3>Stress test</h3>"
        f"<p>{worlds} worlds sampled by Latin hypercube over the uncertainties; every policy "
        "runs in each on the same replications. Regret: the best policy's objective in that "
        "world minus this policy's (currency units).</p>"
        + table_html(regret)
        + f"<p><b>Where it breaks:</b> {html.escape(statement)}.</p>"
        + figure("decision_stress", "The recommendation minus its rival, per sampled world")
    )


def _constraints(block: Mapping[str, Any]) -> list[str]:
    return [f"{c['metric']} {c['operator']} {c['bound']:g}" for c in block["constraints"]]


def _constraint_metrics(block: Mapping[str, Any]) -> list[str]:
    return [c["metric"] for c in block["constraints"]]


def _candidates(folder: Path) -> pd.DataFrame:
    table = pd.read_csv(folder / "optimization.csv", dtype={"violated": str})
    return table.fillna({"violated": ""})


def _comparison(folder: Path) -> pd.DataFrame | None:
    path = folder / "comparison.csv"
    return pd.read_csv(path) if path.is_file() else None


# --------------------------------------------------------------------------- figures


def _levers_figure(table: pd.DataFrame, levers: list[str], objective: str) -> Figure:
    """Objective mean (95% CI) against each lever's value, one panel per lever."""
    search = table[table["stage"] == "search"]
    columns = min(4, len(levers))
    rows = -(-len(levers) // columns)
    figure, axes = fig.new_figure(3.2 * columns, 3.0 * rows + 0.6, nrows=rows, ncols=columns)
    factor, unit = _scale(objective, search[f"{objective}_mean"])
    axes = np.atleast_1d(axes).ravel()
    chosen = table[(table["stage"] == "finalist") & table["recommended"]]["trial"].tolist()
    for ax, lever in zip(axes, levers, strict=False):
        x, ticks = _positions(search[lever])
        y = search[f"{objective}_mean"] / factor
        below = (search[f"{objective}_mean"] - search[f"{objective}_ci_low"]) / factor
        above = (search[f"{objective}_ci_high"] - search[f"{objective}_mean"]) / factor
        for ok, colour, name in ((True, "#1f77b4", "feasible"), (False, "#999999", "infeasible")):
            keep = (search["feasible"] == ok).to_numpy()
            ax.errorbar(
                x[keep],
                y[keep],
                yerr=[below[keep], above[keep]],  # a bounded metric's interval is asymmetric
                fmt="o",
                color=colour,
                ms=4,
                alpha=0.7,
                elinewidth=0.8,
                label=name,
            )
        best = search["trial"].isin(chosen).to_numpy()
        ax.plot(x[best], y[best], "*", color="#d62728", ms=14, label="recommended")
        ax.set_xlabel(lever.removeprefix("policy."), fontsize=9)
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
    for ax in axes[len(levers) :]:
        ax.set_visible(False)
    axes[0].set_ylabel(f"{label(objective)}\n{unit}", fontsize=9)
    axes[0].legend(fontsize=8)
    fig._footnote(
        figure, "Each point: one searched candidate, mean of its replications; bars: 95% CI."
    )
    return figure


def _scale(metric: str, values: Any) -> tuple[float, str]:
    """Divisor and unit label of a metric's values: money in thousands or millions."""
    if SUMMARY_BY_NAME[metric].unit is not Unit.CURRENCY:
        return 1.0, ""
    money = fig.Money.for_values(np.asarray(values, dtype=float))
    return money.factor, f"({money.unit})"


def _positions(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numeric x positions of a lever's values; categories get their index and tick labels."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and values.dtype != bool:
        return numeric.to_numpy(dtype=float), None
    categories = sorted(values.astype(str).unique())
    return values.astype(str).map(categories.index).to_numpy(dtype=float), categories


def _finalists_figure(comparison: pd.DataFrame, metrics: list[str]) -> Figure:
    """Each finalist minus the plan as written, per metric, with the paired 95% CI."""
    figure, axes = fig.new_figure(5.0 * len(metrics), 3.2, ncols=len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = comparison[comparison["metric"] == metric]
        scale, unit = _scale(metric, rows[["ci_low", "ci_high"]].to_numpy().ravel())
        y = np.arange(len(rows))
        ax.errorbar(
            rows["mean_difference"] / scale,
            y,
            xerr=[
                (rows["mean_difference"] - rows["ci_low"]) / scale,
                (rows["ci_high"] - rows["mean_difference"]) / scale,
            ],
            fmt="o",
            color="#1f77b4",
            capsize=4,
        )
        ax.axvline(0, color="#555555", lw=1)
        ax.set_yticks(y, rows["variant"])
        ax.set_xlabel(f"{label(metric)} {unit}\nminus the plan as written", fontsize=9)
    fig._footnote(figure, "Paired over common replications; bars: 95% t interval.")
    return figure


def _pareto_figure(table: pd.DataFrame, pair: list[str], directions: Mapping[str, str]) -> Figure:
    """The searched candidates on two objectives; the front in red."""
    search = table[table["stage"] == "search"]
    figure, ax = fig.new_figure(7.0, 5.0)
    front = search["pareto"] & search["feasible"]
    (fx, ux), (fy, uy) = (_scale(m, search[f"{m}_mean"]) for m in pair)
    x, y = search[f"{pair[0]}_mean"] / fx, search[f"{pair[1]}_mean"] / fy
    ax.scatter(x[~front], y[~front], color="#999999", s=18, label="dominated or infeasible")
    order = np.argsort(x[front].to_numpy())
    ax.plot(
        x[front].to_numpy()[order],
        y[front].to_numpy()[order],
        "o-",
        color="#d62728",
        label="Pareto front (feasible)",
    )
    ax.set_xlabel(f"{label(pair[0])} {ux}, {directions[pair[0]]}")
    ax.set_ylabel(f"{label(pair[1])} {uy}, {directions[pair[1]]}")
    ax.legend(fontsize=9)
    fig._footnote(figure, "Means over each candidate's replications.")
    return figure


def _stress_figure(
    stress: pd.DataFrame, box: pd.DataFrame | None, objective: str, record: Mapping[str, Any]
) -> Figure:
    """Left: recommendation minus its rival per world; right: worlds on two uncertainties."""
    chosen, rival = record["recommended"], record["rival"]
    value = f"{objective}_mean"
    wide = stress.pivot(index="world", columns="policy", values=value)
    difference = (wide[chosen] - wide[rival]).sort_values()
    losing = difference.index.isin(record["losing_worlds"])
    money = fig.Money.for_values(difference)
    figure, (left, right) = fig.new_figure(12.0, 4.5, ncols=2)
    colours = np.where(losing, "#d62728", "#1f77b4")
    left.bar(range(len(difference)), difference / money.factor, color=colours)
    left.axhline(0, color="#555555", lw=1)
    left.set_xlabel("Sampled world (sorted)")
    left.set_ylabel(f"{label(objective)}: {chosen}\nminus {rival} ({money.unit})", fontsize=9)
    uncertainties = [
        c
        for c in stress.columns
        if c not in ("world", "policy", value, "regret", "loses_to_baseline")
    ]
    axes_names = _box_axes(box, uncertainties)
    worlds = stress[stress["policy"] == chosen].set_index("world")
    lose = worlds.index.isin(record["losing_worlds"])
    right.scatter(
        worlds[axes_names[0]][~lose],
        worlds[axes_names[-1]][~lose],
        color="#1f77b4",
        label="recommendation wins",
    )
    right.scatter(
        worlds[axes_names[0]][lose],
        worlds[axes_names[-1]][lose],
        color="#d62728",
        marker="x",
        label=f"loses to {rival}",
    )
    if box is not None:
        limits = box.set_index("parameter")
        (x0, x1), (y0, y1) = (
            limits.loc[n, ["low", "high"]] for n in (axes_names[0], axes_names[-1])
        )
        right.add_patch(
            Rectangle(
                (x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", color="#d62728", label="PRIM box"
            )
        )
    right.set_xlabel(axes_names[0])
    right.set_ylabel(axes_names[-1])
    right.legend(fontsize=8)
    fig._footnote(figure, "Each world: mean of its replications, common random numbers.")
    return figure


def _box_axes(box: pd.DataFrame | None, uncertainties: list[str]) -> list[str]:
    """The two uncertainties to plot: the PRIM box's restricted ones first."""
    restricted = [] if box is None else box.loc[box["restricted"], "parameter"].tolist()
    ordered = list(dict.fromkeys([*restricted, *uncertainties]))
    return ordered[:2]
