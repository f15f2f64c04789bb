"""One contract suite for every queue backend: SQLite and PostgreSQL table queues, RabbitMQ."""

from __future__ import annotations

import time

import pytest

from obsarchive.ingester.flow.amqp import AmqpQueue
from obsarchive.ingester.flow.queues import IngestQueue, TableQueue, open_queue
from tests.conftest import require_service
from tests.ingester.test_flow_fixtures import (
    AMQP_URL,
    delete_amqp_queues,
    drop_pg_database,
    make_pg_database,
)

LEASE = 0.6


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("amqp", marks=pytest.mark.rabbitmq),
    ]
)
def backend(request, tmp_path):
    """A factory of queue handles (several handles = several consumers) on one queue."""
    handles: list[IngestQueue] = []
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
        cleanup = None
    elif request.param == "postgresql":
        url, dbname = make_pg_database()
        cleanup = lambda: drop_pg_database(dbname)  # noqa: E731
    else:
        require_service("RabbitMQ", "127.0.0.1", 5672)
        url = AMQP_URL
        name = f"test-contract-{time.monotonic_ns()}"
        cleanup = lambda: delete_amqp_queues(name)  # noqa: E731

    def make() -> IngestQueue:
        q = open_queue(url, name if request.param == "amqp" else "ingest")
        handles.append(q)
        return q

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for q in handles:
        q.close()
    if cleanup:
        cleanup()


