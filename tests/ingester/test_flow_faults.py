"""Fault tests of the durable flow: 500 messages (10 bad products), 20 ``kill -9`` of the worker
mid-file, an archive outage, and (RabbitMQ) a broker restart.

The workers are real ``obsarchive worker`` processes running the real ingest pipeline (tiny
synthetic FITS products, filesystem store) against a real HTTP archive that records every
frame by md5 with the archive's uniqueness rule. Afterwards: every good product is archived
exactly once, every bad one is in the dead-letter queue with its reason, the ledger agrees with
the archive, and no message is lost.
"""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import time

import pytest

from obsarchive.config import load_settings
from obsarchive.ingester.flow.ledger import Ledger, Status
from obsarchive.ingester.flow.publish import Publisher
from obsarchive.ingester.flow.runtime import open_queue_from
from tests.ingester.test_flow_fixtures import (
    AMQP_URL,
    RecordingArchive,
    WorkerProcess,
    amqp_queue_name,  # noqa: F401  (fixture)
    delete_amqp_queues,
    flow_env,
    write_products,
)

N_GOOD, N_BAD, N_KILLS = 490, 10, 20
N_POST_KILLS = sum(1 for k in range(N_KILLS) if k % 5 != 4)
TERMINAL = {Status.INGESTED, Status.ALREADY_ARCHIVED, Status.DEAD}


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def restart_rabbitmq() -> None:
    """Stop and start the RabbitMQ application (shared broker: keep it brief)."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=60)


def run_scenario(tmp_path, queue_url: str, queue_name: str, *, broker_restart: bool) -> None:
    archive = RecordingArchive().start()
    good, bad = write_products(tmp_path / "incoming", N_GOOD, N_BAD)
    env = flow_env(
        tmp_path / "home",
        QUEUE_URL=queue_url,
        QUEUE_NAME=queue_name,
        LEDGER_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        API_ROOT=archive.api_root,
        QUEUE_LEASE_SECONDS="2",
        INGEST_MAX_ATTEMPTS="40",
        INGEST_BACKOFF_BASE="0.2",
        INGEST_BACKOFF_CAP="1.5",
    )
    settings = load_settings(env)
    ledger = Ledger(settings.flow.ledger_url)

    # Publish everything first, in random order: the queue holds 500 durable messages.
    products = good + bad
    random.Random(5).shuffle(products)
    with Publisher(open_queue_from(settings), ledger) as publisher:
        ids = {publisher.publish(p): p for p in products}
    assert len(ids) == N_GOOD + N_BAD
    bad_ids = {mid for mid, p in ids.items() if p in bad}

    def terminal() -> int:
        counts = ledger.counts()
        return sum(counts[s] for s in TERMINAL)

    log = tmp_path / "workers.log"
    first = WorkerProcess(env, log).start()
    second = None
    try:
        # 1. kill -9 mid-file, 20 times: while the archive holds the worker's request (a
        #    version check before upload, or a frame POST that is already committed).
        for k in range(N_KILLS):
            method = "POST" if k % 5 != 4 else "GET"
            archive.arm(method, hold=2.0)
            assert archive.hit[method].wait(60), f"kill {k}: the worker sent no {method}"
            first.kill9()
            first.start()
        assert first.kills == N_KILLS

        # 2. a second worker side by side, then the archive goes away for a while.
        second = WorkerProcess(env, log).start()
        progress = len(archive.frames)
        wait_for(lambda: len(archive.frames) >= progress + 40, 60, "progress before outage")
        archive.stop()
        wait_for(lambda: ledger.counts()[Status.RETRYING] >= 1, 30, "a retry during the outage")
        time.sleep(2.0)
        archive.start()  # same port

        # 3. RabbitMQ only: the broker restarts under the workers.
        if broker_restart:
            progress = len(archive.frames)
            wait_for(lambda: len(archive.frames) >= progress + 40, 60, "progress before restart")
            restart_rabbitmq()

        wait_for(lambda: terminal() == N_GOOD + N_BAD, 150, "every message to finish", 0.5)
    finally:
        statuses = [w.terminate() for w in (first, second) if w is not None]
        archive.stop()
    output = log.read_text()
    assert statuses == [0, 0], output[-3000:]  # SIGTERM: clean exit
    # The faults really reached the workers: they paused for the archive (and the broker).
    assert "archive or store in trouble" in output
    if broker_restart:  # noticed on an ack ("queue failed") or on a get ("queue unavailable")
        assert re.search(r"queue (unavailable|failed).*RabbitMQ", output)

    # -- every good product archived exactly once, nothing else archived
    good_md5 = {md5(p) for p in good}
    assert set(archive.frames) == good_md5
    assert archive.posts - len(archive.refused) == N_GOOD  # one accepted POST per product

    # -- the ledger agrees with the archive, one row per message, none lost
    entries = {e.message_id: e for e in ledger.entries()}
    assert set(entries) == set(ids)
    for mid, path in ids.items():
        entry = entries[mid]
        if mid in bad_ids:
            assert entry.status is Status.DEAD, (path, entry)
            continue
        assert entry.status in (Status.INGESTED, Status.ALREADY_ARCHIVED), (path, entry)
        assert entry.md5 == md5(path)
        if entry.status is Status.INGESTED:
            assert entry.frame_id == archive.frames[entry.md5]["id"]
    # A frame committed while its worker was killed is found again as "already archived";
    # every other good product is "ingested" by its own message.
    outage_errors = [
        e for e in entries.values() if "cannot reach the archive" in (e.last_error or "")
    ]
    assert outage_errors, "no message saw the archive outage"
    assert all(e.status is not Status.DEAD for e in outage_errors)
    already = sum(e.status is Status.ALREADY_ARCHIVED for e in entries.values())
    assert N_POST_KILLS <= already <= N_KILLS + 5
    assert max(e.attempts for e in entries.values()) < 40

    # -- every bad product is in the dead-letter queue with its reason
    queue = open_queue_from(settings)
    try:
        letters = {letter.message_id: letter for letter in queue.dead_letters()}
        assert set(letters) == bad_ids
        for mid, letter in letters.items():
            assert letter.error_class == "obsarchive.ingester.exceptions.DoNotRetryError"
            expected = "not a FITS file" if ids[mid].read_bytes()[:4] == b"this" else "PROPID"
            assert expected in letter.reason
            assert entries[mid].last_error == letter.reason
        depth = queue.depth()
        assert (depth.ready, depth.delayed, depth.dead) == (0, 0, N_BAD)
    finally:
        queue.close()
        ledger.close()


@pytest.mark.slow
def test_embedded_queue_survives_kill9_and_an_archive_outage(tmp_path):
    run_scenario(
        tmp_path,
        f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "ingest",
        broker_restart=False,
    )


@pytest.mark.slow
@pytest.mark.rabbitmq
def test_rabbitmq_queue_survives_kill9_an_archive_outage_and_a_broker_restart(
    tmp_path,
    amqp_queue_name,  # noqa: F811
):
    try:
        run_scenario(tmp_path, AMQP_URL, amqp_queue_name, broker_restart=True)
    finally:
        delete_amqp_queues(amqp_queue_name, delays_ms=tuple(range(1000, 3000, 1000)))
