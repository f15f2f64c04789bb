"""The ingestion ledger: one row per message, the flow's record of what happened to each file.

It is the "record of data product ingestion" the seed describes: path, md5, status, attempts,
last error, archive frame id and timings. Statuses:

``queued``            published, not yet taken by a worker
``ingesting``         a worker is on it (or died on it; the queue will hand it out again)
``retrying``          failed temporarily; the queue holds it until ``next_attempt_at``
``ingested``          the archive has the frame (``frame_id`` set)
``already_archived``  the archive already had this md5; nothing was uploaded
``dead``              given up: in the dead-letter queue with reason, class and traceback

The ledger also remembers which files the watcher has published (``watched_files``), so that
a restarted watcher never publishes the same file twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from obsarchive.ingester.flow.db import Database
from obsarchive.ingester.flow.errors import LedgerError
from obsarchive.ingester.flow.messages import Message

__all__ = ["Ledger", "LedgerEntry", "Status"]

_MAX_ERROR_CHARS = 2000
_MAX_TRACEBACK_CHARS = 20000


class Status(StrEnum):
    """Where one message stands."""

    QUEUED = "queued"
    INGESTING = "ingesting"
    RETRYING = "retrying"
    INGESTED = "ingested"
    ALREADY_ARCHIVED = "already_archived"
    DEAD = "dead"

    @property
    def is_final_success(self) -> bool:
        return self in (Status.INGESTED, Status.ALREADY_ARCHIVED)


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger."""

    message_id: str
    filepath: str
    basename: str
    status: Status
    attempts: int
    md5: str | None
    frame_id: int | None
    last_error: str | None
    error_class: str | None
    traceback: str | None
    body: str
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    next_attempt_at: datetime | None
    updated_at: datetime | None

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready values (ISO 8601 UTC times)."""
        out = asdict(self)
        out["status"] = str(self.status)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


_COLUMNS = (
    "message_id, filepath, basename, status, attempts, md5, frame_id, last_error, error_class, "
    "traceback, body, queued_at, started_at, finished_at, next_attempt_at, updated_at"
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ingest_ledger (
        message_id VARCHAR(200) PRIMARY KEY,
        filepath TEXT NOT NULL,
        basename TEXT NOT NULL,
        status VARCHAR(20) NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        md5 VARCHAR(32),
        frame_id BIGINT,
        last_error TEXT,
        error_class TEXT,
        traceback TEXT,
        body TEXT NOT NULL,
        queued_at {ts},
        started_at {ts},
        finished_at {ts},
        next_attempt_at {ts},
        updated_at {ts}
    )""",
    "CREATE INDEX IF NOT EXISTS ingest_ledger_status ON ingest_ledger (status, updated_at)",
    "CREATE INDEX IF NOT EXISTS ingest_ledger_md5 ON ingest_ledger (md5)",
    "CREATE INDEX IF NOT EXISTS ingest_ledger_filepath ON ingest_ledger (filepath)",
    """CREATE TABLE IF NOT EXISTS ingest_watched_files (
        filepath TEXT PRIMARY KEY,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        message_id VARCHAR(200) NOT NULL,
        published_at {ts} NOT NULL
    )""",
)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 20] + "\n... (truncated)"


