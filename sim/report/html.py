"""``report.html``: one self-contained page per results folder, readable offline on a projector.

Figures are embedded as base64 PNG, styles are inline, and nothing is fetched from anywhere:
the file can be mailed, opened from a USB stick, or shown in a room without a network.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.metrics import SUMMARY, SUMMARY_BY_NAME, SummaryMetric, Unit
from sim.report import decision
from sim.report import figures as fig
from sim.report.bridge import DRIVERS, margin_bridge
from sim.report.formats import money as _money
from sim.report.formats import share as _share
from sim.report.markups import markup_figure, markup_section
from sim.report.pnl import DISTRIBUTOR, POOLED, line_comparison, line_summary, restock_share
from sim.results.stats import mean_ci
from sim.results.store import Results, load_results, write_text
from sim.results.verdict import verdict_lines
from sim.scenario.levers import LEVERS

Formatter = Callable[[float], str]


def _count(value: float) -> str:
    return "–" if value != value else f"{value:,.0f}"


def _decimal(value: float) -> str:
    return "–" if value != value else f"{value:,.1f}"


def _points(value: float) -> str:
    return "–" if value != value else f"{value * 100:+.1f} pp"


FORMATS: dict[Unit, Formatter] = {
    Unit.CURRENCY: _money,
    Unit.SHARE: _share,
    Unit.RATIO: _share,
    Unit.DISTRIBUTORS: _decimal,  # a mean over replications is rarely whole
}
"""Format of each unit in the tables (counts otherwise)."""


def _shown_label(metric: SummaryMetric) -> str:
    return f"{metric.label} (units)" if metric.unit is Unit.UNITS else metric.label


METRICS: dict[str, tuple[str, Formatter]] = {
    m.name: (_shown_label(m), FORMATS.get(m.unit, _count)) for m in SUMMARY
}
"""Summary metrics shown, in ``summary.csv`` order, with labels and formats (sim.metrics)."""

SHARES = frozenset(m.name for m in SUMMARY if m.unit in (Unit.SHARE, Unit.RATIO))
"""Metrics whose differences read in percentage points."""

BETTER: dict[str, int] = {m.name: m.better for m in SUMMARY}
"""+1 where more is better for the firm, -1 where less is; others are only marked bold."""

CSS = """
:root { --ink: #111; --muted: #555; --rule: #ccc; --band: #f3f6fa; --blue: #0072B2;
        --green: #006b4f; --red: #a63c00; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; font-size: 20px;
       line-height: 1.45; color: var(--ink); background: #fff; margin: 0; }
main { max-width: 1500px; margin: 0 auto; padding: 1.2rem 2rem 4rem; }
h1 { font-size: 2.2rem; margin: 0.4rem 0 0.2rem; }
h2 { font-size: 1.6rem; margin-top: 2.6rem; border-bottom: 3px solid var(--blue);
     padding-bottom: 0.2rem; }
h3 { font-size: 1.25rem; margin-top: 1.6rem; }
p.lead { font-size: 1.25rem; color: var(--muted); margin-top: 0; }
nav { font-size: 1rem; margin: 1rem 0; color: var(--muted); }
nav a { margin-right: 1.2rem; color: var(--blue); }
table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-size: 1rem; }
th, td { padding: 0.4rem 0.8rem; border-bottom: 1px solid var(--rule); text-align: right;
         vertical-align: top; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--band); border-bottom: 2px solid #999; }
