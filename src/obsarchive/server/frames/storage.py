"""The archive's object store, opened once per process, and the keys frames are stored under.

Rows carry download URLs of the stored objects. The store is created on first use (never at
import: opening an S3 store builds a client) and reused for every request of the process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.conf import settings

from obsarchive.storage.base import ObjectStore, StoreError

__all__ = [
    "archive_store",
    "download_signing_key",
    "frame_object_key",
    "reset_store",
    "thumbnail_object_key",
    "url_maker",
]

logger = logging.getLogger(__name__)

URL_EXPIRY = timedelta(hours=48)  # upstream presigned URLs are valid for 48 h


def download_signing_key() -> bytes:
    """The HMAC key of filesystem-store download URLs, derived from ``SECRET_KEY``.

    Derived rather than used directly so a leaked download signature says nothing about the
    key that signs sessions.
    """
    return hmac.new(
        settings.SECRET_KEY.encode(), b"obsarchive download urls", hashlib.sha256
    ).digest()


@functools.cache
def archive_store() -> ObjectStore:
    """The configured object store (``FILESTORE_TYPE`` and friends), created once."""
    from obsarchive.storage import open_store

    return open_store(settings.ARCHIVE.store, signing_key=download_signing_key())


def reset_store() -> None:
    """Forget the process's store (tests switch stores)."""
    archive_store.cache_clear()


def url_maker(expires: timedelta | None = None) -> Any:
    """A ``(object_key, version_id) -> url`` function bound to the store, for one response.

    ``expires`` defaults to ``DOWNLOAD_URL_EXPIRY_SECONDS`` (48 h, as upstream).
    A missing key (rows imported without one) or a store failure gives ``""`` — the value the
    upstream archive gives when its store cannot make a URL — instead of failing the response.
    """
    if expires is None:
        downloads = getattr(settings, "OBSARCHIVE_DOWNLOADS", None)
        expires = getattr(downloads, "url_expiry", URL_EXPIRY)
    store = archive_store()
    failures: list[str] = []

    def make(object_key: str, version_id: str) -> str:
        if not object_key:
            return ""
        try:
            return store.url(object_key, version_id or None, expires)
        except (StoreError, ValueError) as exc:
            if not failures:  # log once per response, not once per row
                logger.warning("cannot make a download URL for %s: %s", object_key, exc)
            failures.append(object_key)
            return ""

    return make


def _day_text(observation_day: date | str | None) -> str:
    if observation_day is None:
        return ""
    if isinstance(observation_day, date):
        return observation_day.strftime("%Y%m%d")
    return str(observation_day).replace("-", "")


def _is_bad_pixel_mask(
    basename: str, configuration_type: str, headers: Mapping[str, Any], extension: str
) -> bool:
    """The OCS rule that files LCO bad-pixel masks under ``bpm/`` instead of a day folder."""
    if extension != ".fits.fz":
        return False
    return (
        configuration_type == "BPM"
        or str(headers.get("EXTNAME", "")).strip() == "BPM"
        or "bpm" in basename.lower()
    )


def _storage_level(basename: str, reduction_level: int, extension: str) -> int:
    """The reduction level the OCS layout uses: for ``.fits.fz`` a stored 0 is re-inferred
    from the last two characters of the basename (``-e91`` is processed)."""
    if reduction_level == 0 and extension == ".fits.fz":
        suffix = basename[-2:]
        if suffix.isdigit():
            return int(suffix)
    return reduction_level


def frame_object_key(
    *,
    basename: str,
    extension: str,
    site_id: str,
    instrument_id: str,
    observation_day: date | str | None,
    reduction_level: int,
    configuration_type: str = "",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """The OCS object key of a frame's file (``site/instrument/day/raw|processed/name``).

    Raises
    ------
    ValueError
        A component would escape the layout (``/``, ``..``, NUL).
    """
    from obsarchive.storage.keys import object_key

    if _is_bad_pixel_mask(basename, configuration_type, headers or {}, extension):
        kind = "bpm"
    elif _storage_level(basename, reduction_level, extension) == 0:
        kind = "raw"
    else:
        kind = "processed"
    return object_key(site_id, instrument_id, _day_text(observation_day), kind, basename, extension)


def thumbnail_object_key(
    *,
    basename: str,
    extension: str,
    site_id: str,
    instrument_id: str,
    observation_day: date | str | None,
) -> str:
    """The OCS object key of a thumbnail (``site/instrument/day/thumbnails/name``)."""
    from obsarchive.storage.keys import object_key

    return object_key(
        site_id, instrument_id, _day_text(observation_day), "thumbnails", basename, extension
    )
