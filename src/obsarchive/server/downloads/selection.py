"""Which files a caller may download: visibility, newest versions, derived-file signatures.

Every download path (zip, uncompressed and catalogue files, download scripts) selects frames
through :func:`~obsarchive.server.frames.querysets.visible_frames` (re-exported here), the
base queryset of every frame read path: the frames API, the VO interfaces and downloads apply
the one visibility rule of the archive and never show placeholders (frames without an
observation date).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.querysets import visible_frames
from obsarchive.server.frames.storage import download_signing_key
from obsarchive.storage.signing import sign_download, verify_download

__all__ = [
    "DERIVED_KINDS",
    "SelectedFile",
    "derived_signature",
    "frames_by_ids",
    "newest_versions",
    "select_files",
    "verify_derived",
    "visible_frames",
]

# Ids per query: far below SQLite's bound-parameter limit.
_ID_BATCH = 500
#: Derived files the archive builds from a stored product (URL path words, as upstream).
DERIVED_KINDS = ("funpack", "catalog")


@dataclass(frozen=True)
class SelectedFile:
    """A visible frame and the version of its file to hand out (its newest)."""

    frame: Frame
    version: Version

    @property
    def filename(self) -> str:
        """``basename`` + the version's extension, as upstream names downloads."""
        return self.frame.basename + self.version.extension


def _batches(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _ID_BATCH):
        yield list(ids[start : start + _ID_BATCH])


def newest_versions(frame_ids: Sequence[int]) -> dict[int, Version]:
    """The newest version of each frame that has one (one query per 500 frames)."""
    newest: dict[int, Version] = {}
    for batch in _batches(list(frame_ids)):
        versions = Version.objects.filter(frame_id__in=batch).order_by(
            "frame_id", "-created", "-id"
        )
        for version in versions:
            newest.setdefault(version.frame_id, version)
    return newest


def select_files(frames: Iterable[Frame]) -> list[SelectedFile]:
    """Pair each frame with its newest version, keeping the order; frames without a file are
    left out (upstream crashes on them, reference Appendix A.4)."""
    frames = list(frames)
    newest = newest_versions([frame.pk for frame in frames])
    return [
        SelectedFile(frame=frame, version=newest[frame.pk])
        for frame in frames
        if frame.pk in newest
    ]


def frames_by_ids(ids: Sequence[int], user: Any, now: datetime) -> list[Frame]:
    """The visible frames among ``ids`` (unknown and invisible ids are dropped), ordered by
    observation date, newest first, as upstream orders zip manifests."""
    wanted = list(dict.fromkeys(ids))
    found: list[Frame] = []
    for batch in _batches(wanted):
        found.extend(visible_frames(user, now).filter(pk__in=batch).defer("footprint", "area"))
    return sorted(
        found,
        key=lambda frame: (
            frame.observation_date.timestamp() if frame.observation_date else 0.0,
            frame.pk,
        ),
        reverse=True,
    )


def _derived_key() -> bytes:
    # A key of its own, so no object-download signature can ever pass as a derived-file one.
    return hmac.new(download_signing_key(), b"obsarchive derived files", hashlib.sha256).digest()


def derived_signature(kind: str, frame_id: int, version_key: str, expires_at: int) -> str:
    """The signature letting anyone holding it fetch one derived file until ``expires_at``.

    Written into nginx manifests (visibility was checked when the manifest was built), so
    mod_zip's sub-requests need no credentials.
    """
    if kind not in DERIVED_KINDS:
        raise ValueError(f"unknown derived file kind {kind!r}")
    return sign_download(f"{kind}/{frame_id}", version_key, expires_at, _derived_key())


def verify_derived(
    kind: str, frame_id: int, version_key: str, expires: str, signature: str, now: datetime
) -> bool:
    """True when ``signature`` authorises this derived file and has not expired."""
    return verify_download(
        f"{kind}/{frame_id}", version_key, expires, signature, _derived_key(), now=now
    )
