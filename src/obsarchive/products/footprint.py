"""The sky footprint of a frame as a GeoJSON Polygon (upstream ``get_wcs_corners``).

Two sources, tried in this order (the upstream order, so records match):

1. A fibre spectrograph's pointing: ``RA`` (hours), ``DEC`` (degrees) and ``RADIUS``
   (arcseconds) give a box ``ra ± r``, ``dec ± r`` (upstream semantics, no cos(dec) factor).
2. An imager's celestial WCS (a CD matrix, or CDELT with CROTA/PC when there is no CD matrix at
   all), evaluated by astropy at the four corner pixels.

Coordinates are ``[ra, dec]`` in degrees with ``ra`` in ``[0, 360)``. A frame without a usable
footprint (no WCS, a data cube, a table, a malformed WCS) gives ``None``, never an exception.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle
from astropy.wcs import WCS

from obsarchive.config import HeaderKeys
from obsarchive.products.headers import is_set

__all__ = ["PointingError", "circle_box", "footprint", "polygon", "wcs_corners"]

Corner = tuple[float, float]

_CD_KEYS = ("CD1_1", "CD1_2", "CD2_1", "CD2_2")

# The keywords astropy.wcs reads for a two-axis celestial WCS with SIP/TPV distortions. Handing
# astropy only these keeps unrelated header values from breaking (or slowing) the parse.
_WCS_KEYWORD = re.compile(
    r"^(WCSAXES|NAXIS\d*|CTYPE\d|CRVAL\d|CRPIX\d|CDELT\d|CROTA\d|CUNIT\d|CD\d_\d|PC\d_\d"
    r"|PV\d_\d+|PS\d_\d+|LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|MJD-OBS|DATE-OBS"
    r"|[AB]P?_ORDER|[AB]P?_\d+_\d+|A_DMAX|B_DMAX)$"
)


# Keywords whose value must be a number; a string there makes wcslib silently use a default
# (CRVAL1 = 'abc' would put the frame at RA 0), so such a WCS is refused instead.
_NUMERIC_KEYWORD = re.compile(
    r"^(NAXIS\d*|WCSAXES|CRVAL\d|CRPIX\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+"
    r"|LONPOLE|LATPOLE|[AB]P?_ORDER|[AB]P?_\d+_\d+|A_DMAX|B_DMAX)$"
)
# Keywords that only refine the frame or epoch; an unusable value is dropped, not fatal.
_OPTIONAL_KEYWORD = frozenset(("EQUINOX", "EPOCH", "MJD-OBS", "DATE-OBS", "RADESYS", "RADECSYS"))


def _wcs_keywords(headers: Mapping[str, Any]) -> dict[str, Any] | None:
    """The WCS keywords with usable values, or ``None`` when a required one is malformed."""
    result: dict[str, Any] = {}
    for key, value in headers.items():
        if not _WCS_KEYWORD.match(key) or not is_set(value):
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if _NUMERIC_KEYWORD.match(key):
            if not number or not math.isfinite(value):
                return None
        elif key in _OPTIONAL_KEYWORD:
            if key in ("EQUINOX", "EPOCH", "MJD-OBS") and not (number and math.isfinite(value)):
                continue
            if key in ("DATE-OBS", "RADESYS", "RADECSYS") and not isinstance(value, str):
                continue
        elif not isinstance(value, str):
            return None  # CTYPEn, CUNITn, PSi_m are strings
        result[key] = value
    return result


class PointingError(ValueError):
    """``RA``, ``DEC`` or ``RADIUS`` is set but cannot be read as an angle."""


def _wrap(longitude: float) -> float:
    """A longitude in ``[0, 360)`` (``-1e-17 % 360`` is ``360.0`` in floating point)."""
    wrapped = longitude % 360.0
    return 0.0 if wrapped >= 360.0 else wrapped


def polygon(corners: list[Corner]) -> dict[str, Any]:
    """A closed GeoJSON Polygon from corners (the first corner is repeated at the end)."""
    ring = [[float(ra), float(dec)] for ra, dec in corners]
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def _angle(value: Any, unit: u.UnitBase, name: str) -> float:
    if isinstance(value, bool):
        raise PointingError(f"{name} {value!r} is not an angle")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            degrees = float(Angle(value, unit=unit).degree)
    except (ValueError, TypeError, u.UnitsError) as exc:
        raise PointingError(f"{name} {value!r} is not an angle") from exc
    if not math.isfinite(degrees):
        raise PointingError(f"{name} {value!r} is not a finite angle")
    return degrees


def circle_box(ra_hours: Any, dec_degrees: Any, radius_arcsec: Any) -> list[Corner]:
    """The corners of the upstream fibre box: ``(ra-r, dec+r)``, ``(ra+r, dec+r)``, ...

    ``ra`` is read in hours (numbers too, as upstream), ``dec`` in degrees and the radius in
    arcseconds; sexagesimal strings are accepted. Two fixes over upstream: right ascensions are
    wrapped into ``[0, 360)``, and a box that would cross a pole becomes a square around the
    pole reaching down to ``|dec| - r`` (upstream writes latitudes beyond the poles).

    Raises
    ------
    PointingError
        A value cannot be read as an angle, ``|dec| > 90`` or the radius is negative.
    """
    ra = _angle(ra_hours, u.hourangle, "RA")
    dec = _angle(dec_degrees, u.deg, "DEC")
    radius = _angle(radius_arcsec, u.arcsec, "RADIUS")
    if abs(dec) > 90:
        raise PointingError(f"DEC {dec_degrees!r} is beyond a pole")
    if radius < 0:
        raise PointingError(f"RADIUS {radius_arcsec!r} is negative")
    if dec + radius > 90:
        # The circle contains the north pole: four points at its lowest latitude, 90 degrees
        # apart in RA starting under the pointing, enclose both the pole and the pointing.
        lowest = max(dec - radius, -90.0)
        return [(_wrap(ra + 90.0 * step), lowest) for step in range(4)]
    if dec - radius < -90:
        highest = min(dec + radius, 90.0)
        return [(_wrap(ra + 90.0 * step), highest) for step in range(4)]
    return [
        (_wrap(ra - radius), dec + radius),
        (_wrap(ra + radius), dec + radius),
        (_wrap(ra + radius), dec - radius),
        (_wrap(ra - radius), dec - radius),
    ]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    number = int(value)
    return number if number >= 1 else None


def wcs_corners(headers: Mapping[str, Any]) -> list[Corner] | None:
    """The sky positions of the four corner pixels, or ``None`` without a usable celestial WCS.

    Corners are pixels ``(1, 1)``, ``(1, NAXIS2)``, ``(NAXIS1, NAXIS2)`` and ``(NAXIS1, 1)``
    (FITS one-based), in that order, as upstream. A set ``NAXIS3`` (a data cube), a partial CD
    matrix or a WCS without celestial axes gives ``None``.
    """
    if is_set(headers.get("NAXIS3")):
        return None
    naxis1 = _positive_int(headers.get("NAXIS1"))
    naxis2 = _positive_int(headers.get("NAXIS2"))
    if naxis1 is None or naxis2 is None:
        return None
    present = [is_set(headers.get(key)) for key in _CD_KEYS]
    if any(present) and not all(present):
        return None  # upstream needs the whole CD matrix; master calibrations lack CD1_2/CD2_1
    if not any(present) and not (is_set(headers.get("CDELT1")) and is_set(headers.get("CDELT2"))):
        return None
    wcs_header = _wcs_keywords(headers)
    if wcs_header is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FITSFixedWarning chatter about DATE-OBS, RADESYS, ...
            wcs = WCS(wcs_header, naxis=2)
            lng, lat = wcs.wcs.lng, wcs.wcs.lat
            if lng < 0 or lat < 0:
                return None  # a linear or spectral WCS has no sky position
            world = wcs.all_pix2world(
                np.array([1, 1, naxis1, naxis1], dtype=float),
                np.array([1, naxis2, naxis2, 1], dtype=float),
                1,
            )
    except (ValueError, TypeError, KeyError, IndexError, ArithmeticError, MemoryError):
        # astropy.wcs raises ValueError subclasses for malformed WCS, TypeError for values of
        # the wrong type; none of these means anything but "no usable footprint".
        return None
    ras, decs = np.asarray(world[lng], dtype=float), np.asarray(world[lat], dtype=float)
    if not (np.all(np.isfinite(ras)) and np.all(np.isfinite(decs))):
        return None
    if np.any(np.abs(decs) > 90):
        return None
    return [(_wrap(float(ra)), float(dec)) for ra, dec in zip(ras, decs, strict=True)]


def footprint(
    headers: Mapping[str, Any], keys: HeaderKeys | None = None, *, strict: bool = False
) -> dict[str, Any] | None:
    """The frame's footprint as a GeoJSON Polygon, or ``None``.

    Parameters
    ----------
    headers : Mapping
        Normalised headers.
    keys : HeaderKeys, optional
        Which keywords hold RA, DEC and RADIUS.
    strict : bool
        When true, an ``RA``/``DEC``/``RADIUS`` triple that is set but unreadable raises
        :class:`PointingError` (the product layer reports it as a bad header); by default it
        gives ``None`` like every other unusable footprint.

    Returns
    -------
    dict or None
        ``{"type": "Polygon", "coordinates": [[c1, c2, c3, c4, c1]]}`` with ``[ra, dec]``
        corners in degrees.
    """
    keys = keys or HeaderKeys()
    radius, ra, dec = headers.get(keys.radius), headers.get(keys.ra), headers.get(keys.dec)
    if is_set(radius) and is_set(ra) and is_set(dec):
        try:
            return polygon(circle_box(ra, dec, radius))
        except PointingError:
            if strict:
                raise
            return None
    corners = wcs_corners(headers)
    return None if corners is None else polygon(corners)
