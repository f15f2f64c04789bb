"""Processes and databases a benchmark starts: archive server, S3-protocol server, databases.

Everything binds 127.0.0.1 on an ephemeral port (port 0), so benchmarks run beside other
people's tests, and every process started here is stopped by the context manager that started
it, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "ArchiveServer",
    "BenchmarkError",
    "MotoServer",
    "archive_env",
    "create_postgres_database",
    "database_vendor",
    "drop_postgres_database",
    "libpq_url",
    "obsarchive_command",
    "run_obsarchive",
    "sqlite_path",
]

_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 120.0


class BenchmarkError(RuntimeError):
    """A benchmark cannot run (a service is missing, a server did not start, bad arguments)."""


# -- databases -------------------------------------------------------------------------------


def database_vendor(url: str) -> str:
    """``postgresql`` or ``sqlite`` for a ``DATABASE_URL``.

    Raises
    ------
    BenchmarkError
        Another scheme.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in {"postgres", "postgresql", "pgsql"}:
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise BenchmarkError(f"unsupported database URL {url!r}: use postgresql:// or sqlite:///")


def libpq_url(url: str) -> str:
    """A ``DATABASE_URL`` as libpq/psycopg accept it (``postgres://`` -> ``postgresql://``)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    path = unquote(url.split("://", 1)[1])
    if path.startswith("/"):
        path = path[1:]  # sqlite:///x -> "x" (relative), sqlite:////x -> "/x"
    if not path or path == ":memory:":
        raise BenchmarkError("an in-memory SQLite database cannot be shared with a server")
    return Path(path)


def _maintenance_url(url: str) -> tuple[str, str]:
    parts = urlsplit(libpq_url(url))
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise BenchmarkError(f"{url!r} names no database")
    return urlunsplit(parts._replace(path="/postgres")), name


def create_postgres_database(url: str, *, exist_ok: bool = True) -> bool:
    """Create the database named in ``url`` if missing; return True when it was created.

    Raises
    ------
    BenchmarkError
        PostgreSQL cannot be reached.
    """
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance_url(url)
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                if not exist_ok:
                    raise BenchmarkError(f"database {name!r} already exists")
                return False
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise BenchmarkError(f"PostgreSQL at {maintenance}: {exc}") from exc
    return True


def drop_postgres_database(url: str) -> None:
    """Drop the database named in ``url`` (closing its connections)."""
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance_url(url)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def unique_postgres_url(base: str, prefix: str) -> str:
    """``base`` (a server URL) with a new database name ``<prefix>_<random>``."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{prefix}_{uuid.uuid4().hex[:10]}"))


# -- the obsarchive command ------------------------------------------------------------------


def obsarchive_command() -> list[str]:
    """How to run ``obsarchive`` with this interpreter (works in a fresh virtualenv)."""
    return [sys.executable, "-m", "obsarchive.cli"]


def archive_env(
    *, database_url: str, home: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment of an archive (server or management) process on ``database_url``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        {
            "OBSARCHIVE_HOME": str(home),
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "obsarchive.server.settings",
            "SECRET_KEY": env.get("SECRET_KEY") or f"benchmark-{uuid.uuid4().hex}",
            # gunicorn's control socket defaults to one path per user: keep servers apart.
            "XDG_RUNTIME_DIR": str(home),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


def run_obsarchive(args: list[str], env: Mapping[str, str], timeout: float = 600) -> str:
    """Run an ``obsarchive`` subcommand; return its stdout.

    Raises
    ------
    BenchmarkError
        It failed.
    """
    result = subprocess.run(
        [*obsarchive_command(), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise BenchmarkError(
            f"obsarchive {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout


# -- the archive server ----------------------------------------------------------------------


@dataclass
class ArchiveServer:
    """``obsarchive serve`` (gunicorn) on 127.0.0.1, an ephemeral port and ``database_url``.

    Use as a context manager; ``api_root`` is set once it answers. The database must already
    be migrated (the ``token`` subcommand and the seed benchmark do that).
    """

    database_url: str
    home: Path
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    api_root: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return archive_env(database_url=self.database_url, home=self.home, extra=self.extra_env)

    def token(self, name: str, *, superuser: bool = False, staff: bool = False) -> str:
        """The API token of user ``name`` (created with these rights if needed; migrates)."""
        flags = (["--superuser"] if superuser else []) + (["--staff"] if staff else [])
        output = run_obsarchive(["token", name, *flags], self.env)
        return output.strip().splitlines()[-1]

    def add_proposal_members(self, proposal: str, *usernames: str) -> None:
        run_obsarchive(["proposals", "add", proposal, *usernames], self.env)

    def __enter__(self) -> ArchiveServer:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "serve.log"
        with open(log, "wb") as sink:
            self.process = subprocess.Popen(
                [
                    *obsarchive_command(),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--workers",
                    str(self.workers),
                    "--no-migrate",
                ],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            port = self._wait_for_port(log)
            self.api_root = f"http://127.0.0.1:{port}/"
            self._wait_until_answering()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_for_port(self, log: Path) -> int:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = _LISTENING.search(log.read_text(errors="replace"))
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise BenchmarkError(
            f"obsarchive serve did not start:\n{log.read_text(errors='replace')[-3000:]}"
        )

    def _wait_until_answering(self) -> None:
        import requests

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.api_root + "health/", timeout=5).status_code < 500:
                    return
            time.sleep(0.1)
        raise BenchmarkError(f"the archive at {self.api_root} does not answer")

    def worker_pids(self) -> list[int]:
        """The gunicorn master and its workers (for CPU and memory accounting)."""
        if self.process is None:
            return []
        return [self.process.pid, *_children(self.process.pid)]

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux), None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # Fields after the command name: state is [0], utime [11], stime [12].
    return (int(fields[11]) + int(fields[12])) / ticks


def stop_process(process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM the process (its own session when it has one), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.wait()


# -- the S3-protocol server ------------------------------------------------------------------

# Run inside the child: bind port 0, print the real port, serve until stdin closes (so the
# server also dies with the benchmark, however it ends).
_MOTO_LAUNCHER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""
S3_ACCESS_KEY = "obsarchive-bench"
S3_SECRET_KEY = "obsarchive-bench-secret"
S3_REGION = "us-east-1"


@dataclass
class MotoServer:
    """moto's S3 server mode in a subprocess: the S3 protocol over HTTP on an ephemeral port."""

    endpoint_url: str = ""
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        try:
            import moto.server  # noqa: F401  (fail early with a clear reason)
        except ImportError as exc:
            raise BenchmarkError("moto[server] is not installed (pip install -e '.[dev]')") from exc
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MOTO_LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            self.__exit__()
            raise BenchmarkError(f"the moto S3 server did not start (got {line!r})")
        self.endpoint_url = f"http://127.0.0.1:{int(line)}"
        return self

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name=S3_REGION,
        ).client("s3", endpoint_url=self.endpoint_url)

    def create_bucket(self) -> str:
        """A new versioned bucket with a unique name."""
        bucket = f"obsarchive-bench-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return bucket

    def env(self, bucket: str) -> dict[str, str]:
        """Variables pointing an obsarchive process at this server and ``bucket``."""
        return {
            "FILESTORE_TYPE": "s3",
            "BUCKET": bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_ADDRESSING_STYLE": "path",
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        }

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextlib.contextmanager
def temporary_postgres_database(base_url: str, prefix: str) -> Iterator[str]:
    """A new, uniquely named PostgreSQL database on the server of ``base_url``; dropped after."""
    url = unique_postgres_url(base_url, prefix)
    create_postgres_database(url, exist_ok=False)
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            drop_postgres_database(url)
