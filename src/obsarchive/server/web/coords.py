"""Sky coordinates as people type them: degrees or sexagesimal, and cone radii with units.

The API takes ``ra``, ``dec`` and ``radius`` in decimal degrees; the search form also accepts
``10:00:24``, ``10h00m24s`` or ``10 00 24`` (hours) for RA, ``+02:12:00`` or ``2d12m`` for Dec,
both in the RA box (``10:00:24 +02:12:00``), and radii such as ``5'``, ``30"`` or ``0.1d``. The
page converts them to the API's degrees, so the address bar always holds an API query.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "CoordinateError",
    "format_dec",
    "format_degrees",
    "format_ra",
    "parse_dec",
    "parse_position",
    "parse_ra",
    "parse_radius",
]


class CoordinateError(ValueError):
    """A coordinate or radius cannot be understood; the message says what is expected."""


_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_DECIMAL = re.compile(rf"^([+-]?(?:{_NUMBER}))\s*(d|deg|degrees?|°)?$", re.IGNORECASE)
_HOURS_DECIMAL = re.compile(rf"^({_NUMBER})\s*h$", re.IGNORECASE)
# Two or three sexagesimal fields separated by ':', spaces or unit letters.
_SEXAGESIMAL = re.compile(
    rf"^([+-]?)\s*(\d+)\s*(?:[:\s]|[hd°])\s*(\d+(?:\.\d*)?)"
    rf"(?:\s*(?:[:\s]|[m'\u2032])\s*({_NUMBER}))?\s*(?:[s\"\u2033]|m|')?$",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    return " ".join(text.replace("\u2212", "-").split())


def _sexagesimal(text: str, what: str) -> tuple[float, bool] | None:
    """``d m s`` (or ``h m s``) as one unsigned value, and whether it was negative."""
    match = _SEXAGESIMAL.match(text)
    if match is None:
        return None
    sign, whole, minutes, seconds = match.groups()
    m = float(minutes)
    s = float(seconds) if seconds else 0.0
    if not (0 <= m < 60 and 0 <= s < 60):
        raise CoordinateError(f"{what}: minutes and seconds must be below 60 in {text!r}.")
    return float(whole) + m / 60.0 + s / 3600.0, sign == "-"


def parse_ra(text: str) -> float:
    """Right ascension in degrees, in [0, 360).

    Plain numbers are degrees (``150.1``, ``150.1d``); ``10.5h`` and sexagesimal values
    (``10:00:24``, ``10 00 24.0``, ``10h00m24s``) are hours.

    Raises
    ------
    CoordinateError
        Not a right ascension.
    """
    value = _clean(text)
    decimal = _DECIMAL.match(value)
    if decimal:
        degrees = float(decimal.group(1))
        if not -360.0 <= degrees <= 360.0:
            raise CoordinateError(f"RA {value!r} is outside -360 to 360 degrees.")
        return degrees % 360.0
    hours_match = _HOURS_DECIMAL.match(value)
    if hours_match:
        hours = float(hours_match.group(1))
    else:
        parts = _sexagesimal(value, "RA")
        if parts is None:
            raise CoordinateError(
                f"RA {value!r} is neither degrees (150.1) nor hours (10:00:24 or 10h00m24s)."
            )
        hours, negative = parts
        if negative:
            raise CoordinateError(f"RA {value!r} in hours cannot be negative.")
    if not 0.0 <= hours <= 24.0:
        raise CoordinateError(f"RA {value!r} is outside 0 to 24 hours.")
    return (hours * 15.0) % 360.0


def parse_dec(text: str) -> float:
    """Declination in degrees: ``2.2``, ``+02:12:00``, ``-0 30 00``, ``2d12m``.

    Raises
    ------
    CoordinateError
        Not a declination, or outside -90 to +90 degrees.
    """
    value = _clean(text)
    decimal = _DECIMAL.match(value)
    if decimal:
        degrees = float(decimal.group(1))
    else:
        parts = _sexagesimal(value, "Dec")
        if parts is None:
            raise CoordinateError(
                f"Dec {value!r} is neither degrees (2.2) nor sexagesimal (+02:12:00)."
            )
        magnitude, negative = parts
        degrees = -magnitude if negative else magnitude
    if not -90.0 <= degrees <= 90.0:
        raise CoordinateError(f"Dec {value!r} is outside -90 to +90 degrees.")
    return degrees


def parse_position(text: str) -> tuple[float, float]:
    """RA and Dec typed together: ``150.1 2.2``, ``150.1, 2.2``, ``10:00:24 +02:12:00``,
    ``10 00 24 +02 12 00``.

    Raises
    ------
    CoordinateError
        The text is not two coordinates.
    """
    value = _clean(text).replace(",", " ")
    tokens = value.split()
    candidates: list[tuple[str, str]] = []
    if len(tokens) == 2:
        candidates.append((tokens[0], tokens[1]))
    elif len(tokens) in (4, 6):
        half = len(tokens) // 2
        candidates.append((" ".join(tokens[:half]), " ".join(tokens[half:])))
    for ra_text, dec_text in candidates:
        try:
            return parse_ra(ra_text), parse_dec(dec_text)
        except CoordinateError:
            continue
    raise CoordinateError(f"{text!r} is not an RA and a Dec (e.g. 10:00:24 +02:12:00).")


_RADIUS = re.compile(
    rf"^({_NUMBER})\s*(d|deg|degrees?|°|'|\u2032|m|arcmin|amin|\"|\u2033|s|arcsec|asec)?$",
    re.IGNORECASE,
)
_RADIUS_UNITS = {
    "": 1.0,
    "d": 1.0,
    "deg": 1.0,
    "degree": 1.0,
    "degrees": 1.0,
    "°": 1.0,
    "'": 1 / 60,
    "\u2032": 1 / 60,  # prime
    "m": 1 / 60,
    "arcmin": 1 / 60,
    "amin": 1 / 60,
    '"': 1 / 3600,
    "\u2033": 1 / 3600,  # double prime
    "s": 1 / 3600,
    "arcsec": 1 / 3600,
    "asec": 1 / 3600,
}


def parse_radius(text: str) -> float:
    """A cone radius in degrees: plain numbers are degrees; ``5'``, ``5 arcmin``, ``30"``.

    Raises
    ------
    CoordinateError
        Not a positive angle of at most 180 degrees.
    """
    value = _clean(text)
    match = _RADIUS.match(value)
    if match is None:
        raise CoordinateError(f"Radius {value!r} is not an angle (0.1, 5', 30\").")
    degrees = float(match.group(1)) * _RADIUS_UNITS[(match.group(2) or "").lower()]
    if not 0.0 < degrees <= 180.0:
        raise CoordinateError(f"Radius {value!r} must be above 0 and at most 180 degrees.")
    return degrees


def format_degrees(value: float, places: int = 6) -> str:
    """Degrees as the API wants them: fixed decimals without trailing zeros."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _split(value: float, places: int) -> tuple[int, int, float]:
    scale = 10**places
    total = round(abs(value) * 3600 * scale)
    whole, rest = divmod(total, 3600 * scale)
    minutes, seconds = divmod(rest, 60 * scale)
    return int(whole), int(minutes), seconds / scale


def format_ra(degrees: float) -> str:
    """RA degrees as ``HH:MM:SS.ss``."""
    hours = (degrees % 360.0) / 15.0
    h, m, s = _split(hours, 2)
    return f"{h % 24:02d}:{m:02d}:{s:05.2f}"


def format_dec(degrees: float) -> str:
    """Dec degrees as ``+DD:MM:SS.s``."""
    if math.isnan(degrees):
        raise CoordinateError("Dec is not a number.")
    d, m, s = _split(degrees, 1)
    sign = "-" if degrees < 0 and (d or m or s) else "+"
    return f"{sign}{d:02d}:{m:02d}:{s:04.1f}"
