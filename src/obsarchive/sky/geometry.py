"""Exact spherical regions: points, great-circle polygons, circles and longitude/latitude boxes.

Coordinates are degrees, longitude = RA and latitude = Dec (ICRS). Regions are closed sets,
so touching counts as intersecting, like PostGIS geography ``ST_Covers``/``ST_Intersects``.
Longitudes may be given in any convention (-10 and 350 are the same meridian); shapes keep the
numbers they were given so that they can be echoed back unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np

from obsarchive.sky import _kernels
from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.vectors import (
    EPSILON,
    FloatArray,
    angle_between,
    lonlat_to_vectors,
    normalise,
    vectors_to_lonlat,
)

__all__ = [
    "MAX_POLYGON_VERTICES",
    "Circle",
    "Point",
    "Polygon",
    "Range",
    "Region",
    "intersects",
]

#: Polygons with more vertices are refused: validation is quadratic in the vertex count and no
#: footprint or sensible query needs more.
MAX_POLYGON_VERTICES = 1000

# Every vertex must lie within this angle of the polygon's vertex mean. It keeps polygons well
# inside a hemisphere, where "the smaller of the two regions" is unambiguous and the gnomonic
# projection used by the predicates is well conditioned.
_MAX_VERTEX_ANGLE = math.radians(89.0)


def _coordinate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SkyGeometryError(f"{what} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise SkyGeometryError(f"{what} must be finite, not {value!r}")
    return number


def _latitude(value: Any, what: str = "latitude") -> float:
    number = _coordinate(value, what)
    if not -90.0 <= number <= 90.0:
        raise SkyGeometryError(f"{what} must be within [-90, 90] degrees, not {number!r}")
    return number


@dataclass(frozen=True)
class Point:
    """A position on the sky.

    Parameters
    ----------
    lon, lat
        Longitude (RA) and latitude (Dec) in degrees; ``|lat| <= 90``.
    """

    lon: float
    lat: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lon", _coordinate(self.lon, "longitude"))
        object.__setattr__(self, "lat", _latitude(self.lat))

    @cached_property
    def vector(self) -> FloatArray:
        """The unit vector, shape ``(3,)``."""
        return lonlat_to_vectors(self.lon, self.lat)

    def intersects(self, region: Region) -> bool:
        """Whether the point lies in (or on the boundary of) ``region``."""
        return region.contains_point(self)

    def contains_point(self, point: Point) -> bool:
        """Whether ``point`` is this point (within the boundary tolerance)."""
        return bool(angle_between(self.vector, point.vector) <= EPSILON)


@dataclass(frozen=True)
class Circle:
    """A cone: every point within ``radius`` degrees of the centre (boundary included).

    Parameters
    ----------
    lon, lat
        Centre in degrees.
    radius
        Radius in degrees, in ``(0, 180]`` as DALI circles require.
    """

    lon: float
    lat: float
    radius: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lon", _coordinate(self.lon, "circle longitude"))
        object.__setattr__(self, "lat", _latitude(self.lat, "circle latitude"))
        radius = _coordinate(self.radius, "circle radius")
        if not 0.0 < radius <= 180.0:
            raise SkyGeometryError(f"circle radius must be in (0, 180] degrees, not {radius!r}")
        object.__setattr__(self, "radius", radius)

    @property
    def centre(self) -> Point:
        """The centre as a :class:`Point`."""
        return Point(self.lon, self.lat)

    @cached_property
    def vector(self) -> FloatArray:
        """Unit vector of the centre, shape ``(3,)``."""
        return lonlat_to_vectors(self.lon, self.lat)

    @property
    def radius_radians(self) -> float:
        return math.radians(self.radius)

    def contains_point(self, point: Point) -> bool:
        """Whether ``point`` is within the circle (boundary included)."""
        distance = float(angle_between(self.vector, point.vector))
        return distance <= self.radius_radians + EPSILON

    def intersects(self, region: Region) -> bool:
        """Whether the circle and ``region`` share at least one point."""
        if isinstance(region, Point):
            return self.contains_point(region)
        if isinstance(region, Circle):
            gap = float(angle_between(self.vector, region.vector))
            return gap <= self.radius_radians + region.radius_radians + EPSILON
        if isinstance(region, Polygon):
            return region.intersects(self)
        if isinstance(region, Range):
            return region.intersects(self)
        raise TypeError(f"not a sky region: {region!r}")


@dataclass(frozen=True)
class Range:
    """A longitude/latitude box, as in SIA ``POS=RANGE lon_min lon_max lat_min lat_max``.

    Its sides are two meridian arcs and two parallels (small circles), not great circles.
    ``lon_min > lon_max`` means the box wraps through longitude 0 (``RANGE 350 10 ...``).
    Infinite limits are allowed: ``-inf``/``+inf`` longitudes mean every longitude and
    infinite latitudes are clamped to the poles.
    """

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    def __post_init__(self) -> None:
        values = {}
        for name in ("lon_min", "lon_max", "lat_min", "lat_max"):
            raw = getattr(self, name)
            if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating)):
                raise SkyGeometryError(f"RANGE {name} must be a number, not {raw!r}")
            value = float(raw)
            if math.isnan(value):
                raise SkyGeometryError(f"RANGE {name} must not be NaN")
            values[name] = value
        for name in ("lat_min", "lat_max"):
            if math.isfinite(values[name]) and not -90.0 <= values[name] <= 90.0:
                raise SkyGeometryError(f"RANGE {name} must be within [-90, 90] degrees")
        if values["lat_min"] > values["lat_max"]:
            raise SkyGeometryError("RANGE lat_min must not exceed lat_max")
        if values["lon_min"] == math.inf or values["lon_max"] == -math.inf:
            raise SkyGeometryError("RANGE longitude limits are the wrong way round")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def full_longitude(self) -> bool:
        """Whether every longitude is inside."""
        return self.box.full_longitude

    @cached_property
    def box(self) -> _kernels.LonLatBox:
        lo, hi = self.lon_min, self.lon_max
        lat_lo = max(self.lat_min, -90.0)
        lat_hi = min(self.lat_max, 90.0)
        if math.isinf(lo) or math.isinf(hi) or hi - lo >= 360.0:
            start, width = 0.0, 2.0 * math.pi
        else:
            start = math.radians(lo % 360.0)
            span = hi - lo if lo <= hi else (hi - lo) % 360.0
            width = math.radians(span)
        return _kernels.LonLatBox(start, width, math.radians(lat_lo), math.radians(lat_hi))

    def contains_point(self, point: Point) -> bool:
        """Whether ``point`` is inside the box (boundary included)."""
        lon = np.radians(np.asarray(point.lon))
        lat = np.radians(np.asarray(point.lat))
        return bool(self.box.contains_lonlat(lon, lat, EPSILON))

    def intersects(self, region: Region) -> bool:
        """Whether the box and ``region`` share at least one point."""
        if isinstance(region, Point):
            return self.contains_point(region)
        if isinstance(region, Polygon):
            return region.intersects(self)
        if isinstance(region, Range):
            return _boxes_overlap(self.box, region.box)
        if isinstance(region, Circle):
            return _box_meets_circle(self.box, region)
        raise TypeError(f"not a sky region: {region!r}")


def _boxes_overlap(a: _kernels.LonLatBox, b: _kernels.LonLatBox) -> bool:
    if a.lat_min > b.lat_max + EPSILON or b.lat_min > a.lat_max + EPSILON:
        return False
    pole = math.pi / 2 - EPSILON
    # Boxes reaching the same pole share it, whatever their longitudes.
    if (a.lat_max >= pole and b.lat_max >= pole) or (a.lat_min <= -pole and b.lat_min <= -pole):
        return True
    if a.full_longitude or b.full_longitude:
        return True
    tau = 2.0 * math.pi
    return (b.start - a.start) % tau <= a.width + EPSILON or (
        a.start - b.start
    ) % tau <= b.width + EPSILON


def _box_meets_circle(box: _kernels.LonLatBox, circle: Circle) -> bool:
    centre_lon, centre_lat = math.radians(circle.lon), math.radians(circle.lat)
    if bool(box.contains_lonlat(np.asarray(centre_lon), np.asarray(centre_lat), EPSILON)):
        return True
    limit = circle.radius_radians + EPSILON
    # Parallels: the nearest point of a full parallel is on the centre's meridian; when that
    # meridian is outside the box, the nearest point is the nearer end of the parallel arc.
    for lat in (box.lat_min, box.lat_max):
        on_span = box.full_longitude or (centre_lon - box.start) % (2 * math.pi) <= box.width
        if on_span and abs(centre_lat - lat) <= limit:
            return True
    if box.full_longitude:
        return False
    # Meridian sides, split in two so that every arc is shorter than 180 degrees; this also
    # covers the parallels' end points (the box corners).
    for lon in (box.start, box.start + box.width):
        middle = (box.lat_min + box.lat_max) / 2
        for lat_a, lat_b in ((box.lat_min, middle), (middle, box.lat_max)):
            ends = lonlat_to_vectors(np.degrees([lon, lon]), np.degrees([lat_a, lat_b]))
            if _arc_distance(circle.vector, ends[0], ends[1]) <= limit:
                return True
    return False


def _arc_distance(point: FloatArray, a: FloatArray, b: FloatArray) -> float:
    batch = _kernels.PolygonBatch.build(np.stack([a, b])[None, :, :])
    return float(_kernels.edge_distances(batch, point.reshape(1, 1, 3))[0, 0, 0])


class Polygon:
    """A simple spherical polygon with great-circle edges, smaller than a hemisphere.

    The inside is the smaller of the two regions the ring bounds, so vertex order does not
    matter (SIA 2.0 semantics). A closing vertex equal to the first one is accepted and
    dropped; consecutive duplicate vertices are ignored.

    Parameters
    ----------
    vertices
        ``(lon, lat)`` pairs in degrees.
    strict
        When true (the default, right for query regions) degenerate polygons are refused.
        When false, a polygon with fewer than three distinct vertices, zero area or crossing
        edges is accepted and flagged :attr:`is_degenerate`: upstream archives hold such
        footprints (WCS corner computations that collapse to a line) and they must stay
        storable and searchable. A degenerate polygon is its boundary plus, for crossing
        edges, the even-odd interior.

    Raises
    ------
    SkyGeometryError
        Non-finite or out-of-range coordinates, more than :data:`MAX_POLYGON_VERTICES`
        vertices, vertices spread over more than a hemisphere, and (when ``strict``) fewer than
        three distinct vertices, zero area or crossing edges.
    """

    def __init__(self, vertices: Iterable[Any], *, strict: bool = True) -> None:
        pairs: list[tuple[float, float]] = []
        try:
            items = list(vertices)
        except TypeError as exc:
            raise SkyGeometryError("polygon vertices must be a list of (lon, lat) pairs") from exc
        if len(items) > MAX_POLYGON_VERTICES + 1:  # +1: an optional closing vertex
            raise SkyGeometryError(
                f"polygon has {len(items)} vertices; at most {MAX_POLYGON_VERTICES} are supported"
            )
        for position, item in enumerate(items):
            try:
                lon, lat = item
            except (TypeError, ValueError) as exc:
                raise SkyGeometryError(
                    f"polygon vertex {position} must be a (lon, lat) pair, not {item!r}"
                ) from exc
            pairs.append(
                (
                    _coordinate(lon, f"polygon vertex {position} longitude"),
                    _latitude(lat, f"polygon vertex {position} latitude"),
                )
            )
        if len(pairs) > 1 and _same_place(pairs[0], pairs[-1]):
            pairs.pop()
        if len(pairs) > MAX_POLYGON_VERTICES:
            raise SkyGeometryError(
                f"polygon has {len(pairs)} vertices; at most {MAX_POLYGON_VERTICES} are supported"
            )
        self._vertices = tuple(pairs)
        if not pairs:
            raise SkyGeometryError("a polygon needs at least 3 distinct vertices")
        self._vectors, self._degenerate = _validated_vectors(pairs, strict)

    @classmethod
    def from_lonlat(
        cls, lon: Iterable[float], lat: Iterable[float], *, strict: bool = True
    ) -> Polygon:
        """Build a polygon from separate longitude and latitude sequences (degrees)."""
        return cls(zip(lon, lat, strict=True), strict=strict)

    @property
    def is_degenerate(self) -> bool:
        """True for a polygon accepted with ``strict=False`` that a strict check refuses."""
        return self._degenerate

    def __repr__(self) -> str:
        return f"Polygon({list(self._vertices)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Polygon):
            return NotImplemented
        return self._vertices == other._vertices

    def __hash__(self) -> int:
        return hash(self._vertices)

    @property
    def vertices(self) -> tuple[tuple[float, float], ...]:
        """The vertices as given (closing vertex removed), ``(lon, lat)`` in degrees."""
        return self._vertices

    @property
    def vectors(self) -> FloatArray:
        """Distinct vertices as unit vectors ``(k, 3)``, in the given order.

        A degenerate polygon with fewer than three distinct vertices repeats its last one.
        """
        return self._vectors

    @cached_property
    def signed_area(self) -> float:
        """Area in steradians, positive when the given order is counter-clockwise.

        Counter-clockwise is seen from outside the sphere, i.e. on a plot with RA increasing
        to the right.
        """
        v = self._vectors
        centre = normalise(v.sum(axis=0))
        w = np.roll(v, -1, axis=0)
        # Van Oosterom & Strackee: the signed area of the triangle (centre, a, b).
        det = np.einsum("ij,ij->i", np.cross(v, w), np.broadcast_to(centre, v.shape))
        denominator = 1.0 + v @ centre + w @ centre + np.einsum("ij,ij->i", v, w)
        return float(2.0 * np.arctan2(det, denominator).sum())

    @property
    def area(self) -> float:
        """Area in steradians."""
        return abs(self.signed_area)

    @property
    def area_deg2(self) -> float:
        """Area in square degrees."""
        return self.area * (180.0 / math.pi) ** 2

    @cached_property
    def ccw_vectors(self) -> FloatArray:
        """Vertices ``(k, 3)`` ordered counter-clockwise seen from outside (inside on the left)."""
        return self._vectors if self.signed_area > 0 else self._vectors[::-1].copy()

    @cached_property
    def centroid(self) -> Point:
        """The centre of mass of the area (for ObsCore ``s_ra``/``s_dec``)."""
        if self._degenerate:
            return self.bounding_circle.centre
        v = self.ccw_vectors
        w = np.roll(v, -1, axis=0)
        # The integral of the position vector over a spherical polygon is half the sum over
        # its edges of (edge length) x (unit normal of the edge's plane, pointing inside).
        normals = normalise(np.cross(v, w))
        lengths = angle_between(v, w)
        lon, lat = vectors_to_lonlat((normals * lengths[:, None]).sum(axis=0))
        return Point(float(lon), float(lat))

    @cached_property
    def bounding_circle(self) -> Circle:
        """The smallest circle containing the polygon (ObsCore ``s_fov`` is its diameter)."""
        centre, radius = _smallest_enclosing_cap(self._vectors)
        lon, lat = vectors_to_lonlat(centre)
        # Never smaller than the rounding of the vertices it must contain.
        return Circle(float(lon), float(lat), max(math.degrees(radius) + 1e-9, 1e-9))

    @cached_property
    def batch(self) -> _kernels.PolygonBatch:
        """Edge data for the vectorised kernels (internal)."""
        return _kernels.PolygonBatch.build(self._vectors[None, :, :])

    def contains_point(self, point: Point) -> bool:
        """Whether ``point`` is inside the polygon or on its boundary."""
        return bool(_kernels.contains(self.batch, point.vector.reshape(1, 1, 3))[0, 0])

    def covers(self, region: Point | Polygon) -> bool:
        """Whether ``region`` lies entirely inside the polygon (boundary included).

        This is the archive's ``covers`` filter (PostGIS ``ST_Covers(area, region)``).
        """
        if isinstance(region, Point):
            return self.contains_point(region)
        if isinstance(region, Polygon):
            return bool(_kernels.covers_polygon(self.batch, region.batch)[0])
        raise TypeError(f"covers() takes a Point or a Polygon, not {region!r}")

    def intersects(self, region: Region) -> bool:
        """Whether the polygon and ``region`` share at least one point."""
        if isinstance(region, Point):
            return self.contains_point(region)
        if isinstance(region, Polygon):
            return bool(_kernels.intersects_polygon(self.batch, region.batch)[0])
        if isinstance(region, Circle):
            return bool(
                _kernels.intersects_circle(self.batch, region.vector, region.radius_radians)[0]
            )
        if isinstance(region, Range):
            return bool(_kernels.intersects_box(self.batch, region.box)[0])
        raise TypeError(f"not a sky region: {region!r}")


Region: TypeAlias = Point | Polygon | Circle | Range


def intersects(a: Region, b: Region) -> bool:
    """Whether two regions share at least one point (boundaries included)."""
    return a.intersects(b)


def _same_place(a: tuple[float, float], b: tuple[float, float]) -> bool:
    va = lonlat_to_vectors(*a)
    vb = lonlat_to_vectors(*b)
    return bool(angle_between(va, vb) <= EPSILON)


def _validated_vectors(pairs: list[tuple[float, float]], strict: bool) -> tuple[FloatArray, bool]:
    """Distinct vertex vectors (padded to three) and whether the polygon is degenerate."""
    raw = lonlat_to_vectors([p[0] for p in pairs], [p[1] for p in pairs])
    keep = angle_between(raw, np.roll(raw, -1, axis=0)) > EPSILON
    vectors = raw[keep] if keep.any() else raw[:1]
    total = vectors.sum(axis=0)
    centre = normalise(total)
    if np.linalg.norm(total) < 1e-9 or float((vectors @ centre).min()) <= math.cos(
        _MAX_VERTEX_ANGLE
    ):
        raise SkyGeometryError(
            "polygon is too large: its vertices must lie well within one hemisphere"
        )
    problem = None
    if len(vectors) < 3:
        problem = "a polygon needs at least 3 distinct vertices"
        vectors = np.concatenate([vectors, np.repeat(vectors[-1:], 3 - len(vectors), axis=0)])
    else:
        xy = _kernels.PolygonBatch.build(vectors[None, :, :]).xy[0]
        if _planar_self_intersects(xy):
            problem = "polygon edges cross or overlap each other (self-intersecting)"
        elif abs(_shoelace(xy)) <= 1e-14 * float(np.ptp(xy, axis=0).max()) ** 2:
            problem = "polygon is degenerate (zero area)"
    if problem is not None and strict:
        raise SkyGeometryError(problem)
    return vectors, problem is not None


def _shoelace(xy: FloatArray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return float(0.5 * (x * np.roll(y, -1) - np.roll(x, -1) * y).sum())


def _planar_self_intersects(xy: FloatArray) -> bool:
    """Whether any two edges of the projected ring meet other than at a shared vertex.

    Great-circle arcs are straight in the gnomonic plane, so the planar test is exact.
    """
    k = len(xy)
    p = xy
    q = np.roll(xy, -1, axis=0)
    i, j = np.triu_indices(k, k=1)
    scale = max(float(np.ptp(xy, axis=0).max()), 1e-300)
    tol = 1e-12 * scale

    adjacent = (j == i + 1) | ((i == 0) & (j == k - 1))
    # Non-adjacent edges must not meet at all.
    ni, nj = i[~adjacent], j[~adjacent]
    if len(ni) and bool(_segments_meet(p[ni], q[ni], p[nj], q[nj], tol).any()):
        return True
    # Adjacent edges share one vertex; they overlap when the ring folds back on itself,
    # i.e. the far end of one edge lies on the other.
    ai, aj = i[adjacent], j[adjacent]
    # Orient each adjacent pair as (first, second) with first.end == second.start.
    wraps = (ai == 0) & (aj == k - 1) & (k > 2)
    first = np.where(wraps, aj, ai)
    second = np.where(wraps, ai, aj)
    fold = (_point_segment_distance(p[first], p[second], q[second]) <= tol) | (
        _point_segment_distance(q[second], p[first], q[first]) <= tol
    )
    return bool(fold.any())


def _cross2(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0])


def _segments_meet(
    p1: FloatArray, q1: FloatArray, p2: FloatArray, q2: FloatArray, tol: float
) -> FloatArray:
    d1 = _cross2(q1 - p1, p2 - p1)
    d2 = _cross2(q1 - p1, q2 - p1)
    d3 = _cross2(q2 - p2, p1 - p2)
    d4 = _cross2(q2 - p2, q1 - p2)
    proper = (d1 * d2 < 0) & (d3 * d4 < 0)
    touching = (
        (_point_segment_distance(p2, p1, q1) <= tol)
        | (_point_segment_distance(q2, p1, q1) <= tol)
        | (_point_segment_distance(p1, p2, q2) <= tol)
        | (_point_segment_distance(q1, p2, q2) <= tol)
    )
    return np.asarray(proper | touching)


def _point_segment_distance(x: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    ab = b - a
    length2 = np.einsum("...j,...j->...", ab, ab)
    t = np.einsum("...j,...j->...", x - a, ab) / np.where(length2 > 0, length2, 1.0)
    t = np.clip(t, 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.asarray(np.linalg.norm(x - nearest, axis=-1))


def _smallest_enclosing_cap(points: FloatArray) -> tuple[FloatArray, float]:
    """Minimal enclosing cap of unit vectors lying within a hemisphere (Welzl, iterative)."""
    order = np.random.default_rng(0).permutation(len(points))  # expected linear time
    pts = points[order]

    def inside(centre: FloatArray, radius: float, p: FloatArray) -> bool:
        return float(angle_between(centre, p)) <= radius + 1e-13

    def two(a: FloatArray, b: FloatArray) -> tuple[FloatArray, float]:
        centre = normalise(a + b)
        return centre, float(angle_between(centre, a))

    def three(a: FloatArray, b: FloatArray, c: FloatArray) -> tuple[FloatArray, float]:
        centre = normalise(np.cross(b - a, c - a))
        if float(centre @ a) < 0:
            centre = -centre
        radius = max(float(angle_between(centre, x)) for x in (a, b, c))
        return centre, radius

    centre, radius = pts[0], 0.0
    for i in range(1, len(pts)):
        if inside(centre, radius, pts[i]):
            continue
        centre, radius = pts[i], 0.0
        for j in range(i):
            if inside(centre, radius, pts[j]):
                continue
            centre, radius = two(pts[i], pts[j])
            for m in range(j):
                if not inside(centre, radius, pts[m]):
                    centre, radius = three(pts[i], pts[j], pts[m])
    return centre, radius
