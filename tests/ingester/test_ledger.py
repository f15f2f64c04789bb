"""The ingestion ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from obsarchive.ingester.flow.errors import LedgerError
from obsarchive.ingester.flow.ledger import Ledger, Status, dumps_entries
from obsarchive.ingester.flow.messages import Message
from tests.ingester.test_flow_fixtures import flow_db_url  # noqa: F401  (fixture)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger(flow_db_url):  # noqa: F811
    with Ledger(flow_db_url) as ledger:
        yield ledger


def msg(name="a.fits", mid="m1"):
    return Message(filepath=f"/data/{name}", message_id=mid)


def test_a_message_goes_from_queued_to_ingested(ledger):
    m = msg()
    ledger.record_queued("m1", m, now=T0)
    entry = ledger.get("m1")
    assert entry.status is Status.QUEUED
    assert entry.attempts == 0
    assert entry.filepath == "/data/a.fits"
    assert entry.basename == "a.fits"
    assert json.loads(entry.body)["filepath"] == "/data/a.fits"
    assert entry.queued_at == T0

    previous, attempt = ledger.begin("m1", m, m.to_json(), now=T0 + timedelta(seconds=1))
    assert (previous, attempt) == (Status.QUEUED, 1)
    assert ledger.get("m1").status is Status.INGESTING

    ledger.finish("m1", Status.INGESTED, md5="0" * 32, frame_id=42, now=T0 + timedelta(seconds=2))
    entry = ledger.get("m1")
    assert entry.status is Status.INGESTED
    assert (entry.md5, entry.frame_id) == ("0" * 32, 42)
    assert entry.started_at == T0 + timedelta(seconds=1)
    assert entry.finished_at == T0 + timedelta(seconds=2)
    assert entry.updated_at.tzinfo is not None


def test_record_queued_never_overwrites_a_worker_row(ledger):
    m = msg()
    ledger.begin("m1", m, m.to_json())
    ledger.record_queued("m1", m)  # the producer's note arrives late
    assert ledger.get("m1").status is Status.INGESTING


def test_attempts_count_every_start_including_crashed_ones(ledger):
    m = msg()
    for expected in (1, 2, 3):
        _, attempt = ledger.begin("m1", m, m.to_json())
        assert attempt == expected
    assert ledger.get("m1").attempts == 3


def test_already_archived_never_replaces_ingested(ledger):
    m = msg()
    ledger.begin("m1", m, m.to_json())
    ledger.finish("m1", Status.INGESTED, md5="a" * 32, frame_id=7)
    previous, _ = ledger.begin("m1", m, m.to_json())  # redelivered after a crash before ack
    assert previous is Status.INGESTED
    assert ledger.get("m1").status is Status.INGESTED
    ledger.finish("m1", Status.ALREADY_ARCHIVED, md5="a" * 32)
    entry = ledger.get("m1")
    assert (entry.status, entry.frame_id) == (Status.INGESTED, 7)


def test_finish_refuses_a_failure_status(ledger):
    with pytest.raises(ValueError, match="success"):
        ledger.finish("m1", Status.DEAD)


def test_retrying_then_dead_keeps_reason_class_and_traceback(ledger):
    m = msg()
    ledger.begin("m1", m, m.to_json())
    later = T0 + timedelta(minutes=5)
    ledger.mark_retrying("m1", "BackoffRetryError: down", "x.BackoffRetryError", later)
    entry = ledger.get("m1")
    assert entry.status is Status.RETRYING
    assert entry.next_attempt_at == later
    assert entry.last_error == "BackoffRetryError: down"

    ledger.mark_dead("m1", "DoNotRetryError: bad", "x.DoNotRetryError", "Traceback ...\n" * 5000)
    entry = ledger.get("m1")
    assert entry.status is Status.DEAD
    assert entry.error_class == "x.DoNotRetryError"
    assert entry.next_attempt_at is None
    assert len(entry.traceback) <= 20000  # clipped, not unbounded
    assert entry.traceback.endswith("(truncated)")


def test_mark_dead_creates_a_row_for_an_unparseable_message(ledger):
    ledger.mark_dead("sha1-x", "MessageError: not JSON", "MessageError", None, body=b"\xffgarbage")
    entry = ledger.get("sha1-x")
    assert entry.status is Status.DEAD
    assert entry.filepath == ""
    assert "garbage" in entry.body


def test_retrying_does_not_undo_a_success(ledger):
    m = msg()
    ledger.begin("m1", m, m.to_json())
    ledger.finish("m1", Status.INGESTED, md5="b" * 32, frame_id=1)
    ledger.mark_retrying("m1", "late", "X", T0)
    assert ledger.get("m1").status is Status.INGESTED


def test_requeue_resets_dead_rows_only(ledger):
    for mid in ("d1", "d2", "ok"):
        m = msg(f"{mid}.fits", mid)
        ledger.begin(mid, m, m.to_json())
    ledger.mark_dead("d1", "bad", "X", None)
    ledger.mark_dead("d2", "bad", "X", None)
    ledger.finish("ok", Status.INGESTED, frame_id=3)
    assert ledger.mark_requeued(["d1", "ok", "missing"]) == 1
    assert ledger.get("d1").status is Status.QUEUED
    assert ledger.get("d1").attempts == 0
    assert ledger.get("d2").status is Status.DEAD
    assert ledger.get("ok").status is Status.INGESTED


def test_entries_filter_order_limit_counts_and_json(ledger):
    for i in range(5):
        m = msg(f"f{i}.fits", f"m{i}")
        ledger.record_queued(f"m{i}", m, now=T0 + timedelta(seconds=i))
    ledger.begin("m4", msg("f4.fits", "m4"), b"{}", now=T0 + timedelta(seconds=10))
    ledger.mark_dead("m4", "bad", "X", None, now=T0 + timedelta(seconds=11))
    assert [e.message_id for e in ledger.entries(Status.QUEUED)] == ["m3", "m2", "m1", "m0"]
    assert [e.message_id for e in ledger.entries("queued", limit=2, newest_first=False)] == [
        "m0",
        "m1",
    ]
    assert [e.message_id for e in ledger.entries()][:1] == ["m4"]
    counts = ledger.counts()
    assert counts[Status.QUEUED] == 4
    assert counts[Status.DEAD] == 1
    assert counts[Status.INGESTED] == 0
    data = json.loads(dumps_entries(ledger.entries(Status.DEAD)))
    assert data[0]["status"] == "dead"
    assert data[0]["updated_at"].startswith("2024-05-01T12:00:11")


def test_unknown_status_filter_is_a_value_error(ledger):
    with pytest.raises(ValueError):
        ledger.entries("finished")


def test_watched_files_memory(ledger):
    assert ledger.watched_files("/in") == {}
    ledger.remember_watched_file("/in/a.fits", 10, 111, "m1")
    ledger.remember_watched_file("/elsewhere/b.fits", 10, 111, "m2")
    ledger.remember_watched_file("/in/a.fits", 20, 222, "m3")  # rewritten in place
    assert ledger.watched_files("/in") == {"/in/a.fits": (20, 222)}


def test_the_ledger_survives_reopening(flow_db_url):  # noqa: F811
    m = msg()
    with Ledger(flow_db_url) as first:
        first.record_queued("m1", m)
    with Ledger(flow_db_url) as second:
        assert second.get("m1").status is Status.QUEUED


def test_an_unreachable_database_is_a_ledger_error(tmp_path):
    ledger = Ledger("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(LedgerError, match=r"127\.0\.0\.1"):
        ledger.counts()
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(LedgerError):
        Ledger(f"sqlite:///{blocked}/x.sqlite3").counts()
