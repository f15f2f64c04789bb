"""What the frames API does, as functions views and management commands call.

Each write is one database transaction: the frame upsert, its versions, headers, sky cells,
related-frame links and the ``archived_fits`` outbox row commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from obsarchive.server.events.outbox import enqueue_archived_fits
from obsarchive.server.frames.models import (
    SCALAR_FIELDS,
    Frame,
    Headers,
    SkyCell,
    Thumbnail,
    Version,
)
from obsarchive.server.frames.sky import ParsedArea, footprint_bytes, sky_cells_of
from obsarchive.server.frames.storage import frame_object_key, thumbnail_object_key

__all__ = [
    "AGGREGATE_FIELDS",
    "ALL_FRAMES_AGGREGATES",
    "PUBLIC_FRAMES_AGGREGATES",
    "DeletedFrames",
    "DuplicateVersionError",
    "IngestResult",
    "StoredObjectRef",
    "aggregate_values",
    "compute_aggregates",
    "delete_frames",
    "ingest_frame",
    "ingest_thumbnail",
    "related_ids_by_frame",
    "update_frame",
]

logger = logging.getLogger(__name__)

# Facet name in the response -> Frame column (reference §2.7).
AGGREGATE_FIELDS: dict[str, str] = {
    "sites": "site_id",
    "telescopes": "telescope_id",
    "filters": "primary_optical_element",
    "instruments": "instrument_id",
    "obstypes": "configuration_type",
    "proposals": "proposal_id",
}
ALL_FRAMES_AGGREGATES = "all_frames_aggregates"
PUBLIC_FRAMES_AGGREGATES = "public_frames_aggregates"


class DuplicateVersionError(Exception):
    """A concurrent ingest stored the same md5 or version key first."""


@dataclass(frozen=True)
class IngestResult:
    """The outcome of a frame ingest."""

    frame: Frame
    created: bool
    versions: list[Version]


@dataclass(frozen=True)
class StoredObjectRef:
    """An object-store version whose database record was deleted (for the store cleanup)."""

    object_key: str
    version_id: str


@dataclass(frozen=True)
class DeletedFrames:
    """What :func:`delete_frames` removed: the frame count and the objects now unreferenced."""

    count: int
    objects: list[StoredObjectRef] = field(default_factory=list)

    def __int__(self) -> int:
        return self.count


# -- ingest ---------------------------------------------------------------------------------


def _scalar_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: data[name] for name in SCALAR_FIELDS if name in data}
    for name in ("proposal_id", "instrument_id", "target_name", "site_id", "telescope_id"):
        if values.get(name) is None and name in values:
            values[name] = ""
    if values.get("primary_optical_element") is None and "primary_optical_element" in values:
        values["primary_optical_element"] = ""
    return values


def _submitter(headers: Mapping[str, Any]) -> str:
    value = headers.get("USERID")
    return "" if value is None else str(value)[:200]


def _set_area(frame: Frame, area: ParsedArea | None) -> None:
    """Store the footprint and (re)write the frame's sky cells."""
    frame.area = None if area is None else area.geojson
    frame.footprint = None if area is None else footprint_bytes(area)


def _write_sky_cells(frame: Frame, area: ParsedArea | None) -> None:
    SkyCell.objects.filter(frame=frame).delete()
    if area is not None:
        SkyCell.objects.bulk_create(
            [SkyCell(frame=frame, uniq=uniq) for uniq in sky_cells_of(area)]
        )


def _link_related(frame: Frame, names: Iterable[str]) -> None:
    """Link ``frame`` with the named frames, creating hidden placeholders for unknown names."""
    wanted = sorted({name for name in names if name and name != frame.basename})
    if not wanted:
        return
    existing = dict(Frame.objects.filter(basename__in=wanted).values_list("basename", "id"))
    missing = [name for name in wanted if name not in existing]
    if missing:
        # A placeholder is a bare name: no observation date, so no read path shows it.
        Frame.objects.bulk_create([Frame(basename=name) for name in missing], ignore_conflicts=True)
        existing = dict(Frame.objects.filter(basename__in=wanted).values_list("basename", "id"))
    frame.related_frames.add(*existing.values())


