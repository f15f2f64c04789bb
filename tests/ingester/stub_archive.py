"""Real network endpoints for ingester tests: a scriptable archive, a black hole, a closed port.

These are real sockets on 127.0.0.1 with ephemeral ports, so the ingester's HTTP client is
exercised end to end (DNS-free) without patching ``requests``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Route = Callable[[SeenRequest], Reply]


class StubArchive:
    """An OCS-shaped archive whose answers the test scripts per ``(method, path)``.

    The default answers behave like a healthy, empty archive: ``versions/`` says count 0 and
    ``frames/`` / ``thumbnails/`` accept the record with a new id.
    """

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = SeenRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with stub._lock:
                    stub.requests.append(seen)
                route = stub.routes.get((self.command, parts.path)) or stub._default
                reply = route(seen)
                payload, content_type = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def api_root(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def _default(self, request: SeenRequest) -> Reply:
        if request.method == "GET" and request.path == "/versions/":
            return Reply(200, {"count": 0, "next": None, "previous": None, "results": []})
        if request.method == "POST" and request.path in {"/frames/", "/thumbnails/"}:
            with self._lock:
                new_id = self._next_id
                self._next_id += 1
            record = request.json()
            return Reply(
                201,
                {
                    "id": new_id,
                    "basename": record.get("basename"),
                    "filename": f"{record.get('basename')}.fits.fz",
                    "url": f"{self.api_root}download/{new_id}",
                },
            )
        return Reply(404, {"detail": "Not found."})

    def answer(self, method: str, path: str, reply: Reply | Route) -> None:
        """Answer ``method path`` with a fixed reply or a function of the request."""
        self.routes[(method, path)] = reply if callable(reply) else (lambda _r: reply)

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def start(self) -> StubArchive:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def stub_archive() -> Iterator[StubArchive]:
    stub = StubArchive().start()
    try:
        yield stub
    finally:
        stub.stop()


@contextmanager
def black_hole() -> Iterator[str]:
    """A URL whose TCP connection is accepted by the kernel but never answered.

    The socket listens but nobody calls ``accept``: the handshake completes from the backlog,
    so the client's connect succeeds and its read times out.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        sock.close()


def closed_port_url() -> str:
    """A URL on a port nobody listens on (bound then released: connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"
