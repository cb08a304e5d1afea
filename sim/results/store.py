"""A results folder on disk: per-run files written atomically, combined tables, manifest.

Layout of ``results/<scenario>/``::

    runs/<run>.parquet     one file per finished run (what makes an interrupted job resume)
    runs/pnl/<run>.parquet its channel P&L rows (written before the run file)
    runs/SCENARIO_HASH     hash and name of the resolved scenario the run files belong to
    timeseries.parquet     every run's weekly rows, streamed from the run files
    summary.csv            one row per run, computed from each run file
    channel_pnl.csv        every run's channel P&L rows, with the run's identifiers
    comparison.csv         compare only
    sensitivity.csv        sweep only
    manifest.json          what was run, how, with which versions, and how long it took

A folder holding runs of another resolved scenario is never reused silently: opening it
raises :class:`ResultsFolderError` unless the caller asks to overwrite it (SPEC §5).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sim.results.tables import SUMMARY_METRICS, summarise

OUTPUTS: tuple[str, ...] = (
    "timeseries.parquet",
    "summary.csv",
    "channel_pnl.csv",
    "comparison.csv",
    "sensitivity.csv",
    "manifest.json",
    "report.html",
    "figures",
)
"""What a study or a report writes at the top of a results folder (replaced by overwrite)."""


class ResultsFolderError(ValueError):
    """The results folder holds runs of another resolved scenario (a user error: exit 2).

    Its message names the folder, both scenarios (name and hash) and the keys in which the
    two resolved scenarios differ. ``str(error)`` speaks Python (``out=``,
    ``overwrite=True``); :meth:`message` with ``cli=True`` speaks the command line (``--out``,
    ``--overwrite``).

    Parameters
    ----------
    root
        The results folder.
    held, wanted
        ``(name, hash)`` of the scenario the folder holds runs of, and of the one asked for.
    differences
        ``key.path: held -> wanted`` of the keys in which the two resolved scenarios differ;
        ``None`` when the folder keeps no record of its resolved scenario.
    """

    def __init__(
        self,
        root: Path,
        held: tuple[str, str],
        wanted: tuple[str, str],
        differences: Sequence[str] | None,
    ) -> None:
        self.root, self.held, self.wanted = root, held, wanted
        self.differences = None if differences is None else list(differences)
        super().__init__(self.message(cli=False))

    def message(self, *, cli: bool) -> str:
        """The message in the caller's language: command-line flags or Python keywords."""
        (held_name, held_hash), (name, digest) = self.held, self.wanted
        same = " this" if held_name == name else ""
        if self.differences is None:
            what = "the folder keeps no record of its resolved scenario to say which keys differ"
        elif not self.differences:
            what = "their resolved scenarios hold the same keys and values"
        else:
            shown = self.differences[:MAX_DIFFERENCES]
            more = len(self.differences) - len(shown)
            what = "they differ in " + "; ".join(shown) + (f"; and {more} more" if more else "")
        fix = (
            "choose another folder with --out DIR, or pass --overwrite to replace its results"
            if cli
            else 'choose another folder with out="DIR", or pass overwrite=True to replace its '
            "results"
        )
        return (
            f"{self.root}: this results folder holds runs of scenario {held_name!r} "
            f"(hash {held_hash[:12]}), not of{same} {name!r} (hash {digest[:12]}): {what}; {fix}"
        )


MAX_DIFFERENCES = 6
"""Differing keys a :class:`ResultsFolderError` names before saying how many more."""


_ABSENT = object()
"""Stands for a key one scenario tree lacks."""


def scenario_differences(held: Any, wanted: Any, path: str = "") -> list[str]:
    """``key.path: held -> wanted`` for each key where two resolved scenario trees differ.

    Mappings are compared key by key, lists of the same length entry by entry (``.0.``), so
    the paths are the ones ``--set`` takes; a key one side lacks shows as ``(absent)``.
    """
    if isinstance(held, Mapping) and isinstance(wanted, Mapping):
        out: list[str] = []
        for key in dict.fromkeys([*held, *wanted]):
            where = f"{path}.{key}" if path else str(key)
            out += scenario_differences(held.get(key, _ABSENT), wanted.get(key, _ABSENT), where)
        return out
    if isinstance(held, list) and isinstance(wanted, list) and len(held) == len(wanted):
        out = []
        for i, (a, b) in enumerate(zip(held, wanted, strict=True)):
            out += scenario_differences(a, b, f"{path}.{i}" if path else str(i))
        return out
    if held == wanted:
        return []
    return [f"{path or '(the whole scenario)'}: {_shown(held)} -> {_shown(wanted)}"]


