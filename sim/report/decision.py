"""The decision page of an ``optimize`` results folder: what to do, how sure, when it breaks.

Reads ``optimization.csv``, ``comparison.csv``, ``recommendation.yaml`` and, after a stress
test, ``stress.csv``, ``regret.csv`` and ``prim_box.csv`` (written by
:mod:`sim.experiments.optimize`); draws the levers' effect, the finalists' paired differences,
the Pareto front (several objectives) and the stress test.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.metrics import SUMMARY_BY_NAME, Unit, label
from sim.report import figures as fig
from sim.report.formats import money, share
from sim.scenario.levers import EVERY, LEVERS, PolicyLever

FigureHtml = Callable[[str, str], str]
"""Renders a saved figure by name with a caption (``sim.report.html``)."""

TableHtml = Callable[[pd.DataFrame], str]


def is_optimization(folder: Path) -> bool:
    """Whether ``folder`` holds an ``optimize`` study."""
    return (folder / "optimization.csv").is_file()


def decision_figures(folder: Path, manifest: Mapping[str, Any]) -> dict[str, Figure]:
    """The decision page's figures, by name."""
    block = manifest["optimize"]
    tree = _tree(manifest)
    objectives = list(block["objectives"])
    table = _candidates(folder)
    comparison = _comparison(folder)
    out = {"decision_levers": _levers_figure(table, list(block["levers"]), objectives[0], tree)}
    if comparison is not None:
        metrics = list(dict.fromkeys([*objectives, *_constraint_metrics(block)]))
        out["decision_finalists"] = _finalists_figure(comparison, metrics)
    if len(objectives) > 1:
        out["decision_pareto"] = _pareto_figure(table, objectives[:2], block["objectives"])
    if (folder / "stress.csv").is_file():
        stress = pd.read_csv(folder / "stress.csv")
        box = pd.read_csv(folder / "prim_box.csv") if (folder / "prim_box.csv").is_file() else None
        record = json.loads((folder / "stress.json").read_text(encoding="utf-8"))
        out["decision_stress"] = _stress_figure(stress, box, objectives[0], record, tree)
    return out


