"""Exact, vectorised refinement of many candidate footprints against one query region.

The sky index (:mod:`obsarchive.sky.index`) returns candidates that *may* intersect a query;
:func:`refine` decides exactly, for hundreds to thousands of footprints per call, without a
Python loop over footprints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from obsarchive.sky import _kernels
from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.geometry import Circle, Point, Polygon, Range, Region
from obsarchive.sky.vectors import FloatArray, angle_between, lonlat_to_vectors

__all__ = ["FootprintArray", "refine"]

# Bound on n * k * m elements per intermediate array: keeps peak memory to a few tens of MB
# whatever the number of candidates or query vertices.
_CHUNK_ELEMENTS = 1 << 20
# Angular slack (radians) of the bounding-cap pre-filter: generous, so that rounding can never
# make it reject a touching footprint.
_SLACK = 1e-9


class FootprintArray:
    """Many footprint polygons as one array of unit vectors, ready for :func:`refine`.

    Parameters
    ----------
    vectors
        Array ``(n, k, 3)`` of vertices (any winding, no closing vertex). Footprints with fewer
        than ``k`` vertices repeat their last vertex. Each footprint must satisfy the
        :class:`~obsarchive.sky.geometry.Polygon` rules (it does when it was validated on the
        way in); otherwise results are unspecified but never an exception.
    """

    def __init__(self, vectors: ArrayLike) -> None:
        array = np.asarray(vectors, dtype=np.float64)
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[1] < 3:
            raise ValueError(f"footprint vectors must have shape (n, k>=3, 3), not {array.shape}")
        self._batch = _kernels.PolygonBatch.build(array)

    def __len__(self) -> int:
        return self._batch.n

    @property
    def vectors(self) -> FloatArray:
        """The normalised vertex array ``(n, k, 3)``."""
        return self._batch.v

    @property
    def batch(self) -> _kernels.PolygonBatch:
        """Edge data for the kernels (internal)."""
        return self._batch

    @classmethod
    def from_polygons(cls, polygons: Sequence[Polygon]) -> FootprintArray:
        """Stack validated polygons (padding the shorter ones)."""
        return cls(_pad([p.vectors for p in polygons]))

    @classmethod
    def from_rings(cls, rings: Iterable[Sequence[Sequence[float]]]) -> FootprintArray:
        """Stack rings of ``[lon, lat]`` positions in degrees, e.g. GeoJSON ``coordinates[0]``.

        A closing position equal to the first one is dropped. No validation beyond shape: use it
        for footprints that were validated (``strict=False`` is fine) when they were stored.

        Raises
        ------
        SkyGeometryError
            A ring is not a list of at least three ``[lon, lat]`` number pairs.
        """
        rings = list(rings)
        try:
            regular = np.asarray(rings, dtype=np.float64)
        except (TypeError, ValueError):
            regular = None
        if regular is not None and regular.ndim == 3 and regular.shape[2] >= 2 and rings:
            # Fast path: equal-length rings (the usual 4 corners + closing point).
            coords = regular[:, :, :2]
            if coords.shape[1] > 3 and np.array_equal(coords[:, 0], coords[:, -1]):
                coords = coords[:, :-1]
            if coords.shape[1] >= 1:
                vectors = lonlat_to_vectors(coords[..., 0], coords[..., 1])
                return cls(_pad(list(vectors)) if vectors.shape[1] < 3 else vectors)
        stacked = []
        for position, ring in enumerate(rings):
            try:
                coords = np.asarray(ring, dtype=np.float64)[:, :2]
            except (TypeError, ValueError, IndexError) as exc:
                raise SkyGeometryError(f"footprint {position} is not a list of positions") from exc
            if len(coords) > 3 and np.array_equal(coords[0], coords[-1]):
                coords = coords[:-1]
            if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) == 0:
                raise SkyGeometryError(f"footprint {position} is not a list of [lon, lat] pairs")
            stacked.append(lonlat_to_vectors(coords[:, 0], coords[:, 1]))
        if not stacked:
            return cls(np.zeros((0, 3, 3)))
        return cls(_pad(stacked))


def _pad(rings: Sequence[FloatArray]) -> FloatArray:
    if not rings:
        return np.zeros((0, 3, 3))
    k = max(3, *(len(r) for r in rings))
    out = np.empty((len(rings), k, 3))
    for row, ring in enumerate(rings):
        out[row, : len(ring)] = ring
        out[row, len(ring) :] = ring[-1]  # repeated vertex = zero-length edge
    return out


def refine(
    footprints: FootprintArray | ArrayLike,
    region: Region,
    predicate: Literal["intersects", "covers"] = "intersects",
) -> NDArray[np.bool_]:
    """Exact test of every footprint against ``region``.

    Parameters
    ----------
    footprints
        A :class:`FootprintArray` or an array ``(n, k, 3)`` of unit vectors.
    region
        A :class:`Point`, :class:`Polygon`, :class:`Circle` or :class:`Range`.
    predicate
        ``"intersects"`` (default): the footprint and the region share a point -- for a
        :class:`Point` region, the footprint contains it. ``"covers"``: the footprint contains
        the whole region (:class:`Point` or :class:`Polygon` only), the archive's ``covers``
        filter. Boundaries count in both.

    Returns
    -------
    numpy.ndarray
        Boolean mask of shape ``(n,)``.
    """
    if predicate not in ("intersects", "covers"):
        raise ValueError(f"unknown predicate {predicate!r}")
    if predicate == "covers" and not isinstance(region, (Point, Polygon)):
        raise TypeError(f"covers takes a Point or a Polygon, not {region!r}")
    array = footprints if isinstance(footprints, FootprintArray) else FootprintArray(footprints)
    batch = array.batch
    result = np.zeros(batch.n, dtype=bool)
    if batch.n == 0:
        return result
    candidates = np.flatnonzero(_near(batch, region))
    per_footprint = batch.k * max(_region_size(region), 1)
    step = max(1, _CHUNK_ELEMENTS // per_footprint)
    for begin in range(0, len(candidates), step):
        index = candidates[begin : begin + step]
        sub = batch.take(index)
        if predicate == "covers" and isinstance(region, Polygon):
            result[index] = _kernels.covers_polygon(sub, region.batch)
        else:
            result[index] = _refine_batch(sub, region)
    return result


def _region_size(region: Region) -> int:
    return len(region.vectors) if isinstance(region, Polygon) else 4


def _near(batch: _kernels.PolygonBatch, region: Region) -> NDArray[np.bool_]:
    """Cheap bounding-cap pre-filter: False only where intersection is impossible."""
    reach = angle_between(batch.v, batch.centre[:, None, :]).max(axis=1)
    if isinstance(region, Point):
        centre, radius = region.vector, 0.0
    elif isinstance(region, Circle):
        centre, radius = region.vector, region.radius_radians
    elif isinstance(region, Polygon):
        cap = region.bounding_circle
        centre, radius = lonlat_to_vectors(cap.lon, cap.lat), cap.radius_radians
    else:
        return _near_box(batch.centre, reach, region.box)
    gap = angle_between(batch.centre, centre)
    # Generous slack: the pre-filter must never reject a touching footprint.
    return np.asarray(gap <= reach + radius + _SLACK)


def _near_box(centre: FloatArray, reach: FloatArray, box: _kernels.LonLatBox) -> NDArray[np.bool_]:
    """Footprint caps whose latitude and longitude spans overlap the box's."""
    lon = np.arctan2(centre[:, 1], centre[:, 0])
    lat = np.arcsin(np.clip(centre[:, 2], -1.0, 1.0))
    near = (lat + reach >= box.lat_min - _SLACK) & (lat - reach <= box.lat_max + _SLACK)
    if box.full_longitude:
        return np.asarray(near)
    # A cap not reaching a pole spans at most asin(sin(reach) / cos(lat)) in longitude.
    polar = np.abs(lat) + reach >= np.pi / 2 - _SLACK
    ratio = np.sin(reach) / np.maximum(np.cos(lat), 1e-300)
    half_span = np.arcsin(np.clip(ratio, 0.0, 1.0)) + _SLACK
    tau = 2.0 * np.pi
    middle = box.start + box.width / 2
    offset = np.abs((lon - middle + np.pi) % tau - np.pi)
    lon_ok = polar | (ratio >= 1.0) | (offset <= box.width / 2 + half_span)
    return np.asarray(near & lon_ok)


def _refine_batch(batch: _kernels.PolygonBatch, region: Any) -> NDArray[np.bool_]:
    if isinstance(region, Point):
        return _kernels.contains(batch, np.broadcast_to(region.vector, (batch.n, 1, 3)))[:, 0]
    if isinstance(region, Polygon):
        return _kernels.intersects_polygon(batch, region.batch)
    if isinstance(region, Circle):
        return _kernels.intersects_circle(batch, region.vector, region.radius_radians)
    if isinstance(region, Range):
        return _kernels.intersects_box(batch, region.box)
    raise TypeError(f"not a sky region: {region!r}")
