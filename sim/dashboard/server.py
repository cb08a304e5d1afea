"""Start the dashboard: Solara's own server (``solara run``) in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sim.dashboard.live import RECOMMENDATION_ENV, SCENARIOS_ENV

APP = Path(__file__).with_name("app.py")
"""The Solara page module."""


def command(*, host: str = "127.0.0.1", port: int = 8765) -> list[str]:
    """The ``solara run`` command line for the dashboard (production mode, no browser)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--log-level",
        "warning",
    ]


def environment(scenarios: str | Path, recommendation: str | Path | None = None) -> dict[str, str]:
    """The child's environment: ours plus the scenario folder and recommendation (absolute)."""
    env = dict(os.environ)
    env[SCENARIOS_ENV] = str(Path(scenarios).resolve())
    if recommendation is not None:
        env[RECOMMENDATION_ENV] = str(Path(recommendation).resolve())
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    env.setdefault("SOLARA_THEME_SHOW_BANNER", "False")  # its corner banner covered the charts
    return env


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    scenarios: str | Path = "scenarios",
    recommendation: str | Path | None = None,
) -> int:
    """Run the dashboard until interrupted; return the server's exit code.

    ``recommendation`` (a ``recommendation.yaml`` of ``channel-sim optimize``) is offered
    first, with A = the plan as written and B = the recommended plan.

    Raises
    ------
    FileNotFoundError
        If ``scenarios`` is not a folder of ``*.yaml`` files.
    """
    folder = Path(scenarios)
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        raise FileNotFoundError(
            f"{folder}: no scenario files (*.yaml) here; run from the project folder "
            "or pass --scenarios DIR"
        )
    _ensure_assets()
    print(f"channel-sim dashboard on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    child = subprocess.Popen(command(host=host, port=port), env=environment(folder, recommendation))
    signal.signal(signal.SIGTERM, _interrupt)  # stopping us stops the server too
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ensure_assets() -> None:
    """Install Solara's front-end files if missing, so the page needs no network."""
    from sim.dashboard import assets

    if not assets.missing():
        return
    try:
        assets.install()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(
            f"warning: Solara's front-end files are missing and could not be installed ({exc}); "
            "the page will try the network. Run scripts/setup-browser.sh once with a network.",
            file=sys.stderr,
        )
