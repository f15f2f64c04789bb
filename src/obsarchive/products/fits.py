"""Reading FITS headers from a stream without loading pixel data.

Two passes, neither of which reads data units:

1. :func:`walk_hdus` checks the file's structure on its own: every header ends with an END card
   inside the file, and every data unit declared by BITPIX/NAXISn/PCOUNT/GCOUNT fits in what
   is left of the file. It reads header blocks only and seeks over the data, so a truncated or
   non-FITS file is recognised in constant memory however large it is.
2. :func:`read_headers` lets astropy parse the headers lazily (``lazy_load_hdus``); for a
   tile-compressed image astropy derives the image header from the table header without
   decompressing anything.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

from astropy.io import fits

from obsarchive.products.errors import InvalidProductError
from obsarchive.products.headers import json_safe
from obsarchive.products.streams import BorrowedStream

__all__ = [
    "BLOCK",
    "HduLayout",
    "read_headers",
    "walk_hdus",
]

BLOCK = 2880
CARD = 80
# Real headers are a few blocks long; this bound stops garbage without an END card from being
# read for ever (about 36,000 cards).
MAX_HEADER_BLOCKS = 1000
_END_CARD = b"END" + b" " * 77


@dataclass(frozen=True)
class HduLayout:
    """Where one HDU lives in the file (byte offsets) and how big its data unit is."""

    header_offset: int
    data_offset: int
    data_size: int  # without the padding to a whole block


def _card_int(card: bytes, keyword: str, filename: str, hdu: int) -> int:
    text = card[10:].split(b"/", 1)[0].strip()
    try:
        return int(text)
    except ValueError:
        raise InvalidProductError(
            filename, f"HDU #{hdu}: {keyword} is not an integer ({text.decode('latin-1')!r})"
        ) from None


def _read_header(
    stream: BinaryIO, offset: int, size: int, filename: str, hdu: int
) -> tuple[dict[str, int | bool], int]:
    """Read header blocks from ``offset``; return the structural keywords and the data offset."""
    values: dict[str, int | bool] = {}
    position = offset
    for _ in range(MAX_HEADER_BLOCKS):
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise InvalidProductError(
                filename,
                f"truncated FITS file: the header of HDU #{hdu} ends at byte "
                f"{position + len(block)} before its END card (file size {size})",
            )
        position += BLOCK
        for start in range(0, BLOCK, CARD):
            card = block[start : start + CARD]
            keyword = card[:8].rstrip().decode("latin-1")
            if card == _END_CARD or (keyword == "END" and not card[8:].strip()):
                return values, position
            if card[8:10] != b"= ":
                continue
            if keyword in ("BITPIX", "NAXIS", "PCOUNT", "GCOUNT") or (
                keyword.startswith("NAXIS") and keyword[5:].isdigit()
            ):
                values[keyword] = _card_int(card, keyword, filename, hdu)
            elif keyword == "GROUPS":
                values[keyword] = card[10:].split(b"/", 1)[0].strip() == b"T"
    raise InvalidProductError(
        filename, f"HDU #{hdu} has no END card in its first {MAX_HEADER_BLOCKS} blocks"
    )


def _data_size(values: dict[str, int | bool], filename: str, hdu: int, primary: bool) -> int:
    bitpix = values.get("BITPIX")
    naxis = values.get("NAXIS")
    if bitpix not in (8, 16, 32, 64, -32, -64):
        raise InvalidProductError(filename, f"HDU #{hdu}: BITPIX {bitpix!r} is not valid")
    if not isinstance(naxis, int) or isinstance(naxis, bool) or not 0 <= naxis <= 999:
        raise InvalidProductError(filename, f"HDU #{hdu}: NAXIS {naxis!r} is not valid")
    assert isinstance(bitpix, int)
    if naxis == 0:
        return 0
    axes: list[int] = []
    for number in range(1, naxis + 1):
        length = values.get(f"NAXIS{number}")
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise InvalidProductError(filename, f"HDU #{hdu}: NAXIS{number} is missing or negative")
        axes.append(length)
    pcount = int(values.get("PCOUNT", 0))
    gcount = int(values.get("GCOUNT", 1))
    if pcount < 0 or gcount < 0:
        raise InvalidProductError(filename, f"HDU #{hdu}: PCOUNT/GCOUNT is negative")
    if primary and axes[0] == 0 and values.get("GROUPS") is True:
        axes = axes[1:]  # random groups: NAXIS1 = 0 is not a dimension
    elif primary:
        pcount, gcount = 0, 1
    return abs(bitpix) // 8 * gcount * (pcount + math.prod(axes))


def walk_hdus(stream: BinaryIO, size: int, filename: str) -> list[HduLayout]:
    """Check the FITS structure of ``stream`` (``size`` bytes) and locate its HDUs.

    Only header blocks are read; data units are skipped with ``seek``.

    Raises
    ------
    InvalidProductError
        The file is empty, does not start with ``SIMPLE``, a header has no END card, a
        structural keyword is malformed, or a data unit extends past the end of the file.
    """
    if size <= 0:
        raise InvalidProductError(filename, "the file is empty")
    stream.seek(0)
    if stream.read(9) != b"SIMPLE  =":
        raise InvalidProductError(filename, "not a FITS file (it does not start with SIMPLE)")
    layouts: list[HduLayout] = []
    offset = 0
    while offset < size:
        stream.seek(offset)
        if layouts:
            marker = stream.read(9)
            if marker != b"XTENSION=":
                # Trailing bytes that are not an extension (zero padding, junk) end the file;
                # astropy ignores them the same way.
                break
            stream.seek(offset)
        hdu = len(layouts)
        values, data_offset = _read_header(stream, offset, size, filename, hdu)
        data_size = _data_size(values, filename, hdu, primary=not layouts)
        if data_offset + data_size > size:
            raise InvalidProductError(
                filename,
                f"truncated FITS file: HDU #{hdu} declares {data_size} bytes of data from byte "
                f"{data_offset}, but the file has only {size} bytes",
            )
        layouts.append(HduLayout(offset, data_offset, data_size))
        offset = data_offset + -(-data_size // BLOCK) * BLOCK
    return layouts


_COMMENTARY = frozenset(("COMMENT", "HISTORY", ""))


def _plain_header(header: fits.Header) -> dict[str, Any]:
    """The header as a plain dict of JSON-safe values.

    A repeated keyword keeps its first value and commentary cards (``COMMENT``, ``HISTORY``,
    blank) keep all their lines joined by newlines, as ``dict(header)`` would give them. One
    pass over the cards: looking commentary keys up per key is quadratic in their number, and
    reduced LCO frames carry hundreds of HISTORY cards.
    """
    result: dict[str, Any] = {}
    commentary: dict[str, list[str]] = {}
    for card in header.cards:
        keyword = card.keyword
        if keyword in _COMMENTARY:
            if keyword not in result:
                result[keyword] = None  # keeps the keyword's position in the dict
                commentary[keyword] = []
            commentary[keyword].append(str(card.value))
        elif keyword not in result:
            result[keyword] = json_safe(card.value)
    for keyword, lines in commentary.items():
        result[keyword] = "\n".join(lines)
    return result


def read_headers(stream: BinaryIO, size: int, filename: str) -> list[dict[str, Any]]:
    """Every HDU's header as a plain dict, without reading any data unit.

    Compressed image HDUs give their image header (as upstream, which reads the header astropy
    presents). Values are JSON-safe (see :func:`obsarchive.products.headers.json_safe`).

    Raises
    ------
    InvalidProductError
        The structure is broken (see :func:`walk_hdus`) or astropy cannot parse a header.
    """
    layouts = walk_hdus(stream, size, filename)
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Non-standard cards are common in real data and only produce warnings; the
            # structure has already been checked by walk_hdus.
            warnings.simplefilter("ignore")
            with fits.open(
                BorrowedStream(stream),
                mode="readonly",
                memmap=False,
                lazy_load_hdus=True,
                do_not_scale_image_data=True,
                ignore_missing_simple=False,
            ) as hdus:
                headers = [_plain_header(hdu.header) for hdu in hdus]
    except InvalidProductError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, fits.VerifyError) as exc:
        raise InvalidProductError(filename, f"cannot parse the FITS headers: {exc}") from exc
    if len(headers) != len(layouts):
        raise InvalidProductError(
            filename,
            f"astropy found {len(headers)} HDUs where the file's structure has {len(layouts)}",
        )
    return headers
