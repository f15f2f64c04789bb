"""Bulk downloads: a zip streamed by the archive itself, or an nginx mod_zip manifest.

Members are named as upstream names them, ``<zip name without .zip>/<basename><extension>``
(``.fits`` for uncompressed ``.fits.fz`` files, ``-catalog.fits`` for catalogues). Files are
stored (ZIP_STORED): FITS products are already compressed, and storing keeps the stream cheap
and lets the total length be computed before the first byte is sent.

Memory stays constant whatever the size of the zip: members are read from the store in 1 MiB
chunks, one member at a time, and derived files (uncompressed, catalogue) are produced band by
band (:mod:`.fitsfiles`).
"""

from __future__ import annotations

import enum
import logging
import posixpath
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode, urlsplit

from zipstream import ZIP_STORED, ZipStream

from obsarchive.server.downloads.files import object_chunks, open_object_chunks, open_seekable
from obsarchive.server.downloads.fitsfiles import (
    DerivedFits,
    FitsStreamError,
    NoCatalogueError,
    catalogue,
    uncompressed,
)
from obsarchive.server.downloads.selection import SelectedFile, derived_signature
from obsarchive.storage.base import ObjectNotFoundError, ObjectStore, StoreError

__all__ = [
    "MISSING_FILES_NAME",
    "MemberKind",
    "StreamedZip",
    "ZipMember",
    "derived_file",
    "nginx_manifest",
    "plan_members",
    "stream_zip",
    "zip_filename",
]

logger = logging.getLogger(__name__)

#: Listed in the zip when some selected files could not be included (instead of silence).
MISSING_FILES_NAME = "MISSING_FILES.txt"
COMPRESSED_EXTENSION = ".fits.fz"


class MemberKind(enum.Enum):
    """What a zip member is made from."""

    FILE = "file"  # the stored object as it is
    UNCOMPRESSED = "funpack"  # a .fits.fz decompressed to .fits
    CATALOGUE = "catalog"  # SCI header + CAT table of a processed frame


@dataclass(frozen=True)
class ZipMember:
    """One planned member: the file it comes from and the name it gets."""

    selected: SelectedFile
    kind: MemberKind
    name: str

    @property
    def frame_id(self) -> int:
        return int(self.selected.frame.pk)

    @property
    def object_key(self) -> str:
        return self.selected.version.object_key

    @property
    def version_id(self) -> str:
        return self.selected.version.key


def zip_filename(base: str, today: datetime, count: int) -> str:
    """``<base>-<YYYYMMDD>-<N>.zip`` (upstream's name)."""
    return f"{base}-{today:%Y%m%d}-{count}.zip"


def _wants_catalogue(selected: SelectedFile) -> bool:
    frame = selected.frame
    return (
        frame.reduction_level == 91
        and frame.configuration_type == "EXPOSE"
        # A spectrograph tarball of a processed frame has no CAT extension to extract.
        and selected.version.extension.startswith(".fits")
    )


def plan_members(
    files: Sequence[SelectedFile], *, uncompress: bool, catalog_only: bool
) -> list[ZipMember]:
    """The members of a zip, with upstream's precedence: an uncompressed ``.fits.fz`` first,
    else a catalogue for processed (RLEVEL 91) EXPOSE frames, else the file as stored.

    Names are made unique (a ``-<frame id>`` suffix on a clash), since a zip with two members
    of one name loses one of them on extraction.
    """
    members: list[ZipMember] = []
    used: set[str] = set()
    for selected in files:
        basename = selected.frame.basename
        extension = selected.version.extension
        if uncompress and extension == COMPRESSED_EXTENSION:
            kind, stem, suffix = MemberKind.UNCOMPRESSED, basename, ".fits"
        elif catalog_only and _wants_catalogue(selected):
            kind, stem, suffix = MemberKind.CATALOGUE, basename + "-catalog", ".fits"
        else:
            kind, stem, suffix = MemberKind.FILE, basename, extension
        name = stem + suffix
        if name in used:
            name = f"{stem}-{selected.frame.pk}{suffix}"
        used.add(name)
        members.append(ZipMember(selected=selected, kind=kind, name=name))
    return members


def derived_file(
    store: ObjectStore, member: ZipMember | SelectedFile, kind: MemberKind
) -> DerivedFits:
    """Open a stored product and plan one derived file from it (headers only are read).

    Raises
    ------
    NoCatalogueError
        ``kind`` is CATALOGUE and the file has no ``CAT`` extension.
    FitsStreamError
        The file is not readable FITS.
    StoreError
        The store cannot provide the object.
    """
    selected = member.selected if isinstance(member, ZipMember) else member
    stream, release = open_seekable(
        store, selected.version.object_key, selected.version.key or None
    )
    build = uncompressed if kind is MemberKind.UNCOMPRESSED else catalogue
    return build(stream, release)


@dataclass
class _Missing:
    """Selected files that could not be put in the zip, and why."""

    lines: list[str] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        logger.error("zip download: %s left out: %s", name, reason)
        self.lines.append(f"{name}: {reason}")

    def text(self) -> bytes:
        head = (
            "These selected files could not be included in this zip; please try again later "
            "or report the problem to the archive.\n\n"
        )
        return (head + "\n".join(self.lines) + "\n").encode("utf-8")


@dataclass(frozen=True)
class StreamedZip:
    """A zip ready to stream: its bytes on demand, its length when known up front."""

    chunks: Iterator[bytes]
    size: int | None
    count: int


def _object_size(store: ObjectStore, member: ZipMember) -> int:
    recorded = member.selected.version.size
    if recorded is not None:
        return int(recorded)
    return store.stat(member.object_key, member.version_id or None).size


