"""ObsCore spatial columns (``s_ra``, ``s_dec``, ``s_fov``, ``s_region``) for many frames at once.

:func:`obsarchive.sky.obscore_footprint` defines these values for one footprint; building a
validated :class:`~obsarchive.sky.Polygon` per row costs milliseconds, too much for a 1000-row
SIA answer. Convex footprints (what a camera's WCS gives) are computed here for a whole batch
with the same formulas in array form -- area centroid, smallest enclosing cap, vertices in sky
order -- and anything else (concave or degenerate footprints, many vertices) goes through
``obscore_footprint`` itself. The tests check that both paths agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from obsarchive import sky
from obsarchive.sky.vectors import angle_between, lonlat_to_vectors, normalise, vectors_to_lonlat

__all__ = ["Spatial", "spatial_columns"]

# Footprints with more distinct vertices take the per-polygon path (the cap search below is
# over all pairs and triples of vertices).
_MAX_FAST_VERTICES = 8
# The tolerance of sky's enclosing-cap search, so both paths pick the same cap.
_CAP_SLACK = 1e-13
# A turn smaller than this (radians, as a triple product) is treated as collinear: such
# footprints are not strictly convex and take the per-polygon path.
_MIN_TURN = 1e-15


@dataclass(frozen=True)
class Spatial:
    """The spatial ObsCore values of one footprint (``region`` as STC-S or DALI numbers)."""

    s_ra: float
    s_dec: float
    s_fov: float
    stcs: str
    dali: list[float] | None


def _ring(area: Any) -> list[tuple[float, float]] | None:
    """The ring's distinct positions, or None when the area is not a plain GeoJSON polygon."""
    try:
        if area.get("type") != "Polygon" or len(area["coordinates"]) != 1:
            return None
        ring = [(float(p[0]), float(p[1])) for p in area["coordinates"][0]]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if not all(math.isfinite(a) and math.isfinite(b) and -90 <= b <= 90 for a, b in ring):
        return None
    return ring


def _number(value: float) -> str:
    return repr(float(value) + 0.0)


def _slow(area: Any) -> Spatial | None:
    try:
        polygon = sky.polygon_from_geojson(area, strict=False)
    except (sky.SkyGeometryError, ValueError, TypeError, KeyError, IndexError):
        return None
    columns = sky.obscore_footprint(polygon)
    dali = None if polygon.is_degenerate else sky.to_dali_polygon(polygon)
    return Spatial(columns.s_ra, columns.s_dec, columns.s_fov, columns.s_region, dali)


def _convex_batch(vectors: np.ndarray) -> np.ndarray:
    """Which polygons ``(n, k, 3)`` are strictly convex (every turn has the same sign)."""
    a, b, c = vectors, np.roll(vectors, -1, axis=1), np.roll(vectors, -2, axis=1)
    turns = np.einsum("nki,nki->nk", np.cross(a, b), c)
    positive = (turns > _MIN_TURN).all(axis=1)
    negative = (turns < -_MIN_TURN).all(axis=1)
    # Within a hemisphere, as sky requires of every polygon.
    centre = normalise(vectors.sum(axis=1))
    within = np.einsum("nki,ni->nk", vectors, centre).min(axis=1) > math.cos(math.radians(89.0))
    return np.asarray((positive | negative) & within)


def _enclosing_caps(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest enclosing caps of ``(n, k, 3)`` point sets: centres ``(n, 3)``, radii ``(n,)``.

    The minimal cap is determined by two or three of the points: every such candidate is
    tried and the smallest one containing all points wins.
    """
    n, k, _ = points.shape
    best_radius = np.full(n, np.inf)
    best_centre = np.zeros((n, 3))

    def consider(centre: np.ndarray, radius: np.ndarray) -> None:
        reach = angle_between(points, centre[:, None, :]).max(axis=1)
        feasible = reach <= radius + _CAP_SLACK
        better = feasible & (radius < best_radius)
        best_radius[better] = radius[better]
        best_centre[better] = centre[better]

    for i, j in combinations(range(k), 2):
        centre = normalise(points[:, i] + points[:, j])
        consider(centre, angle_between(centre, points[:, i]))
    for i, j, m in combinations(range(k), 3):
        a, b, c = points[:, i], points[:, j], points[:, m]
        centre = normalise(np.cross(b - a, c - a))
        flip = np.einsum("ni,ni->n", centre, a) < 0
        centre[flip] = -centre[flip]
        radius = np.maximum.reduce(
            [angle_between(centre, a), angle_between(centre, b), angle_between(centre, c)]
        )
        consider(centre, radius)
    return best_centre, best_radius


def _fast(rings: list[list[tuple[float, float]]]) -> list[Spatial | None]:
    """Spatial columns of equal-length rings; None for those that are not strictly convex."""
    lon = np.array([[p[0] for p in ring] for ring in rings])
    lat = np.array([[p[1] for p in ring] for ring in rings])
    all_vectors = lonlat_to_vectors(lon, lat)
    distinct = (angle_between(all_vectors, np.roll(all_vectors, -1, axis=1)) > sky.EPSILON).all(
        axis=1
    )
    usable = distinct & _convex_batch(all_vectors)
    found: list[Spatial | None] = [None] * len(rings)
    if not usable.any():
        return found
    vectors = all_vectors[usable]
    # Counter-clockwise seen from outside (inside on the left), as Polygon.ccw_vectors.
    turns = np.einsum("ni,ni->n", np.cross(vectors[:, 0], vectors[:, 1]), vectors[:, 2])
    ccw = np.where((turns > 0)[:, None, None], vectors, vectors[:, ::-1])
    following = np.roll(ccw, -1, axis=1)
    normals = normalise(np.cross(ccw, following))
    lengths = angle_between(ccw, following)
    centre_lon, centre_lat = vectors_to_lonlat((normals * lengths[..., None]).sum(axis=1))
    _, cap_radius = _enclosing_caps(vectors)
    fov = 2.0 * np.maximum(np.degrees(cap_radius) + 1e-9, 1e-9)
    sky_lon, sky_lat = vectors_to_lonlat(ccw[:, ::-1])  # counter-clockwise seen from inside
    for row, position in enumerate(np.flatnonzero(usable)):
        dali = [float(v) for pair in zip(sky_lon[row], sky_lat[row], strict=True) for v in pair]
        found[int(position)] = Spatial(
            s_ra=float(centre_lon[row]) % 360.0,
            s_dec=float(centre_lat[row]),
            s_fov=float(fov[row]),
            stcs="POLYGON ICRS " + " ".join(_number(v) for v in dali),
            dali=dali,
        )
    return found


def spatial_columns(areas: Sequence[Any]) -> list[Spatial | None]:
    """The spatial columns of stored GeoJSON footprints (None where there is no footprint).

    Equal, up to floating-point rounding, to :func:`obsarchive.sky.obscore_footprint` of each
    footprint read with ``polygon_from_geojson(area, strict=False)``.
    """
    result: list[Spatial | None] = [None] * len(areas)
    groups: dict[int, list[tuple[int, list[tuple[float, float]]]]] = {}
    for position, area in enumerate(areas):
        if not area:
            continue
        ring = _ring(area)
        if ring is not None and 3 <= len(ring) <= _MAX_FAST_VERTICES:
            groups.setdefault(len(ring), []).append((position, ring))
        else:
            result[position] = _slow(area)
    for members in groups.values():
        fast = _fast([ring for _, ring in members])
        for (position, _), spatial in zip(members, fast, strict=True):
            # Footprints that are not strictly convex are left to the exact path.
            result[position] = spatial if spatial is not None else _slow(areas[position])
    return result
