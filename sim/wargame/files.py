"""A game's folder: every file written atomically, so a killed server loses nothing.

======================  ==================================================================
``game.json``           the game: its scenario (path, overrides, hash), roles, rounds, the
                        decisions of every round played and those pending for the next one;
                        written after every decision and every round
``tokens.json``         one secret per role and one for ``facilitator`` (mode 0600)
``rounds/round_NN.json``  round NN's decisions as played, and what the model played
``timeseries.parquet``  the game's weekly path (the columns of ``channel-sim run``)
``distributors.csv``    each distributor's week: status, markup, effort, P&L (the firm's)
``review.csv``          the after-action figures; ``report.html`` shows them
======================  ==================================================================
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.results.store import atomic_write, write_text

GAME = "game.json"
TOKENS = "tokens.json"
ROUNDS = "rounds"


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (a crash leaves the old file or the new)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def round_file(folder: Path, number: int) -> Path:
    """Where round ``number``'s decisions are kept (1-based)."""
    return folder / ROUNDS / f"round_{number:02d}.json"


def tokens(folder: Path, roles: Iterable[str]) -> dict[str, str]:
    """The game's tokens: read ``tokens.json``, adding one for each role that has none.

    New tokens are 32 random bytes (URL-safe text); the file is created with mode 0600, the
    owner alone may read it.
    """
    path = folder / TOKENS
    held: dict[str, str] = read_json(path) if path.is_file() else {}
    wanted = {role: held.get(role) or secrets.token_urlsafe(32) for role in roles}
    if wanted != held:
        _write_private(path, wanted)
    os.chmod(path, 0o600)
    return wanted


def _write_private(path: Path, data: Mapping[str, str]) -> None:
    """Atomically write ``data`` to ``path`` readable by its owner only."""

    def write(tmp: Path) -> None:
        os.chmod(tmp, 0o600)  # before the secrets go in
        tmp.write_text(json.dumps(dict(data), indent=2) + "\n", encoding="utf-8")

    atomic_write(path, write)
