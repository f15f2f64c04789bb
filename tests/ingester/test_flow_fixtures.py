"""Shared helpers of the flow tests: flow database URLs (SQLite and a throw-away PostgreSQL
database), a unique RabbitMQ queue name, and a tiny in-process archive."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Iterator

import pytest

from obsarchive.ingester.exceptions import NonFatalDoNotRetryError
from tests.conftest import require_service

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def make_pg_database() -> tuple[str, str]:
    """Create a uniquely named database; return (url, name)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"obsflow_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def flow_db_url(request, tmp_path) -> Iterator[str]:
    """A fresh flow database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'flow.sqlite3'}"
        return
    url, name = make_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def amqp_queue_name() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return f"test-flow-{uuid.uuid4().hex[:10]}"


def delete_amqp_queues(name: str, delays_ms: tuple[int, ...] = (1000, 2000)) -> None:
    """Remove a test's queues (work, dead and delay queues) from the shared broker."""
    from kombu import Connection

    suffixes = ("", ".dead", *(f".delay.{ms}" for ms in delays_ms))
    with Connection(AMQP_URL) as conn:
        channel = conn.channel()
        for suffix in suffixes:
            # queue_delete of a missing queue is fine in RabbitMQ (idempotent).
            channel.queue_delete(name + suffix)
        channel.close()


class MemoryArchive:
    """An archive that keeps md5 → frame id, with the archive's duplicate rule.

    Used as an ingest function: ``ingest(fileobj, message)``.
    """

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, fileobj, message):
        digest = hashlib.md5(fileobj.read()).hexdigest()
        with self._lock:
            self.calls += 1
            if digest in self.frames:
                raise NonFatalDoNotRetryError("Version with this md5 already exists")
            frame_id = len(self.frames) + 1
            self.frames[digest] = frame_id
        return {"frameid": frame_id, "version_set": [{"md5": digest, "key": "k", "extension": ""}]}


# ---------------------------------------------------------------------------------------------
# A recording archive: a real HTTP server with the archive's md5 rule, for the fault tests