def _object_key_for(frame: Frame, headers: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    explicit = item.get("object_key")
    if explicit:
        return str(explicit)
    try:
        return frame_object_key(
            basename=frame.basename,
            extension=item["extension"],
            site_id=frame.site_id,
            instrument_id=frame.instrument_id,
            observation_day=frame.observation_day,
            reduction_level=frame.reduction_level,
            configuration_type=frame.configuration_type,
            headers=headers,
        )
    except ValueError as exc:
        # Products without a telescope (blank site or instrument) have no OCS key; the version
        # is still recorded, it just has no download URL.
        logger.warning("frame %s: no object key (%s)", frame.basename, exc)
        return ""


def ingest_frame(data: Mapping[str, Any]) -> IngestResult:
    """Upsert a frame from a validated ingest payload (reference §2.4.2).

    Parameters
    ----------
    data
        ``FrameIngestSerializer.validated_data``: ``area`` is a :class:`ParsedArea` or None.

    Returns
    -------
    IngestResult
        The saved frame, whether it was new, and the versions added (newest first).

    Raises
    ------
    DuplicateVersionError
        Another ingest stored one of the md5s or keys between validation and insert.
    """
    try:
        with transaction.atomic():
            return _ingest_frame(data)
    except IntegrityError as exc:
        raise DuplicateVersionError(str(exc)) from exc


def _locked_frame(basename: str, values: Mapping[str, Any]) -> tuple[Frame, bool]:
    """The frame named ``basename`` with ``values`` set, row-locked; inserted when new.

    A new frame is inserted with its values in one statement (not inserted empty, then
    updated); an existing one (a placeholder, or a re-ingest) is updated.
    """
    frame = Frame.objects.select_for_update().filter(basename=basename).order_by().first()
    if frame is None:
        frame = Frame(basename=basename, **values)
        try:
            with transaction.atomic():
                frame.save(force_insert=True)
            return frame, True
        except IntegrityError:
            # Another ingest of the same name committed first: update that row instead.
            frame = Frame.objects.select_for_update().get(basename=basename)
    for name, value in values.items():
        setattr(frame, name, value)
    frame.save()
    return frame, False


def _frame_values(data: Mapping[str, Any], headers: Mapping[str, Any]) -> dict[str, Any]:
    values = _scalar_values(data)
    area: ParsedArea | None = data.get("area")
    values["submitter"] = _submitter(headers)
    values["area"] = None if area is None else area.geojson
    values["footprint"] = None if area is None else footprint_bytes(area)
    return values


def _insert_versions(frame: Frame, versions: list[Version]) -> None:
    """Insert ``versions`` in one statement, in payload order (the last one is the newest).

    ``created`` is set per row in order and ids ascend, so ``-created, -id`` still makes the
    payload's last item the newest version, as upstream.
    """
    if not versions:
        return
    Version.objects.bulk_create(versions)
    if any(version.pk is None for version in versions):
        # A database that cannot return ids from a bulk insert (not SQLite >= 3.35 nor
        # PostgreSQL): read them back by their unique keys.
        ids = dict(
            Version.objects.filter(key__in=[v.key for v in versions]).values_list("key", "id")
        )
        for version in versions:
            version.pk = ids[version.key]


def _ingest_frame(data: Mapping[str, Any]) -> IngestResult:
    headers: dict[str, Any] = dict(data.get("headers") or {})
    area: ParsedArea | None = data.get("area")
    frame, created = _locked_frame(data["basename"], _frame_values(data, headers))
    if created:
        # A new frame has no sky cells to replace.
        if area is not None:
            SkyCell.objects.bulk_create(
                [SkyCell(frame=frame, uniq=uniq) for uniq in sky_cells_of(area)]
            )
    else:
        _write_sky_cells(frame, area)
    # One upsert, new frame or not (the headers row is unique per frame).
    Headers.objects.bulk_create(
        [Headers(frame=frame, data=headers)],
        update_conflicts=True,
        unique_fields=["frame"],
        update_fields=["data"],
    )
    versions = [
        Version(
            frame=frame,
            key=item["key"],
            md5=item["md5"],
            extension=item["extension"],
            size=item.get("size"),
            object_key=_object_key_for(frame, headers, item),
        )
        for item in data.get("version_set", [])
    ]
    _insert_versions(frame, versions)
    _link_related(frame, data.get("related_frame_filenames", []))
    if versions:
        # The outbox reads frame.headers; give it the row just written instead of a query.
        frame.headers = Headers(frame=frame, data=headers)
        enqueue_archived_fits(frame, versions)
    return IngestResult(frame=frame, created=created, versions=versions[::-1])


def update_frame(frame: Frame, data: Mapping[str, Any]) -> Frame:
    """Apply a validated PUT/PATCH to ``frame`` (scalars, basename, area, related names)."""
    with transaction.atomic():
        for name, value in _scalar_values(data).items():
            setattr(frame, name, value)
        if "basename" in data:
            frame.basename = data["basename"]
        if "area" in data:
            _set_area(frame, data["area"])
        frame.save()
        if "area" in data:
            _write_sky_cells(frame, data["area"])
        if data.get("related_frame_filenames"):
            _link_related(frame, data["related_frame_filenames"])
    return frame


@dataclass(frozen=True)
class ThumbnailResult:
    thumbnail: Thumbnail
    frame: Frame
    created: bool


def ingest_thumbnail(data: Mapping[str, Any]) -> ThumbnailResult:
    """Upsert a thumbnail from a validated payload (reference §2.10).

    The parent frame is created from the payload's frame fields when no frame is named
    ``frame_basename`` yet (no version, so no event and hidden from searches); an existing
    frame is left untouched.
    """
    with transaction.atomic():
        frame = Frame.objects.filter(basename=data["frame_basename"]).first()
        if frame is None:
            headers: dict[str, Any] = dict(data.get("headers") or {})
            frame = Frame(basename=data["frame_basename"], **_scalar_values(data))
            frame.submitter = _submitter(headers)
            _set_area(frame, data.get("area"))
            try:
                with transaction.atomic():
                    frame.save()
            except IntegrityError:
                # Created concurrently: use that one, as an existing frame.
                frame = Frame.objects.get(basename=data["frame_basename"])
            else:
                _write_sky_cells(frame, data.get("area"))
                Headers.objects.create(frame=frame, data=headers)
                _link_related(frame, data.get("related_frame_filenames", []))
        first = data["version_set"][0]
        try:
            key = thumbnail_object_key(
                basename=data["basename"],
                extension=first["extension"],
                site_id=data.get("site_id") or frame.site_id,
                instrument_id=data.get("instrument_id") or frame.instrument_id,
                observation_day=data.get("observation_day") or frame.observation_day,
            )
        except ValueError as exc:
            logger.warning("thumbnail %s: no object key (%s)", data["basename"], exc)
            key = ""
        thumbnail, created = Thumbnail.objects.update_or_create(
            basename=data["basename"],
            defaults={
                "frame": frame,
                "size": data["size"],
                "extension": first["extension"],
                "key": first["key"],
                "object_key": first.get("object_key") or key,
            },
        )
    return ThumbnailResult(thumbnail=thumbnail, frame=frame, created=created)


def related_ids_by_frame(frame_ids: Sequence[int]) -> dict[int, list[int]]:
    """Ids of every frame linked to each of ``frame_ids`` (one query for a whole page)."""
    through = Frame.related_frames.through
    result: dict[int, list[int]] = {frame_id: [] for frame_id in frame_ids}
    if not frame_ids:
        return result
    pairs = through.objects.filter(from_frame_id__in=list(frame_ids)).values_list(
        "from_frame_id", "to_frame_id"
    )
    for source, target in pairs:
        result.setdefault(source, []).append(target)
    return result


# -- deletion -------------------------------------------------------------------------------


def delete_frames(queryset: QuerySet[Frame]) -> DeletedFrames:
    """Delete frames and everything that cascades from them; return the orphaned objects.

    Records only: the caller removes the returned object versions from the store once the
    transaction has committed (a store delete cannot be rolled back). Placeholder frames that
    were merely related to the deleted frames stay.
    """
    with transaction.atomic():
        ids = list(queryset.order_by().values_list("pk", flat=True))
        if not ids:
            return DeletedFrames(count=0)
        objects = [
            StoredObjectRef(object_key=object_key, version_id=key)
            for object_key, key in Version.objects.filter(frame_id__in=ids).values_list(
                "object_key", "key"
            )
        ]
        objects += [
            StoredObjectRef(object_key=object_key, version_id=key)
            for object_key, key in Thumbnail.objects.filter(frame_id__in=ids).values_list(
                "object_key", "key"
            )
        ]
        Frame.objects.filter(pk__in=ids).delete()
    return DeletedFrames(count=len(ids), objects=[ref for ref in objects if ref.object_key])


def remove_stored_objects(objects: Iterable[StoredObjectRef]) -> int:
    """Delete object versions from the archive store; failures are logged. Returns removed."""
    from obsarchive.server.frames.storage import archive_store
    from obsarchive.storage.base import ObjectNotFoundError, StoreError

    store = archive_store()
    removed = 0
    for ref in objects:
        try:
            store.delete(ref.object_key, ref.version_id or None)
            removed += 1
        except ObjectNotFoundError:
            removed += 1  # already gone: the goal is reached
        except StoreError as exc:
            logger.error(
                "could not delete %s (version %s): %s", ref.object_key, ref.version_id, exc
            )
    return removed


# -- aggregates -----------------------------------------------------------------------------


def aggregate_values(queryset: QuerySet[Frame]) -> dict[str, list[str]]:
    """Distinct non-empty values of the six facet columns over ``queryset`` (one query)."""
    columns = list(AGGREGATE_FIELDS.values())
    found: dict[str, set[str]] = {column: set() for column in columns}
    for row in queryset.order_by().values_list(*columns).distinct():
        for column, value in zip(columns, row, strict=True):
            if value:
                found[column].add(value)
    return {name: sorted(found[column]) for name, column in AGGREGATE_FIELDS.items()}


def compute_aggregates(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Precompute the unfiltered aggregate answers and store them in the cache.

    Two answers are kept (reference Appendix A.9 (R)): over every ingested frame (for
    superusers) and over public frames only (for everyone else). Returns both, keyed by their
    cache keys.
    """
    moment = now or timezone.now()
    generated_at = moment.isoformat().replace("+00:00", "Z")
    frames = Frame.objects.filter(observation_date__isnull=False)
    everything = {**aggregate_values(frames), "generated_at": generated_at}
    public = {
        **aggregate_values(frames.filter(Q(public_date__lt=moment))),
        "generated_at": generated_at,
    }
    cache.set(ALL_FRAMES_AGGREGATES, everything, timeout=None)
    cache.set(PUBLIC_FRAMES_AGGREGATES, public, timeout=None)
    return {ALL_FRAMES_AGGREGATES: everything, PUBLIC_FRAMES_AGGREGATES: public}
