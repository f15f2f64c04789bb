"""The worker on a real embedded queue and ledger (SQLite), with in-test ingest functions."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time

import pytest

from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError
from obsarchive.ingester.flow.errors import LedgerError
from obsarchive.ingester.flow.ledger import Ledger, Status
from obsarchive.ingester.flow.messages import Message
from obsarchive.ingester.flow.publish import Publisher
from obsarchive.ingester.flow.queues import TableQueue
from obsarchive.ingester.flow.retry import RetryPolicy
from obsarchive.ingester.flow.worker import Worker, file_md5
from tests.ingester.test_flow_fixtures import MemoryArchive

FAST = RetryPolicy(
    max_attempts=4, unexpected_max_attempts=2, backoff_base=0.05, backoff_cap=0.2, retry_delay=0.05
)


@pytest.fixture
def flow(tmp_path):
    url = f"sqlite:///{tmp_path / 'flow.sqlite3'}"
    queue, ledger = TableQueue(url), Ledger(url)
    yield queue, ledger, Publisher(TableQueue(url), ledger)
    queue.close()
    ledger.close()


def make_files(tmp_path, n, prefix="f"):
    paths = []
    for i in range(n):
        p = tmp_path / f"{prefix}{i}.fits"
        p.write_bytes(f"product {prefix} {i}".encode() * 10)
        paths.append(p)
    return paths


def worker(queue, ledger, ingest, **kw):
    kw.setdefault("policy", FAST)
    kw.setdefault("lease", 5.0)
    kw.setdefault("poll_timeout", 0.1)
    kw.setdefault("service_pause_initial", 0.01)
    kw.setdefault("rng", random.Random(0))
    return Worker(queue, ledger, ingest, **kw)


def test_good_products_are_ingested_recorded_and_acked(flow, tmp_path):
    queue, ledger, publisher = flow
    archive = MemoryArchive()
    ids = [publisher.publish(p) for p in make_files(tmp_path, 3)]
    stats = worker(queue, ledger, archive).run(idle_exit=0.3)
    assert stats.outcomes == {"ingested": 3}
    assert queue.depth().ready == 0
    for mid, path in zip(ids, make_files(tmp_path, 3), strict=True):
        entry = ledger.get(mid)
        assert entry.status is Status.INGESTED
        assert entry.md5 == file_md5(str(path))
        assert entry.frame_id == archive.frames[entry.md5]
        assert entry.attempts == 1


def test_a_duplicate_product_is_already_archived_with_its_md5(flow, tmp_path):
    queue, ledger, publisher = flow
    archive = MemoryArchive()
    (path,) = make_files(tmp_path, 1)
    first, second = publisher.publish(path), publisher.publish(path)
    worker(queue, ledger, archive).run(idle_exit=0.3)
    assert ledger.get(first).status is Status.INGESTED
    entry = ledger.get(second)
    assert entry.status is Status.ALREADY_ARCHIVED
    assert entry.md5 == file_md5(str(path))
    assert entry.frame_id is None
    assert len(archive.frames) == 1


def test_poison_messages_never_block_the_queue(flow, tmp_path):
    queue, ledger, publisher = flow
    archive = MemoryArchive()
    queue.publish(b"{not json", message_id="garbage")
    queue.publish(b'{"filepath": "relative.fits"}', message_id="relative")
    missing = publisher.publish(tmp_path / "missing.fits", must_exist=False)
    (good,) = make_files(tmp_path, 1)
    good_id = publisher.publish(good)
    worker(queue, ledger, archive).run(idle_exit=0.3)

    assert ledger.get(good_id).status is Status.INGESTED
    dead = {letter.message_id: letter for letter in queue.dead_letters()}
    assert set(dead) == {"garbage", "relative", missing}
    assert "not valid JSON" in dead["garbage"].reason
    assert "absolute" in dead["relative"].reason
    assert "FileNotFoundError" in dead[missing].reason
    for mid in dead:
        entry = ledger.get(mid)
        assert entry.status is Status.DEAD
        assert entry.last_error == dead[mid].reason
    assert ledger.get("garbage").body == "{not json"


def test_do_not_retry_is_dead_lettered_with_class_and_traceback(flow, tmp_path):
    queue, ledger, publisher = flow

    def refuse(fileobj, message):
        raise DoNotRetryError("Could not find required keywords in headers!")

    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    worker(queue, ledger, refuse).run(idle_exit=0.3)
    entry = ledger.get(mid)
    assert entry.status is Status.DEAD
    assert entry.error_class == "obsarchive.ingester.exceptions.DoNotRetryError"
    assert "Could not find required keywords" in entry.last_error
    assert "Traceback" in entry.traceback
    (letter,) = queue.dead_letters()
    assert letter.message_id == mid
    assert json.loads(letter.body)["filepath"] == str(path)


def test_backoff_retry_pauses_probes_and_then_succeeds(flow, tmp_path):
    queue, ledger, publisher = flow
    archive = MemoryArchive()
    failures = {"left": 2}
    probes = []

    def flaky(fileobj, message):
        if failures["left"]:
            failures["left"] -= 1
            raise BackoffRetryError("archive down")
        return archive(fileobj, message)

    def probe():
        probes.append(time.monotonic())
        return len(probes) > 1  # the archive is "down" for the first probe

    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    stats = worker(queue, ledger, flaky, probe=probe).run(idle_exit=1.0)
    assert stats.outcomes == {"retry": 2, "ingested": 1}
    entry = ledger.get(mid)
    assert entry.status is Status.INGESTED
    assert entry.attempts == 3
    assert entry.last_error == "BackoffRetryError: archive down"  # history kept
    assert len(probes) >= 2


def test_backoff_retry_gives_up_after_max_attempts(flow, tmp_path):
    queue, ledger, publisher = flow

    def down(fileobj, message):
        raise BackoffRetryError("archive down")

    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    worker(queue, ledger, down).run(idle_exit=1.0)
    entry = ledger.get(mid)
    assert entry.status is Status.DEAD
    assert entry.attempts == FAST.max_attempts
    assert "gave up after 4 attempts" in entry.last_error


def test_an_unexpected_exception_is_retried_then_dead_lettered(flow, tmp_path):
    queue, ledger, publisher = flow
    calls = []

    def buggy(fileobj, message):
        calls.append(1)
        raise KeyError("VersionId")

    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    worker(queue, ledger, buggy).run(idle_exit=0.5)
    assert len(calls) == FAST.unexpected_max_attempts
    entry = ledger.get(mid)
    assert entry.status is Status.DEAD
    assert "unexpected error" in entry.last_error
    assert "KeyError" in entry.traceback


def test_a_message_that_keeps_killing_workers_is_dead_lettered_without_ingesting(flow, tmp_path):
    queue, ledger, publisher = flow
    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    message = Message.from_json(ledger.get(mid).body)
    for _ in range(FAST.max_attempts):  # four starts that never finished (killed workers)
        ledger.begin(mid, message, message.to_json())
    archive = MemoryArchive()
    worker(queue, ledger, archive).run(idle_exit=0.3)
    assert archive.calls == 0
    entry = ledger.get(mid)
    assert entry.status is Status.DEAD
    assert "never finished" in entry.last_error


def test_a_redelivery_of_an_ingested_message_is_only_acked(flow, tmp_path):
    queue, ledger, publisher = flow
    (path,) = make_files(tmp_path, 1)
    mid = publisher.publish(path)
    message = Message.from_json(ledger.get(mid).body)
    ledger.begin(mid, message, message.to_json())
    ledger.finish(mid, Status.INGESTED, md5="c" * 32, frame_id=9)  # then the worker died
    archive = MemoryArchive()
    stats = worker(queue, ledger, archive).run(idle_exit=0.3)
    assert stats.outcomes == {"duplicate": 1}
    assert archive.calls == 0
    assert queue.depth().ready == 0
    assert ledger.get(mid).frame_id == 9


def test_a_long_ingest_keeps_its_lease(flow, tmp_path):
    queue, ledger, publisher = flow
    url = queue.db.url
    thief = TableQueue(url)
    stolen = []

    def slow(fileobj, message):
        for _ in range(5):
            time.sleep(0.15)
            d = thief.get(0.3, timeout=0)
            if d is not None:
                stolen.append(d)
        return MemoryArchive()(fileobj, message)

    (path,) = make_files(tmp_path, 1)
    publisher.publish(path)
    worker(queue, ledger, slow, lease=0.3).run(max_messages=1)
    assert stolen == []
    thief.close()


def test_sigterm_style_stop_finishes_the_current_file(flow, tmp_path):
    queue, ledger, publisher = flow
    started = threading.Event()
    archive = MemoryArchive()
    w = None

    def slow(fileobj, message):
        started.set()
        time.sleep(0.3)
        return archive(fileobj, message)

    ids = [publisher.publish(p) for p in make_files(tmp_path, 3)]
    w = worker(queue, ledger, slow)
    runner = threading.Thread(target=w.run)
    runner.start()
    assert started.wait(5)
    w.request_stop()
    runner.join(5)
    assert not runner.is_alive()
    statuses = [ledger.get(mid).status for mid in ids]
    assert statuses[0] is Status.INGESTED
    assert statuses[1:] == [Status.QUEUED, Status.QUEUED]
    assert queue.depth().ready == 2


class BrokenLedger(Ledger):
    """A ledger whose database is down for the first ``failures`` calls of begin()."""

    def __init__(self, url, failures):
        super().__init__(url)
        self.failures = failures

    def begin(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise LedgerError("database is down")
        return super().begin(*args, **kwargs)


def test_a_ledger_outage_puts_the_message_back_instead_of_losing_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'flow.sqlite3'}"
    queue, ledger = TableQueue(url), BrokenLedger(url, failures=2)
    (path,) = make_files(tmp_path, 1)
    mid = Publisher(TableQueue(url), ledger).publish(path)
    archive = MemoryArchive()
    stats = worker(queue, ledger, archive).run(idle_exit=1.5)
    assert stats.outcomes == {"ledger_error": 2, "ingested": 1}
    assert ledger.get(mid).status is Status.INGESTED
    assert list(archive.frames) == [hashlib.md5(path.read_bytes()).hexdigest()]


class DeadLedgerDown(Ledger):
    """A ledger whose database is down for the first mark_dead()."""

    failures = 1

    def mark_dead(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise LedgerError("database is down")
        return super().mark_dead(*args, **kwargs)


def test_a_bad_message_is_not_dropped_while_the_ledger_is_down(tmp_path):
    url = f"sqlite:///{tmp_path / 'flow.sqlite3'}"
    queue, ledger = TableQueue(url), DeadLedgerDown(url)
    queue.publish(b"{broken", message_id="broken")
    stats = worker(queue, ledger, MemoryArchive()).run(idle_exit=1.5)
    assert stats.outcomes == {"ledger_error": 1, "dead": 1}
    assert ledger.get("broken").status is Status.DEAD
    assert [letter.message_id for letter in queue.dead_letters()] == ["broken"]
