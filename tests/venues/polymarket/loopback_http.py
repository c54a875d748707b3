"""Test helpers for the REST clients: a real HTTP server on 127.0.0.1 and a fake clock/sleep.

``LoopbackHTTP`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1:<ephemeral> serving GET from
per-path route callables; no traffic leaves 127.0.0.1. ``FakeTime`` is an injected clock and
sleep where sleeping advances the clock and nothing really waits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

S = 1_000_000_000

Query = dict[str, list[str]]
Route = Callable[[Query], tuple[int, Any] | tuple[int, Any, dict[str, str]]]


def parse_query(raw: str) -> Query:
    return parse_qs(raw, keep_blank_values=True)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a test may hang up on a slow handler on purpose: no traceback on stderr


class LoopbackHTTP:
    """A real HTTP server on 127.0.0.1:<ephemeral>.

    ``routes[path](query) -> (status, body[, headers])``: a dict/list body is sent as JSON, a str
    as text; a path without a route is a 404 ``{"error": "no route"}``.
    ``requests`` records ``(path, raw query)`` of every request, routed or not."""

    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[tuple[str, str]] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                url = urlsplit(self.path)
                outer.requests.append((url.path, url.query))
                route = outer.routes.get(url.path)
                res = route(parse_query(url.query)) if route else (404, {"error": "no route"})
                status, body, headers = (*res, {})[:3]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queries(self, path: str) -> list[Query]:
        """The parsed query of each request to ``path``, in arrival order."""
        return [parse_query(q) for p, q in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTime:
    """Injected clock + sleep: sleeping advances the clock, nothing really waits."""

    def __init__(self) -> None:
        self.ns = 1_000 * S
        self.sleeps: list[float] = []

    def clock_ns(self) -> int:
        return self.ns

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.ns += int(round(s * S))