def stream_zip(store: ObjectStore, members: Sequence[ZipMember], directory: str) -> StreamedZip:
    """Stream a zip of ``members`` under ``directory/``.

    When every member is a stored file, sizes are looked up first (the stored size, or a
    ``stat``), so the zip's exact length is known and can be sent as ``Content-Length``. With
    derived files the zip is streamed without a length: each derived file is planned just
    before it is sent, so no file is read twice.

    Raises
    ------
    StoreError
        The store failed while sizes were being looked up (nothing has been sent yet).
    """
    missing = _Missing()
    if all(member.kind is MemberKind.FILE for member in members):
        return _sized_zip(store, members, directory, missing)
    return StreamedZip(
        chunks=_unsized_chunks(store, members, directory, missing), size=None, count=len(members)
    )


def _sized_zip(
    store: ObjectStore, members: Sequence[ZipMember], directory: str, missing: _Missing
) -> StreamedZip:
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    count = 0
    for member in members:
        if not member.object_key:
            missing.add(member.name, "the archive has no stored file for this version")
            continue
        try:
            size = _object_size(store, member)
        except ObjectNotFoundError:
            missing.add(member.name, "the stored file is missing")
            continue
        archive.add(
            object_chunks(store, member.object_key, member.version_id or None),
            posixpath.join(directory, member.name),
            size=size,
        )
        count += 1
    if missing.lines:
        archive.add(missing.text(), posixpath.join(directory, MISSING_FILES_NAME))
    return StreamedZip(chunks=iter(archive), size=len(archive), count=count)


def _prepared(store: ObjectStore, member: ZipMember) -> tuple[Iterator[bytes], int | None]:
    """A member's bytes and size, with its source already opened (so failures come first)."""
    if member.kind is MemberKind.FILE:
        if not member.object_key:
            raise ObjectNotFoundError("the archive has no stored file for this version")
        chunks = open_object_chunks(store, member.object_key, member.version_id or None)
        return chunks, member.selected.version.size
    derived = derived_file(store, member, member.kind)
    return derived.chunks(), derived.size


def _unsized_chunks(
    store: ObjectStore, members: Sequence[ZipMember], directory: str, missing: _Missing
) -> Iterator[bytes]:
    archive = ZipStream(compress_type=ZIP_STORED)
    for member in members:
        try:
            chunks, size = _prepared(store, member)
        except NoCatalogueError:
            continue  # upstream skips processed frames without a catalogue
        except ObjectNotFoundError:
            missing.add(member.name, "the stored file is missing")
            continue
        except FitsStreamError as exc:
            missing.add(member.name, f"the stored file is not readable FITS ({exc})")
            continue
        except StoreError as exc:
            missing.add(member.name, f"the file store failed ({exc})")
            continue
        archive.add(chunks, posixpath.join(directory, member.name), size=size)
        yield from archive.all_files()
    if missing.lines:
        archive.add(missing.text(), posixpath.join(directory, MISSING_FILES_NAME))
    yield from archive.finalize()


# -- nginx mod_zip ---------------------------------------------------------------------------


def _served_by_archive(store: ObjectStore) -> bool:
    """True for stores whose URLs point at this archive (filesystem, memory), not at S3."""
    s3 = sys.modules.get("obsarchive.storage.s3")
    return s3 is None or not isinstance(store, s3.S3Store)


def _location(store: ObjectStore, url: str) -> str:
    """The manifest location of a download URL.

    Archive-signed URLs keep their path and query (nginx proxies them to the archive); S3
    URLs get their ``scheme://host`` replaced by ``/zip-files``, upstream's nginx ``internal``
    location proxying to the bucket.
    """
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if _served_by_archive(store) else "/zip-files" + path


def nginx_manifest(
    store: ObjectStore,
    members: Sequence[ZipMember],
    directory: str,
    *,
    now: datetime,
    expiry: timedelta,
    url_for_derived: Callable[[MemberKind, int], str],
) -> tuple[str, int]:
    """The mod_zip manifest (``- <size> <location> <directory>/<name>`` per line).

    Derived files point at the archive's funpack/catalog routes with a short-lived signature
    (the caller's visibility was checked when the manifest was built); their sizes are computed
    from the headers alone. Catalogue members of files without a ``CAT`` extension, and members
    that cannot be read, are left out (logged).

    Returns
    -------
    tuple
        The manifest text and the number of members in it.
    """
    lines: list[str] = []
    expires_at = int((now + expiry).timestamp())
    for member in members:
        name = quote(posixpath.join(directory, member.name), safe="/")
        try:
            if member.kind is MemberKind.FILE:
                if not member.object_key:
                    raise ObjectNotFoundError("the archive has no stored file for this version")
                size = _object_size(store, member)
                url = store.url(member.object_key, member.version_id or None, expiry)
                location = _location(store, url)
            else:
                derived = derived_file(store, member, member.kind)
                size = derived.size
                derived.close()
                query = urlencode(
                    {
                        "version": member.version_id,
                        "expires": expires_at,
                        "signature": derived_signature(
                            member.kind.value, member.frame_id, member.version_id, expires_at
                        ),
                    }
                )
                location = f"{url_for_derived(member.kind, member.frame_id)}?{query}"
        except NoCatalogueError:
            continue
        except (StoreError, FitsStreamError) as exc:
            logger.error("zip manifest: %s left out: %s", member.name, exc)
            continue
        lines.append(f"- {size} {location} {name}\n")
    return "".join(lines), len(lines)
