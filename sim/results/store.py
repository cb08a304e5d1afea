"""A results folder on disk: per-run files written atomically, combined tables, manifest.

Layout of ``results/<scenario>/``::

    runs/<run>.parquet     one file per finished run (what makes an interrupted job resume)
    runs/SCENARIO_HASH     hash of the resolved scenario the run files belong to
    timeseries.parquet     every run's weekly rows
    summary.csv            one row per run
    comparison.csv         compare only
    sensitivity.csv        sweep only
    manifest.json          what was run, how, with which versions, and how long it took
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write ``path`` via a temporary sibling and an atomic rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class RunStore:
    """Finished runs of one resolved scenario, one Parquet file each.

    Parameters
    ----------
    root
        The results folder.
    scenario_hash
        Hash of the resolved scenario; run files of another scenario are discarded.
    """

    def __init__(self, root: Path, scenario_hash: str) -> None:
        self.root = root
        self.runs = root / "runs"
        marker = self.runs / "SCENARIO_HASH"
        if marker.exists() and marker.read_text().strip() != scenario_hash:
            shutil.rmtree(self.runs)  # the scenario changed: old runs no longer apply
        self.runs.mkdir(parents=True, exist_ok=True)
        write_text(marker, scenario_hash)

    def finished(self) -> set[str]:
        """Stems of the runs already on disk."""
        return {p.stem for p in self.runs.glob("*.parquet")}

    def save(self, stem: str, frame: pd.DataFrame) -> None:
        """Store one run's rows."""
        atomic_write(self.runs / f"{stem}.parquet", lambda tmp: frame.to_parquet(tmp, index=False))

    def load(self, stems: Iterable[str]) -> pd.DataFrame:
        """Rows of the given runs, in the order given."""
        return pd.concat(
            [pd.read_parquet(self.runs / f"{stem}.parquet") for stem in stems], ignore_index=True
        )


@dataclass
class Results:
    """What a run, compare or sweep produced; also what :func:`load_results` reads back."""

    path: Path
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]
    comparison: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None

    def save(self) -> None:
        """Write the combined tables and the manifest, each atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.path / "timeseries.parquet",
            lambda tmp: self.timeseries.to_parquet(tmp, index=False),
        )
        for name in ("summary", "comparison", "sensitivity"):
            table = getattr(self, name)
            if table is not None:
                atomic_write(
                    self.path / f"{name}.csv", lambda tmp, t=table: t.to_csv(tmp, index=False)
                )
        write_text(self.path / "manifest.json", json.dumps(self.manifest, indent=2, default=str))


def load_results(path: str | Path) -> Results:
    """Read a results folder back into DataFrames.

    Raises
    ------
    FileNotFoundError
        If ``path`` has no ``timeseries.parquet`` (not a finished results folder).
    """
    root = Path(path)
    if not (root / "timeseries.parquet").is_file():
        raise FileNotFoundError(f"{root}: no timeseries.parquet here; is this a results folder?")

    def optional(name: str) -> pd.DataFrame | None:
        file = root / f"{name}.csv"
        return pd.read_csv(file) if file.is_file() else None

    return Results(
        path=root,
        timeseries=pd.read_parquet(root / "timeseries.parquet"),
        summary=pd.read_csv(root / "summary.csv"),
        manifest=json.loads((root / "manifest.json").read_text(encoding="utf-8")),
        comparison=optional("comparison"),
        sensitivity=optional("sensitivity"),
    )
