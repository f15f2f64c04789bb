"""The ingest queue: one small protocol, two backends.

* :class:`TableQueue` — the embedded default: a lease-based table in SQLite (or PostgreSQL).
  A worker *leases* a message for a while; acking deletes it, and a worker killed with
  ``kill -9`` simply lets its lease expire, after which the message is handed out again
  (at-least-once, measured by the kill tests). Retries set ``visible_after``; dead letters stay
  in the table with their reason. Every operation is one short ``BEGIN IMMEDIATE`` transaction
  (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), with WAL so readers never block.
* :class:`~obsarchive.ingester.flow.amqp.AmqpQueue` — RabbitMQ through kombu.

The worker only sees :class:`IngestQueue`, so its code is the same for both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from obsarchive.ingester.flow.db import Database
from obsarchive.ingester.flow.errors import FlowConfigurationError, QueueUnavailableError

__all__ = [
    "DeadLetter",
    "Delivery",
    "IngestQueue",
    "QueueDepth",
    "TableQueue",
    "message_id_for",
    "open_queue",
]

logger = logging.getLogger(__name__)

_MAX_TRACEBACK_CHARS = 20000


@dataclass
class Delivery:
    """A message handed to a worker, until it is acked, retried or dead-lettered.

    ``attempts`` counts this delivery too, as far as the queue knows (the table queue counts
    every lease; RabbitMQ only the retries carried in the message headers).
    """

    message_id: str
    body: bytes
    attempts: int
    handle: Any = field(repr=False, default=None)
    redelivered: bool = False


@dataclass(frozen=True)
class DeadLetter:
    """A message in the dead-letter queue and why it is there."""

    message_id: str
    body: bytes
    reason: str
    error_class: str
    traceback: str | None


@dataclass(frozen=True)
class QueueDepth:
    """How many messages wait: ready now, delayed (retry or lease), dead."""

    ready: int
    delayed: int
    dead: int


@runtime_checkable
class IngestQueue(Protocol):
    """What the worker, the producers and the CLI need from a queue."""

    name: str

    def publish(self, body: bytes, *, message_id: str, delay: float = 0.0) -> None:
        """Enqueue durably; returns once the message survives a crash of the broker/DB."""

    def get(self, lease: float, timeout: float = 1.0) -> Delivery | None:
        """Take the next message for ``lease`` seconds, waiting up to ``timeout``."""

    def extend(self, delivery: Delivery, lease: float) -> bool:
        """Keep a long ingest's lease alive; False when the lease was lost."""

    def ack(self, delivery: Delivery) -> None:
        """The archive has the frame (or never will): remove the message."""

    def retry_later(self, delivery: Delivery, delay: float, reason: str) -> None:
        """Hand the message out again after ``delay`` seconds."""

    def dead_letter(
        self, delivery: Delivery, reason: str, error_class: str, traceback: str | None
    ) -> None:
        """Move the message to the dead-letter queue with why."""

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter (oldest first)."""

    def requeue(self, message_ids: Iterable[str] | None = None) -> list[str]:
        """Send dead letters (all of them when ``message_ids`` is None) back to the queue."""

    def depth(self) -> QueueDepth:
        """Counts of waiting messages."""

    def close(self) -> None:
        """Release connections; the queue reopens them on next use."""


def message_id_for(body: bytes) -> str:
    """The message id in a body, or a stable one derived from the bytes.

    A bare producer message (the seed's ``{"filepath": ...}``) has no id; hashing the body
    gives every redelivery of it the same ledger row.
    """
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        decoded = None
    if isinstance(decoded, dict):
        candidate = decoded.get("message_id")
        if isinstance(candidate, str) and 0 < len(candidate) <= 200:
            return candidate
    return "sha1-" + hashlib.sha1(body, usedforsecurity=False).hexdigest()


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ingest_queue (
        id {id},
        queue VARCHAR(200) NOT NULL,
        message_id VARCHAR(200) NOT NULL,
        body TEXT NOT NULL,
        state VARCHAR(10) NOT NULL,
        visible_after {float} NOT NULL,
        lease_expires {float},
        lease_token VARCHAR(64),
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at {float} NOT NULL,
        last_error TEXT,
        dead_reason TEXT,
        error_class TEXT,
        traceback TEXT,
        UNIQUE (queue, message_id)
    )""",
    "CREATE INDEX IF NOT EXISTS ingest_queue_next ON ingest_queue (queue, state, visible_after)",
)


