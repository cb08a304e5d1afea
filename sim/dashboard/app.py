"""Workshop dashboard (Solara): two policies side by side, simulated live.

Choose a scenario file, start each side (A, B) from one of its variants, move the policy
levers, press **Run**: both models step a few weeks at a time with the same seed (common
random numbers) and the charts and numbers update as the weeks go by.

Served by ``channel-sim dashboard`` (``solara run sim/dashboard/app.py``); the scenario folder
comes from ``$CHANNEL_SIM_SCENARIOS`` (default ``./scenarios``).
"""

# ruff: noqa: N802  (Solara components are CamelCase; the server looks for `Page`)

from __future__ import annotations

import base64
import html
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import solara
import solara.lab

from sim import metrics
from sim.dashboard import live
from sim.dashboard.charts import MIN_PANEL_PX, PANELS, REVENUE, legend, nan_to_dash, panel_pngs
from sim.scenario.levers import EVERY, LEVERS, PolicyLever
from sim.scenario.loader import ScenarioError
from sim.scenario.sanity import sample_warnings
from sim.scenario.schema import Study

UPDATE_SECONDS = 0.8
"""Simulate at least this long between two redraws (seconds)."""

STEP_WEEKS = 2
"""Weeks each side advances per inner step."""

HORIZON_STEP = 13
"""Step of the weeks slider: a quarter. Its minimum is the first quarter that reaches every
plan row and promotion of the scenario (:func:`live.latest_start_week`): a horizon they
start after is refused."""

PREFERRED = ("direct_shift.yaml", "orchestration.yaml")
"""Scenario offered first, if present."""


def _default_file(files: list[Path]) -> str:
    names = [f.name for f in files]
    if os.environ.get(live.RECOMMENDATION_ENV):
        return names[0]
    for name in PREFERRED:
        if name in names:
            return name
    return names[0] if names else ""


FILES = live.scenario_files()
scenario_name = solara.reactive(_default_file(FILES))
sample_percent = solara.reactive(10)
horizon = solara.reactive(104)
seed = solara.reactive(1)
variant = {"A": solara.reactive(live.BASE), "B": solara.reactive(live.BASE)}
levers = {"A": solara.reactive(live.Levers()), "B": solara.reactive(live.Levers())}
frames: solara.Reactive[dict[str, pd.DataFrame]] = solara.reactive({})
chart: solara.Reactive[list[bytes] | None] = solara.reactive(None)
message = solara.reactive("")


def _study(name: str) -> Study | None:
    try:
        return live.load(live.scenario_path(name))
    except (ScenarioError, OSError) as exc:
        message.set(f"Cannot load {name}: {exc}")
        return None


def _reset_sides(study: Study) -> None:
    """A = the scenario as filed, B = its first variant (or the same)."""
    names = live.variants_of(study)
    choice = {"A": names[0], "B": names[1] if len(names) > 1 else names[0]}
    for side, name in choice.items():
        variant[side].set(name)
        levers[side].set(live.Levers.of(live.variant_scenario(study, name)))
    frames.set({})
    chart.set(None)


def _label(side: str) -> str:
    return f"{side}: {variant[side].value}"


@solara.lab.task
def simulate(study: Study, setup: dict[str, tuple[str, live.Levers]]) -> str:
    """Step both sides to the horizon, publishing charts and numbers as it goes."""
    runs: dict[str, live.LiveRun] = {}
    try:
        for side, (name, side_levers) in setup.items():
            small = live.workshop_scenario(
                study,
                name,
                side_levers,
                sample_share=sample_percent.value / 100,
                horizon_weeks=horizon.value,
            )
            runs[side] = live.LiveRun(small, seed.value)
    except ScenarioError as exc:
        message.set(str(exc))
        return "error"
    try:
        return _step_to_horizon(
            runs, {side: f"{side}: {name}" for side, (name, _) in setup.items()}
        )
    finally:
        for run in runs.values():
            run.close()  # each run's worker process


