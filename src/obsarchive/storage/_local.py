"""Pieces shared by the stores obsarchive runs itself (filesystem and memory)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from obsarchive.storage.base import StoreConfigurationError
from obsarchive.storage.signing import signed_download_url

__all__ = ["Clock", "DownloadUrls", "VersionIds", "is_version_id", "utc_now"]

Clock = Callable[[], datetime]
UrlSigner = Callable[[str, str, timedelta], str]

# 19 decimal digits of nanoseconds since the epoch (fixed width until 2286, so ids sort by
# time as plain strings), then 48 random bits so two writers never collide. 32 characters:
# it even fits upstream's varchar(32) version column.
_VERSION_ID = re.compile(r"\A[0-9]{19}-[0-9a-f]{12}\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_version_id(value: object) -> bool:
    """True for ids made by :class:`VersionIds` (anything else cannot name a local version)."""
    return isinstance(value, str) and _VERSION_ID.match(value) is not None


def _nanoseconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("the store clock must return timezone-aware datetimes")
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class VersionIds:
    """Makes version ids that sort by creation time, strictly increasing within a process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last = 0

    def new(self, after: str | None = None) -> tuple[str, datetime]:
        """A new id (and its creation time) greater than ``after`` and than any id made before.

        ``after`` is the newest existing id of the key: passing it keeps ids increasing even
        when another process wrote that version or the wall clock stepped back.
        """
        moment = self._clock()
        nanos = _nanoseconds(moment)
        floor = int(after.split("-", 1)[0]) + 1 if after and is_version_id(after) else 0
        with self._lock:
            nanos = max(nanos, self._last + 1, floor)
            self._last = nanos
        return f"{nanos:019d}-{secrets.token_hex(6)}", moment


class DownloadUrls:
    """Time-limited download URLs for a local store: a custom signer, or the HMAC scheme."""

    def __init__(
        self,
        base_url: str,
        signing_key: bytes | None,
        url_signer: UrlSigner | None,
        clock: Clock,
    ) -> None:
        self._base_url = base_url
        self._signing_key = signing_key
        self._url_signer = url_signer
        self._clock = clock

    def url(self, key: str, version_id: str, expires: timedelta) -> str:
        if expires <= timedelta(0):
            raise ValueError(f"expires must be positive, got {expires}")
        if self._url_signer is not None:
            return self._url_signer(key, version_id, expires)
        if not self._signing_key:
            raise StoreConfigurationError(
                "this store needs a signing key (or a url_signer) to make download URLs"
            )
        return signed_download_url(
            self._base_url, key, version_id, self._clock() + expires, self._signing_key
        )
