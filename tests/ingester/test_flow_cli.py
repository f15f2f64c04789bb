"""The flow's commands as an operator uses them: publish, worker, ledger, requeue, watch,
simulate."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys

import pytest

from obsarchive.cli import main
from obsarchive.ingester.flow.ledger import Ledger, Status
from tests.ingester.test_flow_fixtures import REPO, RecordingArchive, flow_env, write_products


@pytest.fixture
def env(tmp_path, monkeypatch):
    archive = RecordingArchive().start()
    values = flow_env(tmp_path / "home", API_ROOT=archive.api_root)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("QUEUE_URL", "LEDGER_URL", "QUEUE_NAME"):
        monkeypatch.delenv(name, raising=False)
    yield values, archive
    archive.stop()


def run_worker(env_values) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obsarchive.cli", "worker", "--idle-exit", "1", "--quiet"],
        env=env_values,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        check=False,
    )


def ledger_rows(capsys, *args):
    capsys.readouterr()
    assert main(["ledger", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_publish_work_list_fix_and_requeue(env, tmp_path, capsys):
    values, archive = env
    (good_a, good_b), (bad,) = write_products(tmp_path / "in", 2, 1)

    assert main(["publish", str(good_a), str(good_b), str(bad)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = {line.split()[1]: line.split()[0] for line in lines}
    assert set(ids) == {str(good_a), str(good_b), str(bad)}

    assert run_worker(values).returncode == 0
    rows = {row["message_id"]: row for row in ledger_rows(capsys)}
    assert {rows[ids[str(p)]]["status"] for p in (good_a, good_b)} == {"ingested"}
    dead = rows[ids[str(bad)]]
    assert dead["status"] == "dead"
    assert "not a FITS file" in dead["last_error"]
    assert [r["message_id"] for r in ledger_rows(capsys, "--status", "dead")] == [ids[str(bad)]]

    capsys.readouterr()
    assert main(["ledger", "--status", "dead"]) == 0  # the rich table
    table = capsys.readouterr().out
    assert ids[str(bad)] in table
    assert "dead 1" in table

    # The operator fixes the product in place, then sends the dead letter back.
    shutil.copyfile(good_a, bad)
    with bad.open("r+b") as fh:  # same headers, different bytes: a new md5
        fh.seek(-1, 2)
        fh.write(b"\x01")
    capsys.readouterr()
    assert main(["requeue", ids[str(bad)]]) == 0
    assert capsys.readouterr().out.split() == [ids[str(bad)]]
    assert ledger_rows(capsys, "--status", "queued")[0]["attempts"] == 0
    assert run_worker(values).returncode == 0
    fixed = {r["message_id"]: r for r in ledger_rows(capsys)}[ids[str(bad)]]
    assert fixed["status"] == "ingested"
    assert fixed["md5"] == hashlib.md5(bad.read_bytes()).hexdigest()
    assert len(archive.frames) == 3


def test_publish_refuses_bad_input(env, tmp_path, capsys):
    assert main(["publish", str(tmp_path / "missing.fits")]) == 1
    assert "no such file" in capsys.readouterr().err
    (a, b), _ = write_products(tmp_path / "in", 2, 0)
    assert main(["publish", "--path", "x.fits", str(a), str(b)]) == 2
    with pytest.raises(SystemExit):
        main(["publish", "--metadata", "[1, 2]", str(a)])


def test_publish_with_options_and_no_check(env, tmp_path, capsys):
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"SITEID": "cpt", "RLEVEL": 92}))
    assert main(["publish", "--no-check", "--path", "x-summary.pdf", "--metadata", f"@{meta}",
                 "/elsewhere/report.pdf"]) == 0  # fmt: skip
    (row,) = ledger_rows(capsys)
    body = json.loads(row["body"])
    assert body["filepath"] == "/elsewhere/report.pdf"
    assert body["path"] == "x-summary.pdf"
    assert body["file_metadata"] == {"SITEID": "cpt", "RLEVEL": 92}


def test_requeue_usage_and_unknown_ids(env, capsys):
    assert main(["requeue"]) == 2
    assert main(["requeue", "--all", "abc"]) == 2
    assert main(["requeue", "no-such-message"]) == 1
    assert "not a dead letter" in capsys.readouterr().err
    assert main(["requeue", "--all"]) == 0


def test_requeue_republishes_a_dead_message_missing_from_the_dead_letter_queue(
    env, tmp_path, capsys
):
    values, _ = env
    (bad,) = write_products(tmp_path / "in", 0, 1)[1]
    assert main(["publish", str(bad)]) == 0
    message_id = capsys.readouterr().out.split()[0]
    assert run_worker(values).returncode == 0
    # An operator purged the dead-letter queue; the ledger still has the message.
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.runtime import open_queue_from

    queue = open_queue_from(load_settings())
    queue.db.transaction().__enter__().execute("DELETE FROM ingest_queue")
    queue.close()
    assert main(["requeue", message_id]) == 0
    with Ledger(load_settings().flow.ledger_url) as ledger:
        assert ledger.get(message_id).status is Status.QUEUED
    queue = open_queue_from(load_settings())
    assert queue.depth().ready == 1
    queue.close()


def test_watch_once_publishes_what_is_there(env, tmp_path, capsys):
    _values, _ = env
    incoming = tmp_path / "incoming"
    write_products(incoming, 3, 0)
    assert main(["watch", str(incoming), "--once", "--settle", "0", "--interval", "0.05"]) == 0
    assert len(ledger_rows(capsys, "--status", "queued")) == 3
    assert main(["watch", str(incoming), "--once", "--settle", "0"]) == 0  # nothing new
    assert len(ledger_rows(capsys)) == 3


def test_simulate_writes_a_deterministic_night(env, tmp_path, capsys):
    first, second = tmp_path / "one", tmp_path / "two"
    args = ["--night", "2026-01-14", "--telescopes", "1", "--frames", "2"]
    assert main(["simulate", "--into", str(first), *args]) == 0
    assert main(["simulate", "--into", str(second), *args]) == 0
    names = sorted(p.name for p in first.iterdir())
    # dusk bias x2, dark, flat x2; master bias, dark, 2 flats; per exposure raw + e91 + catalogue
    assert len(names) == 5 + 4 + 2 * 3
    assert not [n for n in names if n.startswith(".")]  # no partial file left behind
    assert "bias_fa14_20260114_bin1x1.fits.fz" in names
    assert any(n.endswith("-e91_cat.fits.fz") for n in names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert dt.date(2026, 1, 14).strftime("%Y%m%d") in names[0]


def test_the_python_publish_function_a_tcs_calls(env, tmp_path):
    import obsarchive.ingester
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.errors import MessageError
    from obsarchive.ingester.flow.runtime import open_queue_from

    (product,), _ = write_products(tmp_path / "in", 1, 0)
    message_id = obsarchive.ingester.publish(product)
    settings = load_settings()
    with Ledger(settings.flow.ledger_url) as ledger:
        entry = ledger.get(message_id)
        assert entry.status is Status.QUEUED
        assert entry.filepath == str(product)
    queue = open_queue_from(settings)
    delivery = queue.get(5, timeout=1)
    assert delivery.message_id == message_id
    assert json.loads(delivery.body)["filepath"] == str(product)
    queue.close()
    with pytest.raises(MessageError, match="no such file"):
        obsarchive.ingester.publish(tmp_path / "nothing.fits")