td .ci { display: block; color: var(--muted); font-size: 0.85rem; white-space: nowrap; }
td.up { color: var(--green); font-weight: bold; }
td.down { color: var(--red); font-weight: bold; }
td.sig { font-weight: bold; }
figure { margin: 1.2rem 0 2rem; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 1rem; }
details { margin: 1rem 0; }
summary { cursor: pointer; font-size: 1.15rem; font-weight: bold; color: var(--blue); }
pre { font-size: 0.85rem; background: var(--band); padding: 1rem; overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1.2rem; }
dt { font-weight: bold; } dd { margin: 0; }
.note { color: var(--muted); font-size: 1rem; }
@media print { body { font-size: 14px; } h2 { page-break-before: always; } }
"""


def build_report(source: Results | str | Path) -> Path:
    """(Re)build ``figures/`` and ``report.html`` of a results folder; return the HTML path.

    Parameters
    ----------
    source
        A :class:`Results` or the path of a results folder.

    Raises
    ------
    FileNotFoundError
        If ``source`` is a path that holds no results.
    """
    results = source if isinstance(source, Results) else _load(source)
    ts = results.timeseries
    scenario = results.manifest.get("resolved_scenario", {})
    rate = float(scenario.get("discount_rate_annual", 0.08))
    variants = list(dict.fromkeys(ts["variant"]))
    reference = "baseline" if "baseline" in variants else variants[0]
    variants = [reference, *[v for v in variants if v != reference]]
    folder = results.path / "figures"

    images: dict[str, Path] = {}
    if len(variants) > 1:
        images.update(
            fig.save(
                fig.comparison_figures(ts, reference=reference, discount_rate_annual=rate), folder
            )
        )
    if _shows_markups(ts, variants):
        markups = {"distributor_markups": markup_figure(ts, reference=reference)}
        images.update(fig.save(markups, folder))
    if decision.is_optimization(results.path):
        images.update(fig.save(decision.decision_figures(results.path, results.manifest), folder))
    for variant in variants:
        overview = fig.overview_figures(ts[ts["variant"] == variant], discount_rate_annual=rate)
        images.update(fig.save(overview, folder, prefix=f"{variant}_"))

    page = _page(results, variants, reference, images, rate)
    target = results.path / "report.html"
    write_text(target, page)
    return target


def _shows_markups(ts: pd.DataFrame, variants: list[str]) -> bool:
    """A comparison with distributors: whether the direct channel restrained their markups."""
    column = "distributor_markup_mean"
    return len(variants) > 1 and column in ts.columns and bool(ts[column].any())


def _load(path: str | Path) -> Results:
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such results folder")
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder; give the results folder of a run")
    return load_results(root)


# ------------------------------------------------------------------------------ page


def _page(
    results: Results,
    variants: list[str],
    reference: str,
    images: Mapping[str, Path],
    rate: float,
) -> str:
    manifest = results.manifest
    scenario = manifest.get("resolved_scenario", {})
    name = manifest.get("scenario", results.path.name)
    runs = results.summary.groupby("variant").size()
    sections: list[tuple[str, str, str]] = []
    if decision.is_optimization(results.path):
        content = decision.decision_section(
            results.path, manifest, lambda n, c: figure_html(images, n, c), table_html
        )
        sections.append(("decision", "Decision", content))
    if results.comparison is not None and not results.comparison.empty:
        sections.append(("verdict", "Verdict", _verdict(results.comparison, reference, scenario)))
        sections.append(("glance", "At a glance", _glance(results.comparison, variants, reference)))
    sections.append(("summary", "Summary", _summary_section(results.summary, variants)))
    if results.comparison is not None and not results.comparison.empty:
        sections.append(
            ("comparison", "Comparison", _comparison_section(results, variants, reference, images))
        )
    if _shows_markups(results.timeseries, variants):
        caption = "Distributors' mean markup by variant (band: 5-95% of replications)."
        figure = figure_html(images, "distributor_markups", caption)
        section = markup_section(results.timeseries, reference=reference, figure_html=figure)
        sections.append(("markups", "Distributor markups", section))
    if (results.path / "channel_pnl.csv").is_file():
        sections.append(
            ("pnl", "Channel P&L", _pnl_section(results.channel_pnl, variants, reference))
        )
    sections.append(("weekly", "Week by week", _overview_section(variants, reference, images)))
    if results.sensitivity is not None and not results.sensitivity.empty:
        sections.append(("sensitivity", "Sensitivity", table_html(results.sensitivity)))
    sections.append(("scenario", "Scenario and assumptions", _scenario_section(scenario)))
    sections.append(("provenance", "Provenance", _provenance(manifest)))

    nav = "".join(f'<a href="#{key}">{html.escape(title)}</a>' for key, title, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(title)}</h2>{content}</section>'
        for key, title, content in sections
    )
    description = scenario.get("description", "")
    warnings = "".join(
        f'<p class="note"><strong>Warning:</strong> {html.escape(w)}</p>'
        for w in manifest.get("warnings", [])
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = (
        f"{len(variants)} variant{'s' if len(variants) > 1 else ''} · "
        f"{int(runs.max())} replications each · {scenario.get('horizon_weeks', '?')} weeks · "
        f"{_accounts(scenario.get('market', {}))} · "
        f"NPV at {rate:.0%}/yr · built {stamp}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>channel-sim report: {html.escape(name)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>{html.escape(name)}</h1>"
        f'<p class="lead">{html.escape(description)}</p>'
        f'<p class="note">{html.escape(facts)}</p>'
        f"{warnings}<nav>{nav}</nav>{body}"
        "</main></body></html>\n"
    )


def _summary_section(summary: pd.DataFrame, variants: list[str]) -> str:
    head = "".join(f"<th>{html.escape(v)}</th>" for v in variants)
    rows = []
    for metric, (label, formatter) in METRICS.items():
        if metric not in summary:
            continue
        cells = []
        for variant in variants:
            values = summary.loc[summary["variant"] == variant, metric].to_numpy(dtype=float)
            bounds = SUMMARY_BY_NAME[metric].unit.bounds
            mean, low, high = mean_ci(values, bounds=bounds) if len(values) else (float("nan"),) * 3
            ci = (
                f'<span class="ci">[{formatter(low)}, {formatter(high)}]</span>'
                if low == low
                else ""
            )
            cells.append(f"<td>{formatter(mean)}{ci}</td>")
        rows.append(f"<tr><td>{html.escape(label)}</td>{''.join(cells)}</tr>")
    return (
        '<p class="note">Over the whole horizon, per variant: mean across replications, '
        "95% confidence interval below it (Student t; for shares on the logit scale and for "
        "counts on the log scale, so that it stays within 0–100% and above 0). Money in "
        "currency units "
        "(k = thousand, M = million).</p>"
        f"<table><thead><tr><th>Metric</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _comparison_section(
    results: Results, variants: list[str], reference: str, images: Mapping[str, Path]
) -> str:
    comparison = results.comparison
    assert comparison is not None
    shown = [m for m in METRICS if m in set(comparison["metric"])]
    head = "".join(f"<th>{html.escape(v)}</th>" for v in variants[1:])
    rows = []
    for metric in shown:
        label, base_format = METRICS[metric]
        formatter = _points if metric in SHARES else _signed(base_format)
        cells = []
        for variant in variants[1:]:
            chosen = (comparison["variant"] == variant) & (comparison["metric"] == metric)
            match = comparison[chosen]
            if match.empty:
                cells.append("<td>–</td>")
                continue
            row = match.iloc[0]
            css = ""
            if bool(row["distinguishable"]):
                sense = BETTER.get(metric, 0) * (1 if row["mean_difference"] > 0 else -1)
                css = {1: ' class="up"', -1: ' class="down"'}.get(sense, ' class="sig"')
            interval = f"[{formatter(row['ci_low'])}, {formatter(row['ci_high'])}]"
            ci = f'<span class="ci">{interval}</span>'
            cells.append(f"<td{css}>{formatter(row['mean_difference'])}{ci}</td>")
        rows.append(f"<tr><td>{html.escape(label)}</td>{''.join(cells)}</tr>")
    n = int(comparison["n"].max()) if "n" in comparison else 0
    parts = [
        f'<p class="note">Each variant minus <b>{html.escape(reference)}</b>, paired by '
        f"replication (common random numbers, n = {n}); 95% CI below. Bold: the interval "
        "excludes zero: green where that is better for the firm, red where worse.</p>",
        f'<div style="overflow-x:auto"><table><thead><tr><th>Metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>",
        figure_html(
            images,
            "compare_contribution_margin",
            "Contribution margin of every variant on one axis, weekly (4-week moving average) "
            "and as cumulative NPV.",
        ),
        "<h3>Margin bridge</h3>",
        '<p class="note">Why contribution margin differs from the baseline over the whole '
        "horizon. <i>Volume</i>: the change in units shipped (measured by COGS) at the "
        "baseline's gross markup: churn, needs lost to competitors, retaliating or exited "
        "distributors. <i>Channel mix &amp; price</i>: the rest of the gross-margin change: "
        "which channel (and product) the sales went through and the price each realises. "
        "Costs enter with their sign (more cost is a negative bar). The bars sum exactly to "
        "the total.</p>",
        figure_html(images, "margin_bridge", "Margin bridge by variant (whiskers: 95% CI)."),
        _bridge_table(results.timeseries, variants, reference),
        figure_html(images, "revenue_shift", "Change in revenue by channel over the horizon."),
        figure_html(
            images,
            "compare_outcomes",
            "Customers, distributors, conflicts, effort and adoption by variant.",
        ),
    ]
    return "".join(parts)


def _pnl_section(channel_pnl: pd.DataFrame, variants: list[str], reference: str) -> str:
    """Contribution per product x segment x channel: the reference, then each variant's change."""
    money = FORMATS[Unit.CURRENCY]
    signed = _signed(money)
    base = line_summary(channel_pnl, reference)
    changes = {v: line_comparison(channel_pnl, v, reference=reference) for v in variants[1:]}
    restocks = restock_share(channel_pnl, reference)
    order = [i for i in base.index if i not in POOLED] + [i for i in POOLED if i in base.index]
    head = "".join(f"<th>{html.escape(v)} − {html.escape(reference)}</th>" for v in variants[1:])
    rows = []
    for line in order:
        name = " · ".join(html.escape(part) for part in line if part)
        b = base.loc[line]
        if not (b["revenue"] or b["contribution_margin"]) and not any(
            c.loc[line, "variant"] for c in changes.values()
        ):
            continue  # a line nobody bought through in any variant
        cells = [
            f"<td>{money(b['revenue'])}</td>",
            f"<td>{_cost_to_serve(line, b, restocks)}</td>",
            f"<td>{money(b['contribution_margin'])}"
            f'<span class="ci">[{money(b["ci_low"])}, {money(b["ci_high"])}]</span></td>',
        ]
        for change in changes.values():
            c = change.loc[line]
            css = ' class="sig"' if c["ci_low"] > 0 or c["ci_high"] < 0 else ""
            cells.append(
                f"<td{css}>{signed(c['difference'])}"
                f'<span class="ci">[{signed(c["ci_low"])}, {signed(c["ci_high"])}]</span></td>'
            )
        rows.append(f"<tr><td>{name}</td>{''.join(cells)}</tr>")
    stock, untraced = (html.escape(label[0]) for label in POOLED)
    return (
        '<p class="note">Over the horizon, per product · segment · channel line '
        f"(<code>channel_pnl.csv</code>): <b>{html.escape(reference)}</b>'s revenue, cost to "
        "serve (share of the line's revenue, the amount below it) and contribution margin "
        "(mean, 95% CI); then each variant's change in the line's contribution, paired by "
        "replication (bold: the interval excludes zero). Distributor lines are the "
        "distributors' sell-through, valued at our sell-in price; the distributor serves those "
        "buyers, so the line carries no cost to serve of ours: <b>*</b> is our cost of serving "
        f"the distributors, their restock orders, as a share of all our sell-in ({_share(restocks)}"
        f"), booked on the row <i>{stock}</i> with the sell-in not yet sold through. "
        f"<i>{untraced.capitalize()}</i>: rep headcount not spent on one line, platforms, "
        "orchestration, campaigns. The rows add up to the summary's contribution margin.</p>"
        '<div style="overflow-x:auto"><table><thead><tr><th>Line</th><th>Revenue</th>'
        "<th>Cost to serve</th><th>Contribution</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cost_to_serve(line: tuple[str, ...], values: pd.Series, restocks: float) -> str:
    """A line's cost to serve: share of its revenue where that means something, then amount."""
    amount = f'<span class="ci">{_money(values["cost_to_serve"])}</span>'
    if line in POOLED:
        return f"–{amount}"  # no revenue of its own to be a share of
    if line[2] == DISTRIBUTOR:  # the distributor serves the buyer; we serve the distributor
        return f'{_share(restocks)} <b>*</b><span class="ci">on the stock row</span>'
    revenue = values["revenue"]
    share = values["cost_to_serve"] / revenue if revenue > 0 else float("nan")
    return f"{_share(share)}{amount}"


GLANCE: tuple[str, ...] = (
    "contribution_margin",
    "npv_contribution",
    "churn_rate_annual",
    "distributors_active_end",
    "conflict_incidents",
)
"""Differences named in the one-line verdict per variant."""


def _accounts(market: Mapping[str, Any]) -> str:
    """The firm's accounts and the share of them simulated, in words."""
    buyers, share = market.get("buyers", 0), market.get("sample_share", 1.0)
    sample = "" if share == 1 else f" ({share:.0%} of them simulated, each for {1 / share:.3g})"
    return f"{buyers:,} buyer accounts{sample}"


def _verdict(comparison: pd.DataFrame, reference: str, scenario: Mapping[str, Any]) -> str:
    """The command line's verdict (:func:`sim.results.verdict.verdict_lines`), and its basis."""
    said = verdict_lines(comparison, reference)
    if not said:
        return '<p class="note">No comparison of the decision metric in these results.</p>'
    title, *lines = said
    title = title.removeprefix("verdict: ")
    items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines)
    market = scenario.get("market", {})
    basis = (
        f"It rests on the scenario below (section Scenario and assumptions): "
        f"{_accounts(market)}, {scenario.get('horizon_weeks', '?')} weeks, "
        "every variant on the same random numbers; change an assumption and run again to see "
        "whether the verdict holds."
    )
    return (
        f'<p class="lead">{html.escape(title)}.</p><ul>{items}</ul>'
        f'<p class="note">{html.escape(basis)}</p>'
    )


