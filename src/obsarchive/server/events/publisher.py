"""Publishing outbox events to the broker (RabbitMQ through kombu in production).

Delivery is at least once: an event is marked published only after the broker confirmed it
(publisher confirms on AMQP), so a crash between the confirm and the mark sends it again.
Consumers key their records by ``frameid``, which makes a repeat harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from obsarchive.server.events.config import EventSettings, current_event_settings
from obsarchive.server.events.errors import BrokerUnavailableError, EventsDisabledError
from obsarchive.server.events.models import OutboxEvent

__all__ = [
    "BrokerPublisher",
    "PublishReport",
    "pending_count",
    "publish_now",
    "publish_pending",
    "publish_selected",
]

logger = logging.getLogger(__name__)

# How long a claimed event is reserved for the publisher that claimed it.
CLAIM_SECONDS = 60.0


class BrokerPublisher:
    """One kombu connection to the broker, opened on first use and reused.

    Not thread-safe by itself; :func:`publish_now` serialises access with a lock.
    """

    def __init__(self, settings: EventSettings) -> None:
        if not settings.broker_url:
            raise EventsDisabledError("QUEUE_BROKER_URL is not set")
        self._settings = settings
        self._connection: Any = None
        self._producer: Any = None

    @property
    def settings(self) -> EventSettings:
        return self._settings

    def _ensure_producer(self) -> Any:
        from kombu import Connection

        if self._producer is not None:
            return self._producer
        connection = Connection(
            self._settings.broker_url,
            connect_timeout=self._settings.connect_timeout,
            # Without confirms a message the broker drops while we mark it published is lost.
            transport_options={"confirm_publish": True},
        )
        try:
            connection.connect()
            producer = connection.Producer(serializer="json")
        except Exception as exc:
            connection.release()
            raise BrokerUnavailableError(f"cannot connect to the broker: {exc}") from exc
        self._connection = connection
        self._producer = producer
        return producer

    def publish(self, exchange_name: str, body: dict[str, Any], routing_key: str = "") -> None:
        """Publish one persistent JSON message to a durable fan-out exchange.

        Raises
        ------
        BrokerUnavailableError
            The broker is unreachable or refused/failed to confirm the message.
        """
        from kombu import Exchange

        producer = self._ensure_producer()
        exchange = Exchange(exchange_name, type="fanout", durable=True)
        try:
            producer.publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                delivery_mode=2,  # persistent
                declare=[exchange],
                retry=False,  # the outbox is the retry mechanism
                timeout=self._settings.publish_timeout,
            )
        except Exception as exc:
            # A broken connection is not reused: the next publish reconnects.
            self.close()
            raise BrokerUnavailableError(f"publishing to {exchange_name!r} failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - kombu/amqp close errors on a dead link
                logger.debug("ignoring an error while closing the broker connection")


@dataclass(frozen=True)
class PublishReport:
    """What one publishing round did."""

    published: int
    failed: int
    pending: int


def _backoff(attempts: int, settings: EventSettings) -> timedelta:
    return timedelta(seconds=min(settings.max_backoff, 2.0 ** min(attempts, 16)))


def _claim(event_id: int, now: datetime) -> bool:
    """Reserve a pending, available event for this publisher (one atomic UPDATE)."""
    claimed = (
        OutboxEvent.objects.filter(pk=event_id, published_at__isnull=True)
        .filter(Q(available_at__isnull=True) | Q(available_at__lte=now))
        .update(available_at=now + timedelta(seconds=CLAIM_SECONDS))
    )
    return claimed == 1


def _publish_one(event_id: int, publisher: BrokerPublisher, now: datetime) -> bool:
    """Claim and publish one event; True when published, False when not claimed."""
    if not _claim(event_id, now):
        return False
    event = OutboxEvent.objects.filter(pk=event_id, published_at__isnull=True).first()
    if event is None:
        return False
    try:
        publisher.publish(event.exchange, event.body, event.routing_key)
    except BrokerUnavailableError as exc:
        attempts = event.attempts + 1
        OutboxEvent.objects.filter(pk=event_id).update(
            attempts=attempts,
            last_error=str(exc)[:2000],
            available_at=timezone.now() + _backoff(attempts, publisher.settings),
        )
        raise
    OutboxEvent.objects.filter(pk=event_id).update(
        published_at=timezone.now(), attempts=event.attempts + 1, last_error=""
    )
    logger.info("published event %s to %s (frame %s)", event_id, event.exchange, event.frame_id)
    return True


def pending_count() -> int:
    """Number of events not yet published."""
    return OutboxEvent.objects.filter(published_at__isnull=True).count()


def publish_pending(
    settings: EventSettings | None = None,
    *,
    limit: int | None = None,
    include_delayed: bool = False,
    publisher: BrokerPublisher | None = None,
) -> PublishReport:
    """Publish pending outbox events, oldest first, until done or the broker fails.

    Parameters
    ----------
    settings
        Defaults to the Django settings in force.
    limit
        Publish at most this many events.
    include_delayed
        Also publish events whose retry backoff has not expired yet (an operator's "now").
    publisher
        An existing publisher to reuse (a new one is created and closed otherwise).

    Raises
    ------
    EventsDisabledError
        No broker is configured.
    """
    config = settings or current_event_settings()
    if not config.broker_url:
        raise EventsDisabledError("QUEUE_BROKER_URL is not set: there is no broker to publish to")
    own = publisher is None
    active = publisher or BrokerPublisher(config)
    published = failed = 0
    try:
        last_id = 0
        while limit is None or published < limit:
            now = timezone.now()
            candidates = OutboxEvent.objects.filter(published_at__isnull=True, pk__gt=last_id)
            if not include_delayed:
                candidates = candidates.filter(
                    Q(available_at__isnull=True) | Q(available_at__lte=now)
                )
            batch = list(
                candidates.order_by("pk").values_list("pk", flat=True)[: config.batch_size]
            )
            if not batch:
                break
            for event_id in batch:
                last_id = event_id
                if limit is not None and published >= limit:
                    break
                if include_delayed:
                    # An operator asked for it now: drop its backoff. A concurrent publisher
                    # holding it may send it too; delivery is at least once anyway.
                    OutboxEvent.objects.filter(pk=event_id, published_at__isnull=True).update(
                        available_at=None
                    )
                try:
                    if _publish_one(event_id, active, now):
                        published += 1
                except BrokerUnavailableError as exc:
                    failed += 1
                    logger.warning("broker unavailable, %s stays pending: %s", event_id, exc)
                    return PublishReport(published, failed, pending_count())
    finally:
        if own:
            active.close()
    return PublishReport(published, failed, pending_count())


# --- immediate publishing after commit -------------------------------------------------------

_lock = threading.Lock()
_publishers: dict[str, BrokerPublisher] = {}
_cooldown_until: float = 0.0


def _shared_publisher(settings: EventSettings) -> BrokerPublisher:
    key = repr(settings)
    publisher = _publishers.get(key)
    if publisher is None:
        publisher = BrokerPublisher(settings)
        _publishers[key] = publisher
    return publisher


def reset_publishers() -> None:
    """Close the process-wide connections and forget any failure cooldown (tests, forks)."""
    global _cooldown_until
    with _lock:
        for publisher in _publishers.values():
            publisher.close()
        _publishers.clear()
        _cooldown_until = 0.0


def publish_now(event_ids: Sequence[int], settings: EventSettings | None = None) -> int:
    """Try to publish freshly committed events at once; failures leave them pending.

    After a broker failure, immediate attempts are skipped for ``failure_cooldown`` seconds so
    that a down broker costs one connect timeout, not one per ingest.

    Returns
    -------
    int
        The number of events published.
    """
    global _cooldown_until
    config = settings or current_event_settings()
    if not config.enabled:
        return 0
    if time.monotonic() < _cooldown_until:
        logger.info("broker recently unavailable; events %s left pending", list(event_ids))
        return 0
    published = 0
    with _lock:
        publisher = _shared_publisher(config)
        for event_id in event_ids:
            try:
                if _publish_one(event_id, publisher, timezone.now()):
                    published += 1
            except BrokerUnavailableError as exc:
                _cooldown_until = time.monotonic() + config.failure_cooldown
                logger.warning(
                    "broker unavailable; event %s stays pending in the outbox: %s", event_id, exc
                )
                break
    return published


def publish_selected(event_ids: Sequence[int], settings: EventSettings | None = None) -> int:
    """Publish the given pending events now, ignoring their retry backoff (operator action).

    Raises
    ------
    EventsDisabledError
        No broker is configured.
    BrokerUnavailableError
        The broker failed; the events not yet published stay pending.
    """
    config = settings or current_event_settings()
    if not config.broker_url:
        raise EventsDisabledError("QUEUE_BROKER_URL is not set: there is no broker to publish to")
    publisher = BrokerPublisher(config)
    published = 0
    try:
        for event_id in event_ids:
            OutboxEvent.objects.filter(pk=event_id, published_at__isnull=True).update(
                available_at=None
            )
            if _publish_one(event_id, publisher, timezone.now()):
                published += 1
    finally:
        publisher.close()
    return published