def _step_to_horizon(runs: dict[str, live.LiveRun], names: dict[str, str]) -> str:
    started = time.monotonic()
    while True:
        tick = time.monotonic()
        while time.monotonic() - tick < UPDATE_SECONDS and not all(r.done for r in runs.values()):
            for run in runs.values():
                run.request(STEP_WEEKS)  # both sides step at once, each in its worker
            for run in runs.values():
                run.collect()
        if not simulate.is_current():
            return "cancelled"
        now = {side: run.frame() for side, run in runs.items()}
        chart.set(panel_pngs(now, horizon_weeks=horizon.value, names=names))
        frames.set(now)
        week = min(r.week for r in runs.values())
        message.set(f"week {week} of {horizon.value} · {time.monotonic() - started:.0f} s")
        if all(r.done for r in runs.values()):
            message.set(f"done: {week} weeks in {time.monotonic() - started:.0f} s")
            return "done"


@solara.component
def LeverPanel(side: str, study: Study) -> None:
    """The levers of one side, starting from one of the scenario's variants."""
    current = levers[side].value

    def set_lever(**change: Any) -> None:
        levers[side].set(levers[side].value.with_(**change))

    def choose_variant(name: str) -> None:
        variant[side].set(name)
        levers[side].set(live.Levers.of(live.variant_scenario(study, name)))

    with solara.Card(f"Policy {side}", classes=[f"policy-{side}"]):
        solara.Select(
            "Start from variant",
            values=live.variants_of(study),
            value=variant[side].value,
            on_value=choose_variant,
        )
        for lever in LEVERS:
            LeverControl(lever, current, set_lever)


def plain(value: Any) -> str:
    """An identifier as words (``channel_neutral`` -> ``channel neutral``)."""
    return str(value).replace("_", " ")


def LabelledSlider(text: str, **slider: Any) -> None:
    """A slider under its label: the label wraps, the slider keeps the card's width.

    ``slider`` holds :func:`solara.SliderInt` options, or ``floats=True`` and
    :func:`solara.SliderFloat` ones.
    """
    solara.Text(text, classes=["control-label"])
    floats = slider.pop("floats", False)
    control = solara.SliderFloat if floats else solara.SliderInt
    with solara.Div(classes=["wide-slider"]):
        control("", thumb_label=False, **slider)


def LeverControl(lever: PolicyLever, current: live.Levers, set_lever: Callable[..., None]) -> None:
    """The control of one lever: a slider, a switch or a list of choices."""
    value = current[lever.name]
    if value is None:
        solara.Text(f"{lever.label}: none in this scenario.", classes=["control-label", "muted"])
        return

    def on_value(new: Any) -> None:
        set_lever(**{lever.name: new})

    needs = lever.applies_when
    disabled = needs is not None and current[needs[0]] != needs[1]
    text = f"{lever.label}: {lever.show(value)}"
    if needs is not None and disabled:
        text += f" (only when {plain(needs[0])} is {plain(needs[1])})"
    span = lever.span
    if span is not None and lever.unit == "weeks":
        LabelledSlider(
            text,
            value=value,
            min=round(span.low),
            max=round(span.high),
            step=round(span.step),
            on_value=on_value,
            disabled=disabled,
        )
    elif span is not None:
        LabelledSlider(
            text,
            floats=True,
            value=value,
            min=span.low,
            max=span.high,
            step=span.step,
            on_value=on_value,
            disabled=disabled,
        )
    elif lever.unit == "switch":
        solara.Checkbox(label=lever.label, value=value, on_value=on_value, disabled=disabled)
    else:
        solara.v.Select(
            label=lever.label,
            items=[{"title": plain(choice), "value": choice} for choice in lever.choices],
            v_model=value,
            on_v_model=on_value,
            disabled=disabled,
            hide_details=True,
            class_="lever-choice",
        )


