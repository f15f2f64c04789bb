"""Reconciliation of a store with the archive: memory store, local HTTP stub archive."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from obsarchive.ingester.archive import ArchiveService
from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError
from obsarchive.ingester.reconcile import find_orphans, remove_orphans
from obsarchive.storage import StoreUnavailableError
from obsarchive.storage.memory import MemoryStore
from tests.ingester.stub_archive import Reply, closed_port_url, stub_archive

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def listing(items: list[dict]) -> Reply:
    return Reply(200, {"count": len(items), "next": None, "previous": None, "results": items})


@pytest.fixture
def stub():
    with stub_archive() as archive:
        yield archive


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def store(clock):
    store = MemoryStore(clock=clock)
    return store


def put(store, key: str, data: bytes = b"x"):
    return store.put(key, io.BytesIO(data))


def test_unreferenced_old_versions_are_orphans(stub, store, clock):
    recorded = put(store, "coj/kb05/20150219/processed/a.fits.fz")
    thumbnail = put(store, "coj/kb05/20150219/thumbnails/a-small.jpg")
    orphan = put(store, "coj/kb05/20150219/processed/b.fits.fz")
    replaced = put(store, "coj/kb05/20150219/processed/a.fits.fz", b"older bytes")
    clock.now = T0 + timedelta(hours=1)
    fresh = put(store, "coj/kb05/20150219/processed/c.fits.fz")
    clock.now = T0 + timedelta(hours=2)
    stub.answer("GET", "/versions/", listing([{"key": recorded.version_id, "md5": "m"}]))
    stub.answer("GET", "/thumbnails/", listing([{"key": thumbnail.version_id}]))

    report = find_orphans(
        store, ArchiveService(stub.api_root, "T"), min_age=timedelta(minutes=90), now=clock.now
    )
    assert report.stored_versions == 5
    assert report.archived_keys == 2
    assert {o.version_id for o in report.orphans} == {orphan.version_id, replaced.version_id}
    assert [o.version_id for o in report.too_recent] == [fresh.version_id]
    assert report.orphan_bytes == orphan.size + replaced.size
    assert len(list(store.keys())) == 4  # finding changes nothing

    done = remove_orphans(store, report)
    assert {o.version_id for o in done.removed} == {orphan.version_id, replaced.version_id}
    assert done.failed == ()
    assert not store.exists(orphan.key)
    assert store.exists(recorded.key, recorded.version_id)
    assert not store.exists(replaced.key, replaced.version_id)
    assert store.exists(fresh.key)


def test_the_prefix_limits_what_is_examined(stub, store):
    put(store, "coj/kb05/20150219/processed/a.fits.fz")
    put(store, "lsc/fa03/20150219/processed/b.fits.fz")
    stub.answer("GET", "/versions/", listing([]))
    stub.answer("GET", "/thumbnails/", listing([]))
    report = find_orphans(
        store, ArchiveService(stub.api_root, "T"), prefix="lsc/", min_age=timedelta(0)
    )
    assert [o.key for o in report.orphans] == ["lsc/fa03/20150219/processed/b.fits.fz"]


def test_a_token_that_may_not_list_versions_is_refused_before_listing_the_store(stub):
    class CountingStore(MemoryStore):
        listed = 0

        def keys(self, prefix: str = ""):
            CountingStore.listed += 1
            return super().keys(prefix)

    stub.answer("GET", "/versions/", Reply(403, {"detail": "You do not have permission."}))
    with pytest.raises(DoNotRetryError, match="403"):
        find_orphans(CountingStore(), ArchiveService(stub.api_root, "T"))
    assert CountingStore.listed == 0


def test_an_unreachable_archive_is_temporary(store):
    with pytest.raises(BackoffRetryError):
        find_orphans(store, ArchiveService(closed_port_url(), "T"))


def test_failed_deletions_are_collected(stub, store):
    class StuckStore(MemoryStore):
        def delete(self, key: str, version_id: str | None = None) -> None:
            raise StoreUnavailableError("store down")

    stuck = StuckStore()
    orphan = put(stuck, "coj/kb05/20150219/processed/a.fits.fz")
    stub.answer("GET", "/versions/", listing([]))
    stub.answer("GET", "/thumbnails/", listing([]))
    report = find_orphans(stuck, ArchiveService(stub.api_root, "T"), min_age=timedelta(0))
    done = remove_orphans(stuck, report)
    assert done.removed == ()
    assert [(o.version_id, why) for o, why in done.failed] == [(orphan.version_id, "store down")]
