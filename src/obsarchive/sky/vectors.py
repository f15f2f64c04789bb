"""Unit vectors on the celestial sphere and the numerical tolerance shared by all predicates.

Every predicate in :mod:`obsarchive.sky` works on Cartesian unit vectors rather than on
longitude/latitude, which is what makes RA 0/360 and the poles ordinary places.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EPSILON",
    "angle_between",
    "lonlat_to_vectors",
    "normalise",
    "vectors_to_lonlat",
]

#: Boundary tolerance in radians (about 20 micro-arcseconds). Points closer than this to a
#: boundary count as on it: regions are closed sets, as with PostGIS ``ST_Covers`` and
#: ``ST_Intersects``, and double-precision rounding (~1e-16) must never turn a touching case
#: into a miss.
EPSILON = 1e-10

FloatArray = NDArray[np.float64]


def lonlat_to_vectors(lon: ArrayLike, lat: ArrayLike) -> FloatArray:
    """Convert longitudes and latitudes in degrees to unit vectors.

    Parameters
    ----------
    lon, lat
        Broadcastable arrays (or scalars) of degrees; longitudes may be any finite value.

    Returns
    -------
    numpy.ndarray
        Array of shape ``broadcast(lon, lat).shape + (3,)``.
    """
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    lon_r, lat_r = np.broadcast_arrays(lon_r, lat_r)
    cos_lat = np.cos(lat_r)
    return np.stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)], axis=-1)


def vectors_to_lonlat(vectors: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert (not necessarily unit) vectors to longitude in [0, 360) and latitude, in degrees."""
    v = np.asarray(vectors, dtype=np.float64)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    lon = np.degrees(np.arctan2(y, x)) % 360.0
    # % can round a tiny negative angle up to exactly 360.0.
    lon = np.where(lon >= 360.0, 0.0, lon)
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


def normalise(vectors: ArrayLike) -> FloatArray:
    """Scale vectors to unit length along the last axis (zero vectors stay zero)."""
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def angle_between(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Angle in radians between unit vectors, accurate for tiny and large angles alike.

    ``arccos(a . b)`` loses all precision below ~1e-8 rad; the chord form does not.
    """
    av = np.asarray(a, dtype=np.float64)
    bv = np.asarray(b, dtype=np.float64)
    chord = np.linalg.norm(av - bv, axis=-1)
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