ROWS: tuple[tuple[str, str, float, str], ...] = tuple(
    (name, f"{metrics.label(name)}{when}{unit}", scale, fmt)
    for name, when, unit, scale, fmt in (
        ("contribution_margin", " so far", " (M)", 1e6, ",.2f"),
        ("npv_contribution", " so far", " (M)", 1e6, ",.2f"),
        ("revenue", " so far", " (M)", 1e6, ",.2f"),
        ("active_customers", "", "", 1, ",.0f"),
        ("churned_customers", "", "", 1, ",.0f"),
        ("distributors_active", "", "", 1, ",.0f"),
        ("distributor_effort_mean", "", " (0-1)", 1, ".2f"),
        ("conflict_incidents", " so far", "", 1, ",.0f"),
        ("ecommerce_revenue_share", "", " (%)", 0.01, ".1f"),
    )
)
"""Numbers shown for A, B and B - A: key, label (from sim.metrics), divisor, format."""


def lever_differences(a: live.Levers, b: live.Levers) -> str:
    """How B's levers differ from A's, in words (empty if they are the same)."""
    return "; ".join(
        f"{lever.label.lower()} {plain(lever.show(a[lever.name]))} → "
        f"{plain(lever.show(b[lever.name]))}"
        for lever in LEVERS
        if a[lever.name] != b[lever.name]
    )


_ABSENT = object()


Difference = tuple[tuple[str, ...], Any, Any]
"""A key path, A's value there and B's."""