def _shown(value: Any, width: int = 40) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, default=str)
    return text if len(text) <= width else f"{text[: width - 1]}…"


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


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Atomically write ``table`` as CSV without its index."""
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


class RunStore:
    """Finished runs of one resolved scenario, one Parquet file each.

    Parameters
    ----------
    root
        The results folder.
    scenario_name, scenario_hash
        Name and hash of the resolved scenario the runs belong to.
    overwrite
        Delete whatever results the folder holds first (runs, tables, report).
    resolved
        The resolved scenario's tree (``Study.model_dump(mode="json", by_alias=True)``): when
        the folder holds another's runs, the error names the keys in which they differ.

    Raises
    ------
    ResultsFolderError
        If the folder holds runs of another resolved scenario and ``overwrite`` is false.
    """

    def __init__(
        self,
        root: Path,
        scenario_name: str,
        scenario_hash: str,
        *,
        overwrite: bool = False,
        resolved: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.runs = root / "runs"
        if overwrite:
            self._clear()
        else:
            self._check(scenario_name, scenario_hash, resolved)
        self.runs.mkdir(parents=True, exist_ok=True)
        write_text(self.runs / "SCENARIO_HASH", f"{scenario_hash}\n{scenario_name}\n")

    def _check(self, name: str, digest: str, resolved: Mapping[str, Any] | None) -> None:
        held = self._held()
        if held is None or held[0] == digest:
            return
        held_hash, held_name = held
        before = self._held_scenario(held_hash)
        differences = (
            None if before is None or resolved is None else scenario_differences(before, resolved)
        )
        raise ResultsFolderError(self.root, (held_name, held_hash), (name, digest), differences)

    def _held_scenario(self, digest: str) -> Mapping[str, Any] | None:
        """The resolved scenario of the held runs, from the manifest when it is theirs."""
        manifest = self.root / "manifest.json"
        if not manifest.is_file():
            return None
        try:
            record = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        tree = record.get("resolved_scenario")
        return tree if record.get("scenario_hash") == digest and isinstance(tree, dict) else None

    def _held(self) -> tuple[str, str] | None:
        """(hash, name) of the scenario whose results the folder holds, if any."""
        marker = self.runs / "SCENARIO_HASH"
        manifest = self.root / "manifest.json"
        if marker.is_file():
            lines = marker.read_text(encoding="utf-8").splitlines()
            return lines[0], lines[1] if len(lines) > 1 else "(unnamed)"
        if manifest.is_file():
            record = json.loads(manifest.read_text(encoding="utf-8"))
            return str(record.get("scenario_hash")), str(record.get("scenario"))
        return None

    def _clear(self) -> None:
        for name in ("runs", *OUTPUTS):
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def finished(self) -> set[str]:
        """Stems of the runs already on disk (weekly rows and channel P&L)."""
        return {
            p.stem for p in self.runs.glob("*.parquet") if (self.runs / "pnl" / p.name).is_file()
        }

    def save(self, stem: str, frame: pd.DataFrame, pnl: pd.DataFrame | None = None) -> None:
        """Store one run's weekly rows and channel P&L (the P&L first: the rows mark it done)."""
        if pnl is not None:
            atomic_write(
                self.runs / "pnl" / f"{stem}.parquet", lambda tmp: pnl.to_parquet(tmp, index=False)
            )
        atomic_write(self.runs / f"{stem}.parquet", lambda tmp: frame.to_parquet(tmp, index=False))

    def load(self, stem: str) -> pd.DataFrame:
        """Rows of one run."""
        return pd.read_parquet(self.runs / f"{stem}.parquet")

    def combine(self, stems: Sequence[str], discount_rate_annual: float) -> pd.DataFrame:
        """Write ``timeseries.parquet`` from the run files; return the summary of those runs.

        Runs are read one at a time, appended to the Parquet file and summarised, so memory
        holds one run, whatever the number of runs.

        Returns
        -------
        DataFrame
            One ``summary.csv`` row per run, in the order of ``stems``.
        """
        rows: list[pd.DataFrame] = []

        def write(tmp: Path) -> None:
            writer: pq.ParquetWriter | None = None
            try:
                for stem in stems:
                    table = pq.read_table(self.runs / f"{stem}.parquet")
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    rows.append(summarise(table.to_pandas(), discount_rate_annual))
            finally:
                if writer is not None:
                    writer.close()

        atomic_write(self.root / "timeseries.parquet", write)
        if not rows:
            raise ValueError(f"{self.root}: no finished runs to combine")
        summary = pd.concat(rows, ignore_index=True)
        self._combine_pnl(stems, summary)
        return summary

    def _combine_pnl(self, stems: Sequence[str], summary: pd.DataFrame) -> None:
        """Write ``channel_pnl.csv``: each run's P&L rows after its summary identifiers."""
        ids = [c for c in summary.columns if c not in SUMMARY_METRICS]

        def write(tmp: Path) -> None:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                for i, stem in enumerate(stems):
                    pnl = pd.read_parquet(self.runs / "pnl" / f"{stem}.parquet")
                    for column in reversed(ids):
                        pnl.insert(0, column, summary[column].iloc[i])
                    pnl.to_csv(out, index=False, header=i == 0)

        atomic_write(self.root / "channel_pnl.csv", write)


