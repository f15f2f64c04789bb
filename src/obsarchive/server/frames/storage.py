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

from obsarchive.config import HeaderKeys
from obsarchive.products import lco
from obsarchive.storage.base import ObjectStore, StoreError
from obsarchive.storage.keys import object_key, object_kind

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

    For versions posted without their ``object_key`` (by an upstream ingester), the key is
    derived by the library's rule (:func:`obsarchive.storage.keys.object_kind`), as the
    upstream archive derives it: the default file-type mapping reads ``.fits.fz`` with the LCO
    class, so only those can be bad-pixel masks, and a stored reduction level of 0 is
    re-inferred from their name (``-e91`` is processed).

    Raises
    ------
    ValueError
        A component would escape the layout (``/``, ``..``, NUL).
    """
    lco_layout = extension == ".fits.fz"
    if lco_layout and reduction_level == 0:
        reduction_level = lco.infer_reduction_level(basename, extension)
    keys = HeaderKeys()
    bad_pixel_mask = lco_layout and lco.is_bpm(
        basename, {**(headers or {}), keys.configuration_type: configuration_type}, keys
    )
    kind = object_kind(reduction_level, bad_pixel_mask=bad_pixel_mask)
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
    kind = object_kind(thumbnail=True)
    return object_key(site_id, instrument_id, _day_text(observation_day), kind, basename, extension)