_CLAIM_SQL = (
    "SELECT id, message_id, body, attempts, lease_token FROM ingest_queue "
    "WHERE queue = ? AND state = 'ready' AND visible_after <= ? "
    "AND (lease_expires IS NULL OR lease_expires <= ?) "
    "ORDER BY visible_after, id LIMIT 1"
)
_PG_SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"


class TableQueue:
    """The embedded durable queue: a lease-based table in the flow database.

    Parameters
    ----------
    url
        ``sqlite:///path`` or ``postgresql://...`` (normally the ledger's database).
    name
        Queue name; several queues can share one table.
    clock
        Seconds since the epoch (UTC); injectable for tests.
    poll_interval
        Longest pause between polls while waiting for a message.
    """

    def __init__(
        self,
        url: str,
        name: str = "ingest",
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.25,
    ) -> None:
        self.name = name
        self.db = Database(url, error=QueueUnavailableError)
        self._clock = clock
        self._poll_interval = poll_interval

    def _ready(self) -> Database:
        self.db.ensure_schema("queue", _SCHEMA)
        return self.db

    def close(self) -> None:
        self.db.close()

    def publish(self, body: bytes, *, message_id: str, delay: float = 0.0) -> None:
        db = self._ready()
        now = self._clock()
        with db.transaction() as cur:
            # Publishing the same message id twice is a no-op: producers may retry safely.
            cur.execute(
                "INSERT INTO ingest_queue (queue, message_id, body, state, visible_after, "
                "attempts, enqueued_at) VALUES (?, ?, ?, 'ready', ?, 0, ?) "
                "ON CONFLICT (queue, message_id) DO NOTHING",
                (self.name, message_id, body.decode("utf-8", errors="replace"), now + delay, now),
            )

    def _claim(self, lease: float) -> Delivery | None:
        db = self._ready()
        now = self._clock()
        token = uuid.uuid4().hex
        # SKIP LOCKED: concurrent PostgreSQL workers each take a different row without waiting.
        sql = _CLAIM_SQL + _PG_SKIP_LOCKED if db.dialect == "postgresql" else _CLAIM_SQL
        with db.transaction() as cur:
            row = cur.execute(sql, (self.name, now, now)).fetchone()
            if row is None:
                return None
            row_id, message_id, body, attempts, old_token = row
            cur.execute(
                "UPDATE ingest_queue SET lease_expires = ?, lease_token = ?, attempts = ? "
                "WHERE id = ?",
                (now + lease, token, int(attempts) + 1, row_id),
            )
        return Delivery(
            message_id=message_id,
            body=body.encode(),
            attempts=int(attempts) + 1,
            handle=(row_id, token),
            redelivered=old_token is not None,
        )

    def get(self, lease: float, timeout: float = 1.0) -> Delivery | None:
        deadline = time.monotonic() + timeout
        pause = min(0.02, self._poll_interval)
        while True:
            delivery = self._claim(lease)
            if delivery is not None:
                return delivery
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, self._poll_interval)

    def _update_leased(self, delivery: Delivery, sql: str, params: tuple[Any, ...]) -> bool:
        row_id, token = delivery.handle
        with self._ready().transaction() as cur:
            changed = cur.execute(
                f"{sql} WHERE id = ? AND lease_token = ?", (*params, row_id, token)
            ).rowcount
        if not changed:
            logger.warning(
                "lease on message %s expired before the worker finished; another worker may "
                "handle it again (harmless: ingest is idempotent by md5)",
                delivery.message_id,
            )
        return bool(changed)

    def extend(self, delivery: Delivery, lease: float) -> bool:
        return self._update_leased(
            delivery, "UPDATE ingest_queue SET lease_expires = ?", (self._clock() + lease,)
        )

    def ack(self, delivery: Delivery) -> None:
        self._update_leased(delivery, "DELETE FROM ingest_queue", ())

    def retry_later(self, delivery: Delivery, delay: float, reason: str) -> None:
        self._update_leased(
            delivery,
            "UPDATE ingest_queue SET visible_after = ?, lease_expires = NULL, "
            "lease_token = NULL, last_error = ?",
            (self._clock() + max(0.0, delay), reason),
        )

    def dead_letter(
        self, delivery: Delivery, reason: str, error_class: str, traceback: str | None
    ) -> None:
        self._update_leased(
            delivery,
            "UPDATE ingest_queue SET state = 'dead', lease_expires = NULL, lease_token = NULL, "
            "dead_reason = ?, error_class = ?, traceback = ?",
            (reason, error_class, (traceback or "")[-_MAX_TRACEBACK_CHARS:] or None),
        )

    def dead_letters(self) -> list[DeadLetter]:
        with self._ready().transaction() as cur:
            rows = cur.execute(
                "SELECT message_id, body, dead_reason, error_class, traceback FROM ingest_queue "
                "WHERE queue = ? AND state = 'dead' ORDER BY id",
                (self.name,),
            ).fetchall()
        return [
            DeadLetter(
                message_id=r[0],
                body=r[1].encode(),
                reason=r[2] or "",
                error_class=r[3] or "",
                traceback=r[4],
            )
            for r in rows
        ]

    def requeue(self, message_ids: Iterable[str] | None = None) -> list[str]:
        wanted = None if message_ids is None else set(message_ids)
        now = self._clock()
        done: list[str] = []
        with self._ready().transaction() as cur:
            rows = cur.execute(
                "SELECT id, message_id FROM ingest_queue WHERE queue = ? AND state = 'dead'",
                (self.name,),
            ).fetchall()
            for row_id, message_id in rows:
                if wanted is not None and message_id not in wanted:
                    continue
                cur.execute(
                    "UPDATE ingest_queue SET state = 'ready', visible_after = ?, attempts = 0, "
                    "dead_reason = NULL, error_class = NULL, traceback = NULL WHERE id = ?",
                    (now, row_id),
                )
                done.append(message_id)
        return done

    def depth(self) -> QueueDepth:
        now = self._clock()
        with self._ready().transaction() as cur:
            row = cur.execute(
                "SELECT "
                "SUM(CASE WHEN state = 'ready' AND visible_after <= ? AND "
                "(lease_expires IS NULL OR lease_expires <= ?) THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'ready' AND NOT (visible_after <= ? AND "
                "(lease_expires IS NULL OR lease_expires <= ?)) THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) "
                "FROM ingest_queue WHERE queue = ?",
                (now, now, now, now, self.name),
            ).fetchone()
        ready, delayed, dead = row if row is not None else (0, 0, 0)
        return QueueDepth(int(ready or 0), int(delayed or 0), int(dead or 0))


def open_queue(url: str, name: str = "ingest", *, prefetch: int = 1) -> IngestQueue:
    """The queue a URL names: ``sqlite://``/``postgresql://`` table queue or ``amqp://``.

    Raises
    ------
    FlowConfigurationError
        The scheme is not supported.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("amqp", "amqps", "pyamqp"):
        from obsarchive.ingester.flow.amqp import AmqpQueue

        return AmqpQueue(url, name, prefetch=prefetch)
    if scheme in ("sqlite", "postgresql", "postgres"):
        return TableQueue(url, name)
    raise FlowConfigurationError(f"QUEUE_URL {url!r}: expected sqlite://, postgresql:// or amqp://")
