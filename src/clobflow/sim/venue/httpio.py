"""Plain HTTP on the WebSocket port: request bodies, JSON responses, query parsing.

The venue serves REST from the same port as the WebSocket, through ``websockets``'
``process_request`` hook. One gap: the library's HTTP parser rejects any request with a body
(WebSocket handshakes never have one), and ``POST /_sim/fault`` carries a JSON body.
``body_connection`` is a ``create_connection`` factory for ``websockets.asyncio.server.serve``
that swaps in ``BodyServerProtocol``, whose request parser reads a ``Content-Length`` body
(at most ``MAX_BODY`` bytes) and attaches it as ``request.body``. Everything after the request
line and headers is the library's own code path. (Written against websockets 17.4, pinned.)
"""

from __future__ import annotations

from collections.abc import Generator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage
from websockets.http11 import Request, Response, parse_headers, parse_line
from websockets.protocol import CONNECTING, Protocol
from websockets.server import ServerProtocol

MAX_BODY = 64 * 1024


class _RequestLineTooLong(ValueError):
    pass


def _read_request(reader: Any) -> Generator[None, None, Request]:
    """Parse a request line, headers and an optional ``Content-Length`` body."""
    line = yield from parse_line(reader.read_line, _RequestLineTooLong)
    try:
        method, path, protocol = line.split(b" ", 2)
    except ValueError:
        raise ValueError(f"invalid HTTP request line: {line[:100]!r}") from None
    if protocol not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise ValueError(f"unsupported protocol: {protocol[:20]!r}")
    headers = yield from parse_headers(reader.read_line)
    if "Transfer-Encoding" in headers:
        raise ValueError("chunked request bodies are not supported")
    length = int(headers.get("Content-Length", "0") or "0")
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"request body too large: {length} bytes")
    body = (yield from reader.read_exact(length)) if length else b""
    request = Request(path.decode("ascii"), headers, method.decode("ascii"), protocol.decode("ascii"))
    request.body = bytes(body)  # type: ignore[attr-defined]
    return request


class BodyServerProtocol(ServerProtocol):
    """``ServerProtocol`` whose opening-request parser also reads a request body."""

    def parse(self) -> Generator[None]:
        if self.state is CONNECTING:
            try:
                request = yield from _read_request(self.reader)
            except Exception as exc:
                # Same handling as the library's own parser: give up on this connection.
                self.handshake_exc = InvalidMessage("did not receive a valid HTTP request")
                self.handshake_exc.__cause__ = exc
                self.send_eof()
                self.parser = self.discard()
                next(self.parser)
                yield
            self.events.append(request)
        yield from Protocol.parse(self)


def body_connection(protocol: ServerProtocol, server: Any, **kwargs: Any) -> ServerConnection:
    """``create_connection`` factory: the library built ``protocol``; make it read bodies.

    Nothing has been received yet when this runs, so restarting the parser loses nothing.
    """
    protocol.__class__ = BodyServerProtocol
    protocol.parser = protocol.parse()
    next(protocol.parser)
    return ServerConnection(protocol, server, **kwargs)


def json_response(status: int, obj: object) -> Response:
    """A JSON response (``Content-Type: application/json``; the connection closes after it)."""
    body = msgspec.json.encode(obj)
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(status, HTTPStatus(status).phrase, headers, body)


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """``"/markets?slug=a&slug=b"`` -> ``("/markets", {"slug": ["a", "b"]})``."""
    parts = urlsplit(target)
    return parts.path, parse_qs(parts.query, keep_blank_values=True)


def request_body(request: Request) -> bytes:
    return getattr(request, "body", b"")
