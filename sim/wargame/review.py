"""The after-action review: what each team's choices gained or cost it and the manufacturer.

Three kinds of path share the game's seed (common random numbers), so they differ only by
decisions (:class:`sim.wargame.game.Game` steps them together):

- ``game``: every decision as played;
- ``model``: every role left to the model's own rules (``channel-sim run`` of the scenario);
- ``without:<team>``: every decision as played but that team's, which the model plays.

Per round and team, ``review.csv`` holds the team's own outcome and the manufacturer's
contribution margin on each path, and the paired differences: ``game - model`` (what all the
choices together did) and ``game - without`` (what this team's choices did, the others' as
played). Outcomes: the manufacturer's contribution margin; a distributor's profit across its
portfolio (our line and the competitor's); for the competitor, our units lost to competitor
lines. Money in currency units, the firm's, summed over the round's weeks.

``report.html`` shows them, the two paths week by week, and the decisions timeline.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.report import figures as fig
from sim.report.formats import money
from sim.report.html import CSS, figure_html, table_html
from sim.results.store import write_csv, write_text
from sim.wargame import roles

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.wargame.game import Game

MARGIN = "contribution_margin"
"""The manufacturer's outcome, the shift's margin."""

REVIEW_COLUMNS: tuple[str, ...] = (
    "round",
    "first_week",
    "last_week",
    "team",
    "outcome",
    "unit",
    "game",
    "model",
    "game_minus_model",
    "without_team",
    "team_choices",
)
"""``review.csv``: per round x team x outcome (its own, and the manufacturer's margin)."""


REVIEW_CSS = """
#timeline td { white-space: normal; text-align: left; }
#timeline td:last-child { max-width: 40rem; }
"""
"""The timeline's values (announcements) wrap instead of running off the page."""


def outcome_of(role: str) -> tuple[str, str]:
    """The outcome a role plays for: (name, unit)."""
    if role == roles.MANUFACTURER:
        return MARGIN, "currency units"
    if role == roles.COMPETITOR:
        return "lost_to_competitor_units", "units"
    return "total_profit", "currency units"


def round_totals(game: Game, path: str, role: str) -> list[float]:
    """``role``'s outcome on ``path`` summed over each round played (the firm's)."""
    name, _ = outcome_of(role)
    played = game.paths[path]
    d = roles.distributor_index(role)
    if d is None:
        series = played.timeseries()
        column = series[name].to_numpy()
        weeks = series["week"].to_numpy()
    else:
        rows = played.distributors()
        rows = rows[rows["distributor"] == d]
        column, weeks = rows[name].to_numpy(), rows["week"].to_numpy()
    totals = []
    for number in range(1, game.round + 1):
        first, last = game.weeks_of(number)
        totals.append(float(column[(weeks >= first) & (weeks <= last)].sum()))
    return totals


def review_table(game: Game) -> pd.DataFrame:
    """The after-action figures (:data:`REVIEW_COLUMNS`), one row per round x team x outcome."""
    rows = []
    together = [t for t in game.path_names() if t == f"without:{roles.DISTRIBUTOR_TEAMS}"]
    for team in [*game.setup.roles, *(t.removeprefix("without:") for t in together)]:
        outcomes = [] if team == roles.DISTRIBUTOR_TEAMS else [outcome_of(team)]
        if team != roles.MANUFACTURER:
            outcomes.append(outcome_of(roles.MANUFACTURER))
        without = f"without:{team}"
        for name, unit in outcomes:
            whose = team if (name, unit) == outcome_of(team) else roles.MANUFACTURER
            paths = {p: round_totals(game, p, whose) for p in ("game", "model", without)}
            for number in range(1, game.round + 1):
                first, last = game.weeks_of(number)
                g, m, w = (paths[p][number - 1] for p in ("game", "model", without))
                rows.append(
                    {
                        "round": number,
                        "first_week": first,
                        "last_week": last,
                        "team": team,
                        "outcome": name if whose == team else f"manufacturer {name}",
                        "unit": unit,
                        "game": g,
                        "model": m,
                        "game_minus_model": g - m,
                        "without_team": w,
                        "team_choices": g - w,
                    }
                )
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS)


