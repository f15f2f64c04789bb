"""IVOA shape parameters: SIA 2.0 ``POS`` and the DALI ``CIRCLE``/``POLYGON`` literals (SODA).

``POS=CIRCLE ra dec r``, ``POS=RANGE ra1 ra2 dec1 dec2`` (limits may be infinite, the RA
range may wrap) and ``POS=POLYGON ra1 dec1 ra2 dec2 ra3 dec3 ...`` (any winding: the smaller
region is the inside, SIA 2.0 section 2.1.1). Numbers follow Python/DALI syntax, including
``inf``, ``+Inf``, ``-Inf`` and exponents, which pyvo sends.
"""

from __future__ import annotations

import math

from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.geometry import Circle, Polygon, Range

__all__ = ["parse_dali_circle", "parse_dali_polygon", "parse_pos"]

_MAX_TEXT = 100_000


def _numbers(text: str, what: str, *, allow_infinite: bool = False) -> list[float]:
    if len(text) > _MAX_TEXT:
        raise SkyGeometryError(f"{what} is longer than {_MAX_TEXT} characters")
    values = []
    for word in text.split():
        try:
            value = float(word)
        except ValueError as exc:
            raise SkyGeometryError(f"{what}: {word!r} is not a number") from exc
        if math.isnan(value) or (math.isinf(value) and not allow_infinite):
            raise SkyGeometryError(f"{what}: {word!r} is not a finite number")
        values.append(value)
    return values


def parse_dali_circle(text: str) -> Circle:
    """Parse a DALI circle literal ``ra dec radius`` (degrees).

    Raises
    ------
    SkyGeometryError
        Not three numbers, or an invalid circle.
    """
    values = _numbers(text, "CIRCLE")
    if len(values) != 3:
        raise SkyGeometryError("CIRCLE needs exactly 3 numbers: ra dec radius")
    return Circle(*values)


def parse_dali_polygon(text: str) -> Polygon:
    """Parse a DALI polygon literal ``ra1 dec1 ra2 dec2 ra3 dec3 ...`` (degrees, any winding).

    Raises
    ------
    SkyGeometryError
        An odd count or fewer than 6 numbers, or an invalid polygon.
    """
    values = _numbers(text, "POLYGON")
    if len(values) < 6 or len(values) % 2:
        raise SkyGeometryError("POLYGON needs an even number (at least 6) of numbers")
    return Polygon(zip(values[0::2], values[1::2], strict=True))


def _parse_range(text: str) -> Range:
    values = _numbers(text, "RANGE", allow_infinite=True)
    if len(values) != 4:
        raise SkyGeometryError("RANGE needs exactly 4 numbers: ra1 ra2 dec1 dec2")
    for value in values:
        if math.isfinite(value) and not -360.0 <= value <= 360.0:
            raise SkyGeometryError(f"RANGE: {value!r} is out of range")
    return Range(*values)


def parse_pos(text: str) -> Circle | Range | Polygon:
    """Parse an SIA 2.0 ``POS`` value into a region.

    Raises
    ------
    SkyGeometryError
        Unknown shape keyword, wrong number of values or an invalid shape.
    """
    if not isinstance(text, str):
        raise SkyGeometryError("POS must be text")
    parts = text.split(maxsplit=1)
    shape = parts[0] if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    keyword = shape.upper()
    if keyword == "CIRCLE":
        return parse_dali_circle(rest)
    if keyword == "RANGE":
        return _parse_range(rest)
    if keyword == "POLYGON":
        return parse_dali_polygon(rest)
    raise SkyGeometryError(f"POS must start with CIRCLE, RANGE or POLYGON, not {shape!r}")
