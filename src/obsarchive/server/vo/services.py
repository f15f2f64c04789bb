"""Frames for the VO endpoints: the shared visibility queryset, ID lookups, rows in bulk.

Every VO read starts from :func:`obsarchive.server.frames.querysets.searchable_frames` -- the
queryset of ``GET /frames/`` -- so a frame is visible to SIA, DataLink and SODA exactly when
the frames API shows it. Rows are built a batch at a time with one query per kind of related
data (versions, thumbnails), never one per frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform

from obsarchive.server.frames.models import Frame, Thumbnail, Version
from obsarchive.server.frames.querysets import archived_frames, searchable_frames
from obsarchive.server.frames.storage import url_maker
from obsarchive.server.vo.access import Caller, cutout_expiry, sign_cutout
from obsarchive.server.vo.bandpasses import BandpassTable, load_bandpasses
from obsarchive.server.vo.config import VoSettings
from obsarchive.server.vo.footprints import spatial_columns
from obsarchive.server.vo.obscore import (
    HEADER_KEYS,
    basename_from_did,
    obscore_row,
)

__all__ = [
    "PREVIEW_SIZES",
    "RowBuilder",
    "all_vo_frames",
    "bandpasses_for",
    "frames_by_basename",
    "header_values",
    "newest_versions",
    "preferred_thumbnails",
    "vo_frames",
]

#: Thumbnail sizes in order of preference for the ``preview`` column.
PREVIEW_SIZES = ("large", "medium", "small")
_BATCH = 500
# Names per case-insensitive lookup query (each is one OR-ed comparison in the scan).
_IEXACT_BATCH = 100


def bandpasses_for(config: VoSettings) -> BandpassTable:
    """The filter table in force (cached per path)."""
    return load_bandpasses(config.filter_table)


def _header_annotations() -> dict[str, Any]:
    # KeyTextTransform over the relation: KT("headers__data__X") would take "headers" for the
    # JSON column itself.
    return {f"vo_{key.lower()}": KeyTextTransform(key, "headers__data") for key in HEADER_KEYS}


def header_values(frame: Any) -> dict[str, Any]:
    """The :data:`HEADER_KEYS` values annotated on a frame by :func:`vo_frames`."""
    return {key: getattr(frame, f"vo_{key.lower()}", None) for key in HEADER_KEYS}


def _for_obscore(queryset: QuerySet[Frame]) -> QuerySet[Frame]:
    # newest_extension: the extension of the newest version, the file a row describes.
    newest = Version.objects.filter(frame=OuterRef("pk")).order_by("-created", "-id")
    return queryset.annotate(newest_extension=Subquery(newest.values("extension")[:1])).defer(
        "footprint", "modified", "created"
    )


def vo_frames(caller: Caller) -> QuerySet[Frame]:
    """Frames the caller may see (the frames API's search queryset), annotated for ObsCore."""
    return _for_obscore(searchable_frames(caller.user, caller.now))


def all_vo_frames() -> QuerySet[Frame]:
    """Every archived frame, annotated for ObsCore: only after an access check of its own."""
    return _for_obscore(archived_frames())


def frames_by_basename(queryset: QuerySet[Frame], basenames: Sequence[str]) -> dict[str, Frame]:
    """Frames of ``queryset`` named by ``basenames``, keyed by the name as given.

    Exact names are found through the unique index; the names left over are matched
    case-insensitively (IVOIDs compare case-insensitively) in one query per batch, preferring
    an exact match.
    """
    wanted = list(dict.fromkeys(basenames))
    found: dict[str, Frame] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        for frame in queryset.filter(basename__in=batch):
            found[frame.basename] = frame
    missing = [name for name in wanted if name not in found]
    for start in range(0, len(missing), _IEXACT_BATCH):
        batch = missing[start : start + _IEXACT_BATCH]
        condition = Q(pk__in=[])
        for name in batch:
            condition |= Q(basename__iexact=name)
        by_folded: dict[str, list[Frame]] = {}
        for frame in queryset.filter(condition):
            by_folded.setdefault(frame.basename.casefold(), []).append(frame)
        for name in batch:
            candidates = by_folded.get(name.casefold())
            if candidates:
                found[name] = min(candidates, key=lambda f: f.basename)
    return found


def resolve_ids(
    queryset: QuerySet[Frame], ids: Sequence[str], config: VoSettings
) -> dict[str, Frame]:
    """Frames of ``queryset`` for publisher DIDs, keyed by the DID as given."""
    names = {did: basename_from_did(config, did) for did in ids}
    frames = frames_by_basename(queryset, [n for n in names.values() if n])
    return {did: frames[name] for did, name in names.items() if name and name in frames}


def newest_versions(frame_ids: Sequence[int]) -> dict[int, Version]:
    """The newest version of each frame (one query per batch)."""
    newest: dict[int, Version] = {}
    for start in range(0, len(frame_ids), _BATCH):
        batch = list(frame_ids[start : start + _BATCH])
        versions = Version.objects.filter(frame_id__in=batch).order_by(
            "frame_id", "-created", "-id"
        )
        for version in versions:
            newest.setdefault(version.frame_id, version)
    return newest


def thumbnails_by_frame(frame_ids: Sequence[int]) -> dict[int, list[Thumbnail]]:
    """Every thumbnail of each frame, ordered by id."""
    found: dict[int, list[Thumbnail]] = {}
    for start in range(0, len(frame_ids), _BATCH):
        batch = list(frame_ids[start : start + _BATCH])
        for thumbnail in Thumbnail.objects.filter(frame_id__in=batch).order_by("id"):
            found.setdefault(thumbnail.frame_id, []).append(thumbnail)
    return found


def preferred_thumbnails(frame_ids: Sequence[int]) -> dict[int, Thumbnail]:
    """The largest thumbnail of each frame that has one."""
    rank = {size: position for position, size in enumerate(PREVIEW_SIZES)}
    chosen: dict[int, Thumbnail] = {}
    for frame_id, thumbnails in thumbnails_by_frame(frame_ids).items():
        chosen[frame_id] = min(thumbnails, key=lambda t: (rank.get(t.size, len(rank)), t.pk))
    return chosen


@dataclass
class RowBuilder:
    """Builds ObsCore rows for frames of one response (one URL maker, one signature expiry)."""

    caller: Caller
    config: VoSettings

    def __post_init__(self) -> None:
        self.bandpasses = bandpasses_for(self.config)
        self.make_url = url_maker(self.config.url_expiry)
        self.expires = cutout_expiry(self.caller.now, self.config.url_expiry)

    def signature(self, frame: Frame) -> str | None:
        """A cutout signature when the frame is not public (the caller may see it)."""
        public = frame.public_date is not None and frame.public_date < self.caller.now
        return None if public else sign_cutout(frame.pk, self.expires)

    def rows(self, ids: Sequence[int], queryset: QuerySet[Frame]) -> Iterator[dict[str, Any]]:
        """ObsCore rows of the frames ``ids`` (in that order) from ``queryset``."""
        for start in range(0, len(ids), _BATCH):
            batch = list(ids[start : start + _BATCH])
            frames = {
                frame.pk: frame
                for frame in queryset.filter(pk__in=batch).annotate(**_header_annotations())
            }
            versions = newest_versions(batch)
            previews = preferred_thumbnails(batch)
            present = [frame_id for frame_id in batch if frame_id in frames]
            spatial = dict(
                zip(present, spatial_columns([frames[i].area for i in present]), strict=True)
            )
            for frame_id in batch:
                frame = frames.get(frame_id)
                version = versions.get(frame_id)
                if frame is None or version is None:
                    continue  # deleted since the ids were selected
                preview = previews.get(frame_id)
                yield obscore_row(
                    frame,
                    extension=version.extension,
                    size=version.size,
                    headers=header_values(frame),
                    access_url=self.make_url(version.object_key, version.key),
                    preview_url=None
                    if preview is None
                    else self.make_url(preview.object_key, preview.key),
                    signature=self.signature(frame),
                    spatial=spatial[frame_id],
                    now=self.caller.now,
                    config=self.config,
                    bandpasses=self.bandpasses,
                )
