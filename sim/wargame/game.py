"""A war-game: the model stepped round by round, the teams' decisions played into it.

A game is a pure function of its scenario, its seed and the decisions of the rounds played:
round by round, each role's decision is put into the model (a distributor's seat, the
firm's levers, the competitor line's terms; :mod:`sim.wargame.track`), then the model runs
``round_weeks`` weeks. So the decisions are the game's state: ``game.json`` keeps them, and
loading a game replays them from week 0 to the same numbers. The same replay with some
decisions left out gives the after-action review its counterfactual paths (common random
numbers: the same seed, so only the decisions differ; :mod:`sim.wargame.review`).

The random numbers are those of ``channel-sim run``'s first replication
(``SeedSequence(seed, spawn_key=(0,))``, :mod:`sim.experiments.runner`): a game in which
every role is left to the model is that run, week for week.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from sim.model.distributors.business import DistributorStatus
from sim.model.model import ChannelModel
from sim.results.store import atomic_write, write_csv
from sim.scenario.loader import ScenarioError, load_scenario
from sim.scenario.schema import Scenario
from sim.wargame import files, roles
from sim.wargame.roles import Decision, DecisionError
from sim.wargame.track import Track

ROUND_WEEKS = 13
"""Weeks a round plays by default: a quarter."""


class GameError(ValueError):
    """A request the game cannot take (another scenario in the folder, a finished game...)."""


@dataclass(frozen=True)
class Setup:
    """What defines a game; a resumed game must be asked for with the same.

    Attributes
    ----------
    scenario
        The scenario file (absolute path) and ``overrides`` (``key.path=value``).
    scenario_hash
        SHA-256 of the resolved scenario: the file may not change under a game.
    roles
        The roles teams take.
    round_weeks, rounds
        Weeks a round plays, rounds in the game.
    """

    scenario: str
    overrides: tuple[str, ...]
    scenario_hash: str
    roles: tuple[str, ...]
    round_weeks: int
    rounds: int


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON."""
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ the game


