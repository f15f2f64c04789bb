"""The watcher: publish each product once it is completely written, never twice."""

from __future__ import annotations

import os
import threading
import time

import pytest

from obsarchive.ingester.flow.ledger import Ledger, Status
from obsarchive.ingester.flow.messages import Message
from obsarchive.ingester.flow.publish import Publisher
from obsarchive.ingester.flow.queues import TableQueue
from obsarchive.ingester.flow.watch import Watcher


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'flow.sqlite3'}"
    queue, ledger = TableQueue(url), Ledger(url)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    yield incoming, queue, ledger, url
    queue.close()
    ledger.close()


def published_paths(queue):
    paths = []
    while (d := queue.get(60, timeout=0)) is not None:
        paths.append(Message.from_json(d.body).filepath)
        queue.ack(d)
    return paths


def make_watcher(incoming, url, ledger, clock, settle=2.0, **kw):
    return Watcher(
        incoming,
        Publisher(TableQueue(url), ledger),
        ledger,
        settle=settle,
        clock=clock,
        wall_clock=lambda: time.time() + 3600,  # every file looks old enough by default
        **kw,
    )


def test_a_file_is_published_once_it_has_settled_and_only_once(setup):
    incoming, queue, ledger, url = setup
    clock = Clock()
    watcher = make_watcher(incoming, url, ledger, clock)
    product = incoming / "a.fits.fz"
    product.write_bytes(b"x" * 100)
    assert watcher.scan_once() == []  # first sight
    clock.now += 1.0
    assert watcher.scan_once() == []  # not settled yet
    clock.now += 1.5
    assert watcher.scan_once() == [str(product)]
    clock.now += 10
    assert watcher.scan_once() == []
    assert published_paths(queue) == [str(product)]
    (entry,) = ledger.entries()
    assert entry.status is Status.QUEUED
    assert entry.filepath == str(product)


def test_a_growing_file_waits_until_it_stops_changing(setup):
    incoming, queue, ledger, url = setup
    clock = Clock()
    watcher = make_watcher(incoming, url, ledger, clock)
    product = incoming / "a.fits"
    with open(product, "wb") as fh:
        for _ in range(5):
            fh.write(b"y" * 50)
            fh.flush()
            watcher.scan_once()
            clock.now += 1.5  # under the 2 s settle period between writes
    assert published_paths(queue) == []
    watcher.scan_once()
    clock.now += 2.5
    assert watcher.scan_once() == [str(product)]
    assert ledger.watched_files(str(incoming)) == {str(product): (250, product.stat().st_mtime_ns)}


def test_a_recently_modified_file_is_not_published_even_if_it_looks_stable(setup):
    incoming, _queue, ledger, url = setup
    clock = Clock()
    watcher = Watcher(
        incoming, Publisher(TableQueue(url), ledger), ledger, settle=2.0, clock=clock,
        wall_clock=time.time,
    )  # fmt: skip
    product = incoming / "a.fits"
    product.write_bytes(b"z" * 10)
    watcher.scan_once()
    clock.now += 5  # the scans say "stable", but the writer touched it a moment ago
    assert watcher.scan_once() == []
    past = time.time() - 60
    os.utime(product, (past, past))
    watcher.scan_once()
    clock.now += 5
    assert watcher.scan_once() == [str(product)]


def test_a_restarted_watcher_does_not_republish(setup):
    incoming, queue, ledger, url = setup
    clock = Clock()
    product = incoming / "sub" / "a.fits.fz"
    product.parent.mkdir()
    product.write_bytes(b"x" * 100)
    first = make_watcher(incoming, url, ledger, clock)
    first.scan_once()
    clock.now += 3
    assert first.scan_once() == [str(product)]

    second = make_watcher(incoming, url, Ledger(url), clock)  # a new process, same database
    late = incoming / "b.fits.fz"
    late.write_bytes(b"arrived while the watcher was down")
    second.scan_once()
    clock.now += 3
    assert second.scan_once() == [str(late)]
    assert published_paths(queue) == [str(product), str(late)]


def test_a_file_rewritten_in_place_is_published_again(setup):
    incoming, queue, ledger, url = setup
    clock = Clock()
    watcher = make_watcher(incoming, url, ledger, clock)
    product = incoming / "a.fits"
    product.write_bytes(b"version 1")
    watcher.scan_once()
    clock.now += 3
    watcher.scan_once()
    product.write_bytes(b"version 2, longer")
    watcher.scan_once()
    clock.now += 3
    assert watcher.scan_once() == [str(product)]
    assert len(published_paths(queue)) == 2


def test_hidden_empty_and_unmatched_files_are_ignored(setup):
    incoming, _queue, ledger, url = setup
    clock = Clock()
    watcher = make_watcher(incoming, url, ledger, clock)
    (incoming / ".a.fits.part").write_bytes(b"partial")
    (incoming / "empty.fits").write_bytes(b"")
    (incoming / "notes.txt").write_bytes(b"hello")
    (incoming / ".hidden").mkdir()
    (incoming / ".hidden" / "x.fits").write_bytes(b"x")
    (incoming / "bundle.tar.gz").write_bytes(b"tar")
    watcher.scan_once()
    clock.now += 3
    assert watcher.scan_once() == [str(incoming / "bundle.tar.gz")]
    assert watcher.pending == 0


def test_custom_patterns(setup):
    incoming, _queue, ledger, url = setup
    clock = Clock()
    watcher = make_watcher(incoming, url, ledger, clock, patterns=("*.pdf",))
    (incoming / "a.pdf").write_bytes(b"%PDF")
    (incoming / "b.fits").write_bytes(b"SIMPLE")
    watcher.scan_once()
    clock.now += 3
    assert watcher.scan_once() == [str(incoming / "a.pdf")]


def test_the_watcher_never_publishes_a_partial_file_written_in_real_time(setup):
    incoming, queue, ledger, url = setup
    watcher = Watcher(
        incoming, Publisher(TableQueue(url), ledger), ledger, settle=0.3, interval=0.05
    )
    product = incoming / "slow.fits"
    final_size = 40 * 1000

    def slow_writer():
        with open(product, "wb") as fh:
            for _ in range(40):
                fh.write(b"s" * 1000)
                fh.flush()
                time.sleep(0.02)

    runner = threading.Thread(target=watcher.run)
    runner.start()
    writer = threading.Thread(target=slow_writer)
    writer.start()
    writer.join()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not ledger.watched_files(str(incoming)):
        time.sleep(0.05)
    watcher.request_stop()
    runner.join(5)
    assert ledger.watched_files(str(incoming))[str(product)][0] == final_size
    assert published_paths(queue) == [str(product)]
