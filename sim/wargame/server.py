"""The game's HTTP server: the JSON API (SPEC §8) and the pages, on one port.

=========================  ===============================================================
``GET /api/state``         the token's role's view (:mod:`sim.wargame.views`); ``?role=R``
                           names the role asked for: another role's is refused (403)
``POST /api/decision``     the token's role's decision for the coming round (a JSON object
                           of its fields); a bad value: 400 naming the field, nothing changes
``POST /api/start``        facilitator: open the round, ``{"minutes": m}`` sets a deadline
``POST /api/advance``      facilitator: play the round
``GET /api/report``        facilitator: the after-action ``report.html``
``GET /play/<role>``       the role's page; ``/projector`` the market for the room's screen
=========================  ===============================================================

Every ``/api`` request carries ``Authorization: Bearer TOKEN`` (``tokens.json``): without a
valid token 401, with another role's 403. Pages hold no data; they read it through the API
with the token of their join link (``#token=...``, a fragment: browsers do not send it).
"""

from __future__ import annotations

import json
import math
import secrets
import socket
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sim.wargame import files, pages, roles, views
from sim.wargame.game import Game, GameError
from sim.wargame.roles import DecisionError

MAX_BODY_BYTES = 1_000_000
"""Largest request body read (a decision is a few hundred bytes)."""


def join_links(game: Game, host: str, port: int) -> dict[str, str]:
    """Each role's join link (its page and token), the facilitator's included.

    On every interface (``0.0.0.0``) the links carry this machine's address on the room's
    network, so the teams' laptops can open them.
    """
    shown = room_address() if host in ("", "0.0.0.0") else host
    held = files.tokens(game.folder, [*game.setup.roles, roles.FACILITATOR])
    return {
        role: f"http://{shown}:{port}/play/{quote(role)}#token={token}"
        for role, token in held.items()
    }


def room_address() -> str:
    """The address of this machine on its local network (127.0.0.1 if it has none).

    Connecting a UDP socket sends nothing; it only picks the interface a packet would leave
    by.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def make_server(game: Game, host: str = "127.0.0.1", port: int = 8766) -> ThreadingHTTPServer:
    """A server for ``game`` bound to ``host:port`` (port 0: any free one), not yet serving."""
    tokens = files.tokens(game.folder, [*game.setup.roles, roles.FACILITATOR])

    class Handler(_Handler):
        pass

    Handler.game, Handler.tokens = game, tokens
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    """One request: authenticate, route, answer JSON (or a page)."""

    game: Game
    tokens: Mapping[str, str]
    server_version = "channel-sim-wargame"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the join links, not every poll of every page."""

    # -------------------------------------------------------------- routing

    def do_GET(self) -> None:
        """Pages, and the API's reads."""
        self._guarded(self._get)

    def do_POST(self) -> None:
        """The API's writes."""
        self._guarded(self._post)

    def _guarded(self, handle: Callable[[], None]) -> None:
        """Answer 500 with the error, not a dropped connection; the traceback to the terminal."""
        try:
            handle()
        except Exception as exc:  # a defect: the page says so, the game goes on
            traceback.print_exc(file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {exc!r}"})

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            return self._page(pages.index_page())
        if url.path.startswith("/play/"):
            role = unquote(url.path.removeprefix("/play/"))
            if role not in (*self.game.setup.roles, roles.FACILITATOR):
                return self._json(HTTPStatus.NOT_FOUND, {"error": f"no role {role!r} here"})
            return self._page(pages.role_page(role))
        if url.path == "/projector":
            return self._page(pages.role_page("projector"))
        if url.path == "/api/state":
            return self._state(parse_qs(url.query))
        if url.path == "/api/report":
            return self._report()
        return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

    def _post(self) -> None:
        url = urlsplit(self.path)
        routes = {
            "/api/decision": self._decision,
            "/api/advance": self._advance,
            "/api/start": self._start,
        }
        route = routes.get(url.path)
        if route is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {url.path}"})
        role = self._role()
        if role is None:
            return None
        asked = parse_qs(url.query).get("role", [role])[0]
        if asked != role:
            return self._forbidden(role, f"{asked}'s decisions")
        body = self._body()
        if body is _BAD:
            return None
        return route(role, body)

    # -------------------------------------------------------------- endpoints

    def _state(self, query: Mapping[str, list[str]]) -> None:
        role = self._role()
        if role is None:
            return
        asked = query.get("role", [role])[0]
        if asked != role:
            return self._forbidden(role, f"{asked}'s view")
        self._json(HTTPStatus.OK, views.view(self.game, role))

    def _decision(self, role: str, body: Any) -> None:
        if role == roles.FACILITATOR:
            return self._forbidden(role, "a team's decision")
        try:
            decision = self.game.submit(role, body)
        except DecisionError as exc:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except GameError as exc:
            return self._json(HTTPStatus.CONFLICT, {"error": str(exc)})
        _said(f"{role} decided for round {self.game.round + 1}")
        self._json(HTTPStatus.OK, {"accepted": decision.fields_set(), "round": self.game.round})

    def _advance(self, role: str, body: Any) -> None:
        if role != roles.FACILITATOR:
            return self._forbidden(role, "advancing the game")
        _said(f"playing round {self.game.round + 1}…")
        try:
            played = self.game.advance()
        except GameError as exc:
            return self._json(HTTPStatus.CONFLICT, {"error": str(exc)})
        _said(f"round {played} played; {self.game.folder / 'report.html'} written")
        self._json(HTTPStatus.OK, {"round": played, "finished": self.game.finished})

    def _start(self, role: str, body: Any) -> None:
        if role != roles.FACILITATOR:
            return self._forbidden(role, "starting a round")
        minutes = body.get("minutes") if isinstance(body, dict) else None
        try:
            self.game.start(None if minutes in (None, "") else float(minutes))
        except (DecisionError, TypeError, ValueError) as exc:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": f"minutes: {exc}"})
        self._json(HTTPStatus.OK, {"started": True, "deadline": self.game.deadline})

    def _report(self) -> None:
        role = self._role()
        if role is None:
            return
        if role != roles.FACILITATOR:
            return self._forbidden(role, "the after-action review")
        path = self.game.folder / "report.html"
        if not path.is_file():
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no round played yet"})
        self._page(path.read_text(encoding="utf-8"))

    # -------------------------------------------------------------- helpers

    def _role(self) -> str | None:
        """The role whose token the request carries; else answer 401 and return ``None``."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            for role, held in self.tokens.items():
                if secrets.compare_digest(token.strip().encode(), held.encode()):
                    return role
        self._json(
            HTTPStatus.UNAUTHORIZED,
            {"error": "a valid token is needed: Authorization: Bearer TOKEN (your join link)"},
        )
        return None

    def _forbidden(self, role: str, what: str) -> None:
        self._json(HTTPStatus.FORBIDDEN, {"error": f"the {role} token may not reach {what}"})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            return _BAD
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {exc}"})
            return _BAD

    def _json(self, status: HTTPStatus, data: Any) -> None:
        payload = json.dumps(_finite(data), allow_nan=False, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def _page(self, text: str) -> None:
        payload = text.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)


def _finite(data: Any) -> Any:
    """``data`` with NaN and infinities as ``null``: JSON has no such numbers."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def _said(text: str) -> None:
    """One line on the server's terminal: what happened in the game, when."""
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


_BAD = object()
"""A body that was refused (the answer is already sent)."""
