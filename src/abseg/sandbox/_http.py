"""The HTTP plumbing of the sandbox: one threaded server, requests in, responses out.

Services never touch sockets: they get a ``Request`` and return a ``Response``, or ``None`` to
have the connection closed without any answer (how a dropped connection is emulated).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Far above anything the emulated services accept (500 KB for a Segment batch): a body this large
# is refused before it is read, so a runaway client cannot make the sandbox buffer gigabytes.
MAX_BODY_BYTES = 5 * 1024 * 1024

# Idle keep-alive connections are closed after this long, so a long-running `abseg sandbox`
# does not accumulate one parked thread per client that went away without closing.
IDLE_CONNECTION_SECONDS = 60


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # raw (still percent-encoded), without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int, document: Any, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def text_response(
    status: int, text: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        status, text.encode("utf-8"), "text/plain; charset=utf-8", dict(headers or {})
    )


def basic_auth_user(request: Request) -> str | None:
    """The user name of HTTP Basic auth: where Segment expects write keys and access tokens."""
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return (
            base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")[0]
            or None
        )
    except (binascii.Error, UnicodeDecodeError):
        return None


class BodyTooLarge(Exception):
    pass


Dispatcher = Callable[[Request], "Response | None"]


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded server that knows its open connections, so stopping it really stops it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatcher) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Cut pooled keep-alive connections, which would otherwise outlive the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; clients hanging up mid-request (which fault
        # injection provokes on purpose) are routine here, not errors worth a terminal dump.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    # Headers and body go out in separate writes; with Nagle on, each answer on a keep-alive
    # connection would wait for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the sandbox keeps its own structured records; nothing goes to the terminal

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except BodyTooLarge:
            self.close_connection = True
            self._send(
                json_response(
                    413, {"message": f"request body over {MAX_BODY_BYTES} bytes"}
                )
            )
            return
        except (ValueError, OSError, EOFError, zlib.error):
            self.close_connection = True
            self._send(json_response(400, {"message": "unreadable request body"}))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.dispatch(request)
        except Exception as error:  # noqa: BLE001 - a sandbox bug must answer, not hang the client
            response = json_response(
                500, {"message": f"sandbox internal error: {error!r}"}
            )
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise BodyTooLarge
            raw = self.rfile.read(length) if length > 0 else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            # segment-analytics-python sends gzip bodies when its `gzip` option is on.
            raw = gzip.decompress(raw)
            if len(raw) > MAX_BODY_BYTES:
                raise BodyTooLarge
        return raw

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers, ignored
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF closing the chunk

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
