"""A live obsarchive science archive for whole-flow tests: ``live_archive``.

``live_archive`` is session-scoped and parametrised over the two databases (SQLite, PostgreSQL).
Each server is a real ``obsarchive serve`` (gunicorn) process bound to 127.0.0.1 on an
ephemeral port, with its own ``OBSARCHIVE_HOME``, database (a uniquely named PostgreSQL
database, dropped afterwards) and versioned bucket on the session's moto S3 server::

    def test_something(live_archive):
        live_archive.api_root, live_archive.token          # superuser token
        live_archive.settings()                             # ingester Settings for it
        live_archive.client_env()                           # env for an ingester subprocess
                                                            # (no previews unless asked)
        live_archive.token_for("staffer", staff=True)       # more users

Servers are shared by every test of a session, so tests must not assume an empty archive:
use fresh products (synthetic ones with a unique ``seed`` or name) or tolerate
``NonFatalDoNotRetryError`` for products another test may have ingested.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import require_service

OBSARCHIVE = str(Path(sys.executable).with_name("obsarchive"))
POSTGRES = ("127.0.0.1", 5432)
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_START_TIMEOUT = 60.0
# Ingest clients make no JPEG previews unless a test asks (MAKE_PREVIEWS="true"): rendering,
# storing and recording three previews per frame would triple the cost of every ingest here,
# and previews have tests of their own.
NO_PREVIEWS = {"MAKE_PREVIEWS": "false"}


@dataclass
class LiveArchive:
    """A running archive server and what a client needs to use it."""

    api_root: str
    token: str
    database: str
    home: Path
    bucket: str
    server_env: dict[str, str]
    store_env: dict[str, str]
    _tokens: dict[tuple[str, bool, bool], str] = field(default_factory=dict)

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for an ingester process talking to this archive and its bucket."""
        env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
        env.update(self.store_env)
        env.update({"API_ROOT": self.api_root, "AUTH_TOKEN": self.token, **NO_PREVIEWS})
        env.update(extra)
        return env

    def settings(self, **extra: str) -> Any:
        """Ingester :class:`~obsarchive.config.Settings` for this archive and bucket."""
        from obsarchive.config import load_settings

        return load_settings(
            {
                **self.store_env,
                "API_ROOT": self.api_root,
                "AUTH_TOKEN": self.token,
                **NO_PREVIEWS,
                **extra,
            }
        )

    def token_for(self, name: str, *, superuser: bool = False, staff: bool = False) -> str:
        """The API token of user ``name`` (created with the given rights if needed)."""
        cache_key = (name, superuser, staff)
        if cache_key not in self._tokens:
            flags = (["--superuser"] if superuser else []) + (["--staff"] if staff else [])
            result = subprocess.run(
                [OBSARCHIVE, "token", name, *flags],
                env=self.server_env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            self._tokens[cache_key] = result.stdout.strip().splitlines()[-1]
        return self._tokens[cache_key]

    def get(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        """GET ``path`` (relative to the API root) with the superuser's token by default."""
        return requests.get(
            self.api_root + path.lstrip("/"),
            params=params,
            headers={"Authorization": f"Token {token or self.token}"},
            timeout=30,
        )


def _create_postgres_database() -> tuple[str, str]:
    import psycopg

    name = f"obsarchive_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgres://postgres@127.0.0.1:5432/{name}"


def _drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    """The port gunicorn reports once it listens (it binds port 0, so only it knows)."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"obsarchive serve did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _wait_until_answering(api_root: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(api_root + "health/", timeout=2).status_code < 500:
                return
        time.sleep(0.05)
    pytest.fail(f"the archive at {api_root} does not answer")


@contextlib.contextmanager
def run_archive(
    database: str, home: Path, store_env: dict[str, str], bucket: str
) -> Iterator[LiveArchive]:
    """Start ``obsarchive serve`` on a fresh database; stop it and drop the database after."""
    pg_name: str | None = None
    if database == "postgresql":
        require_service("PostgreSQL", *POSTGRES)
        pg_name, database_url = _create_postgres_database()
    else:
        database_url = f"sqlite:///{home / 'archive.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(store_env)
    env.update(
        {
            "OBSARCHIVE_HOME": str(home),
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "obsarchive.server.settings",
            "SECRET_KEY": f"e2e-{uuid.uuid4().hex}",
            # gunicorn's control socket defaults to one path per user: keep servers apart.
            "XDG_RUNTIME_DIR": str(home),
            "PYTHONUNBUFFERED": "1",
        }
    )
    process: subprocess.Popen[bytes] | None = None
    try:
        archive = LiveArchive(
            api_root="",
            token="",
            database=database,
            home=home,
            bucket=bucket,
            server_env=env,
            store_env=store_env,
        )
        # `token` also migrates the new database, so the server can start with --no-migrate.
        archive.token = archive.token_for("ingester", superuser=True, staff=True)
        log = home / "serve.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                [OBSARCHIVE, "serve", "--host", "127.0.0.1", "--port", "0", "--no-migrate"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        port = _wait_for_port(process, log)
        archive.api_root = f"http://127.0.0.1:{port}/"
        _wait_until_answering(archive.api_root)
        yield archive
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing to drain
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if pg_name is not None:
            _drop_postgres_database(pg_name)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_archive(request, s3_server, tmp_path_factory) -> Iterator[LiveArchive]:
    """A live archive (SQLite or PostgreSQL) storing into a versioned bucket on moto S3."""
    bucket = s3_server.create_bucket()
    home = tmp_path_factory.mktemp(f"archive-{request.param}")
    with run_archive(request.param, home, s3_server.env(bucket), bucket) as archive:
        yield archive


def unique_fits(token: str | None = None, number: int | None = None, **header: Any) -> io.BytesIO:
    """A synthetic LCO frame no other test (or earlier run) has ingested, named after ``token``.

    Its basename is ``cpt1m001-fa14-20260115-NNNN-e00-<token>`` and, with the synthetic
    defaults, its storage key ``cpt/fa14/20260115/raw/<basename>.fits``.
    """
    from obsarchive.products.synthetic import write_fits

    token = token or uuid.uuid4().hex[:12]
    if number is None:
        number = int(hashlib.md5(token.encode()).hexdigest()[:4], 16) % 9000 + 1
    buffer = io.BytesIO()
    write_fits(buffer, frame_number=number, object_name=f"e2e {token}", **header)
    buffer.seek(0)
    buffer.name = f"cpt1m001-fa14-20260115-{number:04d}-e00-{token}.fits"
    return buffer


@pytest.fixture
def aws_credentials(monkeypatch, s3_server) -> None:
    """The moto server's credentials in this process's environment (boto3 reads them there)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
