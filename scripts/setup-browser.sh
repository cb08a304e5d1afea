#!/usr/bin/env bash
# What the dashboard and its browser test need besides Python packages; idempotent, quiet.
#  1. Debian's chromium at /usr/bin/chromium (Playwright drives it; no browser download).
#  2. Solara's front-end files (Vuetify app, require.js, Font Awesome) in Solara's CDN cache,
#     fetched once from the npm registry, so the dashboard page never needs a network.
# Usage: scripts/setup-browser.sh [PYTHON]   (default: .venv/bin/python beside this script)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-.venv/bin/python}"

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    echo "setup-browser: installing Debian chromium"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ -x "$PYTHON" ] && "$PYTHON" -c "import solara" 2>/dev/null; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "setup-browser: npm not found; installing Debian npm"
        SUDO=""
        if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
        $SUDO apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
    fi
    "$PYTHON" -m sim.dashboard.assets >/dev/null
fi
