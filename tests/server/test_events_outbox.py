"""The post-ingest ``archived_fits`` event: transactional outbox and RabbitMQ publishing.

Broker tests use the real RabbitMQ on 127.0.0.1:5672 with an exchange name unique to the test,
so concurrent runs never see each other's messages. A "down" broker is a closed local port.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from obsarchive.server.events.config import EventSettings, load_event_settings
from obsarchive.server.events.errors import EventsDisabledError
from obsarchive.server.events.models import OutboxEvent
from obsarchive.server.events.outbox import archived_fits_body, enqueue_archived_fits
from obsarchive.server.events.publisher import publish_pending, reset_publishers
from obsarchive.server.frames.models import Frame, Headers, Version
from tests.conftest import require_service

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
AREA = {
    "type": "Polygon",
    "coordinates": [[[10.0, -5.0], [10.0, 5.0], [20.0, 5.0], [20.0, -5.0], [10.0, -5.0]]],
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_publishers() -> Iterator[None]:
    reset_publishers()
    yield
    reset_publishers()


def _make_frame(basename: str = "ogg2m001-fs02-20240101-0001-e91", md5: str = "a" * 32) -> Any:
    frame = Frame.objects.create(
        basename=basename,
        area=AREA,
        observation_date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        observation_day=date(2024, 1, 1),
        proposal_id="LCO2024A-001",
        instrument_id="fs02",
        site_id="ogg",
        telescope_id="2m0a",
        configuration_type="EXPOSE",
        reduction_level=91,
    )
    Headers.objects.create(
        frame=frame, data={"INSTRUME": "fs02", "SITEID": "ogg", "RLEVEL": 91, "EXPTIME": 30.5}
    )
    version = Version.objects.create(frame=frame, key=f"key-{md5}", md5=md5, extension=".fits.fz")
    return frame, version


class Consumer:
    """An exclusive queue bound to a fan-out exchange; ``get`` waits for the next message."""

    def __init__(self, exchange_name: str) -> None:
        from kombu import Connection, Exchange, Queue

        self.connection = Connection(AMQP_URL, connect_timeout=5)
        self.connection.connect()
        exchange = Exchange(exchange_name, type="fanout", durable=True)
        self.queue = Queue(
            f"test-{uuid.uuid4().hex}", exchange=exchange, exclusive=True, auto_delete=True
        )
        self.bound = self.queue(self.connection.default_channel)
        self.bound.declare()

    def get(self, timeout: float = 5.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.bound.get(no_ack=True)
            if message is not None:
                assert message.properties.get("delivery_mode") == 2  # persistent
                return json.loads(message.body)
            time.sleep(0.05)
        return None

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def rabbit(settings: Any) -> Iterator[tuple[EventSettings, Consumer]]:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    config = EventSettings(broker_url=AMQP_URL, exchange_name=f"archived_fits_{uuid.uuid4().hex}")
    settings.OBSARCHIVE_EVENTS = config
    consumer = Consumer(config.exchange_name)
    yield config, consumer
    consumer.close()


# --- configuration --------------------------------------------------------------------------


def test_settings_default_is_no_broker() -> None:
    config = load_event_settings({})
    assert config.broker_url is None
    assert not config.enabled
    assert config.exchange_name == "archived_fits"


def test_settings_from_environment() -> None:
    config = load_event_settings(
        {
            "QUEUE_BROKER_URL": AMQP_URL,
            "PROCESSED_EXCHANGE_NAME": "my_fits",
            "PROCESSED_EXCHANGE_ENABLED": "false",
        }
    )
    assert config.broker_url == AMQP_URL and config.exchange_name == "my_fits"
    assert not config.enabled


def test_settings_reject_bad_boolean() -> None:
    from obsarchive.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="PROCESSED_EXCHANGE_ENABLED"):
        load_event_settings({"PROCESSED_EXCHANGE_ENABLED": "perhaps"})


# --- message body and outbox rows -------------------------------------------------------------


@pytest.mark.django_db
def test_body_is_ocs_archived_fits_message() -> None:
    frame, version = _make_frame()
    body = archived_fits_body(frame, version)
    assert body["INSTRUME"] == "fs02" and body["EXPTIME"] == 30.5  # a copy of the headers
    assert json.loads(body["area"]) == AREA  # GeoJSON *string*, as upstream
    assert body["basename"] == frame.basename
    assert body["version_set"] == [
        {"key": "key-" + "a" * 32, "md5": "a" * 32, "extension": ".fits.fz"}
    ]
    assert body["filename"] == frame.basename + ".fits.fz"
    assert body["frameid"] == frame.pk


@pytest.mark.django_db
def test_body_without_area_or_headers() -> None:
    frame = Frame.objects.create(basename="bare-frame")
    body = archived_fits_body(frame, [])
    assert body == {
        "area": None,
        "basename": "bare-frame",
        "version_set": [],
        "filename": "",
        "frameid": frame.pk,
    }


@pytest.mark.django_db
def test_no_broker_records_nothing(settings: Any) -> None:
    settings.OBSARCHIVE_EVENTS = EventSettings()
    frame, version = _make_frame()
    assert enqueue_archived_fits(frame, version) is None
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db
def test_empty_version_set_records_nothing(settings: Any) -> None:
    settings.OBSARCHIVE_EVENTS = EventSettings(broker_url="memory://localhost")
    frame, _ = _make_frame()
    assert enqueue_archived_fits(frame, []) is None
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_rollback_leaves_no_event(settings: Any) -> None:
    settings.OBSARCHIVE_EVENTS = EventSettings(broker_url=f"amqp://127.0.0.1:{_closed_port()}//")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        frame, version = _make_frame()
        enqueue_archived_fits(frame, version)
        assert OutboxEvent.objects.count() == 1
        raise Abort
    assert OutboxEvent.objects.count() == 0
    assert Frame.objects.count() == 0


@pytest.mark.django_db
def test_publish_pending_without_broker_is_an_error(settings: Any) -> None:
    settings.OBSARCHIVE_EVENTS = EventSettings()
    with pytest.raises(EventsDisabledError):
        publish_pending()


# --- real RabbitMQ ------------------------------------------------------------------------------


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_event_arrives_after_commit_only(rabbit: tuple[EventSettings, Consumer]) -> None:
    _, consumer = rabbit
    with transaction.atomic():
        frame, version = _make_frame()
        event = enqueue_archived_fits(frame, version)
        assert event is not None
        # Not yet committed: nothing may have been sent.
        assert consumer.get(timeout=0.3) is None
    message = consumer.get()
    assert message is not None
    assert message["frameid"] == frame.pk
    assert message["filename"] == frame.basename + ".fits.fz"
    assert message["SITEID"] == "ogg"
    event.refresh_from_db()
    assert event.published_at is not None and event.attempts == 1
    assert consumer.get(timeout=0.3) is None  # exactly one message


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_no_event_on_rollback(rabbit: tuple[EventSettings, Consumer]) -> None:
    _, consumer = rabbit
    with pytest.raises(RuntimeError), transaction.atomic():
        frame, version = _make_frame()
        enqueue_archived_fits(frame, version)
        raise RuntimeError("ingest failed")
    assert consumer.get(timeout=0.5) is None
    assert OutboxEvent.objects.count() == 0


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_broker_down_event_pending_then_republished(
    rabbit: tuple[EventSettings, Consumer], settings: Any
) -> None:
    live, consumer = rabbit
    down = dataclasses.replace(live, broker_url=f"amqp://guest:guest@127.0.0.1:{_closed_port()}//")
    settings.OBSARCHIVE_EVENTS = down
    with transaction.atomic():
        frame, version = _make_frame()
        enqueue_archived_fits(frame, version)
    # The ingest committed; the event is kept with the failure recorded.
    assert Frame.objects.filter(pk=frame.pk).exists()
    event = OutboxEvent.objects.get()
    assert event.published_at is None and event.attempts == 1
    assert "connect" in event.last_error.lower() or "refused" in event.last_error.lower()
    # A second ingest while the broker is down does not even try (cooldown): no added latency.
    started = time.monotonic()
    with transaction.atomic():
        other, other_version = _make_frame("ogg2m001-fs02-20240101-0002-e91", md5="b" * 32)
        enqueue_archived_fits(other, other_version)
    assert time.monotonic() - started < 1.0
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 2
    # The broker is back: the operator's publish sends both, oldest first.
    report = publish_pending(live, include_delayed=True)
    assert (report.published, report.failed, report.pending) == (2, 0, 0)
    first, second = consumer.get(), consumer.get()
    assert first is not None and second is not None
    assert [first["frameid"], second["frameid"]] == [frame.pk, other.pk]
    assert consumer.get(timeout=0.3) is None


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_backoff_respected_unless_forced(rabbit: tuple[EventSettings, Consumer]) -> None:
    live, consumer = rabbit
    frame, version = _make_frame()
    down = dataclasses.replace(live, broker_url=f"amqp://127.0.0.1:{_closed_port()}//")
    with transaction.atomic():
        enqueue_archived_fits(frame, version)  # settings: live broker, published at once
    assert consumer.get() is not None
    OutboxEvent.objects.update(published_at=None, available_at=None)  # as if never sent
    report = publish_pending(down)
    assert (report.published, report.failed, report.pending) == (0, 1, 1)
    # The failed event now waits for its backoff: a plain run skips it...
    assert publish_pending(live).published == 0
    # ...an operator's "now" does not.
    assert publish_pending(live, include_delayed=True).published == 1
    assert consumer.get() is not None


# --- the CLI, as an operator runs it ---------------------------------------------------------


def _obsarchive(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> Any:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "QUEUE_BROKER_URL"}
    }
    env.update({"OBSARCHIVE_HOME": str(home), "SECRET_KEY": "cli-test-secret"})
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "obsarchive.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_cli_events_publish_drains_outbox(tmp_path: Path) -> None:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    exchange = f"archived_fits_{uuid.uuid4().hex}"
    env = {"QUEUE_BROKER_URL": AMQP_URL, "PROCESSED_EXCHANGE_NAME": exchange}
    assert _obsarchive(tmp_path, "manage", "migrate", "-v0").returncode == 0
    create = (
        "from obsarchive.server.events.models import OutboxEvent as E;"
        f"E.objects.create(exchange='{exchange}', frame_id=7,"
        " body={'frameid': 7, 'basename': 'x'})"
    )
    assert _obsarchive(tmp_path, "manage", "shell", "-c", create).returncode == 0
    status = _obsarchive(tmp_path, "events", "status")
    assert status.returncode == 0 and "pending 1" in status.stdout
    # Without a broker configured the command refuses clearly.
    refused = _obsarchive(tmp_path, "events", "publish")
    assert refused.returncode == 1 and "QUEUE_BROKER_URL" in refused.stderr
    consumer = Consumer(exchange)
    try:
        published = _obsarchive(tmp_path, "events", "publish", extra_env=env)
        assert published.returncode == 0, published.stderr
        assert "published 1, failed 0, pending 0" in published.stdout
        assert consumer.get() == {"frameid": 7, "basename": "x"}
    finally:
        consumer.close()
    down = {**env, "QUEUE_BROKER_URL": f"amqp://127.0.0.1:{_closed_port()}//"}
    assert _obsarchive(tmp_path, "manage", "shell", "-c", create).returncode == 0
    failed = _obsarchive(tmp_path, "events", "publish", extra_env=down)
    assert failed.returncode == 75 and "failed 1, pending 1" in failed.stdout
