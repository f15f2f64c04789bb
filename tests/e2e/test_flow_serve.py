"""The durable flow end to end against the real archive (``obsarchive serve``): kill -9 the
worker mid-file, take the archive down and up again; every good product is archived once,
the bad ones are dead letters, the ledger agrees with what the archive serves."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import pytest
import requests

from obsarchive.config import load_settings
from obsarchive.ingester.flow.ledger import Ledger, Status
from obsarchive.ingester.flow.publish import Publisher
from obsarchive.ingester.flow.runtime import open_queue_from
from tests.ingester.test_flow_fixtures import (
    ServeProcess,
    WorkerProcess,
    flow_env,
    free_port,
    obsarchive_cli,
    write_products,
)

N_GOOD, N_BAD, N_KILLS = 30, 2, 3


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_flow_against_the_real_archive_survives_kills_and_an_outage(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    env = flow_env(home, API_ROOT=f"http://127.0.0.1:{port}/", QUEUE_LEASE_SECONDS="3")
    del env["AUTH_TOKEN"]
    token = obsarchive_cli(env, "token", "ingester", "--superuser").strip().splitlines()[-1]
    env["AUTH_TOKEN"] = token
    server = ServeProcess(env, port, tmp_path / "serve.log").start()
    settings = load_settings(env)
    ledger = Ledger(settings.flow.ledger_url)
    good, bad = write_products(tmp_path / "incoming", N_GOOD, N_BAD)
    with Publisher(open_queue_from(settings), ledger) as publisher:
        ids = {publisher.publish(p): p for p in good + bad}

    def finished() -> int:
        counts = ledger.counts()
        return counts[Status.INGESTED] + counts[Status.ALREADY_ARCHIVED] + counts[Status.DEAD]

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        for _ in range(N_KILLS):  # kill -9 while a file is being ingested (by this process)
            started = datetime.now(UTC)

            def in_progress(since=started) -> bool:
                return any(e.started_at > since for e in ledger.entries(Status.INGESTING))

            wait_for(in_progress, 60, "a file in progress", 0.01)
            worker.kill9()
            worker.start()
        wait_for(lambda: finished() >= 10, 60, "some progress")
        server.stop()  # the archive goes away for a while
        wait_for(lambda: ledger.counts()[Status.RETRYING] > 0, 30, "a retry during the outage")
        server.start()
        wait_for(lambda: finished() == N_GOOD + N_BAD, 120, "every message to finish", 0.3)
    finally:
        exit_status = worker.terminate()
        server_was = server
    assert exit_status == 0

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    try:
        entries = {e.message_id: e for e in ledger.entries()}
        assert set(entries) == set(ids)
        for mid, path in ids.items():
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            versions = session.get(f"{server.api_root}versions/", params={"md5": md5}, timeout=10)
            count = versions.json()["count"]
            entry = entries[mid]
            if path in bad:
                assert count == 0
                assert entry.status is Status.DEAD
                assert "DoNotRetryError" in entry.error_class
                continue
            assert count == 1, path  # archived exactly once
            assert entry.status in (Status.INGESTED, Status.ALREADY_ARCHIVED)
            assert entry.md5 == md5
            if entry.status is Status.INGESTED:
                frame = session.get(f"{server.api_root}frames/{entry.frame_id}/", timeout=10)
                assert frame.status_code == 200
                assert frame.json()["basename"] == path.name.removesuffix(".fits")
        assert any("archive" in (e.last_error or "") for e in entries.values())
        queue = open_queue_from(settings)
        assert {letter.message_id for letter in queue.dead_letters()} == {
            mid for mid, p in ids.items() if p in bad
        }
        queue.close()
    finally:
        server_was.stop()
        ledger.close()