def _leaves(a: Any, b: Any, path: tuple[str, ...] = ()) -> Iterator[Difference]:
    """``(key path, A's value, B's value)`` wherever two YAML trees differ.

    Lists of the same length are compared entry by entry; of different lengths, as a whole.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from _leaves(a.get(key, _ABSENT), b.get(key, _ABSENT), (*path, str(key)))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _leaves(x, y, (*path, str(i)))
    elif a != b:
        yield path, a, b


def _a_lever_key(path: tuple[str, ...]) -> bool:
    """Whether a workshop lever sets this key (``*`` standing for any list entry)."""
    for lever in LEVERS:
        parts = lever.key_path.split(".")
        if len(parts) == len(path) and all(
            p == q or (p == EVERY and q.isdigit()) for p, q in zip(parts, path, strict=True)
        ):
            return True
    return False


def _key_words(path: tuple[str, ...]) -> str:
    """A key path in words: ``reps.field.count`` -> ``reps, field count``."""
    words = [f"row {int(part) + 1}" if part.isdigit() else plain(part) for part in path]
    return words[0] if len(words) == 1 else f"{words[0]}: {' '.join(words[1:])}"


def _value_words(key: str, value: Any) -> str:
    if value is _ABSENT or value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return f"{len(value)} {'row' if len(value) == 1 else 'rows'}"
    if isinstance(value, Mapping):
        return "set"
    if isinstance(value, float | int):
        if key.endswith("_weeks"):
            return f"{value:g} weeks"
        if key.endswith(("_share", "_fee", "_coverage")) and 0 <= value <= 1:
            return f"{value:.0%}"
        return f"{value:,g}"
    return plain(value)


def other_differences(a: Any, b: Any) -> str:
    """How two scenarios differ in keys that are not workshop levers, in words."""
    tree_a, tree_b = (s.model_dump(by_alias=True) for s in (a, b))
    return "; ".join(
        f"{_key_words(path)} {_value_words(path[-1], x)} → {_value_words(path[-1], y)}"
        for path, x, y in _leaves(tree_a, tree_b)
        if not _a_lever_key(path)
    )


def differences_text(levers_text: str, others_text: str) -> str:
    """The line above the numbers: what differs between A and B, levers first."""
    if not levers_text and not others_text:
        return "A and B are the same: same scenario settings and the same levers."
    parts = [f"A → B: {levers_text}" if levers_text else "A → B: the same levers"]
    if others_text:
        parts.append(f"and, outside the levers (from the variants): {others_text}")
    return "; ".join(parts) + "."


def numbers_html(current: dict[str, pd.DataFrame], rate: float) -> str:
    """The numbers table (A, B, B - A) as HTML."""
    heads = {side: live.headline(frame, rate) for side, frame in current.items()}
    cols = [s for s in ("A", "B") if s in heads]
    cell = "padding:4px 14px;text-align:right;border-bottom:1px solid #ddd"
    head = "".join(f'<th style="{cell}">{html.escape(_label(s))}</th>' for s in cols)
    if len(cols) == 2:
        head += f'<th style="{cell}">B − A</th>'
    rows = []
    for key, label, scale, fmt in ROWS:
        values = [heads[s].get(key, float("nan")) / scale for s in cols]
        cells = "".join(f'<td style="{cell}">{nan_to_dash(v, fmt)}</td>' for v in values)
        if len(values) == 2:
            diff = values[1] - values[0]
            cells += f'<td style="{cell};font-weight:bold">{nan_to_dash(diff, "+" + fmt)}</td>'
        rows.append(f'<tr><td style="{cell};text-align:left">{html.escape(label)}</td>{cells}</tr>')
    return (
        '<table id="numbers" style="border-collapse:collapse;font-size:18px">'
        f'<thead><tr><th style="{cell};text-align:left">Metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


CSS = f"""
.v-application {{ font-size: 17px; }}
.v-card__title {{ font-size: 1.3rem; font-weight: bold; word-break: normal; }}
.dash-body {{ display: flex; flex-wrap: nowrap; gap: 16px; align-items: flex-start; }}
.dash-side {{ flex: 0 0 300px; min-width: 0; }}
.dash-main {{ flex: 1 1 0; min-width: 0; }}
@media (min-width: 1600px) {{ .dash-side {{ flex-basis: 380px; }} }}
.control-label {{
    display: block; margin: 10px 0 0; font-size: 16px; line-height: 1.3;
    white-space: normal; overflow-wrap: anywhere;
}}
.muted {{ color: #666; }}
.wide-slider {{ width: 100%; min-width: 160px; margin-top: 0; }}
.wide-slider .v-slider-track {{ --v-slider-track-size: 6px !important; }}
.wide-slider .v-slider-track__background {{ background-color: #757575 !important; }}
.wide-slider .v-slider-track__background--opacity {{ opacity: 0.5; }}
.wide-slider .v-input__details {{ display: none; }}
.lever-diff {{ display: block; font-size: 16px; font-weight: bold; white-space: normal; }}
.chart-legend {{ display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 10px 0 6px;
    font-size: 16px; }}
.chart-legend span.sample {{ display: inline-block; width: 30px; margin-right: 6px;
    vertical-align: middle; }}
.chart-grid {{ display: grid; gap: 6px;
    grid-template-columns: repeat(auto-fill, minmax({MIN_PANEL_PX}px, 1fr)); }}
.chart-grid img {{ width: 100%; height: auto; display: block; }}
#numbers th, #numbers td {{ white-space: normal; }}
"""
"""Page layout: a fixed-width column of controls, the rest for numbers and charts."""


def charts_html(pngs: list[bytes], names: Mapping[str, str]) -> str:
    """The legend and the chart panels (a grid that wraps) as HTML."""
    samples = "".join(
        f'<span><span class="sample" style="border-top:3px {line} {colour}"></span>'
        f"{html.escape(text)}</span>"
        for text, colour, line in legend(names)
    )
    titles = [REVENUE.title, *(p.title for p in PANELS)]
    images = "".join(
        f'<img class="chart-panel" alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for title, png in zip(titles, pngs, strict=True)
    )
    return (
        f'<div class="chart-legend">{samples}</div>'
        f'<div class="chart-grid live-chart">{images}</div>'
    )


@solara.component
def Page() -> None:
    """The dashboard page."""
    solara.Title("channel-sim workshop dashboard")
    files = [f.name for f in live.scenario_files()]
    study = solara.use_memo(lambda: _study(scenario_name.value), [scenario_name.value])

    latest = solara.use_memo(
        lambda: live.latest_start_week(study) if study is not None else 0, [study]
    )
    shortest = live.shortest_horizon(latest, step=HORIZON_STEP)

    def on_load() -> None:
        if study is not None:
            _reset_sides(study)
            horizon.set(max(horizon.value, shortest))

    solara.use_effect(on_load, [scenario_name.value])

    def others() -> str:
        if study is None:
            return ""
        try:
            a, b = (live.variant_scenario(study, variant[s].value) for s in "AB")
        except ScenarioError:
            return ""
        return other_differences(a, b)

    outside = solara.use_memo(
        others, [scenario_name.value, variant["A"].value, variant["B"].value, study]
    )

    solara.Style(CSS)
    with solara.Column(style={"padding": "12px 20px"}):
        solara.HTML(
            tag="h1",
            unsafe_innerHTML="Channel-shift workshop: policy A vs policy B",
            style={"font-size": "2rem", "margin": "4px 0 8px"},
        )
        if not files:
            solara.Error(
                f"No scenario files in {live.scenario_folder()}: start the dashboard from the "
                "project folder or pass --scenarios DIR."
            )
            return
        with solara.Div(classes=["dash-body"]):
            with solara.Div(classes=["dash-side"]):
                with solara.Card("Scenario"):
                    solara.Select("Scenario file", values=files, value=scenario_name, dense=True)
                    if study is not None:
                        solara.Text(study.scenario.description, style={"color": "#444"})
                        firm = study.scenario.market.buyers
                        simulated = round(firm * sample_percent.value / 100)
                        LabelledSlider(
                            f"Accounts simulated: {sample_percent.value}% of {firm:,} "
                            f"({simulated:,})",
                            value=sample_percent,
                            min=1,
                            max=50,
                            step=1,
                        )
                        for warning in sample_warnings(study.scenario, sample_percent.value / 100):
                            solara.Text(warning, classes=["control-label", "muted"])
                    LabelledSlider(
                        f"Weeks: {horizon.value}",
                        value=horizon,
                        min=shortest,
                        max=max(260, shortest),
                        step=HORIZON_STEP,
                    )
                    if shortest > HORIZON_STEP:
                        solara.Text(
                            f"At least {shortest} weeks: a plan row or promotion of this "
                            f"scenario starts in week {latest}.",
                            classes=["control-label", "muted"],
                        )
                    solara.InputInt("Seed", value=seed)

                    def run() -> None:
                        if study is not None:  # the button is disabled otherwise
                            policies = {s: (variant[s].value, levers[s].value) for s in "AB"}
                            simulate(study, policies)

                    with solara.Row():
                        solara.Button(
                            "Run",
                            color="primary",
                            icon_name="mdi-play",
                            disabled=study is None or simulate.pending,
                            on_click=run,
                        )
                        solara.Button(
                            "Stop",
                            icon_name="mdi-stop",
                            disabled=not simulate.pending,
                            on_click=simulate.cancel,
                        )
                    solara.Text(message.value, classes=["run-status"])
                if study is not None:
                    LeverPanel("A", study)
                    LeverPanel("B", study)
            with solara.Div(classes=["dash-main"]):
                solara.Text(
                    differences_text(
                        lever_differences(levers["A"].value, levers["B"].value), outside
                    ),
                    classes=["lever-diff"],
                )
                if frames.value and study is not None:
                    rate = study.scenario.discount_rate_annual
                    solara.HTML(tag="div", unsafe_innerHTML=numbers_html(frames.value, rate))
                else:
                    solara.Info("Set the levers of A and B, then press Run.")
                if chart.value is not None:
                    names = {side: _label(side) for side in frames.value}
                    solara.HTML(tag="div", unsafe_innerHTML=charts_html(chart.value, names))
                solara.Text(
                    "Same seed for A and B (common random numbers). Reps and prospects are "
                    "scaled with the buyer accounts; weekly flows are 4-week moving averages.",
                    style={"color": "#666", "font-size": "14px", "display": "block"},
                )