def _glance(comparison: pd.DataFrame, variants: list[str], reference: str) -> str:
    """One line per variant: the key differences vs the reference, with their 95% CI."""
    items = []
    for variant in variants[1:]:
        parts = []
        for metric in GLANCE:
            match = comparison[
                (comparison["variant"] == variant) & (comparison["metric"] == metric)
            ]
            if match.empty:
                continue
            row = match.iloc[0]
            label, base_format = METRICS[metric]
            formatter = _points if metric in SHARES else _signed(base_format)
            if row["mean_difference"] == 0 and row["ci_low"] == row["ci_high"]:
                parts.append(f"{html.escape(label)} unchanged")
                continue
            sure = "" if bool(row["distinguishable"]) else " (within noise)"
            parts.append(
                f"{html.escape(label)} <b>{formatter(row['mean_difference'])}</b> "
                f"[{formatter(row['ci_low'])}, {formatter(row['ci_high'])}]{sure}"
            )
        items.append(f"<li><b>{html.escape(variant)}</b>: {'; '.join(parts)}.</li>")
    return (
        f'<p class="note">Each variant vs <b>{html.escape(reference)}</b> over the whole '
        "horizon: mean paired difference [95% CI]; <i>within noise</i>: the interval "
        "includes zero.</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def _signed(formatter: Formatter) -> Formatter:
    def signed(value: float) -> str:
        text = formatter(value)
        return text if text.startswith(("-", "–")) or value != value else f"+{text}"

    return signed


def _bridge_table(ts: pd.DataFrame, variants: list[str], reference: str) -> str:
    """The bridge's numbers: one row per driver (as the figure), one column per variant."""
    bridges = {v: margin_bridge(ts, v, reference=reference) for v in variants[1:]}
    drivers = fig.moving_drivers(bridges.values())
    head = "".join(f"<th>{html.escape(v)} − {html.escape(reference)}</th>" for v in bridges)
    money = _signed(_money)
    rows = [
        f"<tr><td>{html.escape(DRIVERS[d])}</td>"
        + "".join(f"<td>{money(b.loc[d, 'mean'])}</td>" for b in bridges.values())
        + "</tr>"
        for d in drivers
    ]
    rows.append(
        "<tr><td><b>Contribution margin difference</b></td>"
        + "".join(f"<td><b>{money(b.loc['total', 'mean'])}</b></td>" for b in bridges.values())
        + "</tr>"
    )
    left_out = [DRIVERS[d] for d in DRIVERS if d not in drivers]
    note = (
        f'<p class="note">Zero in every variant, left out: {html.escape(", ".join(left_out))}.</p>'
        if left_out
        else ""
    )
    return (
        f'<div style="overflow-x:auto"><table><thead><tr><th>Driver</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )


CAPTIONS: dict[str, str] = {
    "revenue_by_channel": "Revenue per week by channel (distributor revenue is sell-in).",
    "contribution_margin": "Contribution margin per week and its cumulative NPV.",
    "customers": "Active customer accounts and cumulative churn.",
    "distributors": "Distributors still active (and retaliating) and their effort on our line.",
    "channel_stock": "Distributors' purchases (sell-in), their sales (sell-through) and stock.",
    "conflicts": "Conflict incidents per week by type (after orchestration resolved its share).",
    "ecommerce": "E-commerce adopters among active buyers and e-commerce share of revenue.",
}


def _overview_section(variants: list[str], reference: str, images: Mapping[str, Path]) -> str:
    def figures_of(variant: str) -> str:
        return "".join(
            figure_html(images, f"{variant}_{name}", text) for name, text in CAPTIONS.items()
        )

    parts = [
        '<p class="note">Lines: mean across runs (replications; for a sweep, every sample and '
        "replication); shaded bands: 5th–95th percentile of those runs. Weekly flows are "
        "4-week moving averages.</p>",
        f"<h3>{html.escape(reference)}</h3>",
        figures_of(reference),
    ]
    parts.extend(
        f"<details><summary>{html.escape(v)}</summary>{figures_of(v)}</details>"
        for v in variants[1:]
    )
    return "".join(parts)


def figure_html(images: Mapping[str, Path], name: str, caption: str) -> str:
    """A PNG of ``images`` embedded in the page (base64), with its caption; "" if missing."""
    path = images.get(name)
    if path is None or not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)} "
        f'<span class="note">(figures/{html.escape(path.name)}, also as SVG)</span>'
        "</figcaption></figure>"
    )


