"""The archive record of a data product: what ``POST /frames/`` receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FrameRecord", "Version"]


@dataclass(frozen=True)
class Version:
    """One stored version of a product's bytes, as the archive's ``version_set`` lists it.

    ``key`` is the object store's version id (upstream: the S3 VersionId), ``md5`` the hex digest
    obsarchive computed while streaming.
    """

    key: str
    md5: str
    extension: str

    def to_payload(self) -> dict[str, str]:
        return {"key": self.key, "md5": self.md5, "extension": self.extension}


@dataclass(frozen=True)
class FrameRecord:
    """A product's archive record, field for field the OCS ``POST /frames/`` payload.

    Values keep the types upstream sends (``observation_id`` and ``request_id`` stay the raw
    header values, dates stay strings) so existing archives accept the payload unchanged.
    """

    basename: str
    reduction_level: int = 0
    observation_day: str | None = None
    observation_date: str | None = None
    proposal_id: str = ""
    instrument_id: str = ""
    target_name: str = ""
    site_id: str = ""
    telescope_id: str = ""
    exposure_time: Any = None
    primary_optical_element: str = ""
    public_date: str | None = None
    configuration_type: str = ""
    observation_id: Any = None
    request_id: Any = None
    related_frame_filenames: tuple[str, ...] = ()
    frame_basename: str | None = None
    size: str = ""
    area: Mapping[str, Any] | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self, version_set: tuple[Version, ...] | list[Version] = ()) -> dict[str, Any]:
        """The JSON-ready ``POST /frames/`` (or ``/thumbnails/``) body."""
        payload: dict[str, Any] = {
            "basename": self.basename,
            "reduction_level": self.reduction_level,
            "observation_day": self.observation_day,
            "observation_date": self.observation_date,
            "proposal_id": self.proposal_id,
            "instrument_id": self.instrument_id,
            "target_name": self.target_name,
            "site_id": self.site_id,
            "telescope_id": self.telescope_id,
            "exposure_time": self.exposure_time,
            "primary_optical_element": self.primary_optical_element,
            "public_date": self.public_date,
            "configuration_type": self.configuration_type,
            "observation_id": self.observation_id,
            "request_id": self.request_id,
            "related_frame_filenames": list(self.related_frame_filenames),
            "frame_basename": self.frame_basename,
            "size": self.size,
            "area": None if self.area is None else _plain(self.area),
            "headers": dict(self.headers),
        }
        if version_set:
            payload["version_set"] = [v.to_payload() for v in version_set]
        return payload


def _plain(value: Any) -> Any:
    """Deep-copy mappings and sequences into JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
