"""The backtest page: simulated vs actual orders, with the plain BG/NBD curve beside them.

Reads a backtest folder (``backtest.csv``, ``holdout.csv``, ``manifest.json``) and writes
``backtest.png``/``.svg`` and a self-contained ``report.html`` (the figure embedded).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sim.report.figures import OKABE_ITO, new_figure, plot_band, style
from sim.report.html import CSS, table_html
from sim.results.store import atomic_write, write_text


def tracking_figure(weekly: pd.DataFrame, cutoff_week: int, replications: int) -> Figure:
    """Weekly orders and cumulative repeat orders, the cut-off marked.

    Actual; the agent-based model's mean with the 5-95% band of its replications; plain BG/NBD.
    """
    actual, model, plain = OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2]
    with style():
        figure, (weekly_ax, cumulative_ax) = new_figure(12.0, 4.8, ncols=2)
        week = weekly["week"]
        weekly_ax.plot(week, weekly["actual_orders"], color=actual, label="actual")
        plot_band(
            weekly_ax, _band(weekly, "simulated_orders"), label="agent-based model", colour=model
        )
        weekly_ax.set_title("Orders per week (first orders are data)")
        weekly_ax.set_ylabel("Orders (customer-days)")
        cumulative_ax.plot(week, weekly["actual_repeat_orders_cumulative"], color=actual)
        plot_band(
            cumulative_ax,
            _band(weekly, "simulated_repeat_orders_cumulative"),
            label="_nolegend_",
            colour=model,
        )
        cumulative_ax.plot(
            week, weekly["bgnbd_repeat_orders_cumulative"], color=plain, ls="--", label="BG/NBD"
        )
        cumulative_ax.set_title("Cumulative repeat orders")
        cumulative_ax.set_ylabel("Repeat orders")
        for ax in (weekly_ax, cumulative_ax):
            ax.axvline(cutoff_week - 0.5, color="#555555", lw=1, ls=":")
            ax.set_xlabel("Week of the data (0 = its first 7 days)")
            ax.margins(x=0)
            ax.set_ylim(bottom=0)
        cumulative_ax.annotate(
            "cut-off", (cutoff_week - 0.5, 0), xytext=(4, 4), textcoords="offset points"
        )
        figure.legend(loc="outside lower center", ncols=3)
        figure.suptitle(
            f"Lines: actual and mean of {replications} replications; band: 5–95% of them.",
            x=0.005,
            ha="left",
            fontsize=10,
            color="#555555",
        )
    return figure


def build_backtest_report(folder: str | Path) -> Path:
    """Write the figure and ``report.html`` of a backtest folder; return the report's path."""
    root = Path(folder)
    weekly = pd.read_csv(root / "backtest.csv")
    holdout = pd.read_csv(root / "holdout.csv")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    figure = tracking_figure(weekly, manifest["cutoff_week"], manifest["replications"])
    for suffix in ("png", "svg"):
        _save(figure, root / f"backtest.{suffix}")
    image = base64.b64encode((root / "backtest.png").read_bytes()).decode("ascii")
    title = f"Backtest of {manifest['scenario']} on {Path(manifest['orders']).name}"
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="lead">Calibrated on the orders before {html.escape(manifest["until"])}; '
        f"the {manifest['customers']:,} customers of that period enter the model at their first "
        "order and the model simulates their repeat orders to the end of the data.</p>"
        f'<figure><img alt="Backtest tracking figure" src="data:image/png;base64,{image}">'
        "<figcaption>Actual vs simulated orders; the dotted line is the cut-off.</figcaption>"
        "</figure><h2>Holdout</h2>"
        f"{table_html(holdout_table(holdout))}"
        "<p class='note'>Error: (predicted − actual) / actual repeat orders after the cut-off "
        "(<code>holdout_error_share</code> in holdout.csv).</p></main></body></html>\n"
    )
    write_text(root / "report.html", page)
    return root / "report.html"


HOLDOUT_COLUMNS: dict[str, str] = {
    "model": "Model",
    "holdout_repeat_orders": "Repeat orders after the cut-off",
    "end_cumulative": "Repeat orders, cumulative at the end",
    "holdout_error_share": "Error vs actual",
}
"""``holdout.csv``'s columns as the report names them."""


def holdout_table(holdout: pd.DataFrame) -> pd.DataFrame:
    """``holdout.csv`` for a reader: plain column names, whole orders, the error in percent."""
    table = holdout[[c for c in HOLDOUT_COLUMNS if c in holdout]].copy()
    for column in ("holdout_repeat_orders", "end_cumulative"):
        if column in table:
            table[column] = table[column].map(lambda v: f"{v:,.0f}")
    if "holdout_error_share" in table:
        table["holdout_error_share"] = [
            "–" if model == "actual" or v != v else f"{v * 100:+.1f}%"
            for model, v in zip(holdout["model"], table["holdout_error_share"], strict=True)
        ]
    return table.rename(columns=HOLDOUT_COLUMNS)


def _save(figure: Figure, path: Path) -> None:
    """Atomically save ``figure`` in the format its suffix names."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, format=path.suffix[1:], dpi=150))


def _band(weekly: pd.DataFrame, column: str) -> pd.DataFrame:
    """A ``column`` and its ``_low``/``_high`` band as :func:`plot_band` reads it, by week."""
    names = {column: "mean", f"{column}_low": "low", f"{column}_high": "high"}
    return weekly.set_index("week")[list(names)].rename(columns=names)
