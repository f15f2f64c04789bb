"""Directions on the sky for the pages: footprint rings, unit vectors, mean directions.

Shared by the name resolver (the centre of the frames observed as a name) and the sky plot
(the centre of a result's footprints). Plain ``math`` and lenient on purpose: a malformed
footprint yields no ring rather than an error, so one bad row never breaks a page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["footprint_ring", "mean_direction", "unit_vector"]

# Below this length the summed vectors cancel out (e.g. antipodal points): no direction.
_CANCELLED = 1e-12


def unit_vector(ra: float, dec: float) -> tuple[float, float, float]:
    """The unit vector of an (ra, dec) direction in degrees."""
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def footprint_ring(area: Any) -> list[tuple[float, float]]:
    """The outer ring of a GeoJSON polygon as (ra, dec) pairs, without the closing vertex.

    RA is returned as stored (not wrapped); vertices that are not finite numbers are dropped
    and anything that is not a polygon gives ``[]``.
    """
    try:
        ring = [(float(p[0]), float(p[1])) for p in area["coordinates"][0]]
    except (KeyError, IndexError, TypeError, ValueError):
        return []
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    return [(ra, dec) for ra, dec in ring if math.isfinite(ra) and math.isfinite(dec)]


def mean_direction(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """The normalised mean of the points' unit vectors as (ra in [0, 360), dec), in degrees.

    Works across RA = 0/360 and at the poles, unlike the mean of raw RA values. None when
    there are no points or their vectors cancel out.
    """
    x = y = z = 0.0
    for ra, dec in points:
        ux, uy, uz = unit_vector(ra, dec)
        x, y, z = x + ux, y + uy, z + uz
    norm = math.sqrt(x * x + y * y + z * z)
    if norm < _CANCELLED:
        return None
    ra = math.degrees(math.atan2(y, x)) % 360.0
    dec = math.degrees(math.asin(max(-1.0, min(1.0, z / norm))))
    return ra, dec
