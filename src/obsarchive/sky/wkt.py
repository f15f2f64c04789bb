"""Geometry text input: WKT, EWKT, hex (E)WKB and GeoJSON strings, as the archive API accepts.

Upstream hands ``covers``/``intersects`` values to GEOS, which accepts WKT, EWKT
(``SRID=4326;POINT(...)``), hex WKB and GeoJSON. Only points and single-ring polygons
(x = RA, y = Dec, degrees) mean anything to the archive; everything else, and anything
malformed, raises :class:`~obsarchive.sky.errors.SkyGeometryError` -- never another exception.
"""

from __future__ import annotations

import json
import math
import re
import struct

from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.geojson import geometry_from_geojson
from obsarchive.sky.geometry import Point, Polygon

__all__ = ["MAX_GEOMETRY_TEXT", "parse_geometry", "parse_wkb_hex", "parse_wkt", "to_wkt"]

#: Longer geometry strings are refused before parsing (a polygon of the maximum vertex count
#: in WKT is far shorter).
MAX_GEOMETRY_TEXT = 100_000

# Only SRID 4326 (lon/lat degrees) is meaningful: it is how upstream stores RA/Dec.
_SRID = 4326

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<word>[A-Za-z]+)
      | (?P<punct>[(),;=])
    )""",
    re.VERBOSE | re.ASCII,  # GEOS reads ASCII digits only; float() would take any script's
)


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str]] = []
        position = 0
        stripped = text.rstrip()
        while position < len(stripped):
            match = _TOKEN.match(stripped, position)
            if match is None or match.end() == position:
                shown = stripped[position : position + 20]
                raise SkyGeometryError(f"unexpected text in geometry at {shown!r}")
            kind = match.lastgroup or ""
            self.items.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.items[self.index] if self.index < len(self.items) else ("end", "")

    def take(self, kind: str, value: str | None = None, what: str = "") -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (value is not None and got.upper() != value):
            expected = what or value or kind
            shown = repr(got) if got_kind != "end" else "the end of the text"
            raise SkyGeometryError(f"expected {expected} but found {shown}")
        self.index += 1
        return got

    def done(self) -> None:
        if self.index != len(self.items):
            raise SkyGeometryError(f"unexpected text after the geometry: {self.peek()[1]!r}")


def _number(tokens: _Tokens) -> float:
    value = float(tokens.take("number", what="a number"))
    if not math.isfinite(value):
        raise SkyGeometryError("coordinates must be finite numbers")
    return value


def _position(tokens: _Tokens) -> tuple[float, float]:
    lon = _number(tokens)
    lat = _number(tokens)
    if tokens.peek()[0] == "number":
        raise SkyGeometryError("only 2-dimensional (RA Dec) coordinates are supported")
    return lon, lat


def parse_wkt(text: str) -> Point | Polygon:
    """Parse ``POINT(ra dec)`` or ``POLYGON((ra dec, ...))``, optionally with ``SRID=4326;``.

    Keywords are case-insensitive and whitespace is free, as in GEOS. A polygon ring must be
    closed (first position repeated last) and have at least four positions; holes, Z/M
    coordinates and other geometry types are refused.

    Raises
    ------
    SkyGeometryError
        The text is not such a geometry, or the geometry itself is invalid.
    """
    if not isinstance(text, str):
        raise SkyGeometryError("geometry must be text")
    if len(text) > MAX_GEOMETRY_TEXT:
        raise SkyGeometryError(f"geometry text is longer than {MAX_GEOMETRY_TEXT} characters")
    tokens = _Tokens(text)
    first_kind, first = tokens.peek()
    if first_kind == "word" and first.upper() == "SRID":
        tokens.take("word")
        tokens.take("punct", "=", "'='")
        srid = tokens.take("number", what="an SRID number")
        if srid != str(_SRID):
            raise SkyGeometryError(f"only SRID={_SRID} is supported, not SRID={srid}")
        tokens.take("punct", ";", "';'")
    kind = tokens.take("word", what="POINT or POLYGON").upper()
    if tokens.peek()[0] == "word":
        modifier = tokens.peek()[1].upper()
        if modifier == "EMPTY":
            raise SkyGeometryError(f"an empty {kind} is not a usable geometry")
        raise SkyGeometryError("only 2-dimensional (RA Dec) coordinates are supported")
    if kind == "POINT":
        tokens.take("punct", "(", "'('")
        lon, lat = _position(tokens)
        tokens.take("punct", ")", "')' after the two coordinates of the point")
        tokens.done()
        return Point(lon, lat)
    if kind == "POLYGON":
        tokens.take("punct", "(", "'('")
        ring = _ring(tokens)
        if tokens.peek() == ("punct", ","):
            raise SkyGeometryError("polygons with holes are not supported")
        tokens.take("punct", ")", "')' closing the polygon")
        tokens.done()
        return _polygon_from_ring(ring)
    raise SkyGeometryError(f"unsupported geometry type {kind!r}: use POINT or POLYGON")


def _ring(tokens: _Tokens) -> list[tuple[float, float]]:
    tokens.take("punct", "(", "'(' opening a ring")
    positions = [_position(tokens)]
    while tokens.peek() == ("punct", ","):
        tokens.take("punct")
        positions.append(_position(tokens))
    tokens.take("punct", ")", "')' closing the ring")
    return positions


def _polygon_from_ring(ring: list[tuple[float, float]]) -> Polygon:
    if len(ring) < 4:
        raise SkyGeometryError("a polygon ring needs at least 4 positions (closed triangle)")
    if ring[0] != ring[-1]:
        raise SkyGeometryError("a polygon ring must be closed (last position = first)")
    return Polygon(ring)


def parse_wkb_hex(text: str) -> Point | Polygon:
    """Parse hex-encoded WKB or EWKB of a 2-D point or single-ring polygon.

    Raises
    ------
    SkyGeometryError
        Not valid hex WKB, or not a supported geometry.
    """
    try:
        data = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise SkyGeometryError("invalid hexadecimal WKB") from exc
    reader = _WkbReader(data)
    geometry = reader.geometry()
    if reader.offset != len(data):
        raise SkyGeometryError("unexpected bytes after the WKB geometry")
    return geometry


class _WkbReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0
        self.order = "<"

    def _unpack(self, fmt: str) -> tuple[float | int, ...]:
        size = struct.calcsize(self.order + fmt)
        if self.offset + size > len(self.data):
            raise SkyGeometryError("WKB geometry is truncated")
        values = struct.unpack_from(self.order + fmt, self.data, self.offset)
        self.offset += size
        return values

    def _count(self) -> int:
        (count,) = self._unpack("I")
        # Each counted item needs at least 16 bytes: refuse absurd counts before looping.
        if int(count) * 16 > len(self.data) - self.offset:
            raise SkyGeometryError("WKB geometry is truncated")
        return int(count)

    def _position(self) -> tuple[float, float]:
        lon, lat = (float(v) for v in self._unpack("dd"))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise SkyGeometryError("coordinates must be finite numbers (no empty geometry)")
        return lon, lat

    def geometry(self) -> Point | Polygon:
        if self.offset >= len(self.data):
            raise SkyGeometryError("WKB geometry is empty")
        byte_order = self.data[self.offset]
        self.offset += 1
        if byte_order not in (0, 1):
            raise SkyGeometryError("invalid WKB byte order")
        self.order = "<" if byte_order == 1 else ">"
        (code,) = self._unpack("I")
        code = int(code)
        if code & 0x20000000:  # EWKB: an SRID follows
            (srid,) = self._unpack("I")
            if int(srid) != _SRID:
                raise SkyGeometryError(f"only SRID={_SRID} is supported, not SRID={srid}")
        if (code & 0xC0000000) or (code & 0x1FFFFFFF) >= 1000:
            raise SkyGeometryError("only 2-dimensional (RA Dec) coordinates are supported")
        kind = code & 0x1FFFFFFF
        if kind == 1:
            return Point(*self._position())
        if kind == 3:
            rings = self._count()
            if rings == 0:
                raise SkyGeometryError("an empty POLYGON is not a usable geometry")
            if rings > 1:
                raise SkyGeometryError("polygons with holes are not supported")
            positions = [self._position() for _ in range(self._count())]
            return _polygon_from_ring(positions)
        raise SkyGeometryError(f"unsupported WKB geometry type {kind}: use POINT or POLYGON")


_HEX = re.compile(r"[0-9A-Fa-f]+", re.ASCII)


def parse_geometry(text: str) -> Point | Polygon:
    """Parse a geometry given as WKT, EWKT, hex (E)WKB or a GeoJSON string.

    This is what the archive's ``covers`` and ``intersects`` filters accept.

    Raises
    ------
    SkyGeometryError
        The text is none of these, or the geometry is invalid.
    """
    if not isinstance(text, str):
        raise SkyGeometryError("geometry must be text")
    if len(text) > MAX_GEOMETRY_TEXT:
        raise SkyGeometryError(f"geometry text is longer than {MAX_GEOMETRY_TEXT} characters")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise SkyGeometryError("invalid GeoJSON text") from exc
        return geometry_from_geojson(document)
    if len(stripped) >= 10 and len(stripped) % 2 == 0 and _HEX.fullmatch(stripped):
        return parse_wkb_hex(stripped)
    return parse_wkt(stripped)


def to_wkt(geometry: Point | Polygon) -> str:
    """Format a point or polygon as WKT, with its vertices as given (ring closed)."""
    if isinstance(geometry, Point):
        return f"POINT({geometry.lon!r} {geometry.lat!r})"
    ring = [*geometry.vertices, geometry.vertices[0]]
    return "POLYGON((" + ", ".join(f"{lon!r} {lat!r}" for lon, lat in ring) + "))"