def wait_get(q: IngestQueue, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = q.get(LEASE, timeout=0.2)
        if d is not None:
            return d
    return None


def test_open_queue_picks_the_backend(tmp_path):
    assert isinstance(open_queue(f"sqlite:///{tmp_path}/q.sqlite3"), TableQueue)
    assert isinstance(open_queue("amqp://guest:guest@127.0.0.1:5672//"), AmqpQueue)
    from obsarchive.ingester.flow.errors import FlowConfigurationError

    with pytest.raises(FlowConfigurationError):
        open_queue("redis://127.0.0.1/")


def test_publish_get_ack(backend):
    q = backend()
    q.publish(b'{"filepath": "/a"}', message_id="m1")
    d = wait_get(q)
    assert d is not None
    assert (d.message_id, d.body, d.attempts) == ("m1", b'{"filepath": "/a"}', 1)
    q.ack(d)
    assert q.get(LEASE, timeout=0.3) is None


def test_get_waits_at_most_the_timeout(backend):
    q = backend()
    start = time.monotonic()
    assert q.get(LEASE, timeout=0.3) is None
    assert time.monotonic() - start < 2.0


def test_fifo_order(backend):
    q = backend()
    for i in range(5):
        q.publish(f'{{"filepath": "/{i}"}}'.encode(), message_id=f"m{i}")
    seen = []
    for _ in range(5):
        d = wait_get(q)
        seen.append(d.message_id)
        q.ack(d)
    assert seen == [f"m{i}" for i in range(5)]


def test_retry_later_hides_the_message_for_the_delay(backend):
    q = backend()
    q.publish(b'{"filepath": "/a"}', message_id="m1")
    d = wait_get(q)
    start = time.monotonic()
    q.retry_later(d, 1.0, "BackoffRetryError: down")
    assert q.get(LEASE, timeout=0.5) is None
    again = wait_get(q, timeout=6.0)
    assert again is not None
    assert time.monotonic() - start >= 0.9
    assert again.message_id == "m1"
    assert again.body == b'{"filepath": "/a"}'
    assert again.attempts == 2
    q.ack(again)


def test_dead_letters_keep_their_reason_and_can_be_requeued(backend):
    q = backend()
    q.publish(b'{"filepath": "/a"}', message_id="m1")
    q.publish(b'{"filepath": "/b"}', message_id="m2")
    for _ in range(2):
        d = wait_get(q)
        q.dead_letter(d, f"DoNotRetryError: bad {d.message_id}", "x.DoNotRetryError", "Traceback")
    assert q.get(LEASE, timeout=0.3) is None
    letters = {letter.message_id: letter for letter in q.dead_letters()}
    assert set(letters) == {"m1", "m2"}
    assert letters["m1"].reason == "DoNotRetryError: bad m1"
    assert letters["m1"].error_class == "x.DoNotRetryError"
    assert letters["m1"].traceback == "Traceback"
    assert letters["m2"].body == b'{"filepath": "/b"}'
    # listing does not consume
    assert {letter.message_id for letter in q.dead_letters()} == {"m1", "m2"}

    assert q.requeue(["m2"]) == ["m2"]
    d = wait_get(q)
    assert d.message_id == "m2"
    assert d.attempts == 1  # a requeued message starts afresh
    q.ack(d)
    assert [letter.message_id for letter in q.dead_letters()] == ["m1"]
    assert q.requeue() == ["m1"]
    assert q.dead_letters() == []
    assert wait_get(q).message_id == "m1"


def test_an_unacked_message_goes_to_another_consumer_after_the_first_goes_away(backend):
    first, second = backend(), backend()
    first.publish(b'{"filepath": "/a"}', message_id="m1")
    d = wait_get(first)
    assert d is not None
    first.close()  # like a dead worker: no ack (the table queue waits for the lease to expire)
    again = wait_get(second, timeout=5.0)
    assert again is not None
    assert again.message_id == "m1"
    assert again.redelivered
    second.ack(again)


def test_two_consumers_never_get_the_same_message(backend):
    a, b = backend(), backend()
    for i in range(6):
        a.publish(f'{{"filepath": "/{i}"}}'.encode(), message_id=f"m{i}")
    got: list[str] = []
    # Take turns, but a broker may hand one consumer its whole prefetch first, so a turn that
    # finds nothing just passes to the other consumer (bounded: the deadline ends the loop).
    deadline = time.monotonic() + 15.0
    consumers = (a, b)
    turn = 0
    while len(got) < 6 and time.monotonic() < deadline:
        consumer = consumers[turn % 2]
        turn += 1
        d = consumer.get(LEASE, timeout=0.2)
        if d is None:
            continue
        got.append(d.message_id)
        consumer.ack(d)
    assert sorted(got) == [f"m{i}" for i in range(6)]


def test_depth_counts_ready_and_dead(backend):
    q = backend()
    q.publish(b'{"filepath": "/a"}', message_id="m1")
    q.publish(b'{"filepath": "/b"}', message_id="m2")
    d = wait_get(q)
    q.dead_letter(d, "bad", "X", None)
    q.close()  # a consumer's prefetched messages are not "waiting"; release them first
    if backend.kind == "amqp":
        time.sleep(0.2)  # queue counters are updated asynchronously by the broker
    depth = backend().depth()
    assert depth.dead == 1
    assert depth.ready == 1


def test_table_queue_publish_is_idempotent_per_message_id(tmp_path):
    q = TableQueue(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    q.publish(b'{"filepath": "/a"}', message_id="same")
    q.publish(b'{"filepath": "/a"}', message_id="same")
    assert q.depth().ready == 1


def test_table_queue_lease_extension_keeps_the_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    a, b = TableQueue(url), TableQueue(url)
    a.publish(b'{"filepath": "/a"}', message_id="m1")
    d = a.get(0.5, timeout=1)
    for _ in range(3):
        time.sleep(0.3)
        assert a.extend(d, 0.5)
    assert b.get(0.5, timeout=0.1) is None
    time.sleep(0.6)
    stolen = b.get(0.5, timeout=1)
    assert stolen is not None
    # the first holder lost its lease: its ack must not delete the new holder's lease
    assert not a.extend(d, 0.5)
    a.ack(d)
    assert b.depth().ready == 0
    b.ack(stolen)
    assert b.get(0.5, timeout=0.1) is None
