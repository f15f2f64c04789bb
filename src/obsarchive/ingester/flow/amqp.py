"""The RabbitMQ backend of the ingest queue (kombu over py-amqp).

Layout for queue name ``ingest`` (all durable, all through the default exchange so a producer
that only knows the queue name — the seed's TCS — can publish with any AMQP client):

``ingest``               the work queue; messages are persistent; a worker acks only after the
                         archive has the frame, so a killed worker's messages come back.
``ingest.delay.<ms>``    one queue per retry delay, with that TTL and a dead-letter route back
                         to ``ingest``. A fixed TTL per queue avoids RabbitMQ's head-of-line
                         problem with per-message TTLs; ``x-expires`` removes idle ones.
``ingest.dead``          the dead-letter queue; headers say why (``x-death-reason``,
                         ``x-error-class``, ``x-traceback``).

Every publish waits for a publisher confirm, so a retry or dead letter is never lost between
"copied" and "acked". Connection failures become
:class:`~obsarchive.ingester.flow.errors.QueueUnavailableError`; the worker reconnects with
backoff.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Consumer, Producer
from kombu import Queue as KombuQueue
from kombu.message import Message as KombuMessage

from obsarchive.ingester.flow.errors import QueueUnavailableError
from obsarchive.ingester.flow.queues import DeadLetter, Delivery, QueueDepth, message_id_for

__all__ = ["AmqpQueue"]

logger = logging.getLogger(__name__)

_MAX_HEADER_TRACEBACK = 8000  # AMQP headers travel with every message; keep them bounded
_DELAY_QUEUE_GRACE_MS = 10 * 60 * 1000


class AmqpQueue:
    """An :class:`~obsarchive.ingester.flow.queues.IngestQueue` on RabbitMQ.

    Parameters
    ----------
    url
        ``amqp://user:password@host:port/vhost``.
    name
        The work queue name (``QUEUE_NAME``).
    prefetch
        Unacked messages the broker may push to this consumer ahead of time.
    connect_timeout
        Seconds to wait for the broker before reporting it unavailable.
    """

    def __init__(
        self,
        url: str,
        name: str = "ingest",
        *,
        prefetch: int = 1,
        connect_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.url = url
        self.prefetch = prefetch
        self.dead_name = f"{name}.dead"
        self._connect_timeout = connect_timeout
        self._conn: Connection | None = None
        self._consumer: Consumer | None = None
        self._buffer: collections.deque[KombuMessage] = collections.deque()
        self._declared: set[str] = set()

    # -- connection ----------------------------------------------------------------------

    def _errors(self) -> tuple[type[BaseException], ...]:
        conn = self._conn or Connection(self.url)
        return (*conn.connection_errors, *conn.channel_errors, OSError)

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = Connection(
                self.url,
                connect_timeout=self._connect_timeout,
                # Heartbeats would need a thread while a long ingest blocks this one; TCP
                # keepalive and the ack-after-success rule make them unnecessary.
                heartbeat=0,
                transport_options={"confirm_publish": True},
            )
            conn.connect()
            self._conn = conn
            self._declared.clear()
        return self._conn

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except QueueUnavailableError:
            raise
        except self._errors() as exc:
            self._reset()
            raise QueueUnavailableError(f"RabbitMQ {what} failed: {exc}") from exc

    def _reset(self) -> None:
        # Deliveries buffered from a dead connection can no longer be acked: the broker will
        # hand them out again, so they are simply forgotten here.
        self._buffer.clear()
        self._consumer = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.release()
            except self._errors():
                logger.debug("error releasing a broken connection", exc_info=True)

    def close(self) -> None:
        """Cancel the consumer (unacked messages go back to the queue) and disconnect."""
        if self._consumer is not None and self._conn is not None:
            try:
                self._consumer.cancel()
            except self._errors():
                logger.debug("error cancelling the consumer", exc_info=True)
        self._reset()

    def _queue(self, name: str, arguments: dict[str, Any] | None = None) -> KombuQueue:
        return KombuQueue(name, routing_key=name, durable=True, queue_arguments=arguments)

    def _declare(self, queue: KombuQueue) -> None:
        if queue.name in self._declared:
            return
        queue.declare(channel=self._connection().default_channel)
        self._declared.add(queue.name)

    def _publish(self, name: str, body: bytes, headers: dict[str, Any], message_id: str) -> None:
        conn = self._connection()
        producer = Producer(conn.default_channel)
        producer.publish(
            body,
            exchange="",
            routing_key=name,
            delivery_mode=2,  # persistent
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
            message_id=message_id,
            retry=False,  # failures surface as QueueUnavailableError; the caller decides
        )

    # -- IngestQueue -----------------------------------------------------------------------

    def publish(self, body: bytes, *, message_id: str, delay: float = 0.0) -> None:
        with self._guard("publish"):
            self._publish_to(body, message_id=message_id, delay=delay, headers={})

    def _publish_to(
        self, body: bytes, *, message_id: str, delay: float, headers: dict[str, Any]
    ) -> None:
        self._declare(self._queue(self.name))
        if delay <= 0:
            self._publish(self.name, body, headers, message_id)
            return
        ttl_ms = max(1000, math.ceil(delay) * 1000)  # whole seconds: few distinct delay queues
        delay_name = f"{self.name}.delay.{ttl_ms}"
        self._declare(
            self._queue(
                delay_name,
                {
                    "x-message-ttl": ttl_ms,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.name,
                    "x-expires": ttl_ms + _DELAY_QUEUE_GRACE_MS,
                },
            )
        )
        self._publish(delay_name, body, headers, message_id)

    def _on_message(self, message: KombuMessage) -> None:
        # on_message (not callbacks): kombu must not decode the body; the worker validates it.
        self._buffer.append(message)

    def _ensure_consumer(self) -> None:
        if self._consumer is not None:
            return
        conn = self._connection()
        queue = self._queue(self.name)
        self._declare(queue)
        consumer = Consumer(
            conn.default_channel,
            queues=[queue],
            on_message=self._on_message,
            auto_declare=False,
            prefetch_count=self.prefetch,
        )
        consumer.consume()
        self._consumer = consumer

    def get(self, lease: float, timeout: float = 1.0) -> Delivery | None:
        with self._guard("consume"):
            self._ensure_consumer()
            if not self._buffer:
                try:
                    self._connection().drain_events(timeout=timeout)
                except TimeoutError:
                    return None
            if not self._buffer:
                return None
            message = self._buffer.popleft()
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        headers = message.headers or {}
        message_id = message.properties.get("message_id") or message_id_for(body)
        retries = headers.get("x-attempts", 0)
        return Delivery(
            message_id=str(message_id),
            body=body,
            attempts=(int(retries) if isinstance(retries, int) else 0) + 1,
            handle=message,
            redelivered=bool(message.delivery_info.get("redelivered")),
        )

    def extend(self, delivery: Delivery, lease: float) -> bool:
        # RabbitMQ holds an unacked message for as long as the connection lives.
        return True

    def ack(self, delivery: Delivery) -> None:
        with self._guard("ack"):
            delivery.handle.ack()

    def retry_later(self, delivery: Delivery, delay: float, reason: str) -> None:
        headers = dict(delivery.handle.headers or {})
        headers["x-attempts"] = delivery.attempts
        headers["x-last-error"] = reason[:1000]
        with self._guard("retry"):
            # Copy first (confirmed), then ack: a crash in between duplicates, never loses.
            self._publish_to(
                delivery.body, message_id=delivery.message_id, delay=delay, headers=headers
            )
            delivery.handle.ack()

    def dead_letter(
        self, delivery: Delivery, reason: str, error_class: str, traceback: str | None
    ) -> None:
        headers = dict(delivery.handle.headers or {})
        headers.update(
            {
                "x-attempts": delivery.attempts,
                "x-death-reason": reason[:2000],
                "x-error-class": error_class,
                "x-traceback": (traceback or "")[-_MAX_HEADER_TRACEBACK:],
                "x-died-at": datetime.now(UTC).isoformat(),
            }
        )
        with self._guard("dead-letter"):
            self._declare(self._queue(self.dead_name))
            self._publish(self.dead_name, delivery.body, headers, delivery.message_id)
            delivery.handle.ack()

    @contextmanager
    def _dead_channel(self) -> Iterator[Any]:
        """A separate channel for browsing the dead-letter queue; closing it returns every
        message fetched but not acked."""
        conn = self._connection()
        self._declare(self._queue(self.dead_name))
        channel = conn.channel()
        try:
            yield channel
        finally:
            try:
                channel.close()
            except self._errors():
                logger.debug("error closing the dead-letter channel", exc_info=True)

    def dead_letters(self) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        with self._guard("dead-letter listing"), self._dead_channel() as channel:
            while True:
                raw = channel.basic_get(self.dead_name, no_ack=False)
                if raw is None:
                    break
                out.append(self._dead_letter_of(raw))
        return out

    @staticmethod
    def _dead_letter_of(raw: Any) -> DeadLetter:
        body = raw.body if isinstance(raw.body, bytes) else str(raw.body).encode()
        headers = raw.headers or {}
        props = getattr(raw, "properties", {}) or {}
        return DeadLetter(
            message_id=str(props.get("message_id") or message_id_for(body)),
            body=body,
            reason=str(headers.get("x-death-reason", "")),
            error_class=str(headers.get("x-error-class", "")),
            traceback=headers.get("x-traceback") or None,
        )

    def requeue(self, message_ids: Iterable[str] | None = None) -> list[str]:
        wanted = None if message_ids is None else set(message_ids)
        done: list[str] = []
        with self._guard("requeue"), self._dead_channel() as channel:
            while True:
                raw = channel.basic_get(self.dead_name, no_ack=False)
                if raw is None:
                    break
                letter = self._dead_letter_of(raw)
                if wanted is not None and letter.message_id not in wanted:
                    continue  # left unacked: back in the dead-letter queue when we close
                self._publish_to(letter.body, message_id=letter.message_id, delay=0, headers={})
                channel.basic_ack(raw.delivery_tag)
                done.append(letter.message_id)
        return done

    def depth(self) -> QueueDepth:
        with self._guard("depth"):
            channel = self._connection().default_channel
            self._declare(self._queue(self.name))
            self._declare(self._queue(self.dead_name))
            ready = channel.queue_declare(self.name, passive=True).message_count
            dead = channel.queue_declare(self.dead_name, passive=True).message_count
        # Delayed messages sit in per-delay queues whose names are not tracked; not counted.
        return QueueDepth(ready=int(ready), delayed=0, dead=int(dead))
