"""Finding and reading the metadata FITS file inside a spectrograph tar bundle.

NRES and FLOYDS deliver ``.tar.gz`` packages; the archive record comes from the headers of one
FITS member: the first match, which is the member upstream picks too. The member is streamed
out of the archive (never extracted to disk, never read whole). The rest of the archive is then
read through once, in constant memory, so that a truncated or damaged package is refused
rather than archived.
"""

from __future__ import annotations

import gzip
import lzma
import tarfile
import zlib
from collections.abc import Sequence
from typing import Any, BinaryIO, cast

from obsarchive.products.errors import InvalidProductError
from obsarchive.products.fits import read_headers

__all__ = ["GENERIC_MEMBER_PATTERNS", "LCO_MEMBER_PATTERNS", "read_member_headers"]

# Any FITS member (upstream TarWithFitsFile) ...
GENERIC_MEMBER_PATTERNS: tuple[str, ...] = (".fits",)
# ... or only LCO's metadata products (upstream LcoTarWithFitsFile).
LCO_MEMBER_PATTERNS: tuple[str, ...] = ("e00.fits", "e90.fits", "e91.fits")

# What a damaged or truncated (compressed) tar raises while being read.
_BROKEN_ARCHIVE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError)


def read_member_headers(
    stream: BinaryIO, filename: str, patterns: Sequence[str]
) -> tuple[str, list[dict[str, Any]]] | None:
    """The headers of the first regular member whose name contains one of ``patterns``.

    Parameters
    ----------
    stream : binary file
        The tar archive (plain or gzip/bzip2/xz-compressed), seekable.
    filename : str
        The product's name, for error messages.
    patterns : sequence of str
        Substrings of the member name that mark the metadata FITS file.

    Returns
    -------
    (member name, headers) or None
        ``None`` when no member matches (the caller may fall back to caller metadata).

    Raises
    ------
    InvalidProductError
        The archive is not a tar, is damaged or truncated, or the member is not valid FITS.
    """
    stream.seek(0)
    found: tuple[str, list[dict[str, Any]]] | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r:*") as archive:
            while (member := archive.next()) is not None:
                if found is not None:
                    continue  # walking on to the end proves the archive is complete
                if not member.isfile() or not any(p in member.name for p in patterns):
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:  # pragma: no cover - isfile() members always extract
                    continue
                with extracted:
                    try:
                        headers = read_headers(cast(BinaryIO, extracted), member.size, member.name)
                    except InvalidProductError as exc:
                        raise InvalidProductError(
                            filename, f"member {member.name}: {exc.problem}"
                        ) from exc
                found = (member.name, headers)
    except _BROKEN_ARCHIVE as exc:
        raise InvalidProductError(filename, f"not a readable tar archive: {exc}") from exc
    return found