class Game:
    """A war-game in a folder: its setup, the decisions so far, the model where they led.

    Use :meth:`create`, :meth:`load` or :meth:`open`; the Python API of :mod:`sim.wargame`
    wraps them. Every method is safe to call from several threads (the server's).

    Attributes
    ----------
    folder
        The game's folder (:mod:`sim.wargame.files`).
    setup
        What defines it.
    firm
        Its resolved scenario (the whole firm).
    played
        Decisions of each round played, by role.
    pending
        Decisions submitted for the coming round, by role.
    """

    def __init__(self, folder: Path, setup: Setup, firm: Scenario, state: Mapping[str, Any]):
        self.folder = folder
        self.setup = setup
        self.firm = firm
        self.lock = threading.RLock()
        self.played: list[dict[str, Decision]] = [self._decisions(r) for r in state["played"]]
        self.pending: dict[str, Decision] = self._decisions(state.get("pending", {}))
        self.deadline: str | None = state.get("deadline")
        self.started: bool = bool(state.get("started", False))
        self.paths = {name: Track.start(firm) for name in self.path_names()}
        for decisions in self.played:
            self._play(decisions)

    # -------------------------------------------------------------- create, load, resume

    @classmethod
    def create(
        cls,
        scenario: str | Path,
        out: str | Path,
        *,
        roles_: str | Sequence[str] | None = None,
        round_weeks: int = ROUND_WEEKS,
        rounds: int | None = None,
        overrides: Sequence[str] = (),
    ) -> Game:
        """Start a game of ``scenario`` in ``out`` (an empty or new folder).

        Parameters
        ----------
        roles_
            Roles teams take (``"manufacturer,distributor:0"`` or a list); default
            :data:`roles.DEFAULT_ROLES`.
        round_weeks
            Weeks a round plays.
        rounds
            Rounds in the game; default: as many as fit in ``horizon_weeks``.

        Raises
        ------
        ScenarioError, DecisionError, GameError
            For a bad scenario, role, round length or count, or a folder holding a game or
            other files.
        """
        folder = Path(out)
        if (folder / files.GAME).exists():
            raise GameError(f"{folder} already holds a game: load it, or use another folder")
        held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        if held:
            # A game writes timeseries.parquet and report.html: never over a run's results.
            shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
            raise GameError(
                f"{folder} holds other files ({shown}), not a war-game: give an empty or new "
                "--out folder"
            )
        setup, firm = _setup(scenario, roles_, round_weeks, rounds, overrides)
        folder.mkdir(parents=True, exist_ok=True)
        game = cls(folder, setup, firm, {"played": []})
        count = len(game.model.distributors)
        roles.parse_roles(",".join(setup.roles), count)  # the network as signed
        files.tokens(folder, [*setup.roles, roles.FACILITATOR])
        game.save()
        return game

    @classmethod
    def load(cls, out: str | Path) -> Game:
        """The game ``out`` holds, replayed to its last round.

        Raises
        ------
        FileNotFoundError
            If ``out`` holds no game.
        GameError
            If its scenario file changed since the game began.
        """
        folder = Path(out)
        state = _state_of(folder)
        setup = _setup_of(state)
        firm = load_scenario(setup.scenario, setup.overrides)
        if scenario_hash(firm) != setup.scenario_hash:
            raise GameError(
                f"{setup.scenario} resolves to another scenario than when the game in {folder} "
                f"began (hash {scenario_hash(firm)[:12]}, not {setup.scenario_hash[:12]}): "
                "restore the file, or start a new game in another folder"
            )
        return cls(folder, setup, firm, state)

    @classmethod
    def open(
        cls,
        scenario: str | Path,
        out: str | Path,
        *,
        roles_: str | Sequence[str] | None = None,
        round_weeks: int | None = None,
        rounds: int | None = None,
        overrides: Sequence[str] = (),
    ) -> Game:
        """Resume the game ``out`` holds if it is of the same scenario, else create it.

        Options left ``None`` are the held game's; given, they must match it.

        Raises
        ------
        GameError
            If ``out`` holds a game of another scenario or with other roles or rounds.
        """
        if not (Path(out) / files.GAME).is_file():
            return cls.create(
                scenario,
                out,
                roles_=roles_,
                round_weeks=round_weeks or ROUND_WEEKS,
                rounds=rounds,
                overrides=overrides,
            )
        held = _setup_of(_state_of(Path(out)))
        asked, _ = _setup(
            scenario, roles_ or held.roles, round_weeks or held.round_weeks, rounds, overrides
        )
        mismatch = _differences(held, asked, rounds_given=rounds is not None)
        if mismatch:
            raise GameError(
                f"{out} holds a war-game of {held.scenario} that differs from the one asked "
                f"for: {'; '.join(mismatch)}. Run the same command as when it began, or use "
                "another --out folder"
            )
        game = cls.load(out)  # checked first: a refused command replays nothing
        game.write_files()
        return game

    # -------------------------------------------------------------- what is known

    def path_names(self) -> list[str]:
        """The paths stepped: the game, the model's own players, the game without each team.

        With two distributor teams or more, also the game without any of them
        (``without:distributors``): what the distributor teams' choices did together.
        """
        names = ["game", "model", *(f"without:{r}" for r in self.setup.roles)]
        if len(self.distributor_teams) > 1:
            names.append(f"without:{roles.DISTRIBUTOR_TEAMS}")
        return names

    @property
    def distributor_teams(self) -> list[str]:
        """The roles of the distributors teams play."""
        return [r for r in self.setup.roles if roles.distributor_index(r) is not None]

    @property
    def model(self) -> ChannelModel:
        """The game's model, at the end of the last round played."""
        return self.paths["game"].model

    @property
    def round(self) -> int:
        """Rounds played."""
        return len(self.played)

    @property
    def finished(self) -> bool:
        """Every round played."""
        return self.round >= self.setup.rounds

    def weeks_of(self, number: int) -> tuple[int, int]:
        """First and last week of round ``number`` (1-based)."""
        weeks = self.setup.round_weeks
        return (number - 1) * weeks + 1, number * weeks

    # -------------------------------------------------------------- moves

    def submit(self, role: str, payload: Any) -> Decision:
        """Check and keep ``role``'s decision for the coming round; saved at once.

        Raises
        ------
        DecisionError
            For a bad value (nothing changes).
        GameError
            If the game is over, or ``role`` is not a team of this game.
        """
        with self.lock:
            if role not in self.setup.roles:
                raise GameError(
                    f"{role!r} is not a team of this game ({', '.join(self.setup.roles)})"
                )
            if self.finished:
                raise GameError(f"the game is over: all {self.setup.rounds} rounds are played")
            decision = roles.parse_decision(
                role, payload, self.model.firm, next_week=self.model.week + 1
            )
            d = roles.distributor_index(role)
            if d is not None and decision.fields_set():
                status = self.model.network.state.status[d]
                if status == DistributorStatus.EXITED and set(decision.fields_set()) - {
                    "announcement"
                }:
                    raise DecisionError(f"{role} has dropped our line: it has nothing to decide")
            self.pending[role] = decision
            self.save()
            return decision

    def start(self, minutes: float | None = None) -> None:
        """Open the round to decisions, with a deadline ``minutes`` from now (none: no clock)."""
        with self.lock:
            if minutes is not None and not 0 < minutes <= 24 * 60:
                raise DecisionError(
                    f"minutes: {minutes!r} is not allowed; give 0 < minutes <= 1440"
                )
            self.started = True
            self.deadline = (
                None
                if minutes is None
                else (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds")
            )
            self.save()

    def advance(self) -> int:
        """Play the coming round with the decisions submitted; return the rounds played.

        Writes the round's decisions, the state, the game's weekly path, the distributors'
        weeks and the after-action report.

        Raises
        ------
        GameError
            If every round is played.
        """
        from sim.wargame import review

        with self.lock:
            if self.finished:
                raise GameError(f"the game is over: all {self.setup.rounds} rounds are played")
            decisions = {r: d for r, d in self.pending.items() if r in self.setup.roles}
            self._play(decisions)
            self.played.append(decisions)
            self.pending = {}
            self.deadline = None
            files.write_json(
                files.round_file(self.folder, self.round), self.round_record(self.round)
            )
            self.save()
            self._write_paths()
            review.write(self)
            return self.round

    def _play(self, decisions: Mapping[str, Decision]) -> None:
        """Play one round on every path: each with the decisions it keeps."""
        weeks = self.setup.round_weeks
        for name, path in self.paths.items():
            if name == "model":
                kept: dict[str, Decision] = {}
            elif name.startswith("without:"):
                left_out = name.removeprefix("without:")
                kept = {r: d for r, d in decisions.items() if r not in self.members(left_out)}
            else:
                kept = dict(decisions)
            path.play(kept, weeks)

    def members(self, team: str) -> list[str]:
        """The roles of ``team``: itself, or every distributor team for ``distributors``."""
        return self.distributor_teams if team == roles.DISTRIBUTOR_TEAMS else [team]

    # -------------------------------------------------------------- files

    def round_record(self, number: int) -> dict[str, Any]:
        """Round ``number``'s decisions as played: each team's fields, who left it to the model."""
        decisions = self.played[number - 1]
        first, last = self.weeks_of(number)
        chosen = {r: d.fields_set() for r, d in decisions.items() if d.fields_set()}
        return {
            "round": number,
            "weeks": [first, last],
            "decisions": chosen,
            "left_to_model": [r for r in self.setup.roles if r not in chosen],
        }

    def state(self) -> dict[str, Any]:
        """``game.json``: the setup and every decision, played and pending."""
        return {
            "setup": asdict(self.setup),
            "round": self.round,
            "started": self.started,
            "deadline": self.deadline,
            "played": [_jsonable(d) for d in self.played],
            "pending": _jsonable(self.pending),
        }

    def save(self) -> None:
        """Write ``game.json`` atomically."""
        files.write_json(self.folder / files.GAME, self.state())

    def write_files(self) -> None:
        """Write the weekly path, the distributors' weeks and the review if they lag the state.

        A server killed after ``game.json`` took a round but before these were written left
        them a round behind; the replayed game writes them again.
        """
        from sim.wargame import review

        series = self.folder / "timeseries.parquet"
        if not self.round:
            return
        if series.is_file() and len(pd.read_parquet(series, columns=["week"])) == self.model.week:
            return
        self._write_paths()
        review.write(self)

    def _write_paths(self) -> None:
        """The game's weekly path and its distributors' weeks, as files."""
        path = self.paths["game"]
        series = path.timeseries()
        series.insert(0, "scenario", self.firm.name)
        atomic_write(
            self.folder / "timeseries.parquet", lambda tmp: series.to_parquet(tmp, index=False)
        )
        write_csv(self.folder / "distributors.csv", path.distributors())

    def _decisions(self, stored: Mapping[str, Any]) -> dict[str, Decision]:
        return {role: roles.schema_of(role).model_validate(v) for role, v in stored.items()}


def _state_of(folder: Path) -> dict[str, Any]:
    """``game.json`` of ``folder``.

    Raises
    ------
    FileNotFoundError
        If ``folder`` holds no game.
    """
    path = folder / files.GAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no war-game ({files.GAME} missing)")
    state: dict[str, Any] = files.read_json(path)
    return state


def _setup_of(state: Mapping[str, Any]) -> Setup:
    """The :class:`Setup` stored in ``game.json`` (lists back to tuples)."""
    stored = state["setup"]
    return Setup(
        **{**stored, "overrides": tuple(stored["overrides"]), "roles": tuple(stored["roles"])}
    )


def _jsonable(decisions: Mapping[str, Decision]) -> dict[str, Any]:
    return {role: d.fields_set() for role, d in decisions.items()}


def _setup(
    scenario: str | Path,
    roles_: str | Sequence[str] | None,
    round_weeks: int,
    rounds: int | None,
    overrides: Sequence[str],
) -> tuple[Setup, Scenario]:
    """The setup asked for, checked against the scenario (its horizon, its network)."""
    path = Path(scenario)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such scenario file")
    firm = load_scenario(path, overrides)
    if not 1 <= round_weeks <= firm.horizon_weeks:
        raise GameError(
            f"--round-weeks: {round_weeks} is not allowed; give 1 to horizon_weeks "
            f"({firm.horizon_weeks})"
        )
    fit = firm.horizon_weeks // round_weeks
    rounds = fit if rounds is None else rounds
    if not 1 <= rounds <= fit:
        raise GameError(
            f"--rounds: {rounds} rounds of {round_weeks} weeks do not fit in horizon_weeks "
            f"({firm.horizon_weeks}); allowed: 1 to {fit} (or --set horizon_weeks=...)"
        )
    count = _distributor_count(firm)
    text = roles_ if isinstance(roles_, str) or roles_ is None else ",".join(roles_)
    setup = Setup(
        scenario=str(path.resolve()),
        overrides=tuple(overrides),
        scenario_hash=scenario_hash(firm),
        roles=roles.parse_roles(text, count),
        round_weeks=round_weeks,
        rounds=rounds,
    )
    return setup, firm


def _distributor_count(firm: Scenario) -> int:
    """Distributors in the firm's network (the model signs them at set-up)."""
    from sim.model.sample import FirmSample

    sample = FirmSample.of(firm)
    density = firm.distributors.accounts_per_distributor * sample.share
    if not density:
        return 0
    return max(1, round(sample.simulated / density))


def _differences(held: Setup, asked: Setup, *, rounds_given: bool) -> list[str]:
    """What differs between the held game's setup and the one asked for, in words."""
    found = []
    if held.scenario_hash != asked.scenario_hash:
        found.append(
            f"scenario {asked.scenario} (hash {asked.scenario_hash[:12]}) is not the game's "
            f"{held.scenario} (hash {held.scenario_hash[:12]})"
        )
    if held.roles != asked.roles:
        found.append(f"--roles {','.join(asked.roles)} is not {','.join(held.roles)}")
    if held.round_weeks != asked.round_weeks:
        found.append(f"--round-weeks {asked.round_weeks} is not {held.round_weeks}")
    if rounds_given and held.rounds != asked.rounds:
        found.append(f"--rounds {asked.rounds} is not {held.rounds}")
    return found


__all__ = ["Game", "GameError", "ScenarioError", "Setup"]
