"""The CDNOW order data (Fader, Hardie & Lee 2005), fetched from PyPI, never committed.

The ``lifetimes`` wheel on PyPI ships ``CDNOW_sample.txt`` (2,357 customers who first bought
in the first quarter of 1997, their orders to June 1998) and ``CDNOW_master.txt`` (all 23,570
customers). This module downloads the wheel with ``pip download --no-deps`` into a cache
outside the repository, checks the files' SHA-256, and converts them to order lines.

Run ``python -m sim.calibration.cdnow [CACHE_DIR]`` to fetch the data and write
``cdnow_sample.csv`` and ``cdnow_master.csv`` (columns ``customer_id, date, units, amount``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

WHEEL = "lifetimes==0.11.3"
SHA256 = {
    "CDNOW_sample.txt": "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
    "CDNOW_master.txt": "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef",
    # FHL's published per-customer summary of the sample: ID, x, t_x, T (weeks), zbar (dollars)
    "cdnow_customers_summary_with_transactions.csv": (
        "7ddd11b55be3227edfc1d58675154e96971b0de3ad37ddd9280d1dba154b8b2f"
    ),
}
CALIBRATION_END = pd.Timestamp("1997-10-01")
"""Cut-off of FHL 2005's 39-week calibration period (1997-01-01 to 1997-09-30)."""


def default_cache() -> Path:
    """``$CHANNEL_SIM_CACHE/cdnow``, else ``~/.cache/channel-sim/cdnow`` (outside the repo)."""
    root = os.environ.get("CHANNEL_SIM_CACHE") or Path.home() / ".cache" / "channel-sim"
    return Path(root) / "cdnow"


def fetch(cache: Path | None = None) -> dict[str, Path]:
    """Return the paths of the CDNOW text files, downloading them once into ``cache``.

    Raises
    ------
    ConnectionError
        When PyPI cannot be reached or the files do not match their known SHA-256.

    """
    cache = cache or default_cache()
    paths = {name: cache / name for name in SHA256}
    if all(_verified(p) for p in paths.values()):
        return paths
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        done = subprocess.run(
            [*command, "--quiet", "-d", scratch, WHEEL], capture_output=True, text=True
        )
        wheels = list(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ConnectionError(f"pip download {WHEEL} failed: {done.stderr.strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name, path in paths.items():
                part = path.with_suffix(".part")
                part.write_bytes(wheel.read(f"lifetimes/datasets/{name}"))
                part.replace(path)
    if not all(_verified(p) for p in paths.values()):
        raise ConnectionError(f"the CDNOW files in {WHEEL} do not match their known SHA-256")
    return paths


def order_lines(path: Path) -> pd.DataFrame:
    """CDNOW text file -> order lines ``customer_id, date, units, amount`` (US dollars).

    The sample file has five columns (master id, sample id, date, CDs, dollars) and no header;
    the master file four (id, date, CDs, dollars) under a header line. ``customer_id`` is the
    file's own id: the sample's (00001-02357) is the ``ID`` of FHL's published summary.
    """
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    raw = raw[raw[0] != "customer_id"]
    return pd.DataFrame(
        {
            "customer_id": raw.iloc[:, -4].to_numpy(),
            "date": pd.to_datetime(raw.iloc[:, -3], format="%Y%m%d").to_numpy(),
            "units": raw.iloc[:, -2].astype(int).to_numpy(),
            "amount": raw.iloc[:, -1].astype(float).to_numpy(),
        }
    )


def _verified(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[path.name]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    for name, source in fetch(target).items():
        if not name.endswith(".txt"):
            continue
        csv = source.with_name(name.removesuffix(".txt").lower() + ".csv")
        order_lines(source).to_csv(csv, index=False, date_format="%Y-%m-%d")
        print(csv)
