"""Operations: management commands, the health check's database probe and the replica router."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from rest_framework.test import APIClient

from obsarchive.products.record import Version as RecordVersion
from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.storage import archive_store, reset_store
from obsarchive.server.ops.routers import ReplicaRouter
from obsarchive.server.ops.views import connection_ok, database_ok
from tests.server.factories import FUTURE, PAST, frame_payload, frame_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tmp_path: Path, settings: Any) -> Iterator[Any]:
    settings.ARCHIVE = dataclasses.replace(
        settings.ARCHIVE,
        store=dataclasses.replace(settings.ARCHIVE.store, root_dir=tmp_path / "store"),
    )
    reset_store()
    yield archive_store()
    reset_store()


def _ingest(
    ingest: Any,
    store: Any,
    *,
    observed: datetime,
    site: str = "cpt",
    proposal: str = "PROP-A",
    configuration_type: str = "EXPOSE",
    public_date: datetime | None = PAST,
) -> tuple[Frame, str]:
    record = frame_record(
        observation_date=observed,
        site_id=site,
        proposal_id=proposal,
        configuration_type=configuration_type,
        public_date=public_date,
        instrument_id=f"i{site}",
    )
    key = f"ops/{record.basename}.fits.fz"
    stored = store.put(key, io.BytesIO(record.basename.encode()))
    payload = frame_payload(
        record, versions=[RecordVersion(stored.version_id, stored.md5, ".fits.fz")]
    )
    payload["version_set"][0]["object_key"] = key
    return ingest(payload), key


# --- deleteframes ---------------------------------------------------------------------------


def test_deleteframes_days_old_removes_records_and_files(ingest: Any, store: Any) -> None:
    now = datetime.now(UTC)
    old, old_key = _ingest(ingest, store, observed=now - timedelta(days=40))
    new, new_key = _ingest(ingest, store, observed=now - timedelta(days=5))
    out = io.StringIO()
    call_command("deleteframes", "--days-old", "30", stdout=out)
    assert "deleted 1 frames and 1 stored objects" in out.getvalue()
    assert not Frame.objects.filter(pk=old.pk).exists()
    assert not Version.objects.filter(frame_id=old.pk).exists()
    assert not store.exists(old_key)
    assert Frame.objects.filter(pk=new.pk).exists() and store.exists(new_key)


def test_deleteframes_window_is_exclusive_and_criteria_apply(ingest: Any, store: Any) -> None:
    base = datetime(2020, 3, 10, 12, tzinfo=UTC)  # observing day 2020-03-10
    inside, _ = _ingest(ingest, store, observed=base + timedelta(days=1))
    on_start, _ = _ingest(ingest, store, observed=base)
    other_site, _ = _ingest(ingest, store, observed=base + timedelta(days=1), site="ogg")
    bias, _ = _ingest(ingest, store, observed=base + timedelta(days=1), configuration_type="BIAS")
    days = {f.pk: f.observation_day for f in Frame.objects.all()}
    start = days[on_start.pk].isoformat()
    end = (days[inside.pk] + timedelta(days=1)).isoformat()
    out = io.StringIO()
    call_command(
        "deleteframes", "--start", start, "--end", end, "--site", "CPT",
        "--exclude-types", "BIAS", "--dry-run", stdout=out,
    )  # fmt: skip
    assert "1 frames would be deleted" in out.getvalue()
    assert Frame.objects.count() == 4
    call_command(
        "deleteframes", "--start", start, "--end", end, "--site", "CPT",
        "--exclude-types", "BIAS", stdout=io.StringIO(),
    )  # fmt: skip
    remaining = set(Frame.objects.values_list("pk", flat=True))
    assert remaining == {on_start.pk, other_site.pk, bias.pk}


def test_deleteframes_include_proposals(ingest: Any, store: Any) -> None:
    now = datetime.now(UTC)
    keep, _ = _ingest(ingest, store, observed=now - timedelta(days=40), proposal="KEEP")
    drop, _ = _ingest(ingest, store, observed=now - timedelta(days=40), proposal="DROP")
    call_command(
        "deleteframes", "--days-old", "1", "--include-proposals", "DROP", stdout=io.StringIO()
    )
    assert list(Frame.objects.values_list("pk", flat=True)) == [keep.pk]
    assert drop.pk not in set(Frame.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give --days-old N, or both --start and --end"),
        (["--start", "2020-01-01"], "give --days-old N, or both --start and --end"),
        (["--days-old", "3", "--start", "2020-01-01", "--end", "2020-02-01"], "not both"),
        (["--start", "2020-13-01", "--end", "2020-02-01"], "not a date"),
        (["--start", "2020-03-01", "--end", "2020-02-01"], "--start must be before --end"),
        (["--days-old", "-1"], "must not be negative"),
    ],
)
def test_deleteframes_rejects_bad_selectors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("deleteframes", *args, stdout=io.StringIO())


# --- cacheaggregates --------------------------------------------------------------------------


def test_cacheaggregates_feeds_the_unfiltered_aggregate(ingest: Any, store: Any) -> None:
    now = datetime.now(UTC)
    _ingest(ingest, store, observed=now - timedelta(days=3), site="cpt")
    _ingest(ingest, store, observed=now - timedelta(days=3), site="ogg", public_date=FUTURE)
    out = io.StringIO()
    call_command("cacheaggregates", stdout=out)
    assert "all_frames_aggregates: sites 2" in out.getvalue()
    assert "public_frames_aggregates: sites 1" in out.getvalue()
    # Frames ingested after the precompute are not in the cached answer until the next run.
    _ingest(ingest, store, observed=now - timedelta(days=3), site="lsc")
    assert APIClient().get("/frames/aggregate/").json()["sites"] == ["cpt"]
    call_command("cacheaggregates", stdout=io.StringIO())
    assert APIClient().get("/frames/aggregate/").json()["sites"] == ["cpt", "lsc"]


# --- showthrottle ---------------------------------------------------------------------------


def test_showthrottle_reports_rates_and_usage(world: Any) -> None:
    client = world.client(world.member)
    for _ in range(3):
        assert client.get("/profile/").status_code == 200
    out = io.StringIO()
    call_command("showthrottle", stdout=out)
    text = out.getvalue()
    assert "anonymous rate: 1000/day" in text
    assert "user rate: 50000/day (staff exempt)" in text
    assert "alice: 3 requests" in text
    assert "bob:" not in text
    everyone = io.StringIO()
    call_command("showthrottle", "--all", stdout=everyone)
    assert "ops: 0 requests (staff, not throttled)" in everyone.getvalue()


# --- publishevents -----------------------------------------------------------------------------


def test_publishevents_without_broker_fails_clearly(settings: Any) -> None:
    from obsarchive.server.events.config import EventSettings

    settings.OBSARCHIVE_EVENTS = EventSettings()
    with pytest.raises(CommandError, match="QUEUE_BROKER_URL"):
        call_command("publishevents", stdout=io.StringIO())


# --- health: database probe ---------------------------------------------------------------------


def test_database_ok_on_a_working_database() -> None:
    assert database_ok("default") is True


def test_database_probe_false_when_database_unreachable(tmp_path: Path) -> None:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    broken = dict(connections.settings["default"])
    broken.update(ENGINE="django.db.backends.sqlite3", NAME=str(tmp_path / "no" / "such.db"))
    broken["OPTIONS"] = {}
    wrapper = DatabaseWrapper(broken, alias="broken")
    try:
        assert connection_ok(wrapper) is False
    finally:
        wrapper.close()


def test_health_is_503_when_database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unit level: the view's answer when its probe fails (the probe itself is tested above).
    monkeypatch.setattr("obsarchive.server.ops.views.database_ok", lambda alias="default": False)
    response = APIClient().get("/health/")
    assert response.status_code == 503
    assert response.json() == {"detail": "The database is not available."}


# --- replica router -------------------------------------------------------------------------------


def test_router_reads_frames_from_replica_except_recent() -> None:
    router = ReplicaRouter()
    assert router.db_for_read(Frame) == "replica"
    fresh = Frame(basename="x", created=datetime.now(UTC))
    stale = Frame(basename="y", created=datetime.now(UTC) - timedelta(minutes=11))
    assert router.db_for_read(Frame, instance=fresh) == "default"
    assert router.db_for_read(Frame, instance=stale) == "replica"
    assert router.db_for_write(Frame) == "default"
    from django.contrib.auth import get_user_model

    from obsarchive.server.events.models import OutboxEvent

    assert router.db_for_read(get_user_model()) == "default"
    assert router.db_for_read(OutboxEvent) == "default"
    assert router.allow_migrate("default", "frames") is True
    assert router.allow_migrate("replica", "frames") is False


def test_reader_url_enables_router(tmp_path: Path) -> None:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DATABASE_READER_URL"}
    }
    script = (
        "from django.conf import settings;"
        "print(sorted(settings.DATABASES), getattr(settings, 'DATABASE_ROUTERS', []))"
    )
    base = [sys.executable, "-m", "obsarchive.cli", "manage", "shell", "-v0", "-c", script]
    env["OBSARCHIVE_HOME"] = str(tmp_path)
    without = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert without.stdout.strip() == "['default'] []", without.stderr
    env["DATABASE_READER_URL"] = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    with_reader = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert with_reader.stdout.strip() == (
        "['default', 'replica'] ['obsarchive.server.ops.routers.ReplicaRouter']"
    ), with_reader.stderr