# ------------------------------------------------------------------------------ scenario


def _scenario_section(scenario: Mapping[str, Any]) -> str:
    if not scenario:
        return '<p class="note">The manifest holds no resolved scenario.</p>'
    market = scenario.get("market", {})
    policy = scenario.get("policy", {})
    facts = {
        "Horizon": f"{scenario.get('horizon_weeks')} weeks",
        "Replications": scenario.get("replications"),
        "Seed": scenario.get("seed"),
        "Discount rate": f"{scenario.get('discount_rate_annual', 0):.0%} per year",
        "Buyer accounts": f"{market.get('buyers', 0):,}",
        "Base churn": f"{market.get('base_churn_annual', 0):.0%} per year, "
        f"×{market.get('effort_churn_multiplier')} at high effort",
        "E-commerce adoption (Bass)": "p = {p}, q = {q} per year".format(
            **market.get("ecommerce_adoption", {"p": "?", "q": "?"})
        ),
        **{
            lever.label: lever.show(lever.value_in(scenario))
            for lever in LEVERS
            if not lever.per_entry  # the plan and the promotions are tables below
        },
    }
    listing = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items()
    )
    parts = [f"<dl>{listing}</dl>"]
    tables = (
        ("Channel plan", policy.get("channel_plan") or []),
        ("Trade promotions", policy.get("trade_promotions") or []),
        ("Segments", market.get("segments") or []),
        ("Products", scenario.get("products") or []),
        ("Campaigns", scenario.get("campaigns") or []),
    )
    for title, records in tables:
        if records:
            parts.append(f"<h3>{html.escape(title)}</h3>{table_html(pd.json_normalize(records))}")
    channels = scenario.get("channels") or {}
    if channels:
        parts.append(
            f"<h3>Channels</h3>{table_html(pd.DataFrame(channels).T.reset_index(names='channel'))}"
        )
    for title, key in (("Reps", "reps"), ("Distributors", "distributors")):
        block = scenario.get(key) or {}
        if block:
            flat = pd.json_normalize(block).T.reset_index()
            flat.columns = ["parameter", "value"]
            parts.append(f"<h3>{title}</h3>{table_html(flat)}")
    variants = scenario.get("variants") or {}
    if variants:
        items = "".join(
            f"<dt>{html.escape(name)}</dt><dd>{html.escape(_changes(changes))}</dd>"
            for name, changes in variants.items()
        )
        parts.append(f"<h3>Variants</h3><dl>{items}</dl>")
    text = yaml.safe_dump(dict(scenario), sort_keys=False, allow_unicode=True)
    parts.append(
        "<details><summary>The full resolved scenario (YAML)</summary>"
        f"<pre>{html.escape(text)}</pre></details>"
    )
    return "".join(parts)


def _changes(changes: Mapping[str, Any]) -> str:
    if not changes:
        return "the scenario unchanged"
    return "; ".join(f"{k} = {json.dumps(v, default=str)}" for k, v in changes.items())


def table_html(frame: pd.DataFrame) -> str:
    """A DataFrame as a plain HTML table (numbers with thousands separators)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div style="overflow-x:auto"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _provenance(manifest: Mapping[str, Any]) -> str:
    versions: Iterable[tuple[str, Any]] = (manifest.get("versions") or {}).items()
    facts = {
        "Command": " ".join(map(str, manifest.get("argv") or [manifest.get("command", "")])),
        "Scenario hash": manifest.get("scenario_hash"),
        "Seeding": manifest.get("seeding"),
        "Python": manifest.get("python"),
        "Platform": manifest.get("platform"),
        "Packages": ", ".join(f"{k} {v}" for k, v in versions),
        "Wall time": f"{manifest.get('wall_seconds', '?')} s",
    }
    listing = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>"
        for k, v in facts.items()
        if v not in (None, "")
    )
    return f"<dl>{listing}</dl>"
