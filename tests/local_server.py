"""A loopback HTTP server answering a fixed status: for answers the sandbox never gives on purpose
(a settings CDN failing with 500, say). Everything else is tested against the sandbox."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FixedAnswerServer:
    """Answers ``status`` (with ``body``); ``script`` gives the first answers' (status, headers) first."""

    def __init__(self, status: int, body: dict | None = None, script: list[tuple[int, dict]] | None = None):
        self.status = status
        self.body = body
        self.script = list(script or [])
        self.paths: list[str] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                owner.requests.append((dict(self.headers), self.rfile.read(length) if length else b""))
                status, extra_headers = owner.script.pop(0) if owner.script else (owner.status, {})
                if owner.body is not None:
                    payload = json.dumps(owner.body).encode()
                elif status == 404:  # the settings CDN's answer for an unknown write key
                    payload = b"Invalid path or write key provided."
                else:
                    payload = json.dumps({"integrations": {"Segment.io": {"apiHost": "api.segment.io/v1"}}}).encode()
                self.send_response(status)
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextlib.contextmanager
def local_server(
    status: int, body: dict | None = None, script: list[tuple[int, dict]] | None = None
) -> Iterator[FixedAnswerServer]:
    server = FixedAnswerServer(status, body, script)
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
