"""Fingerprint every bundled scenario's outputs, to prove a refactor changes no number.

Runs replication 0 of each scenario in ``scenarios/`` and of each of its variants, at the
scenario's own seed, and prints one SHA-256 per run over the bytes of every weekly metric
(``float64``, in the ledger's column order). Save the output before a change and compare after::

    python scripts/fingerprint.py --weeks 52 > before.txt
    # ... refactor ...
    python scripts/fingerprint.py --weeks 52 | diff before.txt -

``--buyers`` and ``--weeks`` shrink the runs (the same override for both sides of a check).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from sim.experiments.runner import RunKey, simulate
from sim.scenario.loader import load_study, variant_of

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def fingerprints(buyers: int | None, weeks: int | None) -> list[str]:
    """One line ``scenario/variant sha256`` per run."""
    overrides = [f"market.buyers={buyers}"] if buyers else []
    overrides += [f"horizon_weeks={weeks}"] if weeks else []
    lines = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        study = load_study(path, overrides)
        scenario = study.scenario
        cells = {"baseline": scenario}
        cells |= {name: variant_of(scenario, name, c) for name, c in study.variants.items()}
        for name, cell in cells.items():
            output = simulate(cell, RunKey(name, 0, scenario.seed))
            digest = hashlib.sha256()
            for metric in sorted(output.weekly):
                digest.update(metric.encode())
                digest.update(np.asarray(output.weekly[metric], dtype=np.float64).tobytes())
            lines.append(f"{path.stem}/{name} {digest.hexdigest()}")
    return lines


def main() -> None:
    """Print the fingerprints."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=None, help="override market.buyers")
    parser.add_argument("--weeks", type=int, default=None, help="override horizon_weeks")
    args = parser.parse_args()
    for line in fingerprints(args.buyers, args.weeks):
        print(line, flush=True)


if __name__ == "__main__":
    main()