def timeline(game: Game) -> pd.DataFrame:
    """Every decision as played: round, team, field, value (``model`` where left empty)."""
    rows = []
    for number, decisions in enumerate(game.played, start=1):
        for team in game.setup.roles:
            chosen = decisions[team].fields_set() if team in decisions else {}
            if not chosen:
                rows.append({"round": number, "team": team, "field": "(all)", "value": "model"})
            for name, value in chosen.items():
                rows.append({"round": number, "team": team, "field": name, "value": _said(value)})
    return pd.DataFrame(rows, columns=["round", "team", "field", "value"])


def _said(value: Any) -> str:
    """A decision's value as a person reads it: lists joined, yes and no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def write(game: Game) -> None:
    """Write ``review.csv``, the figures and ``report.html`` into the game's folder."""
    table = review_table(game)
    write_csv(game.folder / "review.csv", table)
    images = fig.save(_figures(game, table), game.folder / "figures")
    write_text(game.folder / "report.html", _page(game, table, images))


# ------------------------------------------------------------------ figures


def _figures(game: Game, table: pd.DataFrame) -> dict[str, Figure]:
    figures = {"paths": _paths_figure(game), "choices": _choices_figure(table)}
    if game.distributor_teams:
        figures["distributors"] = _distributors_figure(game)
    return figures


def _distributors_figure(game: Game) -> Figure:
    """Each distributor team's weekly profit: as played, and with the model in its chair."""
    teams = game.distributor_teams
    with fig.style():
        figure, axes = fig.new_figure(11.0, 3.6 * len(teams), nrows=len(teams), squeeze=False)
        for ax, team in zip(axes[:, 0], teams, strict=True):
            d = roles.distributor_index(team)
            weekly = {
                path: rows[rows["distributor"] == d]
                for path in ("game", f"without:{team}")
                for rows in [game.paths[path].distributors()]
            }
            scale = fig.Money.for_values(weekly["game"]["total_profit"])
            labels = {"game": "its choices", f"without:{team}": "the model in its chair"}
            for path, rows in weekly.items():
                ax.plot(rows["week"], rows["total_profit"] / scale.factor, lw=2, label=labels[path])
            ax.set_title(f"{team}: profit across its portfolio, week by week")
            ax.set_xlabel("Week")
            ax.set_ylabel(f"Profit a week\n({scale.unit})")
            ax.legend(loc="best")
    return figure


def _paths_figure(game: Game) -> Figure:
    """The manufacturer's weekly contribution margin, game vs the model's own players."""
    with fig.style():
        figure, ax = fig.new_figure(11.0, 4.5)
        series = {p: game.paths[p].timeseries() for p in ("game", "model")}
        scale = fig.Money.for_values(series["game"][MARGIN])
        labels = {"game": "the game (teams' decisions)", "model": "the model's own players"}
        for name, frame in series.items():
            ax.plot(frame["week"], frame[MARGIN] / scale.factor, label=labels[name], lw=2)
        for number in range(1, game.round):
            ax.axvline(game.weeks_of(number)[1] + 0.5, color="#999999", lw=0.8, ls="--")
        ax.set_xlabel("Week")
        ax.set_ylabel(f"Contribution margin a week\n({scale.unit})")
        ax.set_title("Our contribution margin, week by week (dashed: end of a round)")
        ax.legend(loc="best")
    return figure


def _choices_figure(table: pd.DataFrame) -> Figure:
    """Per round, what each team's choices did to our contribution margin (game - without)."""
    ours = table[table["outcome"].str.endswith(MARGIN)]
    with fig.style():
        figure, ax = fig.new_figure(11.0, 4.5)
        teams = list(dict.fromkeys(ours["team"]))
        rounds = sorted(set(ours["round"]))
        scale = fig.Money.for_values(ours["team_choices"])
        width = 0.8 / max(len(teams), 1)
        for i, team in enumerate(teams):
            rows = ours[ours["team"] == team].set_index("round").reindex(rounds)
            x = [r - 0.4 + width * (i + 0.5) for r in rounds]
            ax.bar(x, rows["team_choices"] / scale.factor, width=width, label=team)
        ax.axhline(0, color="#333333", lw=0.8)
        ax.set_xticks(rounds, [f"round {r}" for r in rounds])
        ax.set_xlabel("Round")
        ax.set_ylabel(f"Change in our margin\n({scale.unit})")
        ax.set_title("What each team's choices did to our margin, round by round")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="Team")
    return figure


