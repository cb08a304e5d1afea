"""Command line: ``channel-sim`` (also ``python -m sim``).

Exit codes: 0 success, 2 bad input (scenario, flag, path), 1 anything else. User mistakes
print one clear message, never a traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.experiments.options import OPTION_TYPES, OPTIONS
from sim.metrics import SUMMARY, SUMMARY_BY_NAME
from sim.results.verdict import SCALES, display_scale, verdict_lines
from sim.scenario.loader import ScenarioError, load_scenario, load_study
from sim.scenario.sanity import firm_warnings

if TYPE_CHECKING:  # the engine is imported by the commands that need it: --help stays quick
    import pandas as pd

    from sim.calibration import OrderLines
    from sim.experiments.optimize import Recommendation
    from sim.results.store import Results

app = typer.Typer(
    name="channel-sim",
    help="War-game channel shifts (distributor -> direct, e-commerce): margin, churn, conflict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a key: key.path=value (value read as YAML). Repeatable."),
]
ReportOpt = Annotated[
    bool, typer.Option("--report/--no-report", help="Build figures/ and report.html at the end.")
]
ColumnsOpt = Annotated[
    list[str] | None,
    typer.Option(help="Map a column: ours=theirs, e.g. customer_id=KUNNR. Repeatable."),
]

DateFormatOpt = Annotated[
    str | None,
    typer.Option(
        help="strftime format of the date column, e.g. %d/%m/%Y (default: ISO 8601, or "
        "day-first/month-first where the data tell which)."
    ),
]
ChannelMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Map the file's channel names to ours: THEIRS=ours, e.g. Web=ecommerce "
        "(field, inside, distributor, ecommerce). Repeatable."
    ),
]

HEADLINE: tuple[tuple[str, str, float, str], ...] = tuple(
    (m.name, m.label, *SCALES.get(m.unit, (1.0, ""))) for m in SUMMARY if m.headline
)
"""Summary metrics printed after a run: column, label, divisor, suffix (from sim.metrics)."""


def study_options(
    command: Callable[..., None] | None = None, *, hidden: tuple[str, ...] = ()
) -> Any:
    """Give a command the flags of every study option (``sim.experiments.options``).

    ``command(scenario, **options)`` (plus its own parameters) receives the options by name.
    Options named in ``hidden`` are not offered by ``--help`` (the command refuses them with a
    message saying what to use instead); use as ``@study_options(hidden=(...))``.
    """
    if command is None:
        return lambda function: study_options(function, hidden=hidden)
    own = list(inspect.signature(command, eval_str=True).parameters.values())
    flags = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=f.default,
            annotation=Annotated[
                f.metadata.get("cli_type", OPTION_TYPES[f.name]),
                typer.Option(
                    f.metadata.get("flag", f"--{f.name}"),
                    help=f.metadata["help"],
                    min=f.metadata.get("min"),
                    hidden=f.name in hidden,
                ),
            ],
        )
        for f in OPTIONS
    ]
    scenario, *rest = (p for p in own if p.kind is not inspect.Parameter.VAR_KEYWORD)
    rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in rest]
    command.__signature__ = inspect.Signature([scenario, *flags, *rest])  # type: ignore[attr-defined]
    return command


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn user mistakes into a message and exit code 2, other failures into exit 1."""
    try:
        yield
    except ScenarioError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, NotADirectoryError, ConnectionError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        errors.print("interrupted: finished runs are kept; run the same command again to resume")
        raise typer.Exit(1) from None
    except Exception as exc:
        # imported only when something failed: --help must not load pandas or the engine
        from rich.markup import escape

        from sim.experiments.study import RunsFailedError
        from sim.results.store import ResultsFolderError

        if not isinstance(exc, RunsFailedError | ResultsFolderError):
            raise
        text = exc.message(cli=True) if isinstance(exc, ResultsFolderError) else str(exc)
        errors.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2 if isinstance(exc, ResultsFolderError) else 1) from None


COMPILING = "compiling the engine on first use (up to a minute; later runs reuse it)…"
"""Said before a command's first compilation (:func:`sim.model.kernel.before_compiling`)."""


