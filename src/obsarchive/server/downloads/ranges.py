"""HTTP ``Range`` requests (RFC 9110 §14): one byte range, or the whole representation.

Multiple ranges are answered with the whole file (a server may ignore ``Range``), which every
client handles; syntactically invalid headers are ignored the same way, as the RFC says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "RangeNotSatisfiableError", "parse_range"]

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
# More digits than any file can have: refuse before int() does big-number work.
_MAX_DIGITS = 19


class RangeNotSatisfiableError(Exception):
    """The range lies wholly outside the file: answer 416 with ``Content-Range: bytes */size``."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive (the ``Content-Range`` convention)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks for, or None to send the whole file.

    Parameters
    ----------
    header
        The ``Range`` header value (None when absent).
    size
        The file's size in bytes.

    Raises
    ------
    RangeNotSatisfiableError
        A single, well-formed range that selects no byte of the file.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs or "," in specs:
        return None
    match = _SPEC.match(specs)
    if match is None:
        return None
    first, last = match.groups()
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiableError(header)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last != "" else size - 1
    if last != "" and end < start:
        return None  # invalid: ignore the header
    if start >= size:
        raise RangeNotSatisfiableError(header)
    return ByteRange(start, min(end, size - 1))
