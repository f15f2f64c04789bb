"""The object-store interface every backend implements, and its error family."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

__all__ = [
    "ObjectNotFoundError",
    "ObjectStore",
    "StoreConfigurationError",
    "StoreError",
    "StoreUnavailableError",
    "StoredObject",
]


class StoreError(Exception):
    """Base of every object-store error."""


class ObjectNotFoundError(StoreError, FileNotFoundError):
    """The key (or the requested version of it) does not exist."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or failed transiently; retrying later may succeed."""


class StoreConfigurationError(StoreError):
    """The store is misconfigured (unknown type, missing or unversioned bucket, bad root)."""


@dataclass(frozen=True)
class StoredObject:
    """One stored version of an object.

    ``md5`` is always computed by obsarchive itself while streaming, never taken from an ETag.
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
        """Delete one version, or every version of ``key`` when ``version_id`` is None."""

    @abc.abstractmethod
    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Describe one version (the latest when ``version_id`` is None)."""

    @abc.abstractmethod
    def versions(self, key: str) -> list[StoredObject]:
        """Every stored version of ``key``, newest first; empty when there is none."""

    @abc.abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` that has at least one version (for reconciliation)."""

    def exists(self, key: str, version_id: str | None = None) -> bool:
        """True when the key (or that version of it) is stored."""
        try:
            self.stat(key, version_id)
        except ObjectNotFoundError:
            return False
        return True