@contextmanager
def compile_notice() -> Iterator[None]:
    """Say :data:`COMPILING` on stderr if, and just before, the engine gets compiled."""
    from sim.model.kernel import before_compiling

    with before_compiling(lambda: errors.print(COMPILING, highlight=False)):
        yield


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar with ETA, fed by (done, total) calls, and :func:`compile_notice`.

    It appears at the first call, which the studies make once their input is checked: a
    mistake in the input ends with its message alone, no empty ``0/?`` bar before it.
    """
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeRemainingColumn(),
    )
    with ExitStack() as shown, compile_notice():
        bar: Progress | None = None
        task = None

        def update(done: int, total: int) -> None:
            nonlocal bar, task
            if bar is None:
                bar = shown.enter_context(Progress(*columns, console=errors, transient=False))
                task = bar.add_task(label, total=total)
            assert task is not None
            bar.update(task, completed=done, total=total)

        yield update


def _study(kind: str, scenario: Path, options: dict[str, Any]) -> Results:
    """Run a study (``run``, ``compare`` or ``sweep``) behind a progress bar."""
    from sim.experiments import study, sweep

    function = {"run": study.run, "compare": study.compare, "sweep": sweep.sweep}[kind]
    label = "sweeping" if kind == "sweep" else "simulating"
    with user_errors(), progress_bar(label) as progress:
        results = function(scenario, progress=progress, **options)
    print_warnings(results.manifest.get("warnings", []))
    return results


def print_warnings(warnings: list[str]) -> None:
    """Print the scenario's plausibility and sample warnings (:mod:`sim.scenario.sanity`)."""
    for warning in warnings:
        errors.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command()
@study_options
def run(scenario: ScenarioArg, report: ReportOpt = True, **options: Any) -> None:
    """Run a scenario's replications; write time series, summary and manifest."""
    results = _study("run", scenario, options)
    print_summary(results)
    if report:
        write_report(results)


@app.command()
@study_options
def compare(scenario: ScenarioArg, report: ReportOpt = True, **options: Any) -> None:
    """Run all variants with common random numbers; paired differences vs the baseline."""
    results = _study("compare", scenario, options)
    print_comparison(results)
    if report:
        write_report(results)


@app.command()
@study_options
def sweep(scenario: ScenarioArg, **options: Any) -> None:
    """Run the scenario's sweep block (grid, lhs, sobol); write sensitivity.csv."""
    results = _study("sweep", scenario, options)
    print_sensitivity(results)


