"""Uncompressed ("funpacked") and catalogue-only FITS files, streamed in constant memory.

Both are *derived* files built from a stored product without writing the result anywhere:

* :func:`uncompressed` — every HDU of the product in order; tile-compressed images
  (``CompImageHDU``) become plain ``IMAGE`` extensions with the same header cards and the same
  pixels as astropy's decompression; every other HDU is copied byte for byte.
* :func:`catalogue` — a dataless primary HDU carrying the ``SCI`` image's header, then the
  ``CAT`` table byte for byte (upstream's catalogue download).

The exact size of the result is known from the headers alone, before a pixel is decompressed,
so responses carry a ``Content-Length`` and nginx manifests list true sizes. Pixels are
decompressed in bands of rows through astropy's ``.section`` and written out immediately,
still in their stored (unscaled) representation, so memory does not grow with the image.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from astropy.io import fits

__all__ = ["DerivedFits", "FitsStreamError", "NoCatalogueError", "catalogue", "uncompressed"]

BLOCK = 2880
CHUNK = 1024 * 1024
# Bytes of pixels decompressed per band.
_BAND_BYTES = 4 * 1024 * 1024
# Cards a derived HDU writes itself (structure) or must not copy (checksums of other bytes).
_STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "EXTEND", "END"}
_CHECKSUMS = {"CHECKSUM", "DATASUM"}
# Keywords about a primary image's pixels, meaningless on the dataless catalogue primary.
_IMAGE_ONLY = {"BSCALE", "BZERO", "BLANK", "BUNIT", "EXTNAME", "EXTVER", "INHERIT"}
_BITPIX_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


class FitsStreamError(Exception):
    """The stored product cannot be read as FITS (corrupt, truncated, not FITS at all)."""


class NoCatalogueError(FitsStreamError):
    """The product has no ``CAT`` extension, so there is no catalogue to download."""


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


@dataclass(frozen=True)
class _Part:
    """One piece of the derived file: its size and how to produce its bytes."""

    size: int
    produce: Callable[[], Iterator[bytes]]


class DerivedFits:
    """A derived FITS file: its exact ``size`` and its bytes, produced on demand.

    Holds the source stream open until :meth:`chunks` is exhausted or :meth:`close` is called.
    """

    def __init__(self, parts: list[_Part], closer: contextlib.ExitStack) -> None:
        self._parts = parts
        self._closer = closer
        self.size = sum(part.size for part in parts)

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes in chunks of at most about 4 MiB; closes the source when done.

        Raises
        ------
        FitsStreamError
            Pixel data turned out to be undecodable part way through.
        """
        try:
            for part in self._parts:
                produced = 0
                for chunk in part.produce():
                    produced += len(chunk)
                    yield chunk
                if produced != part.size:  # pragma: no cover - a bug, never bad input
                    raise FitsStreamError(f"produced {produced} bytes instead of {part.size}")
        except FitsStreamError:
            raise
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise FitsStreamError(f"cannot decode the pixels: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        self._closer.close()


def _open(stream: IO[bytes], closer: contextlib.ExitStack) -> fits.HDUList:
    try:
        # do_not_scale_image_data: pixels are copied in their stored form (BZERO/BSCALE stay
        # in the header), so integer images round-trip exactly.
        hdus = fits.open(stream, lazy_load_hdus=False, do_not_scale_image_data=True, checksum=False)
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise FitsStreamError(f"not a readable FITS file: {exc}") from exc
    closer.callback(hdus.close)
    _check_complete(hdus, stream)
    return hdus


def _check_complete(hdus: fits.HDUList, stream: IO[bytes]) -> None:
    """Refuse a file astropy only partly understood.

    astropy drops a damaged or truncated last HDU with a warning and carries on; a derived
    file built from what is left would silently lack data. The HDUs read must account for
    every byte of the file (trailing zero padding aside).
    """
    info = hdus.fileinfo(len(hdus) - 1)
    end = int(info["datLoc"]) + int(info["datSpan"])
    size = stream.seek(0, 2)
    if size < end:
        raise FitsStreamError(f"the file is truncated ({size} of {end} bytes)")
    stream.seek(end)
    while chunk := stream.read(CHUNK):
        if chunk.strip(b"\0"):
            raise FitsStreamError("the file has unreadable data after its last HDU")


def _raw_copy(stream: IO[bytes], start: int, size: int) -> _Part:
    def produce() -> Iterator[bytes]:
        stream.seek(start)
        remaining = size
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                raise FitsStreamError("the file is shorter than its headers say")
            remaining -= len(chunk)
            yield chunk

    return _Part(size, produce)


def _raw_hdu(hdus: fits.HDUList, stream: IO[bytes], index: int) -> _Part:
    """An HDU copied byte for byte (header, data and padding as stored)."""
    info = hdus.fileinfo(index)
    start = int(info["hdrLoc"])
    return _raw_copy(stream, start, int(info["datLoc"]) - start + int(info["datSpan"]))


def _header_part(header: fits.Header) -> _Part:
    data = header.tostring(sep="", endcard=True, padding=True).encode("ascii")
    return _Part(len(data), lambda: iter((data,)))


def _copy_cards(source: fits.Header, target: fits.Header, skip: set[str]) -> None:
    for card in source.cards:
        keyword = card.keyword
        if keyword in skip or (keyword.startswith("NAXIS") and keyword[5:].isdigit()):
            continue
        target.append(card, end=True)


def _image_header(hdu: fits.CompImageHDU) -> fits.Header:
    """The ``IMAGE`` extension header of a decompressed image (astropy's image header)."""
    source = hdu.header
    naxis = int(source["NAXIS"])
    header = fits.Header()
    header["XTENSION"] = ("IMAGE", "Image extension")
    header["BITPIX"] = (int(source["BITPIX"]), source.comments["BITPIX"])
    header["NAXIS"] = (naxis, source.comments["NAXIS"])
    for axis in range(1, naxis + 1):
        name = f"NAXIS{axis}"
        header[name] = (int(source[name]), source.comments[name])
    header["PCOUNT"] = (0, "number of parameters")
    header["GCOUNT"] = (1, "number of groups")
    _copy_cards(source, header, _STRUCTURAL | _CHECKSUMS)
    return header


def _image_data(hdu: fits.CompImageHDU, header: fits.Header) -> _Part:
    """The decompressed pixels in their stored representation, band by band, padded."""
    bitpix = int(header["BITPIX"])
    dtype = np.dtype(_BITPIX_DTYPES[bitpix])
    shape = tuple(int(header[f"NAXIS{axis}"]) for axis in range(int(header["NAXIS"]), 0, -1))
    nbytes = math.prod(shape) * dtype.itemsize if shape else 0
    size = _padded(nbytes)

    def produce() -> Iterator[bytes]:
        if nbytes:
            section = hdu.section
            if len(shape) == 1:
                yield np.ascontiguousarray(section[:], dtype=dtype).tobytes()
            else:
                row_bytes = shape[-1] * dtype.itemsize
                rows = max(1, _BAND_BYTES // row_bytes)
                for lead in np.ndindex(*shape[:-2]):
                    for first in range(0, shape[-2], rows):
                        last = min(first + rows, shape[-2])
                        band = section[(*lead, slice(first, last), slice(None))]
                        yield np.ascontiguousarray(band, dtype=dtype).tobytes()
        if size > nbytes:
            yield bytes(size - nbytes)

    return _Part(size, produce)


def uncompressed(stream: IO[bytes], cleanup: Callable[[], None] | None = None) -> DerivedFits:
    """Plan the uncompressed version of a FITS file.

    Parameters
    ----------
    stream : seekable binary file
        The stored product (``.fits.fz`` or plain FITS). It is closed when the result is
        exhausted or closed (astropy closes what it is given).
    cleanup : callable, optional
        Called after that, also on failure (e.g. to release a store context).

    Returns
    -------
    DerivedFits
        Same HDUs in the same order; compressed images decompressed.

    Raises
    ------
    FitsStreamError
        Not readable as FITS.
    """
    closer = contextlib.ExitStack()
    if cleanup is not None:
        closer.callback(cleanup)
    closer.callback(stream.close)
    try:
        hdus = _open(stream, closer)
        parts: list[_Part] = []
        for index, hdu in enumerate(hdus):
            if isinstance(hdu, fits.CompImageHDU):
                header = _image_header(hdu)
                parts.append(_header_part(header))
                parts.append(_image_data(hdu, header))
            else:
                parts.append(_raw_hdu(hdus, stream, index))
    except FitsStreamError:
        closer.close()
        raise
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        closer.close()
        raise FitsStreamError(f"cannot read the FITS structure: {exc}") from exc
    return DerivedFits(parts, closer)


def _named(hdus: fits.HDUList, name: str) -> tuple[int, Any] | None:
    for index, hdu in enumerate(hdus):
        if str(hdu.name).upper() == name:
            return index, hdu
    return None


def catalogue(stream: IO[bytes], cleanup: Callable[[], None] | None = None) -> DerivedFits:
    """Plan the catalogue-only file of a processed frame: ``SCI`` header + ``CAT`` table.

    Parameters
    ----------
    stream : seekable binary file
        The stored product; closed when the result is exhausted or closed.
    cleanup : callable, optional
        Called after that, also on failure.

    Raises
    ------
    NoCatalogueError
        The file has no ``CAT`` extension.
    FitsStreamError
        Not readable as FITS.
    """
    closer = contextlib.ExitStack()
    if cleanup is not None:
        closer.callback(cleanup)
    closer.callback(stream.close)
    try:
        hdus = _open(stream, closer)
        cat = _named(hdus, "CAT")
        if cat is None:
            raise NoCatalogueError("the file has no CAT extension")
        sci = _named(hdus, "SCI")
        source = sci[1].header if sci is not None else hdus[0].header
        primary = fits.Header()
        primary["SIMPLE"] = (True, "conforms to FITS standard")
        primary["BITPIX"] = (8, "array data type")
        primary["NAXIS"] = (0, "number of array dimensions")
        primary["EXTEND"] = True
        _copy_cards(source, primary, _STRUCTURAL | _CHECKSUMS | _IMAGE_ONLY)
        parts = [_header_part(primary), _raw_hdu(hdus, stream, cat[0])]
    except FitsStreamError:
        closer.close()
        raise
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        closer.close()
        raise FitsStreamError(f"cannot read the FITS structure: {exc}") from exc
    return DerivedFits(parts, closer)
