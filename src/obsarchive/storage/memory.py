"""A versioned object store in process memory, for tests and demos.

It is a complete implementation of :class:`~obsarchive.storage.base.ObjectStore` (versions,
deletes, signed URLs, the same key rules), not a stub: the same contract suite runs against it,
the filesystem store and S3. It necessarily holds every stored byte in memory.
"""

from __future__ import annotations

import io
import posixpath
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from obsarchive.storage._local import (
    Clock,
    DownloadUrls,
    UrlSigner,
    VersionIds,
    utc_now,
)
from obsarchive.storage.base import (
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
    attachment_disposition,
    validate_key,
)
from obsarchive.storage.checksums import CHUNK_SIZE, HashingReader

__all__ = ["MemoryStore"]


@dataclass(frozen=True)
class _Version:
    info: StoredObject
    data: bytes
    content_disposition: str
    storage_class: str | None


class MemoryStore(ObjectStore):
    """A thread-safe, versioned store keeping objects in a dict.

    Parameters
    ----------
    base_url
        Root of the archive that serves downloads (``FILESYSTEM_STORAGE_BASE_URL``).
    signing_key
        Secret for the download-URL HMAC (see :mod:`obsarchive.storage.signing`).
    url_signer
        Alternative to ``signing_key``: ``url_signer(key, version_id, expires) -> url``.
    clock
        Returns the current aware UTC time (injected in tests).
    """

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:8000/",
        signing_key: bytes | None = None,
        url_signer: UrlSigner | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or utc_now
        self._ids = VersionIds(self._clock)
        self._urls = DownloadUrls(base_url, signing_key, url_signer, self._clock)
        self._lock = threading.Lock()
        # key -> versions, oldest first (ids increase, so appending keeps the order)
        self._objects: dict[str, list[_Version]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._objects)} keys)"

    def put(
        self,
        key: str,
        fileobj: BinaryIO,
        *,
        content_type: str = "",
        content_disposition: str | None = None,
        storage_class: str | None = None,
    ) -> StoredObject:
        """Store ``fileobj`` (current position to EOF) as a new version of ``key``."""
        validate_key(key)
        reader = HashingReader(fileobj)
        buffer = io.BytesIO()
        while chunk := reader.read(CHUNK_SIZE):
            buffer.write(chunk)
        data = buffer.getvalue()
        disposition = content_disposition or attachment_disposition(posixpath.basename(key))
        with self._lock:
            existing = self._objects.get(key)
            newest = existing[-1].info.version_id if existing else None
            version_id, created = self._ids.new(after=newest)
            info = StoredObject(
                key=key,
                version_id=version_id,
                md5=reader.md5,
                size=reader.size,
                last_modified=created,
                content_type=content_type,
            )
            self._objects.setdefault(key, []).append(
                _Version(info, data, disposition, storage_class)
            )
        return info

    def _find(self, key: str, version_id: str | None) -> _Version:
        validate_key(key)
        with self._lock:
            versions = self._objects.get(key)
            if versions:
                if version_id is None:
                    return versions[-1]
                for version in versions:
                    if version.info.version_id == version_id:
                        return version
        what = key if version_id is None else f"{key} version {version_id}"
        raise ObjectNotFoundError(f"no object {what} in the memory store")

    @contextmanager
    def _reader(self, version: _Version) -> Iterator[BinaryIO]:
        # BytesIO over immutable bytes shares the buffer: opening costs no copy.
        stream = io.BytesIO(version.data)
        try:
            yield stream
        finally:
            stream.close()

    def open(self, key: str, version_id: str | None = None) -> AbstractContextManager[BinaryIO]:
        """A context manager yielding one version's bytes as a binary stream."""
        return self._reader(self._find(key, version_id))

    def url(
        self, key: str, version_id: str | None = None, expires: timedelta = timedelta(hours=48)
    ) -> str:
        """A signed archive download URL for one version (the latest when none is given)."""
        version = self._find(key, version_id)
        return self._urls.url(key, version.info.version_id, expires)

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete one version, or all of them; deleting what is absent is not an error."""
        validate_key(key)
        with self._lock:
            versions = self._objects.get(key)
            if not versions:
                return
            if version_id is None:
                del self._objects[key]
                return
            remaining = [v for v in versions if v.info.version_id != version_id]
            if remaining:
                self._objects[key] = remaining
            else:
                del self._objects[key]

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Describe one version (the latest when ``version_id`` is None)."""
        return self._find(key, version_id).info

    def versions(self, key: str) -> list[StoredObject]:
        """Every version of ``key``, newest first."""
        validate_key(key)
        with self._lock:
            return [v.info for v in reversed(self._objects.get(key, []))]

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a plain string prefix), sorted."""
        with self._lock:
            selected = sorted(k for k in self._objects if k.startswith(prefix))
        return iter(selected)