# ------------------------------------------------------------------ page


def _page(game: Game, table: pd.DataFrame, images: Mapping[str, Any]) -> str:
    shown = table.copy()
    for column in ("game", "model", "game_minus_model", "without_team", "team_choices"):
        shown[column] = [
            money(v) if u == "currency units" else f"{v:,.0f}"
            for v, u in zip(shown[column], shown["unit"], strict=True)
        ]
    shown = shown.drop(columns="unit").rename(
        columns={
            "game_minus_model": "game − model",
            "without_team": "without the team",
            "team_choices": "the team's choices (game − without)",
        }
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = (
        f"{game.round} of {game.setup.rounds} rounds of {game.setup.round_weeks} weeks played · "
        f"teams: {', '.join(game.setup.roles)} · seed {game.firm.seed} · built {stamp}"
    )
    verdict = _verdict(game, table)
    sections = [
        ("verdict", "What the teams' choices did", verdict),
        ("paths", "The game beside the model's own players",
         figure_html(images, "paths", "Contribution margin a week: game vs model")),
        ("choices", "Each team's choices, round by round",
         figure_html(images, "choices", "Each team's choices: our contribution margin")
         + figure_html(images, "distributors", "Each distributor team's profit a week")
         + table_html(shown)),
        ("timeline", "Decisions timeline", table_html(timeline(game))),
    ]  # fmt: skip
    nav = "".join(f'<a href="#{k}">{html.escape(t)}</a>' for k, t, _ in sections)
    body = "".join(
        f'<section id="{k}"><h2>{html.escape(t)}</h2>{c}</section>' for k, t, c in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>After-action review: {html.escape(game.firm.name)}</title>"
        f"<style>{CSS}{REVIEW_CSS}</style></head><body><main>"
        f"<h1>After-action review: {html.escape(game.firm.name)}</h1>"
        f'<p class="note">{html.escape(facts)}</p><nav>{nav}</nav>{body}'
        "</main></body></html>\n"
    )


def _verdict(game: Game, table: pd.DataFrame) -> str:
    """In words: our margin game vs model, and each team's choices' share of it."""
    ours = table[table["outcome"].str.endswith(MARGIN)]
    total = ours.drop_duplicates("round")["game_minus_model"].sum()
    lines = [
        f"<p>Over {game.round} round(s), the teams' choices together moved our contribution "
        f"margin by <strong>{html.escape(money(total))}</strong> against the model's own "
        "players on the same random numbers (game − model).</p><ul>"
    ]
    for team, rows in ours.groupby("team", sort=False):
        effect = rows["team_choices"].sum()
        if team == roles.DISTRIBUTOR_TEAMS:
            lines.append(
                f"<li><strong>The distributor teams' choices together: "
                f"{html.escape(money(effect))} to our margin</strong> (the game against the "
                "game with every distributor left to the model)</li>"
            )
            continue
        own = table[(table["team"] == team) & ~table["outcome"].str.endswith(MARGIN)]
        to_itself = ""
        if len(own):
            amount = own["team_choices"].sum()
            shown = money(amount) if own["unit"].iloc[0] == "currency units" else f"{amount:,.0f}"
            to_itself = f", {shown} to its own {own['outcome'].iloc[0].replace('_', ' ')}"
        lines.append(
            f"<li>{html.escape(str(team))}'s choices: {html.escape(money(effect))} to our "
            f"margin{html.escape(to_itself)} (the game against the game with this team left "
            "to the model)</li>"
        )
    lines.append(
        '</ul><p class="note">The teams\' effects need not add up to the total: choices '
        "interact (a distributor's markup matters more when we raise its price).</p>"
    )
    return "".join(lines)