class RecordingArchive:
    """The archive endpoints the ingester uses, on a real socket, remembering every frame.

    Like the real archive it refuses a second version with an md5 it already has (400), so
    "archived exactly once" can be checked from :attr:`frames` and :attr:`refused`. It can be
    stopped and restarted on the same port (an outage), and it can *hold* the next GET or POST
    (after recording it) while the test kills the worker that sent it.
    """

    def __init__(self) -> None:
        self.frames: dict[str, dict] = {}
        self.refused: list[str] = []
        self.posts = 0
        self._lock = threading.Lock()
        self._armed: dict[str, float] = {}
        self.hit = {"GET": threading.Event(), "POST": threading.Event()}
        self.port = 0
        self.server = None
        self._connections: set = set()

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def arm(self, method: str, hold: float) -> None:
        """The next ``method`` request (``GET`` versions or ``POST`` frames) sets
        ``hit[method]`` and then waits ``hold`` seconds before answering."""
        with self._lock:
            self.hit[method].clear()
            self._armed[method] = hold

    def _take_hold(self, method: str) -> float:
        with self._lock:
            hold = self._armed.pop(method, 0.0)
        if hold:
            self.hit[method].set()
        return hold

    def start(self) -> RecordingArchive:
        import json as _json
        import time as _time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        archive = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def setup(self):
                super().setup()
                with archive._lock:
                    archive._connections.add(self.connection)

            def finish(self):
                with archive._lock:
                    archive._connections.discard(self.connection)
                super().finish()

            def log_message(self, format, *args):
                pass

            def _reply(self, status, body):
                payload = _json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path == "/versions/":
                    md5 = parse_qs(parts.query).get("md5", [""])[0]
                    hold = archive._take_hold("GET")
                    if hold:
                        _time.sleep(hold)
                    with archive._lock:
                        found = [archive.frames[md5]] if md5 in archive.frames else []
                    self._reply(200, {"count": len(found), "results": found})
                elif parts.path == "/":
                    self._reply(200, {"frames": archive.api_root + "frames/"})
                else:
                    self._reply(404, {"detail": "Not found."})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                record = _json.loads(self.rfile.read(length))
                if urlsplit(self.path).path != "/frames/":
                    self._reply(404, {"detail": "Not found."})
                    return
                md5 = record["version_set"][0]["md5"]
                with archive._lock:
                    archive.posts += 1
                    if md5 in archive.frames:
                        archive.refused.append(md5)
                        duplicate = True
                    else:
                        duplicate = False
                        frame = {
                            "id": len(archive.frames) + 1,
                            "basename": record["basename"],
                            "md5": md5,
                            "filename": record["basename"] + record["version_set"][0]["extension"],
                        }
                        archive.frames[md5] = frame
                if duplicate:
                    body = {"version_set": [{"md5": ["version with this md5 already exists."]}]}
                    self._reply(400, body)
                    return
                hold = archive._take_hold("POST")
                if hold:  # committed, but the answer is late: the worker may die before it
                    _time.sleep(hold)
                self._reply(201, {**frame, "url": f"{archive.api_root}download/{frame['id']}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every kept-alive connection: clients now get
        "connection refused" (or a reset on a connection they had)."""
        import socket as _socket

        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(_socket.SHUT_RDWR)


def write_products(directory, n_good: int, n_bad: int):
    """Tiny synthetic LCO frames (all different md5s) and bad products; returns two lists."""
    import datetime as dt

    from obsarchive.products.synthetic import write_fits

    directory.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 1, 15, 1, 0, tzinfo=dt.UTC)
    good = []
    for i in range(n_good):
        good.append(
            write_fits(
                directory,
                frame_number=i + 1,
                date_obs=start + dt.timedelta(seconds=40 * i),
                shape=(8, 8),
                n_stars=1,
                seed=i,
            )
        )
    bad = []
    for i in range(n_bad):
        if i % 2 == 0:  # not FITS at all
            path = directory / f"cpt1m001-fa14-20260115-9{i:03d}-e00.fits"
            path.write_bytes(b"this is not a FITS file " * 20 + bytes([i]))
        else:  # FITS without a required header
            path = write_fits(
                directory,
                frame_number=9000 + i,
                shape=(8, 8),
                n_stars=1,
                seed=10_000 + i,
                omit=("PROPID",),
            )
        bad.append(path)
    return good, bad


# ---------------------------------------------------------------------------------------------
# Worker processes (real `obsarchive worker` subprocesses that tests kill)

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def flow_env(home, **overrides: str) -> dict[str, str]:
    """A clean environment for obsarchive subprocesses on a throw-away home."""
    import os

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "OBSARCHIVE_HOME": str(home),
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "AUTH_TOKEN": "test-token",
            "FILESTORE_TYPE": "local",
        }
    )
    env.update(overrides)
    return env


class WorkerProcess:
    """An ``obsarchive worker`` child process, restartable, with its output in a log file."""

    def __init__(self, env: dict[str, str], log_path, *extra_args: str) -> None:
        self.env = env
        self.log_path = log_path
        self.extra_args = extra_args
        self.proc = None
        self.kills = 0

    def start(self) -> WorkerProcess:
        import subprocess
        import sys

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "obsarchive.cli", "worker", *self.extra_args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(REPO),
            )
        return self

    def kill9(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM; the worker finishes its file and exits. Returns the exit status."""
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------------------------------------
# The real archive (`obsarchive serve`) as a child process, for end-to-end flow tests


def free_port() -> int:
    """A port nobody listens on right now (bound to port 0, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def obsarchive_cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run an ``obsarchive`` subcommand to completion; return its stdout (fail on error)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "obsarchive.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
        check=False,
    )
    assert result.returncode == 0, f"obsarchive {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


class ServeProcess:
    """``obsarchive serve`` on a fixed local port, stoppable and restartable (an outage)."""

    def __init__(self, env: dict[str, str], port: int, log_path) -> None:
        self.env = env
        self.port = port
        self.log_path = log_path
        self.proc = None

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 120.0) -> ServeProcess:
        import subprocess
        import sys
        import time as _time

        import requests

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "obsarchive.cli", "serve", "--port", str(self.port),
                 "--workers", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO),
            )  # fmt: skip
        deadline = _time.monotonic() + timeout
        while _time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-2000:]
            try:
                if requests.get(self.api_root, timeout=2).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            _time.sleep(0.2)
        raise AssertionError(f"obsarchive serve did not answer in {timeout} s")

    def stop(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