@app.command()
@study_options(hidden=("replications",))  # optimize.replications and .finalist_replications
def optimize(
    scenario: ScenarioArg,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Candidates to search (default: optimize.trials).")
    ] = None,
    report: ReportOpt = True,
    **options: Any,
) -> None:
    """Search the optimize block's levers; recommend a plan; stress-test it (uncertainties)."""
    from sim.experiments.optimize import optimize as search_levers

    if trials is not None:
        options["overrides"] = [*(options.get("overrides") or []), f"optimize.trials={trials}"]
    with user_errors(), progress_bar("optimizing") as progress:
        outcome = search_levers(scenario, progress=progress, **options)
    print_recommendation(outcome)
    if outcome.recommended is None:
        # the user's constraints cannot be met by this scenario and these levers: bad input
        # (exit 2), like any other mistake in the file; what was computed stays on disk
        errors.print(f"[bold red]error:[/] {outcome.unmet}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if report:
        write_report(outcome.results)


def print_recommendation(outcome: Recommendation) -> None:
    """Print the finalists against the baseline, the recommendation and where it breaks."""
    block = outcome.results.manifest["optimize"]
    metric = next(iter(block["objectives"]))
    comparison = outcome.results.comparison
    paired = (
        {}
        if comparison is None or comparison.empty
        else {row.variant: row for row in comparison[comparison["metric"] == metric].itertuples()}
    )
    finalists = outcome.candidates[outcome.candidates["stage"] == "finalist"]
    unit = SUMMARY_BY_NAME[metric].unit
    largest = finalists[f"{metric}_mean"].abs().max() if len(finalists) else 0.0
    scale, suffix = display_scale(unit, float(largest))
    table = _table(
        f"finalists vs the scenario as written: {SUMMARY_BY_NAME[metric].label}, paired 95% "
        "CI; * = recommended",
        ["plan", "feasible", "mean", "difference vs baseline", "95% CI"],
        numbers=3,
    )
    for row in finalists.itertuples():
        diff = paired.get(row.variant)
        table.add_row(
            f"{row.variant}{' *' if row.recommended else ''}",
            "yes" if row.feasible else f"no: {row.violated}",
            f"{getattr(row, f'{metric}_mean') / scale:,.2f}{suffix}",
            "" if diff is None else f"{diff.mean_difference / scale:+,.2f}{suffix}",
            "" if diff is None else f"[{diff.ci_low / scale:+,.2f}, {diff.ci_high / scale:+,.2f}]",
        )
    console.print(table)
    folder = outcome.results.path
    if outcome.recommended is None:
        pass  # the command ends with what was searched and what to change
    elif outcome.recommended.trial < 0:
        errors.print("recommendation: keep the plan as written (no finalist beat it)")
    else:
        errors.print(f"recommendation: {folder / 'recommendation.yaml'}", highlight=False)
    if outcome.stress is not None:
        errors.print(f"stress test: {outcome.stress.statement}", highlight=False, soft_wrap=True)


def print_sensitivity(results: Results) -> None:
    """Print the sensitivity indices of a sweep, one row per output x parameter."""
    table = results.sensitivity
    if table is None or table.empty:
        return
    values = [c for c in table.columns if c not in ("output", "parameter", "note")]
    notes = table["note"].fillna("").astype(str)
    view = Table(title=f"sensitivity ({results.manifest['sweep']['method']}): {results.path}")
    view.add_column("output", overflow="fold")
    view.add_column("parameter", overflow="fold")
    for header in values:
        view.add_column(header, justify="right", no_wrap=True)
    if notes.any():
        view.add_column("note")
    for (_, row), note in zip(table.iterrows(), notes, strict=True):
        cells = [f"{row[c]:.3f}" for c in values]
        view.add_row(row["output"], row["parameter"], *cells, *([note] if notes.any() else []))
    console.print(view)


@app.command()
def validate(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Check a scenario file; print the resolved scenario or the errors."""
    with user_errors():
        resolved = load_study(scenario, set_ or ())
    console.print(
        yaml.safe_dump(resolved.model_dump(mode="json", by_alias=True), sort_keys=False),
        highlight=False,
        markup=False,
        soft_wrap=True,  # never wrap: the output must stay valid YAML at any terminal width
    )
    variants = f", {len(resolved.variants)} variants" if resolved.variants else ""
    errors.print(f"[green]ok[/]: {scenario} is a valid scenario{variants}")
    print_warnings(firm_warnings(resolved.scenario))


def print_summary(results: Results) -> None:
    """Print the headline metrics, mean and 95% CI across replications, per variant.

    One row per metric and variant (:func:`_table`), so the table fits 80 columns whatever the
    number of variants. The interval stays within the metric's bounds (a share in [0, 1], a
    count >= 0; :func:`sim.results.stats.mean_ci`).
    """
    from sim.results.stats import mean_ci

    summary = results.summary
    variants = list(summary["variant"].unique())
    several = len(variants) > 1
    headers = ["metric", *(["variant"] if several else []), "mean", "95% CI"]
    table = _table(f"{results.manifest['scenario']}: {results.path}", headers, numbers=2)
    for column, label, scale, unit in HEADLINE:
        bounds = SUMMARY_BY_NAME[column].unit.bounds
        for i, variant in enumerate(variants):
            values = summary.loc[summary["variant"] == variant, column].to_numpy()
            mean, low, high = (v / scale for v in mean_ci(values, bounds=bounds))
            interval = "" if low != low else f"[{low:,.2f}, {high:,.2f}]"
            names = [label if i == 0 else "", *([variant] if several else [])]
            last = several and i == len(variants) - 1
            table.add_row(*names, f"{mean:,.2f}{unit}", interval, end_section=last)
    console.print(table)


def print_comparison(results: Results) -> None:
    """Print the paired differences in each metric's unit; mark those told apart from noise."""
    print_summary(results)
    comparison = results.comparison
    if comparison is None or comparison.empty:
        return
    table = _table(
        "difference vs baseline (paired, 95% CI); * = distinguishable from noise",
        ["variant", "metric", "mean", "95% CI", "n"],
        numbers=3,
    )
    wanted = [c for c, *_ in HEADLINE]
    rows = comparison[comparison["metric"].isin(wanted)]
    for variant, group in rows.groupby("variant", sort=False):
        group = group.set_index("metric").loc[[m for m in wanted if m in group["metric"].values]]
        for i, (metric, row) in enumerate(group.iterrows()):
            largest = max(abs(row.mean_difference), abs(row.ci_low), abs(row.ci_high))
            scale, suffix = display_scale(SUMMARY_BY_NAME[str(metric)].unit, largest)
            star = "*" if row.distinguishable else ""
            table.add_row(
                str(variant) if i == 0 else "",
                SUMMARY_BY_NAME[str(metric)].label,
                f"{row.mean_difference / scale:+,.2f}{suffix}{star}",
                f"[{row.ci_low / scale:+,.2f}, {row.ci_high / scale:+,.2f}]",
                str(row.n),
                end_section=i == len(group) - 1,
            )
    console.print(table)
    print_verdict(results)


def _table(title: str, headers: list[str], *, numbers: int) -> Table:
    """A table whose text is never cut, at 80 columns too.

    Names wrap at spaces (a word wider than its column folds, no ``…``); the last
    ``numbers`` columns are right-aligned numbers kept on one line.
    """
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        number = i >= len(headers) - numbers
        table.add_column(
            header, justify="right" if number else "left", overflow="fold", no_wrap=number
        )
    return table


def print_verdict(results: Results) -> None:
    """Print :func:`verdict_lines` for a comparison."""
    comparison = results.comparison
    if comparison is None or comparison.empty:
        return
    baseline = str(results.summary["variant"].iloc[0])
    for line in verdict_lines(comparison, baseline):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def report(
    results_dir: Annotated[
        Path, typer.Argument(help="Results folder of a run, compare or sweep.", show_default=False)
    ],
) -> None:
    """(Re)build figures/ (PNG and SVG) and a self-contained report.html."""
    write_report(results_dir)


def write_report(results: Results | Path) -> None:
    """Build figures and report.html from finished results; say where they are."""
    from sim.report import build_report

    with user_errors(), errors.status("building figures and report.html"):
        target = build_report(results)
    errors.print(f"report: {target}", highlight=False, soft_wrap=True)


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free).")] = 8765,
    scenarios: Annotated[
        Path, typer.Option(help="Folder of scenario files offered in the dashboard.")
    ] = Path("scenarios"),
    recommendation: Annotated[
        Path | None,
        typer.Option(help="recommendation.yaml of `optimize`: offered first, as policy B."),
    ] = None,
) -> None:
    """Workshop dashboard in the browser: move policy levers, run, compare A vs B."""
    from sim.dashboard import serve

    with user_errors():
        if recommendation is not None:
            from sim.experiments.optimize import recommended_changes

            recommended_changes(load_study(recommendation))  # a clear error before serving
        code = serve(host=host, port=port, scenarios=scenarios, recommendation=recommendation)
    raise typer.Exit(code)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Hosts only this machine can reach."""


@app.command()
def wargame(
    scenario: ScenarioArg,
    out: Annotated[
        Path, typer.Option(help="The game's folder: created, or resumed if it holds this game.")
    ],
    roles: Annotated[
        str | None,
        typer.Option(
            help="Roles teams take, comma-separated: manufacturer, distributor:<i>, competitor "
            "(default: manufacturer and distributors 0 and 1; the model plays the others)."
        ),
    ] = None,
    round_weeks: Annotated[
        int | None, typer.Option(min=1, help="Weeks a round plays (default 13, a quarter).")
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(min=1, help="Rounds in the game (default: as many as fit the horizon)."),
    ] = None,
    set_: SetOpt = None,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0: the room's network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free).")] = 8766,
) -> None:
    """A war-game with people in the loop: teams play roles, the model plays the market.

    Creates the game in --out or resumes it, prints the join links, serves until Ctrl-C.
    """
    from sim.wargame import server
    from sim.wargame.game import Game, GameError
    from sim.wargame.roles import DecisionError

    with user_errors(), compile_notice():
        try:
            game = Game.open(
                scenario,
                out,
                roles_=roles,
                round_weeks=round_weeks,
                rounds=rounds,
                overrides=set_ or [],
            )
            httpd = server.make_server(game, host, port)
        except (GameError, DecisionError) as exc:
            errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            errors.print(
                f"[bold red]error:[/] cannot listen on {host}:{port}: {exc.strerror or exc}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None
    if host not in LOOPBACK:
        errors.print(
            f"[yellow]warning:[/] listening on {host}: anyone on this network can reach the "
            "game; only the tokens keep the teams' pages apart. Share each link with its team "
            "alone.",
            highlight=False,
            soft_wrap=True,
        )
    bound = httpd.server_address[1]
    state = "resumed at round" if game.round else "created: round"
    console.print(
        f"war-game {game.firm.name!r} in {game.folder}: {state} {game.round} of "
        f"{game.setup.rounds} ({game.setup.round_weeks} weeks each)",
        highlight=False,
        soft_wrap=True,
    )
    for role, link in server.join_links(game, host, int(bound)).items():
        console.print(f"  {role:<16} {link}", highlight=False, soft_wrap=True)
    console.print("Ctrl-C stops the server; the same command resumes the game.", highlight=False)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        errors.print("stopped: the game is saved; run the same command to resume")
    finally:
        httpd.server_close()


def main() -> None:
    """Console-script entry point."""
    app()


@app.command()
def calibrate(
    orders: Annotated[
        Path, typer.Argument(help="Order lines, CSV or Parquet.", show_default=False)
    ],
    until: Annotated[
        str, typer.Option(help="Cut-off day (YYYY-MM-DD): only orders before it are used.")
    ],
    out: Annotated[Path, typer.Option(help="Calibrated scenario to write (YAML).")],
    extends: Annotated[Path, typer.Option(help="Scenario the calibrated one extends.")] = Path(
        "scenarios/baseline.yaml"
    ),
    columns: ColumnsOpt = None,
    date_format: DateFormatOpt = None,
    channel_map: ChannelMapOpt = None,
) -> None:
    """Fit the buyers to an order extract; write a scenario and calibration.json beside it."""
    from sim.calibration import calibrate as fit
    from sim.calibration import write_calibration

    with user_errors(), compile_notice():
        lines, cutoff = _order_lines(orders, until, columns, date_format, channel_map)
        base = load_scenario(extends)
        calibration = fit(lines, cutoff, base)
        report = write_calibration(calibration, out, extends=extends, base=base)
    for dropped, count in calibration.orders.dropped.items():
        if count:
            errors.print(f"dropped {count} lines: {dropped}", highlight=False)
    table = Table(title=f"calibration of {orders} before {cutoff.date()}", title_justify="left")
    for header in ("segment", "customers", "orders/yr", "spend/yr", "r", "alpha", "a", "b"):
        table.add_column(header, justify="left" if header == "segment" else "right")
    for s in calibration.segments:
        bg = s.purchase
        table.add_row(
            s.name,
            str(s.customers),
            f"{s.orders_per_year:.3g}",
            f"{s.spend_annual:,.0f}",
            *(f"{bg[n]:.3g} ± {bg.se(n):.2g}" for n in ("r", "alpha", "a", "b")),
        )
    console.print(table)
    for s in calibration.segments:
        if not s.purchase.converged:
            errors.print(
                f"[yellow]warning:[/] segment {s.name!r}: the BG/NBD fit did not converge to an "
                "interior optimum (see calibration.json); more history or fewer segments help",
                highlight=False,
            )
    errors.print(f"[green]wrote[/] {out} and {report}", highlight=False, soft_wrap=True)


def _order_lines(
    orders: Path,
    until: str,
    columns: list[str] | None,
    date_format: str | None = None,
    channel_map: list[str] | None = None,
) -> tuple[OrderLines, pd.Timestamp]:
    """Read and check an order file; parse ``--until`` (ISO 8601, or in ``--date-format``).

    The file's columns are mapped by ``--columns``, its dates read in ``--date-format`` and
    its channel names mapped by ``--channel-map``.
    """
    import pandas as pd

    from sim.calibration import OrderDataError, read_orders
    from sim.calibration.orders import parse_dates

    text = pd.Series([until.strip()], dtype="string")
    cutoff = parse_dates(text, date_format=date_format).iloc[0] if date_format else pd.NaT
    if pd.isna(cutoff):
        try:
            cutoff = parse_dates(text).iloc[0]  # ISO 8601; day-first only where unambiguous
        except OrderDataError:
            raise OrderDataError(
                f"--until {until!r}: day-first or month-first? write it as YYYY-MM-DD"
                + (f" or in {date_format}" if date_format else "")
            ) from None
    if pd.isna(cutoff):
        formats = f"e.g. 2024-07-01{f' or in {date_format}' if date_format else ''}"
        raise OrderDataError(f"--until {until!r}: not a date; expected {formats}")
    mapping: dict[str, str] = {}
    for pair in channel_map or ():
        theirs, ours = _pair(pair, flag="--channel-map", example="Web=ecommerce")
        if mapping.get(theirs, ours) != ours:
            raise OrderDataError(
                f"--channel-map {pair}: {theirs!r} is already mapped to {mapping[theirs]!r}"
            )
        mapping[theirs] = ours
    lines = read_orders(
        orders,
        columns=dict(_pair(text) for text in columns or ()),
        date_format=date_format,
        channel_map=mapping,
    )
    return lines, cutoff


def _pair(
    text: str, *, flag: str = "--columns", example: str = "customer_id=KUNNR"
) -> tuple[str, str]:
    """``left=right`` -> (left, right), e.g. ours=theirs of ``--columns``."""
    from sim.calibration import OrderDataError

    left, sep, right = text.partition("=")
    if not sep or not left.strip() or not right.strip():
        form = "THEIRS=ours" if flag == "--channel-map" else "ours=theirs"
        raise OrderDataError(f"{flag} {text!r}: expected {form}, e.g. {example}")
    return left.strip(), right.strip()


@app.command()
def backtest(
    orders: Annotated[Path, typer.Argument(help="Order lines, CSV or Parquet (the whole period).")],
    scenario: Annotated[Path, typer.Option(help="The calibrated scenario (from calibrate).")],
    until: Annotated[str, typer.Option(help="The cut-off day it was calibrated at.")],
    replications: Annotated[int, typer.Option(min=1, help="Simulated replications.")] = 10,
    out: Annotated[
        Path | None, typer.Option(help="Folder (default: results/backtest_<scenario name>).")
    ] = None,
    columns: ColumnsOpt = None,
    date_format: DateFormatOpt = None,
    channel_map: ChannelMapOpt = None,
) -> None:
    """Simulate the data's period from the calibration cohort; simulated vs actual orders."""
    from sim.calibration.backtest import backtest as run_backtest
    from sim.calibration.backtest import calibrated_segments, save_backtest
    from sim.report.backtest import build_backtest_report

    with user_errors():
        lines, cutoff = _order_lines(orders, until, columns, date_format, channel_map)
        calibrated = load_scenario(scenario)
        folder = out or Path("results") / f"backtest_{calibrated.name}"
        with progress_bar("simulating") as progress:
            result = run_backtest(
                lines,
                calibrated,
                cutoff,
                replications=replications,
                workdir=folder,
                segments=calibrated_segments(scenario.with_name("calibration.json")),
                progress=progress,
            )
        save_backtest(
            result,
            folder,
            provenance={
                "command": "backtest",
                "orders": str(orders),
                "scenario": calibrated.name,
                "scenario_file": str(scenario),
                "until": str(cutoff.date()),
                "replications": replications,
                "seed": calibrated.seed,
                "customers": int(result.customers),
            },
        )
        report = build_backtest_report(folder)
    table = Table(title="repeat orders after the cut-off", title_justify="left")
    for header in ("model", "predicted", "actual", "error"):
        table.add_column(header, justify="left" if header == "model" else "right")
    truth = float(result.holdout["holdout_repeat_orders"].iloc[0])
    for row in result.holdout.iloc[1:].itertuples():
        table.add_row(
            str(row.model),
            f"{row.holdout_repeat_orders:,.0f}",
            f"{truth:,.0f}",
            f"{row.holdout_error_share:+.1%}",
        )
    console.print(table)
    errors.print(f"[green]wrote[/] {folder / 'backtest.csv'} and {report}", highlight=False)