class Ledger:
    """Read and write the ingestion ledger in the database at ``url``.

    Every method is one short transaction, and every transition is idempotent: a message
    delivered twice (at-least-once queues) updates its one row rather than adding another.

    Parameters
    ----------
    url
        ``sqlite:///path`` (the default shares the embedded queue's file) or
        ``postgresql://...``.
    """

    def __init__(self, url: str) -> None:
        self.db = Database(url, error=LedgerError)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ready(self) -> Database:
        self.db.ensure_schema("ledger", _SCHEMA)
        return self.db

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        return now if now is not None else datetime.now(UTC)

    # -- transitions -------------------------------------------------------------------------

    def record_queued(
        self, message_id: str, message: Message, *, now: datetime | None = None
    ) -> None:
        """Note a published message. Does nothing if a worker already recorded it."""
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO ingest_ledger (message_id, filepath, basename, status, attempts, "
                "body, queued_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?) "
                "ON CONFLICT (message_id) DO NOTHING",
                (
                    message_id,
                    message.filepath,
                    message.basename,
                    Status.QUEUED.value,
                    message.to_json().decode(),
                    ts,
                    ts,
                ),
            )

    def begin(
        self, message_id: str, message: Message | None, body: bytes, *, now: datetime | None = None
    ) -> tuple[Status, int]:
        """Record that a worker starts on a message; return its previous status and attempt.

        The attempt number counts every start, including starts whose worker was killed, so
        a message that crashes workers is dead-lettered after the policy's attempts even on a
        queue that does not count deliveries (classic RabbitMQ queues).

        A message already ``ingested`` or ``already_archived`` keeps that status (the caller
        then only acknowledges the duplicate delivery).
        """
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        filepath = message.filepath if message is not None else ""
        basename = message.basename if message is not None else ""
        text = body.decode("utf-8", errors="replace")
        with db.transaction() as cur:
            row = cur.execute(
                "SELECT status, attempts FROM ingest_ledger WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO ingest_ledger (message_id, filepath, basename, status, attempts, "
                    "body, queued_at, started_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
                    (message_id, filepath, basename, Status.INGESTING.value, text, ts, ts, ts),
                )
                return Status.QUEUED, 1
            previous = Status(row[0])
            if previous.is_final_success:
                return previous, int(row[1])
            attempts = int(row[1]) + 1
            cur.execute(
                "UPDATE ingest_ledger SET status = ?, attempts = ?, started_at = ?, "
                "next_attempt_at = NULL, updated_at = ? WHERE message_id = ?",
                (Status.INGESTING.value, attempts, ts, ts, message_id),
            )
            return previous, attempts

    def finish(
        self,
        message_id: str,
        status: Status,
        *,
        md5: str | None = None,
        frame_id: int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record success: ``ingested`` (with the frame id) or ``already_archived``.

        ``already_archived`` never overwrites ``ingested``: a redelivered message finds its own
        frame in the archive, and the row must keep saying that this message archived it.
        """
        if not status.is_final_success:
            raise ValueError(f"finish() records a success, not {status}")
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        with db.transaction() as cur:
            cur.execute(
                "UPDATE ingest_ledger SET "
                "status = CASE WHEN status = 'ingested' THEN status ELSE ? END, "
                "md5 = COALESCE(?, md5), frame_id = COALESCE(frame_id, ?), "
                "finished_at = ?, updated_at = ?, next_attempt_at = NULL WHERE message_id = ?",
                (status.value, md5, frame_id, ts, ts, message_id),
            )

    def mark_retrying(
        self,
        message_id: str,
        error: str,
        error_class: str,
        next_attempt_at: datetime,
        *,
        md5: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record a temporary failure and when the queue will hand the message out again."""
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        with db.transaction() as cur:
            cur.execute(
                "UPDATE ingest_ledger SET status = ?, last_error = ?, error_class = ?, "
                "md5 = COALESCE(?, md5), next_attempt_at = ?, updated_at = ? "
                "WHERE message_id = ? AND status NOT IN ('ingested', 'already_archived')",
                (
                    Status.RETRYING.value,
                    _clip(error, _MAX_ERROR_CHARS),
                    error_class,
                    md5,
                    db.to_db_time(next_attempt_at),
                    ts,
                    message_id,
                ),
            )

    def mark_dead(
        self,
        message_id: str,
        reason: str,
        error_class: str,
        traceback: str | None,
        *,
        body: bytes | None = None,
        md5: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that a message went to the dead-letter queue, with why."""
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        with db.transaction() as cur:
            updated = cur.execute(
                "UPDATE ingest_ledger SET status = ?, last_error = ?, error_class = ?, "
                "traceback = ?, md5 = COALESCE(?, md5), finished_at = ?, next_attempt_at = NULL, "
                "updated_at = ? WHERE message_id = ?",
                (
                    Status.DEAD.value,
                    _clip(reason, _MAX_ERROR_CHARS),
                    error_class,
                    _clip(traceback, _MAX_TRACEBACK_CHARS),
                    md5,
                    ts,
                    ts,
                    message_id,
                ),
            ).rowcount
            if not updated:
                # A message so broken that begin() never ran (unparseable bytes) still gets
                # its row, so the ledger accounts for every message the queue saw.
                cur.execute(
                    "INSERT INTO ingest_ledger (message_id, filepath, basename, status, attempts, "
                    "md5, last_error, error_class, traceback, body, queued_at, finished_at, "
                    "updated_at) VALUES (?, '', '', ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        Status.DEAD.value,
                        md5,
                        _clip(reason, _MAX_ERROR_CHARS),
                        error_class,
                        _clip(traceback, _MAX_TRACEBACK_CHARS),
                        (body or b"").decode("utf-8", errors="replace"),
                        ts,
                        ts,
                        ts,
                    ),
                )

    def mark_requeued(self, message_ids: Iterable[str], *, now: datetime | None = None) -> int:
        """Dead messages sent back to the queue: status ``queued``, attempts reset to 0."""
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        count = 0
        with db.transaction() as cur:
            for message_id in message_ids:
                count += cur.execute(
                    "UPDATE ingest_ledger SET status = ?, attempts = 0, queued_at = ?, "
                    "finished_at = NULL, updated_at = ? WHERE message_id = ? AND status = ?",
                    (Status.QUEUED.value, ts, ts, message_id, Status.DEAD.value),
                ).rowcount
        return count

    # -- queries -----------------------------------------------------------------------------

    def get(self, message_id: str) -> LedgerEntry | None:
        """One row, or None."""
        db = self._ready()
        with db.transaction() as cur:
            row = cur.execute(
                f"SELECT {_COLUMNS} FROM ingest_ledger WHERE message_id = ?",  # noqa: S608
                (message_id,),
            ).fetchone()
        return None if row is None else self._entry(row)

    def entries(
        self,
        status: Status | str | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[LedgerEntry]:
        """Rows, optionally of one status, newest (by last update) first by default."""
        db = self._ready()
        where, params = "", list[Any]()
        if status is not None:
            where, params = "WHERE status = ?", [Status(status).value]
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {_COLUMNS} FROM ingest_ledger {where} "  # noqa: S608
            f"ORDER BY updated_at {order}, message_id {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with db.transaction() as cur:
            rows = cur.execute(sql, params).fetchall()
        return [self._entry(row) for row in rows]

    def counts(self) -> dict[Status, int]:
        """Number of rows per status (every status present, zero when absent)."""
        db = self._ready()
        with db.transaction() as cur:
            rows = cur.execute(
                "SELECT status, COUNT(*) FROM ingest_ledger GROUP BY status"
            ).fetchall()
        out = dict.fromkeys(Status, 0)
        for status, count in rows:
            out[Status(status)] = int(count)
        return out

    def _entry(self, row: tuple[Any, ...]) -> LedgerEntry:
        t = self.db.from_db_time
        return LedgerEntry(
            message_id=row[0],
            filepath=row[1],
            basename=row[2],
            status=Status(row[3]),
            attempts=int(row[4]),
            md5=row[5],
            frame_id=None if row[6] is None else int(row[6]),
            last_error=row[7],
            error_class=row[8],
            traceback=row[9],
            body=row[10],
            queued_at=t(row[11]),
            started_at=t(row[12]),
            finished_at=t(row[13]),
            next_attempt_at=t(row[14]),
            updated_at=t(row[15]),
        )

    # -- the watcher's memory ----------------------------------------------------------------

    def watched_files(self, under: str = "") -> dict[str, tuple[int, int]]:
        """``{filepath: (size, mtime_ns)}`` of every file the watcher published under a prefix."""
        db = self._ready()
        with db.transaction() as cur:
            rows = cur.execute(
                "SELECT filepath, size, mtime_ns FROM ingest_watched_files "
                "WHERE substr(filepath, 1, ?) = ?",
                (len(under), under),
            ).fetchall()
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    def remember_watched_file(
        self,
        filepath: str,
        size: int,
        mtime_ns: int,
        message_id: str,
        *,
        now: datetime | None = None,
    ) -> None:
        """Remember that the watcher published this file in this state (size, mtime)."""
        db = self._ready()
        ts = db.to_db_time(self._now(now))
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO ingest_watched_files (filepath, size, mtime_ns, message_id, "
                "published_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (filepath) DO UPDATE SET "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, "
                "message_id = excluded.message_id, published_at = excluded.published_at",
                (filepath, size, mtime_ns, message_id, ts),
            )


def entry_summary(entries: Iterable[LedgerEntry]) -> Mapping[str, int]:
    """Count entries by status name (for logs and the CLI footer)."""
    out: dict[str, int] = {}
    for entry in entries:
        out[entry.status.value] = out.get(entry.status.value, 0) + 1
    return out


def dumps_entries(entries: Iterable[LedgerEntry]) -> str:
    """The ``obsarchive ledger --json`` document."""
    return json.dumps([e.to_json_dict() for e in entries], indent=2)
