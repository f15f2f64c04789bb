"""Synthetic archive records for server tests, shaped exactly as the ingester posts them.

A record is a :class:`obsarchive.products.record.FrameRecord`; the payload is its
``to_payload(version_set)`` — the same code path the ingester uses — so the server is tested
against the real wire format rather than a hand-written dict.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from obsarchive.products.record import FrameRecord, Version

__all__ = [
    "FUTURE",
    "PAST",
    "box_area",
    "frame_payload",
    "frame_record",
    "new_version",
    "thumbnail_payload",
]

_counter = itertools.count(1)

# Fixed moments well away from "now" on either side, for public and proprietary frames.
PAST = datetime(2015, 12, 22, 4, 18, 13, tzinfo=UTC)
FUTURE = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3650)


def _iso(moment: datetime) -> str:
    """Naive ISO text in UTC, as the ingester sends header dates."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def box_area(ra0: float, dec0: float, ra1: float, dec1: float) -> dict[str, Any]:
    """A GeoJSON footprint with corners (ra0, dec0) and (ra1, dec1), closed, as upstream."""
    ring = [[ra0, dec0], [ra0, dec1], [ra1, dec1], [ra1, dec0], [ra0, dec0]]
    return {"type": "Polygon", "coordinates": [ring]}


def new_version(extension: str = ".fits.fz", *, content: bytes | None = None) -> Version:
    """A version as a store returns it: a 36-character version id (like moto/S3) and an md5."""
    data = content if content is not None else uuid.uuid4().bytes
    return Version(
        key=str(uuid.uuid4()),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        extension=extension,
    )


def frame_record(
    *,
    basename: str | None = None,
    observation_date: datetime = PAST,
    public_date: datetime | None = PAST,
    proposal_id: str = "LCOEPO2014B-010",
    configuration_type: str = "EXPOSE",
    reduction_level: int = 0,
    site_id: str = "cpt",
    telescope_id: str = "1m0a",
    instrument_id: str = "kb70",
    target_name: str = "M42",
    exposure_time: float | None = 300.0,
    primary_optical_element: str = "rp",
    observation_id: Any = "74180137",
    request_id: Any = None,
    area: dict[str, Any] | None = None,
    related: tuple[str, ...] = (),
    headers: dict[str, Any] | None = None,
) -> FrameRecord:
    """A realistic LCO-like record; every field can be overridden."""
    number = next(_counter)
    day = observation_date.astimezone(UTC) - timedelta(hours=12)
    if basename is None:
        basename = (
            f"{site_id}1m010-{instrument_id}-{day:%Y%m%d}-{number:04d}-e{reduction_level:02d}"
        )
    header_values: dict[str, Any] = {
        "PROPID": proposal_id,
        "DATE-OBS": _iso(observation_date),
        "DAY-OBS": f"{day:%Y%m%d}",
        "INSTRUME": instrument_id,
        "SITEID": site_id,
        "TELID": telescope_id,
        "OBSTYPE": configuration_type,
        "BLKUID": observation_id,
        "RLEVEL": reduction_level,
        "OBJECT": target_name,
        "USERID": "jdoe",
    }
    if headers:
        header_values.update(headers)
    return FrameRecord(
        basename=basename,
        reduction_level=reduction_level,
        observation_day=f"{day:%Y%m%d}",
        observation_date=_iso(observation_date),
        proposal_id=proposal_id,
        instrument_id=instrument_id,
        target_name=target_name,
        site_id=site_id,
        telescope_id=telescope_id,
        exposure_time=exposure_time,
        primary_optical_element=primary_optical_element,
        public_date=None if public_date is None else _iso(public_date),
        configuration_type=configuration_type,
        observation_id=observation_id,
        request_id=request_id,
        related_frame_filenames=related,
        area=area,
        headers=header_values,
    )


def frame_payload(
    record: FrameRecord | None = None,
    *,
    versions: list[Version] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The ``POST /frames/`` body for ``record`` (built with ``frame_record(**overrides)``).

    ``versions`` defaults to one new ``.fits.fz`` version; ``[]`` posts an empty version_set.
    """
    if record is None:
        record = frame_record(**overrides)
    elif overrides:
        record = replace(record, **overrides)
    chosen = [new_version()] if versions is None else versions
    payload = record.to_payload(chosen)
    payload.setdefault("version_set", [])
    return payload


def thumbnail_payload(
    frame: FrameRecord,
    *,
    size: str = "small",
    basename: str | None = None,
    version: Version | None = None,
) -> dict[str, Any]:
    """The ``POST /thumbnails/`` body: the frame's record plus the thumbnail's own fields."""
    thumb = version or new_version(".jpg")
    payload = replace(
        frame,
        basename=basename or f"{frame.basename}-{size}",
        frame_basename=frame.basename,
        size=size,
    ).to_payload([thumb])
    return payload
