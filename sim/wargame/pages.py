"""The game's pages: one per role, one for the facilitator, one for the room's projector.

A page holds no figures of its own: it reads its role's view from ``/api/state`` with the
token of its join link (``#token=...``) and posts the team's decision to ``/api/decision``.
Plain HTML and JavaScript, no external resources: the game runs on a laptop without network.
A field left empty is sent as ``null``: the model decides it.
"""

from __future__ import annotations

import html
import json
from importlib import resources

from sim.channels import CHANNELS, COLOURS, LABELS
from sim.report.html import CSS

PAGE_CSS = (
    CSS
    + """
main { max-width: 1200px; }
fieldset { border: 1px solid var(--rule); margin: 1rem 0; padding: 0.6rem 1rem; }
label { display: block; margin: 0.5rem 0; }
label span.help { display: block; color: var(--muted); font-size: 0.9rem; }
input, select, textarea, button { font-size: 1.05rem; padding: 0.3rem 0.5rem; }
input[type=number] { width: 9rem; }
textarea { width: 100%; }
button { background: var(--blue); color: #fff; border: 0; border-radius: 4px;
         padding: 0.5rem 1.2rem; cursor: pointer; margin-right: 0.6rem; }
#message { font-weight: bold; white-space: pre-wrap; }
#message.error { color: var(--red); } #message.ok { color: var(--green); }
.clock { font-size: 1.3rem; }
svg text { font-size: 13px; }
#plan td, #plan th { padding: 0.2rem 0.3rem; }
#plan select { max-width: 10rem; font-size: 0.95rem; }
#plan input[type=number] { width: 5rem; font-size: 0.95rem; }
body[data-role=projector] svg text { font-size: 17px; }
body[data-role=projector] main { max-width: 1600px; }
"""
)

SCRIPT = (resources.files("sim.wargame") / "static" / "game.js").read_text(encoding="utf-8")
"""The pages' script (``static/game.js``): renders a role's view, posts its decisions."""


def role_page(role: str) -> str:
    """The page of ``role`` (``projector``: the room's screen)."""
    title = {"facilitator": "Facilitator", "projector": "The market"}.get(role, role)
    if role == "facilitator":
        controls = (
            '<fieldset><legend>Round</legend><label for="minutes">Minutes to decide '
            '<input id="minutes" type="number" min="1" max="1440" step="1"></label>'
            '<button id="start" onclick="facilitate(\'start\')">Start round</button>'
            '<button id="advance" onclick="facilitate(\'advance\')">Advance: play the round'
            '</button><button id="report" onclick="facilitate(\'report\')">After-action '
            "review</button></fieldset>"
        )
    elif role == "projector":
        controls = ""
    else:
        controls = (
            '<h2>Your decision for the coming round</h2><div id="form"></div>'
            '<button id="submit" onclick="submit()">Submit decision</button>'
        )
    return _document(
        title,
        role,
        f'<div id="status"></div><p id="message"></p>{controls}'
        '<div id="facts"></div><div id="market"></div>',
    )


def index_page() -> str:
    """The server's front page: where the links are."""
    return _document(
        "War-game",
        "index",
        "<p>Open the join link your facilitator gave you (printed by <code>channel-sim "
        "wargame</code>): it takes you to your role's page.</p>",
        script=False,
    )


CHANNEL_STYLE = json.dumps({c: {"label": LABELS[c], "colour": COLOURS[c]} for c in CHANNELS})
"""Each channel's label and colour, as the report and the dashboard draw them."""


def _document(title: str, role: str, body: str, *, script: bool = True) -> str:
    code = f"<script>const CHANNEL_STYLE = {CHANNEL_STYLE};\n{SCRIPT}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>War-game: {html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body data-role={json.dumps(role)}><main><h1>{html.escape(title)}</h1>{body}</main>"
        f"{code}</body></html>\n"
    )
