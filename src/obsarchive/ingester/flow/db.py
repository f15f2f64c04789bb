"""A small database handle for the flow's tables: SQLite (embedded) or PostgreSQL.

The ledger and the table queue need a few short transactions and nothing else, so this is
plain ``sqlite3``/``psycopg`` rather than an ORM. SQL is written once with ``?`` placeholders;
:class:`Database` rewrites them for PostgreSQL. One connection per handle, serialised by a lock
(the worker's lease heartbeat runs in a second thread); it is opened on first use, never in
the constructor.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from obsarchive.ingester.flow.errors import FlowConfigurationError, LedgerError

__all__ = ["Cursor", "Database", "parse_database_url"]

logger = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]


def parse_database_url(url: str) -> tuple[Dialect, str]:
    """Split a database URL into its dialect and what the driver connects with.

    ``sqlite:///relative/file.sqlite3`` and ``sqlite:////absolute/file.sqlite3`` (the
    SQLAlchemy convention) give a file path; ``postgresql://`` and ``postgres://`` URLs are
    passed to libpq unchanged.

    Raises
    ------
    FlowConfigurationError
        The scheme is not ``sqlite`` or ``postgresql``/``postgres``, or the path is empty.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        path = unquote(urlsplit(url).path)
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise FlowConfigurationError(f"{url!r}: a sqlite URL needs a file path")
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        return "postgresql", url
    raise FlowConfigurationError(f"{url!r}: expected a sqlite:// or postgresql:// URL")


class Cursor:
    """A cursor that accepts ``?`` placeholders on either dialect."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self._raw = raw
        self._dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self._dialect == "postgresql":
            sql = sql.replace("?", "%s")
        self._raw.execute(sql, tuple(params))
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._raw.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._raw.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)


class Database:
    """A lazily opened connection to the flow database named by ``url``.

    Parameters
    ----------
    url
        ``sqlite:///path`` or ``postgresql://user@host:port/dbname``.
    error
        The exception class that database failures are translated into (a
        :class:`~obsarchive.ingester.flow.errors.FlowError` subclass).
    busy_timeout
        Seconds SQLite waits for another process's write lock before failing.
    """

    def __init__(
        self,
        url: str,
        *,
        error: type[Exception] = LedgerError,
        busy_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.dialect, self._target = parse_database_url(url)
        self._error = error
        self._busy_timeout = busy_timeout
        self._conn: Any = None
        self._lock = threading.RLock()
        self._schemas: set[str] = set()

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            path = Path(self._target)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._error(f"{self.safe_url}: cannot create {path.parent}: {exc}") from exc
            conn = sqlite3.connect(
                str(path),
                timeout=self._busy_timeout,
                isolation_level=None,  # explicit BEGIN IMMEDIATE below
                check_same_thread=False,  # guarded by self._lock
            )
            # WAL: readers (`obsarchive ledger`, `up`'s progress line) never block the worker.
            # FULL sync: a committed publish or ack survives a power cut too, not only a
            # killed process (an fsync per commit, a few per file: small next to an ingest).
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            return conn
        try:
            import psycopg
        except ImportError as exc:  # the telescope side may not have the server extra
            raise FlowConfigurationError(
                "a postgresql:// URL needs psycopg: pip install 'psycopg[binary]'"
            ) from exc
        return psycopg.connect(self._target, connect_timeout=10)

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        errors: list[type[BaseException]] = [sqlite3.Error]
        if self.dialect == "postgresql":
            import psycopg

            errors.append(psycopg.Error)
        return tuple(errors)

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except self._driver_errors():  # closing a broken connection may fail too
                    logger.debug("error closing %s", self.safe_url, exc_info=True)
                self._conn = None

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A short write transaction (SQLite ``BEGIN IMMEDIATE``: take the write lock first).

        Raises
        ------
        FlowError
            (the ``error`` class given to the constructor) when the database fails; the
            connection is then dropped and reopened on next use.
        """
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
                if self.dialect == "sqlite":
                    conn.execute("BEGIN IMMEDIATE")
                    raw = conn.cursor()
                    try:
                        yield Cursor(raw, self.dialect)
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                else:
                    with conn.transaction(), conn.cursor() as raw:
                        yield Cursor(raw, self.dialect)
            except self._driver_errors() as exc:
                self._drop_after_error()
                raise self._error(f"{self.safe_url}: {exc}") from exc

    def _drop_after_error(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except self._driver_errors():
                logger.debug("error closing a failed connection", exc_info=True)

    def ensure_schema(self, name: str, statements: Sequence[str]) -> None:
        """Run idempotent DDL (``CREATE ... IF NOT EXISTS``) once per handle.

        ``{id}`` in a statement becomes an auto-increment primary key, ``{ts}`` a
        timezone-aware timestamp column and ``{float}`` a double, for the dialect.
        """
        if name in self._schemas:
            return
        types = (
            {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "ts": "TEXT", "float": "REAL"}
            if self.dialect == "sqlite"
            else {"id": "BIGSERIAL PRIMARY KEY", "ts": "TIMESTAMPTZ", "float": "DOUBLE PRECISION"}
        )
        with self.transaction() as cur:
            if self.dialect == "postgresql":
                # Serialise concurrent first start-ups: CREATE ... IF NOT EXISTS is not atomic
                # in PostgreSQL and two workers could otherwise race on the catalog.
                cur.execute("SELECT pg_advisory_xact_lock(7036155)")
            for statement in statements:
                cur.execute(statement.format(**types))
        self._schemas.add(name)

    # -- values ------------------------------------------------------------------------------

    def to_db_time(self, value: datetime | None) -> Any:
        """A timezone-aware datetime as the dialect stores it (ISO text on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware UTC value")
        value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if self.dialect == "sqlite" else value

    @staticmethod
    def from_db_time(value: Any) -> datetime | None:
        """The inverse of :meth:`to_db_time`: always an aware UTC datetime or None."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(str(value))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
