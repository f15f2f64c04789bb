"""Finding stored objects that no archive record points to, and removing them.

The ingester uploads before it records, so a crash (or a temporary failure) between the two
leaves an object version that no ``Version`` or ``Thumbnail`` row names. Such orphans are
harmless but cost storage; this module finds them by comparing the store with the archive:

1. list every object version under a prefix (snapshot of the store);
2. then list every version key the archive holds (``GET versions/``, paginated, staff token)
   and every thumbnail key (``GET thumbnails/``);
3. a stored version whose id is in neither list is an orphan — unless it is younger than
   ``min_age``, because an ingest in progress has uploaded but not yet recorded it.

Listing the store *before* the archive means any object recorded by the time the archive is
read is seen as referenced; only objects still in flight remain, and ``min_age`` covers those.
The archive is asked for its whole key list rather than one question per object: a few
thousand-row pages instead of one request per stored version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from obsarchive.ingester.archive import ArchiveService
from obsarchive.ingester.pipeline import _classified
from obsarchive.storage import ObjectStore, StoredObject, StoreError

__all__ = ["ReconcileReport", "archived_keys", "find_orphans", "remove_orphans"]

logger = logging.getLogger(__name__)

DEFAULT_MIN_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class ReconcileReport:
    """The outcome of a reconciliation.

    Attributes
    ----------
    stored_versions : int
        Object versions found under the prefix.
    archived_keys : int
        Version and thumbnail keys the archive holds (for the whole archive).
    orphans : tuple of StoredObject
        Unreferenced versions older than the minimum age: safe to remove.
    too_recent : tuple of StoredObject
        Unreferenced versions younger than the minimum age (possibly an ingest in progress).
    removed : tuple of StoredObject
        Orphans deleted by :func:`remove_orphans`.
    failed : tuple of (StoredObject, str)
        Orphans whose deletion failed, with the reason.
    """

    stored_versions: int
    archived_keys: int
    orphans: tuple[StoredObject, ...]
    too_recent: tuple[StoredObject, ...] = ()
    removed: tuple[StoredObject, ...] = ()
    failed: tuple[tuple[StoredObject, str], ...] = field(default=())

    @property
    def orphan_bytes(self) -> int:
        return sum(o.size for o in self.orphans)


def archived_keys(archive: ArchiveService, page_size: int = 1000) -> set[str]:
    """Every object version id the archive references (versions and thumbnails).

    Raises
    ------
    DoNotRetryError
        The token may not list versions (it must belong to a staff user; a superuser's also
        sees every thumbnail).
    BackoffRetryError
        The archive is unavailable.
    """
    with _classified(None):
        keys = {str(v["key"]) for v in archive.iter_versions(page_size) if v.get("key")}
        keys.update(str(t["key"]) for t in archive.iter_thumbnails(page_size) if t.get("key"))
    return keys


def _stored_versions(store: ObjectStore, prefix: str) -> list[StoredObject]:
    with _classified(None):
        return [version for key in store.keys(prefix) for version in store.versions(key)]


def find_orphans(
    store: ObjectStore,
    archive: ArchiveService,
    *,
    prefix: str = "",
    min_age: timedelta = DEFAULT_MIN_AGE,
    now: datetime | None = None,
) -> ReconcileReport:
    """Compare the store with the archive; change nothing.

    Parameters
    ----------
    store : ObjectStore
        The store the ingester uploads to.
    archive : ArchiveService
        The archive, with a staff (better: superuser) token.
    prefix : str
        Only look at keys under this prefix (e.g. ``coj/kb05/``).
    min_age : timedelta
        Unreferenced versions younger than this are reported as too recent, not as orphans.
        A version whose age the store cannot tell counts as too recent unless ``min_age`` is 0.
    now : datetime, optional
        The current aware UTC time (injected in tests).

    Raises
    ------
    DoNotRetryError, BackoffRetryError
        As :func:`archived_keys`; store failures likewise.
    """
    moment = now or datetime.now(UTC)
    with _classified(None):
        # Fail fast on a token that may not list versions, before a long store listing.
        next(archive.iter_versions(page_size=1), None)
    stored = _stored_versions(store, prefix)  # before the archive's keys: see the module notes
    referenced = archived_keys(archive)
    orphans: list[StoredObject] = []
    too_recent: list[StoredObject] = []
    for version in stored:
        if version.version_id in referenced:
            continue
        if min_age > timedelta(0) and (
            version.last_modified is None or moment - _utc(version.last_modified) < min_age
        ):
            too_recent.append(version)
        else:
            orphans.append(version)
    return ReconcileReport(
        stored_versions=len(stored),
        archived_keys=len(referenced),
        orphans=tuple(orphans),
        too_recent=tuple(too_recent),
    )


def remove_orphans(store: ObjectStore, report: ReconcileReport) -> ReconcileReport:
    """Delete the report's orphans one version at a time; failures are collected, not raised."""
    removed: list[StoredObject] = []
    failed: list[tuple[StoredObject, str]] = []
    for orphan in _unique(report.orphans):
        try:
            store.delete(orphan.key, orphan.version_id)
        except StoreError as exc:
            logger.warning("could not remove %s version %s: %s", orphan.key, orphan.version_id, exc)
            failed.append((orphan, str(exc)))
        else:
            logger.info("removed orphan %s version %s", orphan.key, orphan.version_id)
            removed.append(orphan)
    return ReconcileReport(
        stored_versions=report.stored_versions,
        archived_keys=report.archived_keys,
        orphans=report.orphans,
        too_recent=report.too_recent,
        removed=tuple(removed),
        failed=tuple(failed),
    )


def _unique(versions: Iterable[StoredObject]) -> list[StoredObject]:
    seen: set[tuple[str, str]] = set()
    unique: list[StoredObject] = []
    for version in versions:
        if (version.key, version.version_id) not in seen:
            seen.add((version.key, version.version_id))
            unique.append(version)
    return unique


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
