"""A versioned object store on a local (or mounted) POSIX filesystem.

Layout under ``root``::

    <key>                                   the latest version, a plain file for operators
    .obsarchive/versions/<key>/<vid>.data   every stored version's bytes (immutable)
    .obsarchive/versions/<key>/<vid>.json   its description: md5, size, content type, time
    .obsarchive/tmp/                        staging area for writes in progress
    .obsarchive/locks/<nn>.lock             256 lock stripes serialising writers of a key

Why this shape:

- Operators and upstream tools still find ``root/<key>`` where upstream's ``FileSystemStore``
  wrote it; it is a hard link to the newest ``.data`` file, so it costs no space.
- A version exists exactly when its ``.json`` exists. A write streams into ``tmp/`` (hashing on
  the way), fsyncs, then renames the data and then the description into place, so a crash at
  any point leaves either a complete version or none (at worst an orphan in ``tmp/`` or an
  unreferenced ``.data``, both invisible to readers).
- Version ids start with 19 digits of nanoseconds, so names sort by age; under the key's lock
  a new id is always greater than the newest existing one, even across processes.
- Every path is checked after resolving symlinks: no key can read or write outside ``root``.

POSIX only (``fcntl`` locks, hard links, directory fsync).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from obsarchive.storage._local import (
    Clock,
    DownloadUrls,
    UrlSigner,
    VersionIds,
    is_version_id,
    utc_now,
)
from obsarchive.storage.base import (
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStore,
    StoreConfigurationError,
    StoredObject,
    StoreError,
    StoreUnavailableError,
    attachment_disposition,
    validate_key,
)
from obsarchive.storage.checksums import CHUNK_SIZE, HashingReader, md5_of

__all__ = ["FilesystemStore"]

logger = logging.getLogger(__name__)

INTERNAL_DIR = ".obsarchive"
_DATA = ".data"
_META = ".json"
# Errors that mean "fix the deployment" rather than "try again later".
_CONFIGURATION_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


def _store_error(exc: OSError, action: str) -> StoreError:
    message = f"filesystem store cannot {action}: {exc.strerror or exc}"
    if exc.errno in _CONFIGURATION_ERRNOS:
        return StoreConfigurationError(message)
    return StoreUnavailableError(message)  # ENOSPC, EIO, stale NFS handles...


def _fsync_dir(path: Path) -> None:
    # Makes renames in ``path`` durable: without it a power cut can forget a committed version.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStore(ObjectStore):
    """A versioned store in a directory tree (``FILESTORE_TYPE=local``).

    Parameters
    ----------
    root
        The store's directory (``FILESYSTEM_STORAGE_ROOT_DIR``); created on first write.
    base_url
        Root of the archive that serves downloads (``FILESYSTEM_STORAGE_BASE_URL``).
    signing_key
        Secret for download URLs ``{base_url}download/{key}?version=…&expires=…&signature=…``
        (see :mod:`obsarchive.storage.signing`).
    url_signer
        Alternative to ``signing_key``: ``url_signer(key, version_id, expires) -> url``.
    clock
        Returns the current aware UTC time (injected in tests).

    Notes
    -----
    The constructor touches nothing on disk; :meth:`check` validates the root at start-up.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        base_url: str = "http://127.0.0.1:8000/",
        signing_key: bytes | None = None,
        url_signer: UrlSigner | None = None,
        clock: Clock | None = None,
    ) -> None:
        # abspath, not resolve(): no filesystem access in the constructor, and a later chdir
        # must not move the store.
        self._root = Path(root).absolute()
        self._clock = clock or utc_now
        self._ids = VersionIds(self._clock)
        self._urls = DownloadUrls(base_url, signing_key, url_signer, self._clock)
        self._layout_ready = False

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The store's root directory."""
        return self._root

    # -- layout and path safety -----------------------------------------------------------------

    @property
    def _internal(self) -> Path:
        return self._root / INTERNAL_DIR

    @property
    def _versions_root(self) -> Path:
        return self._internal / "versions"

    @property
    def _tmp(self) -> Path:
        return self._internal / "tmp"

    def _ensure_layout(self) -> None:
        if self._layout_ready:
            return
        if self._root.exists() and not self._root.is_dir():
            raise StoreConfigurationError(f"filesystem store root {self._root} is not a directory")
        try:
            for directory in (self._versions_root, self._tmp, self._internal / "locks"):
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _store_error(exc, f"create its directories under {self._root}") from exc
        self._layout_ready = True

    def _check_key(self, key: str) -> None:
        validate_key(key)
        if key.split("/", 1)[0] == INTERNAL_DIR:
            raise InvalidKeyError(f"object key {key!r} uses the reserved name {INTERNAL_DIR}")

    @staticmethod
    def _confine(path: Path, base: Path) -> Path:
        """``path`` with symlinks resolved, or InvalidKeyError if that leaves ``base``."""
        resolved = path.resolve()
        base_resolved = base.resolve()
        if resolved != base_resolved and base_resolved not in resolved.parents:
            raise InvalidKeyError(f"{path} resolves outside the store root ({resolved})")
        return resolved

    def _version_dir(self, key: str) -> Path:
        """The key's version directory (checked against symlink escapes)."""
        self._check_key(key)
        return self._confine(self._versions_root / key, self._versions_root)

    # -- reading the version records ------------------------------------------------------------

    @staticmethod
    def _version_ids(vdir: Path) -> list[str]:
        """Committed version ids of one key, oldest first."""
        try:
            names = [entry.name for entry in vdir.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise _store_error(exc, f"list {vdir}") from exc
        ids = [name[: -len(_META)] for name in names if name.endswith(_META)]
        return sorted(vid for vid in ids if is_version_id(vid))

    @staticmethod
    def _load(key: str, vdir: Path, version_id: str) -> StoredObject:
        try:
            with open(vdir / f"{version_id}{_META}", encoding="utf-8") as handle:
                record: dict[str, Any] = json.load(handle)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"no version {version_id} of {key}") from exc
        except (OSError, ValueError) as exc:
            # A description we cannot read is damage on disk, not a missing object.
            raise StoreUnavailableError(f"unreadable record of {key} {version_id}: {exc}") from exc
        return StoredObject(
            key=key,
            version_id=version_id,
            md5=record["md5"],
            size=record["size"],
            last_modified=datetime.fromisoformat(record["last_modified"]),
            content_type=record.get("content_type", ""),
        )

    def _resolve_version(self, key: str, version_id: str | None) -> tuple[Path, str]:
        vdir = self._version_dir(key)
        if version_id is None:
            ids = self._version_ids(vdir)
            if not ids:
                raise ObjectNotFoundError(f"no object {key} in {self._root}")
            return vdir, ids[-1]
        if not is_version_id(version_id):
            # Also what keeps a hostile version id from naming a path.
            raise ObjectNotFoundError(f"no version {version_id!r} of {key}")
        return vdir, version_id

    # -- locking and the operator mirror -----------------------------------------------------------

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        stripe = hashlib.sha256(key.encode("utf-8")).hexdigest()[:2]
        path = self._internal / "locks" / f"{stripe}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _store_error(exc, f"open lock {path}") from exc
        try:
            # flock locks belong to the open file description, so this also serialises threads
            # of one process (each opens its own descriptor) as well as other processes.
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _make_parent_dirs(self, path: Path, base: Path, key: str) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidKeyError(
                f"object key {key!r} conflicts with an existing key on this filesystem store"
            ) from exc
        self._confine(path, base)

    def _point_mirror(self, key: str, vdir: Path, newest: str | None) -> None:
        """Make ``root/<key>`` the newest version's bytes (or remove it when none is left)."""
        mirror = self._root / key
        parent = self._confine(mirror.parent, self._root)
        if newest is None:
            if not mirror.is_dir():
                mirror.unlink(missing_ok=True)
                if parent.is_dir():
                    _fsync_dir(parent)
            return
        source = vdir / f"{newest}{_DATA}"
        staged = self._tmp / f"link-{secrets.token_hex(8)}"
        try:
            os.link(source, staged)
            staged.replace(mirror)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            if exc.errno not in {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK}:
                raise
            # No hard links here (another mount inside root, or a filesystem without them):
            # stage a copy next to the mirror so the rename stays on one device.
            fd, name = tempfile.mkstemp(prefix=".obsarchive-", dir=parent)
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
                    out.flush()
                    os.fsync(out.fileno())
                Path(name).replace(mirror)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        _fsync_dir(parent)

    # -- the ObjectStore interface ---------------------------------------------------------------

    def put(
        self,
        key: str,
        fileobj: BinaryIO,
        *,
        content_type: str = "",
        content_disposition: str | None = None,
        storage_class: str | None = None,
    ) -> StoredObject:
        """Store ``fileobj`` (current position to EOF) as a new version of ``key``.

        Streams in 1 MiB chunks while hashing; memory use does not depend on the file size.
        Errors reading ``fileobj`` itself propagate unchanged (they are the caller's).

        Raises
        ------
        InvalidKeyError
            Hostile key, or one that clashes with an existing key's path.
        StoreConfigurationError
            Root not writable.
        StoreUnavailableError
            Disk full or I/O error; retrying later may succeed.
        """
        self._check_key(key)
        self._ensure_layout()
        vdir_path = self._versions_root / key
        # Refuse symlink escapes before writing a byte.
        self._confine(vdir_path.parent, self._versions_root)
        self._confine((self._root / key).parent, self._root)

        staged: list[Path] = []
        try:
            data_path, reader = self._stage_data(fileobj, staged)
            with self._locked(key):
                try:
                    return self._commit(
                        key,
                        data_path,
                        reader,
                        content_type=content_type,
                        content_disposition=content_disposition,
                        storage_class=storage_class,
                        staged=staged,
                    )
                except OSError as exc:
                    raise _store_error(exc, f"store {key}") from exc
        finally:
            for path in staged:  # whatever was not renamed into place (crash-free cleanup)
                path.unlink(missing_ok=True)

    def _stage_data(self, fileobj: BinaryIO, staged: list[Path]) -> tuple[Path, HashingReader]:
        try:
            fd, name = tempfile.mkstemp(prefix="put-", suffix=".part", dir=self._tmp)
        except OSError as exc:
            raise _store_error(exc, f"write into {self._tmp}") from exc
        path = Path(name)
        staged.append(path)
        reader = HashingReader(fileobj)
        with os.fdopen(fd, "wb") as out:
            while chunk := reader.read(CHUNK_SIZE):
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _store_error(exc, f"write {path}") from exc
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _store_error(exc, f"write {path}") from exc
        return path, reader

    def _commit(
        self,
        key: str,
        data_path: Path,
        reader: HashingReader,
        *,
        content_type: str,
        content_disposition: str | None,
        storage_class: str | None,
        staged: list[Path],
    ) -> StoredObject:
        """Turn staged bytes into the key's newest version (caller holds the key's lock)."""
        vdir_path = self._versions_root / key
        self._make_parent_dirs(vdir_path, self._versions_root, key)
        vdir = self._confine(vdir_path, self._versions_root)
        mirror = self._root / key
        self._make_parent_dirs(mirror.parent, self._root, key)
        if mirror.is_dir() and not mirror.is_symlink():
            raise InvalidKeyError(
                f"object key {key!r} conflicts with an existing key on this filesystem store"
            )
        existing = self._version_ids(vdir)
        if not existing and mirror.is_file() and not mirror.is_symlink():
            # A file put there by upstream's FileSystemStore (or by hand): keep it as the
            # oldest version instead of overwriting the only copy.
            existing = [self._adopt_unversioned(key, vdir, mirror, staged)]
        version_id, created = self._ids.new(after=existing[-1] if existing else None)
        record = {
            "key": key,
            "version_id": version_id,
            "md5": reader.md5,
            "size": reader.size,
            "content_type": content_type,
            "content_disposition": content_disposition
            or attachment_disposition(posixpath.basename(key)),
            "storage_class": storage_class,
            "last_modified": created.isoformat(),
        }
        # Data first, description second: the description is the commit point.
        data_path.replace(vdir / f"{version_id}{_DATA}")
        self._write_record(vdir, version_id, record, staged)
        _fsync_dir(vdir)
        self._point_mirror(key, vdir, version_id)
        return StoredObject(
            key=key,
            version_id=version_id,
            md5=reader.md5,
            size=reader.size,
            last_modified=created,
            content_type=content_type,
        )

    def _write_record(
        self, vdir: Path, version_id: str, record: dict[str, Any], staged: list[Path]
    ) -> None:
        """Atomically create ``<version_id>.json`` in ``vdir`` (which commits the version)."""
        fd, name = tempfile.mkstemp(prefix="meta-", suffix=".part", dir=self._tmp)
        path = Path(name)
        staged.append(path)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        path.replace(vdir / f"{version_id}{_META}")

    def _adopt_unversioned(self, key: str, vdir: Path, mirror: Path, staged: list[Path]) -> str:
        """Record an existing plain file at ``root/<key>`` as a version; returns its id."""
        with open(mirror, "rb") as existing:
            md5, size = md5_of(existing)
        modified = datetime.fromtimestamp(mirror.stat().st_mtime, UTC)
        version_id, _ = self._ids.new()
        data = self._tmp / f"adopt-{secrets.token_hex(8)}"
        staged.append(data)
        try:
            os.link(mirror, data)
        except OSError:  # no hard links here: a copy keeps the bytes just as well
            shutil.copyfile(mirror, data)
        data.replace(vdir / f"{version_id}{_DATA}")
        record = {
            "key": key,
            "version_id": version_id,
            "md5": md5,
            "size": size,
            "content_type": "",
            "content_disposition": attachment_disposition(posixpath.basename(key)),
            "storage_class": None,
            "last_modified": modified.isoformat(),
            "adopted": True,
        }
        self._write_record(vdir, version_id, record, staged)
        logger.info("kept unversioned file %s as version %s", key, version_id)
        return version_id

    def open(self, key: str, version_id: str | None = None) -> AbstractContextManager[BinaryIO]:
        """A context manager yielding one version's bytes as a buffered binary file.

        Raises
        ------
        ObjectNotFoundError
            No such key or version.
        """
        vdir, vid = self._resolve_version(key, version_id)
        try:
            # Version files are never modified in place, and on POSIX an open file survives a
            # concurrent delete, so the reader always sees one complete version.
            handle = open(vdir / f"{vid}{_DATA}", "rb")  # noqa: SIM115 - closed by the context
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"no version {vid} of {key}") from exc
        except OSError as exc:
            raise _store_error(exc, f"read {key}") from exc
        return contextlib.closing(handle)

    def url(
        self, key: str, version_id: str | None = None, expires: timedelta = timedelta(hours=48)
    ) -> str:
        """A signed archive download URL for one version (the latest when none is given).

        The latest version is resolved now, so the URL keeps naming the bytes it was made for.
        A named version is signed without touching the disk (pages of search results sign a
        URL per row; the download view checks that the version exists): only its key and id
        are checked, so a malformed id still raises :class:`ObjectNotFoundError`.
        """
        if version_id is None:
            version_id = self.stat(key).version_id
        else:
            self._check_key(key)
            if not is_version_id(version_id):
                raise ObjectNotFoundError(f"no version {version_id!r} of {key}")
        return self._urls.url(key, version_id, expires)

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete one version, or every version; deleting what is absent is not an error."""
        vdir = self._version_dir(key)
        if version_id is not None and not is_version_id(version_id):
            return
        if not vdir.is_dir():
            return
        self._ensure_layout()
        with self._locked(key):
            try:
                existing = self._version_ids(vdir)
                doomed = [v for v in existing if version_id is None or v == version_id]
                if not doomed:
                    return
                for vid in doomed:
                    # Description first: once it is gone the version no longer exists.
                    (vdir / f"{vid}{_META}").unlink(missing_ok=True)
                    (vdir / f"{vid}{_DATA}").unlink(missing_ok=True)
                _fsync_dir(vdir)
                remaining = self._version_ids(vdir)
                self._point_mirror(key, vdir, remaining[-1] if remaining else None)
            except OSError as exc:
                raise _store_error(exc, f"delete {key}") from exc

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Describe one version (the latest when ``version_id`` is None)."""
        vdir, vid = self._resolve_version(key, version_id)
        return self._load(key, vdir, vid)

    def versions(self, key: str) -> list[StoredObject]:
        """Every version of ``key``, newest first."""
        vdir = self._version_dir(key)
        found = []
        for vid in reversed(self._version_ids(vdir)):
            try:
                found.append(self._load(key, vdir, vid))
            except ObjectNotFoundError:
                continue  # deleted while we listed
        return found

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a plain string prefix, as on S3), in sorted directory order."""
        base = self._versions_root
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = base / head if head else base
        try:
            if not start.is_dir():
                return
            self._confine(start, base)
        except InvalidKeyError:
            return  # a prefix that points outside the store names nothing in it
        for dirpath, dirnames, filenames in os.walk(start):
            rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
            rel = "" if rel == "." else rel
            dirnames.sort()
            # Prune subtrees that can neither contain nor lead to a key with this prefix.
            dirnames[:] = [
                d
                for d in dirnames
                if (child := f"{rel}/{d}" if rel else d).startswith(prefix)
                or prefix.startswith(child + "/")
            ]
            if (
                rel
                and rel.startswith(prefix)
                and any(n.endswith(_META) and is_version_id(n[: -len(_META)]) for n in filenames)
            ):
                yield rel

    def purge_staging(self, older_than: timedelta = timedelta(hours=24)) -> int:
        """Remove staging files left by writers that crashed; returns how many were removed.

        Only files older than ``older_than`` are touched, so writes in progress are safe.
        """
        cutoff = self._clock().timestamp() - older_than.total_seconds()
        removed = 0
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.lstat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def check(self) -> None:
        """Create the layout if needed and verify the root is a writable directory."""
        self._ensure_layout()
        if not os.access(self._tmp, os.W_OK | os.X_OK):
            raise StoreConfigurationError(f"filesystem store root {self._root} is not writable")
