"""JSON shapes of frames, versions and thumbnails, built without per-row queries.

Two frame shapes exist, as upstream: the search/detail row ("as_dict", with the upper-case
legacy aliases) and the ingest serializer shape (returned by ``POST /frames/``, ``related/``
and thumbnail ingest). Both are built from a frame plus data fetched in bulk for a whole page
(versions, related ids, thumbnails), so rendering a page costs no query per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from obsarchive.server.frames.models import LEGACY_ALIASES, Frame, Thumbnail, Version

__all__ = [
    "UrlMaker",
    "format_date",
    "format_datetime",
    "frame_row",
    "frame_serializer_shape",
    "thumbnail_dict",
    "version_dict",
]

# (object_key, version_id) -> URL; the store's signed/presigned URL maker.
UrlMaker = Callable[[str, str], str]


def format_datetime(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix; microseconds only when non-zero (as DRF prints)."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def version_dict(version: Version, url: UrlMaker) -> dict[str, Any]:
    """A version as list/detail rows and ``/versions/`` show it."""
    return {
        "id": version.pk,
        "key": version.key,
        "md5": version.md5,
        "extension": version.extension,
        "url": url(version.object_key, version.key),
        "created": format_datetime(version.created),
    }


def thumbnail_dict(thumbnail: Thumbnail, url: UrlMaker) -> dict[str, Any]:
    """A thumbnail item (``/thumbnails/`` and ``include_thumbnails``)."""
    return {
        "id": thumbnail.pk,
        "frame": thumbnail.frame_id,
        "size": thumbnail.size,
        "basename": thumbnail.basename,
        "extension": thumbnail.extension,
        "key": thumbnail.key,
        "url": url(thumbnail.object_key, thumbnail.key),
    }


def _scalars(frame: Frame) -> dict[str, Any]:
    return {
        "observation_date": format_datetime(frame.observation_date),
        "observation_day": format_date(frame.observation_day),
        "proposal_id": frame.proposal_id,
        "instrument_id": frame.instrument_id,
        "target_name": frame.target_name,
        "reduction_level": frame.reduction_level,
        "site_id": frame.site_id,
        "telescope_id": frame.telescope_id,
        "exposure_time": frame.exposure_time,
        "primary_optical_element": frame.primary_optical_element,
        "public_date": format_datetime(frame.public_date),
        "configuration_type": frame.configuration_type,
        "observation_id": frame.observation_id,
        "request_id": frame.request_id,
    }


def frame_row(
    frame: Frame,
    versions: Sequence[Version],
    url: UrlMaker,
    *,
    related_ids: Iterable[int] | None = None,
    thumbnails: Sequence[Thumbnail] | None = None,
) -> dict[str, Any]:
    """The search/detail shape (reference §2.2.3).

    ``versions`` newest first. ``related_ids`` None omits ``related_frames``; ``thumbnails``
    None omits ``thumbnails``.
    """
    version_items = [version_dict(v, url) for v in versions]
    row: dict[str, Any] = {"id": frame.pk, "basename": frame.basename}
    scalars = _scalars(frame)
    row.update(scalars)
    row["version_set"] = version_items
    row["url"] = version_items[0]["url"] if version_items else None
    row["filename"] = frame.basename + versions[0].extension if versions else None
    for alias, field in LEGACY_ALIASES.items():
        row[alias] = scalars[field]
    if frame.area is not None:
        row["area"] = frame.area
    if related_ids is not None:
        row["related_frames"] = sorted(related_ids)
    if thumbnails is not None:
        row["thumbnails"] = [thumbnail_dict(t, url) for t in thumbnails]
    return row


def frame_serializer_shape(
    frame: Frame,
    versions: Sequence[Version],
    url: UrlMaker,
    related_ids: Iterable[int],
) -> dict[str, Any]:
    """The ingest serializer shape (§2.4.3): no aliases; url/filename only with versions."""
    version_items = [version_dict(v, url) for v in versions]
    out: dict[str, Any] = {
        "id": frame.pk,
        "basename": frame.basename,
        "area": frame.area,
        "related_frames": sorted(related_ids),
        "version_set": [
            {
                "id": item["id"],
                "created": item["created"],
                "key": item["key"],
                "md5": item["md5"],
                "extension": item["extension"],
                "url": item["url"],
            }
            for item in version_items
        ],
    }
    if versions:
        out["filename"] = frame.basename + versions[0].extension
        out["url"] = version_items[0]["url"]
    scalars = _scalars(frame)
    out["reduction_level"] = scalars.pop("reduction_level")
    out["observation_day"] = scalars.pop("observation_day")
    out["observation_date"] = scalars.pop("observation_date")
    out.update(scalars)
    return out


def group_by_frame(items: Iterable[Any], attribute: str = "frame_id") -> Mapping[int, list[Any]]:
    """Bucket bulk-fetched rows (versions, thumbnails) by their frame id, keeping order."""
    grouped: dict[int, list[Any]] = {}
    for item in items:
        grouped.setdefault(getattr(item, attribute), []).append(item)
    return grouped
