"""The engine benchmark runs end to end at a tiny size (the real figures are in README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "engine.py"


def test_benchmark_script_runs_at_tiny_size(tmp_path):
    out = tmp_path / "bench.json"
    args = ["--sizes", "500", "--weeks", "3", "--plain-size", "100", "--plain-weeks", "3"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # the script must not depend on the working directory
    )
    assert done.returncode == 0, done.stderr
    for needle in ("buyer-weeks/s", "peak RSS", "vectorised / plain", "Targets"):
        assert needle in done.stdout
    figures = json.loads(out.read_text())
    (row,) = figures["scaling"]
    assert row["buyers"] == 500 and row["weeks"] == 3
    assert row["buyer_weeks_per_s"] > 0 and row["peak_rss_mib"] > 10
    assert figures["plain"]["buyer_weeks_per_s"] > 0
    assert figures["fast_docking"]["revenue"] > 0