def decision_section(
    folder: Path, manifest: Mapping[str, Any], figure: FigureHtml, table_html: TableHtml
) -> str:
    """HTML of the decision page: plain names and units (the lever and metric catalogues)."""
    block = manifest["optimize"]
    tree = _tree(manifest)
    objective = next(iter(block["objectives"]))
    levers = list(block["levers"])
    table = _candidates(folder)
    finalists = table[table["stage"] == "finalist"]
    chosen = finalists[finalists["recommended"]]
    parts = [f"<p>{html.escape(_verdict(folder, chosen, objective))}</p>"]
    if not chosen.empty:
        written = finalists[finalists["trial"] == -1]
        plan = pd.DataFrame(
            {
                "Lever": [key_label(p, tree) for p in levers],
                "As written": [show_value(p, written[p].iloc[0]) for p in levers],
                "Recommendation": [show_value(p, chosen[p].iloc[0]) for p in levers],
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
    parts.append(table_html(_finalists_table(finalists, levers, objective, tree)))
    parts.append(figure("decision_finalists", "Finalists minus the plan as written, paired 95% CI"))
    parts.append(figure("decision_pareto", "Pareto front of the searched candidates"))
    parts.append(figure("decision_levers", f"{label(objective)} against each lever, all trials"))
    if (folder / "stress.csv").is_file():
        parts.append(_stress_html(folder, figure, table_html, tree))
    return "".join(parts)


def key_label(key_path: str, tree: Mapping[str, Any]) -> str:
    """A scenario key as a person reads it.

    A lever: its catalogue label (:data:`sim.scenario.levers.LEVERS`), with the entry it sets
    for a per-entry lever (``Migration ramp: consumables · small_business, distributor →
    ecommerce``); any other key: its name in words and the block it sits in.
    """
    lever = _lever(key_path)
    parts = key_path.split(".")
    if lever is None:
        *parents, name = parts
        words = name.replace("_", " ")
        if len(name) <= 2 and parents:  # p, q: name them by their block
            words = f"{parents[-1].replace('_', ' ')} {name}"
            parents = parents[:-1]
        where = f" ({parents[-1].replace('_', ' ')})" if parents else ""
        return f"{words[0].upper()}{words[1:]}{where}"
    if not lever.per_entry:
        return lever.label
    index = next(int(p) for p in parts if p.isdigit())
    head = parts[: parts.index(str(index))]
    node: Any = tree
    for part in head:
        node = node.get(part) if isinstance(node, Mapping) else None
    entry = node[index] if isinstance(node, list) and index < len(node) else None
    return f"{lever.label}: {_entry(entry, index)}"


def show_value(key_path: str, value: Any) -> str:
    """A key's value in its unit: ``7%``, ``73 weeks``, ``on``; other numbers to 4 digits."""
    lever = _lever(key_path)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and (lever is None or lever.unit == "weeks"):
        value = int(value)
    if lever is not None:
        if lever.unit == "switch":
            value = value if isinstance(value, bool) else str(value).lower() == "true"
        return lever.show(value)
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


def _lever(key_path: str) -> PolicyLever | None:
    generic = ".".join(EVERY if part.isdigit() else part for part in key_path.split("."))
    return next((lever for lever in LEVERS if lever.key_path == generic), None)


def _entry(entry: Any, index: int) -> str:
    """One list entry named by what it is about: a plan row, a promotion."""
    if not isinstance(entry, Mapping):
        return f"entry {index + 1}"
    if {"from", "to"} <= set(entry):
        return (
            f"{entry.get('product', 'all')} · {entry.get('segment', 'all')}, "
            f"{entry['from']} → {entry['to']}"
        )
    if "product" in entry and "start_week" in entry:
        return f"{entry['product']} from week {entry['start_week']}"
    return f"entry {index + 1}"


def _tree(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """The resolved scenario's tree (its scenario part) from the manifest."""
    resolved = manifest.get("resolved_scenario") or {}
    return resolved.get("scenario", resolved) if "scenario" in resolved else resolved


def _finalists_table(
    finalists: pd.DataFrame, levers: list[str], objective: str, tree: Mapping[str, Any]
) -> pd.DataFrame:
    """The finalists in words, one column each: levers, objective (95% CI), constraints."""
    amount = money if SUMMARY_BY_NAME[objective].unit is Unit.CURRENCY else _number
    rows: dict[str, list[str]] = {
        key_label(key, tree): [show_value(key, v) for v in finalists[key]] for key in levers
    }
    rows[f"{label(objective)}, mean"] = [amount(m) for m in finalists[f"{objective}_mean"]]
    rows["95% CI"] = [
        f"{amount(lo)} to {amount(hi)}"
        for lo, hi in finalists[[f"{objective}_ci_low", f"{objective}_ci_high"]].itertuples(
            index=False
        )
    ]
    rows["Meets the constraints"] = ["yes" if f else "no" for f in finalists["feasible"]]
    if finalists["violated"].astype(bool).any():
        rows["Violated"] = finalists["violated"].tolist()
    rows["Recommendation"] = ["yes" if r else "" for r in finalists["recommended"]]
    names = finalists["variant"].replace(_WRITTEN).tolist()
    out = pd.DataFrame.from_dict(rows, orient="index", columns=names)
    return out.reset_index(names="Finalist")


_WRITTEN = {"baseline": "the plan as written"}
"""How the reference variant of an optimize study reads."""


def _number(value: float) -> str:
    return f"{value:,.3g}"


# --------------------------------------------------------------------------- text


def _verdict(folder: Path, chosen: pd.DataFrame, objective: str) -> str:
    """What the evidence supports: the re-evaluation, then the stress test, when there is one."""
    if chosen.empty:
        return "No finalist meets the constraints on the re-evaluation: no plan is recommended."
    if int(chosen["trial"].iloc[0]) < 0:
        return "Keep the plan as written: no finalist beat it on the re-evaluation."
    comparison = _comparison(folder)
    assert comparison is not None
    name = chosen["variant"].iloc[0]
    row = comparison[(comparison["variant"] == name) & (comparison["metric"] == objective)].iloc[0]
    unit = SUMMARY_BY_NAME[objective].unit
    amount = money if unit is Unit.CURRENCY else _number
    evidence = (
        f"{label(objective)} {'+' if row['mean_difference'] >= 0 else ''}"
        f"{amount(row['mean_difference'])}{' currency units' if unit is Unit.CURRENCY else ''} "
        f"vs the plan as written (95% CI {amount(row['ci_low'])} to {amount(row['ci_high'])}, "
        f"{int(row['n'])} paired replications)"
    )
    stress = _stress_record(folder)
    losing = 0 if stress is None else len(stress["losing_worlds"])
    worlds = 0 if stress is None else int(stress["worlds"])
    rival = "" if stress is None else _WRITTEN.get(stress["rival"], stress["rival"])
    tested = f"it loses to {rival} in {losing} of {worlds} stress-test worlds"
    if not row["distinguishable"]:
        return (
            f"No clear winner: {name} is not distinguishable from the plan as written "
            f"({evidence}; the interval includes zero)"
            + (f", and {tested}" if stress is not None else "")
            + ". Keep the plan as written unless other reasons favour the change."
        )
    if stress is None:
        return f"Recommended: {name} (recommendation.yaml). {evidence}; the 95% CI excludes zero."
    if losing == 0:
        return (
            f"Recommended: {name} (recommendation.yaml). {evidence}, and it beats {rival} in "
            f"every one of the {worlds} stress-test worlds."
        )
    if 2 * losing < worlds:
        return (
            f"Recommended with a caveat: {name} (recommendation.yaml). {evidence}, but {tested}: "
            "see where it breaks below."
        )
    return (
        f"Not supported by the stress test: {name} beat the plan as written on the "
        f"re-evaluation ({evidence}), but {tested}. The evidence supports it only in the "
        "worlds where it wins (below); elsewhere keep the plan as written."
    )


def _stress_record(folder: Path) -> dict[str, Any] | None:
    path = folder / "stress.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _stress_html(
    folder: Path, figure: FigureHtml, table_html: TableHtml, tree: Mapping[str, Any]
) -> str:
    regret = pd.read_csv(folder / "regret.csv")
    stress = pd.read_csv(folder / "stress.csv")
    record = json.loads((folder / "stress.json").read_text(encoding="utf-8"))
    rival = _WRITTEN.get(record["rival"], record["rival"])
    worlds = stress["world"].nunique()
    shown = pd.DataFrame({"Policy": regret["policy"].replace(_WRITTEN)})
    shown["Mean regret"] = regret["mean_regret"].map(money)
    shown["Largest regret"] = regret["max_regret"].map(money)
    shown["Best in (share of worlds)"] = regret["share_best"].map(share)
    losing = [c for c in regret.columns if c.startswith("share_loses_to_")]
    for column in losing:
        other = column.removeprefix("share_loses_to_")
        shown[f"Loses to {_WRITTEN.get(other, other)} (share of worlds)"] = regret[column].map(
            share
        )
    return (
        "<h3>Stress test</h3>"
        f"<p>{worlds} worlds sampled by Latin hypercube over the uncertainties; every policy "
        "runs in each on the same replications. Regret: the best policy's objective in that "
        "world minus this policy's (currency units; k = thousand, M = million).</p>"
        + table_html(shown)
        + f"<p><b>Where it breaks:</b> {html.escape(_breaks(folder, record, rival, tree))}.</p>"
        + figure("decision_stress", f"The recommendation minus {rival}, per sampled world")
    )


def _breaks(folder: Path, record: Mapping[str, Any], rival: str, tree: Mapping[str, Any]) -> str:
    """The PRIM box in words; the recorded statement when there is no box."""
    path = folder / "prim_box.csv"
    losing, worlds = len(record["losing_worlds"]), int(record["worlds"])
    if not path.is_file() or not losing:
        return str(record["statement"])
    box = pd.read_csv(path)
    limits = [
        f"{key_label(r.parameter, tree)} is between {show_value(r.parameter, float(r.low))} and "
        f"{show_value(r.parameter, float(r.high))}"
        for r in box[box["restricted"]].itertuples()
    ]
    where = " and ".join(limits) or "anywhere in the sampled ranges"
    return (
        f"the recommendation ({record['recommended']}) loses to {rival} in {losing} of {worlds} "
        f"worlds, mostly where {where} ({record['coverage']:.0%} of the losing worlds are in "
        f"that box; {record['density']:.0%} of the worlds in it lose)"
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


def _levers_figure(
    table: pd.DataFrame, levers: list[str], objective: str, tree: Mapping[str, Any]
) -> Figure:
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
        ax.set_xlabel(textwrap.fill(key_label(lever, tree), 30), fontsize=9)
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
    stress: pd.DataFrame,
    box: pd.DataFrame | None,
    objective: str,
    record: Mapping[str, Any],
    tree: Mapping[str, Any],
) -> Figure:
    """Left: recommendation minus its rival per world; right: worlds on two uncertainties."""
    chosen, rival = record["recommended"], record["rival"]
    value = f"{objective}_mean"
    wide = stress.pivot(index="world", columns="policy", values=value)
    difference = (wide[chosen] - wide[rival]).sort_values()
    losing = difference.index.isin(record["losing_worlds"])
    scale = fig.Money.for_values(difference)
    figure, (left, right) = fig.new_figure(12.0, 4.5, ncols=2)
    colours = np.where(losing, "#d62728", "#1f77b4")
    left.bar(range(len(difference)), difference / scale.factor, color=colours)
    left.axhline(0, color="#555555", lw=1)
    left.set_xlabel("Sampled world (sorted)")
    rival_name = _WRITTEN.get(rival, rival)
    left.set_ylabel(
        f"{textwrap.fill(label(objective), 40)}:\n{chosen} minus {rival_name}\n({scale.unit})",
        fontsize=9,
    )
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
        label=f"loses to {rival_name}",
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
    right.set_xlabel(key_label(axes_names[0], tree))
    right.set_ylabel(key_label(axes_names[-1], tree))
    right.legend(fontsize=8)
    fig._footnote(figure, "Each world: mean of its replications, common random numbers.")
    return figure


def _box_axes(box: pd.DataFrame | None, uncertainties: list[str]) -> list[str]:
    """The two uncertainties to plot: the PRIM box's restricted ones first."""
    restricted = [] if box is None else box.loc[box["restricted"], "parameter"].tolist()
    ordered = list(dict.fromkeys([*restricted, *uncertainties]))
    return ordered[:2]