@dataclass
class Results:
    """What a run, compare or sweep produced; also what :func:`load_results` reads back.

    ``timeseries`` and ``channel_pnl`` are read from their files on first use (a sweep's can
    be large).
    """

    path: Path
    summary: pd.DataFrame
    manifest: dict[str, Any]
    comparison: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """One row per run x week (SPEC §6)."""
        return pd.read_parquet(self.path / "timeseries.parquet")

    @cached_property
    def channel_pnl(self) -> pd.DataFrame:
        """The channel P&L: one row per run x product x segment x channel (SPEC §6)."""
        return pd.read_csv(self.path / "channel_pnl.csv", keep_default_na=False)

    def __repr__(self) -> str:
        """A few lines: what ran, into which folder, and how to get each table.

        Reads nothing from disk: the weekly rows and the P&L stay unread until asked for.
        """
        manifest, summary = self.manifest, self.summary
        command = manifest.get("command", "results")
        name = manifest.get("scenario", self.path.name)
        weeks = (manifest.get("resolved_scenario") or {}).get("horizon_weeks", "?")
        variants = list(dict.fromkeys(summary["variant"])) if "variant" in summary else []
        replications = summary["replication"].nunique() if "replication" in summary else "?"
        if "sample" in summary:
            design = f"{summary['sample'].nunique()} samples"
        else:
            design = f"{len(variants)} variant{'s' if len(variants) != 1 else ''}"
        names = _listed(variants, 6)
        ids = {"scenario", "variant", "sample", "replication", "seed"}
        shown = _listed([c for c in summary.columns if c not in ids], 4)
        lines = [
            f"<Results of {command} {name!r} in {self.path}>",
            f"  {design} x {replications} replications = {len(summary)} runs, {weeks} weeks"
            + (f": {names}" if names and "sample" not in summary else ""),
            f"  .summary      {len(summary)} rows x {len(summary.columns)} columns, one per run"
            f" ({shown})",
        ]
        if self.comparison is not None:
            lines.append(
                f"  .comparison   {len(self.comparison)} rows: each variant minus the baseline, "
                "per metric (mean difference, 95% CI)"
            )
        if self.sensitivity is not None:
            lines.append(f"  .sensitivity  {len(self.sensitivity)} rows: indices per parameter")
        lines += [
            "  .timeseries   one row per run x week (timeseries.parquet, read on first use)",
            "  .channel_pnl  one row per run x product x segment x channel (channel_pnl.csv)",
            "  .manifest     resolved scenario, seeds, versions, timings (manifest.json)",
        ]
        return "\n".join(lines)

    def save(self) -> None:
        """Write the tables held in memory and the manifest, each atomically.

        ``timeseries.parquet`` is not among them: :meth:`RunStore.combine` writes it once.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        for name in ("summary", "comparison", "sensitivity"):
            table = getattr(self, name)
            if table is not None:
                write_csv(self.path / f"{name}.csv", table)
        write_text(self.path / "manifest.json", json.dumps(self.manifest, indent=2, default=str))


def _listed(names: Sequence[str], most: int) -> str:
    """The first ``most`` names, then how many more."""
    more = len(names) - most
    return ", ".join(names[:most]) + (f", … {more} more" if more > 0 else "")


def load_results(path: str | Path) -> Results:
    """Read a results folder back (``timeseries`` and ``channel_pnl`` are read on first use).

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
        summary=pd.read_csv(root / "summary.csv"),
        manifest=json.loads((root / "manifest.json").read_text(encoding="utf-8")),
        comparison=optional("comparison"),
        sensitivity=optional("sensitivity"),
    )
