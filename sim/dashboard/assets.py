"""Solara's front-end files, installed locally so the dashboard works without a network.

Solara's server proxies its JavaScript and CSS (the Vuetify app, require.js, Font Awesome)
from a CDN and caches them in ``<prefix>/share/solara/cdn``. A workshop room, a test machine
or a laptop on a projector may have no network: this module fills that cache ahead of time
from the npm registry with ``npm pack`` (the same files the CDN serves, at the exact versions
the installed Solara asks for), so the server never needs to fetch anything.

Run ``python -m sim.dashboard.assets`` (``scripts/setup-browser.sh`` does); idempotent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

_SPEC = re.compile(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/")


def cache_dir() -> Path:
    """Solara's CDN proxy cache (where the server looks first)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def packages() -> list[str]:
    """The ``name@version`` npm specs that the installed Solara's page template loads."""
    import solara.server
    from solara.server import settings

    template = Path(solara.server.__file__).parent / "templates" / "solara.html.j2"
    specs = set(_SPEC.findall(template.read_text(encoding="utf-8")))
    fontawesome = settings.assets.fontawesome_path.strip("/").split("/")[0]
    if "@" in fontawesome:
        specs.add(fontawesome)
    return sorted(specs)


def missing(cache: Path | None = None) -> list[str]:
    """Specs not yet in the cache."""
    cache = cache or cache_dir()
    return [spec for spec in packages() if not (cache / spec / "package.json").is_file()]


def install(cache: Path | None = None, *, quiet: bool = True) -> list[str]:
    """Fetch the missing packages with ``npm pack`` and unpack them into the cache.

    Returns
    -------
    list of str
        The specs installed now (empty if all were there).

    Raises
    ------
    FileNotFoundError
        If ``npm`` is not installed.
    subprocess.CalledProcessError
        If ``npm pack`` fails (no registry reachable, unknown version).
    """
    cache = cache or cache_dir()
    todo = missing(cache)
    if not todo:
        return []
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed: cannot fetch Solara's front-end files")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in todo:
            out = subprocess.run(
                [npm, "pack", "--silent", spec],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            target = cache / spec
            staging = Path(tmp) / "unpacked"
            shutil.rmtree(staging, ignore_errors=True)
            with tarfile.open(tarball) as archive:
                archive.extractall(staging, filter="data")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(staging / "package", target)
            if not quiet:
                print(f"installed {spec} -> {target}")
    return todo


def main() -> int:
    """Install what is missing; exit 0 if everything is in place."""
    try:
        done = install(quiet=False)
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"dashboard assets: {exc}", file=sys.stderr)
        return 1
    if not done:
        print(f"dashboard assets: all in {cache_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
