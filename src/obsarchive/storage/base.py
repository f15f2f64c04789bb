"""The object-store interface every backend implements, and its error family."""

from __future__ import annotations

import abc
import re
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO
from urllib.parse import quote

from obsarchive.storage.checksums import md5_of

__all__ = [
    "MAX_KEY_BYTES",
    "InvalidKeyError",
    "ObjectNotFoundError",
    "ObjectStore",
    "StoreConfigurationError",
    "StoreError",
    "StoreUnavailableError",
    "StoredObject",
    "attachment_disposition",
    "validate_key",
]

# S3 refuses keys longer than 1024 bytes of UTF-8; every backend applies the same limit so a key
# accepted by one store is accepted by all of them.
MAX_KEY_BYTES = 1024


class StoreError(Exception):
    """Base of every object-store error."""


class ObjectNotFoundError(StoreError, FileNotFoundError):
    """The key (or the requested version of it) does not exist."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or failed transiently; retrying later may succeed."""


class StoreConfigurationError(StoreError):
    """The store is misconfigured (unknown type, missing or unversioned bucket, bad root)."""


class InvalidKeyError(StoreError, ValueError):
    """The key is not acceptable to any store (absolute, ``..`` segments, control characters...).

    Retrying cannot help: the caller built a bad key.
    """


@dataclass(frozen=True)
class StoredObject:
    """One stored version of an object.

    ``md5`` is always computed by obsarchive itself while streaming, never taken from an ETag.
    It is ``''`` when the backend cannot know it without reading the object back (an S3 object
    described by ``stat``/``versions``); :meth:`ObjectStore.checksum` then computes it.
    """

    key: str
    version_id: str
    md5: str
    size: int
    last_modified: datetime | None = None
    content_type: str = ""


class ObjectStore(abc.ABC):
    """A versioned object store. Every method streams; none reads a whole object into memory."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        fileobj: BinaryIO,
        *,
        content_type: str = "",
        content_disposition: str | None = None,
        storage_class: str | None = None,
    ) -> StoredObject:
        """Store ``fileobj`` (read from its current position to EOF) as a new version of ``key``."""

    @abc.abstractmethod
    def open(self, key: str, version_id: str | None = None) -> AbstractContextManager[BinaryIO]:
        """A context manager yielding a readable, streaming binary file for one version."""

    @abc.abstractmethod
    def url(
        self, key: str, version_id: str | None = None, expires: timedelta = timedelta(hours=48)
    ) -> str:
        """A time-limited URL for one version (S3 presigned; for files, a signed archive URL)."""

    @abc.abstractmethod
    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete one version, or every version of ``key`` when ``version_id`` is None.

        Deleting a key or version that does not exist is not an error (so retries and undo
        paths are safe).
        """

    @abc.abstractmethod
    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Describe one version (the latest when ``version_id`` is None)."""

    @abc.abstractmethod
    def versions(self, key: str) -> list[StoredObject]:
        """Every stored version of ``key``, newest first; empty when there is none."""

    @abc.abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` that has at least one version (for reconciliation).

        ``prefix`` is a plain string prefix, as on S3 (``"coj/kb05/2015"`` matches every day
        of 2015); the order is unspecified.
        """

    def exists(self, key: str, version_id: str | None = None) -> bool:
        """True when the key (or that version of it) is stored."""
        try:
            self.stat(key, version_id)
        except ObjectNotFoundError:
            return False
        return True

    def checksum(self, key: str, version_id: str | None = None) -> str:
        """The hex md5 of one stored version, computed by streaming it back (never an ETag)."""
        with self.open(key, version_id) as stream:
            return md5_of(stream)[0]

    def check(self) -> None:  # noqa: B027 - an optional hook; most stores have nothing to check
        """Verify the configuration against the real store (for start-up and health checks).

        Raises
        ------
        StoreConfigurationError
            The store cannot work as configured (missing or unversioned bucket, unwritable root).
        StoreUnavailableError
            The store cannot be reached right now.
        """


_SEGMENT_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if every store can hold it safely, else raise.

    A key is a relative, ``/``-separated path: no leading or trailing ``/``, no empty, ``.`` or
    ``..`` segment, no backslash, no NUL or other control character, at most
    :data:`MAX_KEY_BYTES` bytes of UTF-8. The rules are the same for every backend so that a
    key that works on the memory store in a test also works on S3 and on a filesystem.

    Raises
    ------
    InvalidKeyError
        The key breaks one of the rules above.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"an object key must be a non-empty string, got {key!r}")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be stored anywhere
        raise InvalidKeyError(f"object key {key!r} is not valid UTF-8") from exc
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKeyError(f"object key {key!r} must be relative (no leading '/')")
    if _SEGMENT_FORBIDDEN.search(key):
        raise InvalidKeyError(f"object key {key!r} contains a control character or backslash")
    for segment in key.split("/"):
        if segment in {"", ".", ".."}:
            raise InvalidKeyError(f"object key {key!r} has an empty, '.' or '..' segment")
    return key


# RFC 7230 token characters: a filename made only of these needs no quoting, which keeps the
# header byte-identical to upstream's ``attachment; filename=<basename><extension>``.
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def attachment_disposition(filename: str) -> str:
    """The ``Content-Disposition`` header that makes browsers save ``filename``.

    Plain names give upstream's exact form ``attachment; filename=<name>``; names with spaces,
    quotes or non-ASCII characters get a quoted ASCII fallback plus an RFC 6266 ``filename*``.
    """
    if _TOKEN.match(filename):
        return f"attachment; filename={filename}"
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join("_" if ch in '"\\' or ord(ch) < 0x20 else ch for ch in fallback)
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{encoded}"
