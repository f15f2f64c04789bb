"""Vectorised spherical predicates over batches of polygons (internal).

A batch holds ``n`` polygons of ``k`` vertices each as unit vectors of shape ``(n, k, 3)``;
edges are the minor great-circle arcs between consecutive vertices (the last one closes the
ring). Shorter polygons are padded by repeating a vertex: every kernel treats a zero-length
edge as a point, so padding never changes a result.

Every polygon must lie inside the open hemisphere centred on the normalised mean of its
vertices (the :class:`~obsarchive.sky.geometry.Polygon` constructor guarantees it). Inside that
hemisphere the gnomonic projection maps great circles to straight lines, so point-in-polygon
is an exact planar crossing-number test, whatever the winding, RA wrap or pole.

All predicates treat regions as closed sets: touching counts, within
:data:`~obsarchive.sky.vectors.EPSILON` radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from obsarchive.sky.vectors import EPSILON, FloatArray, angle_between, normalise

BoolArray = NDArray[np.bool_]

# Below this length (sine of the edge angle) an edge is a point: its great circle is undefined.
_TINY = 1e-15
# Orientations (sines of angular distances to a great circle) below this are treated as zero.
_SIGN_TOLERANCE = 1e-13
# Points this close to 90 degrees from a polygon's centre are outside it (all polygons are
# well inside their hemisphere) and must not be projected.
_MIN_COS = 1e-9


@dataclass(frozen=True, eq=False)
class PolygonBatch:
    """Precomputed edge data for ``n`` polygons of ``k`` vertices (internal)."""

    v: FloatArray  # (n, k, 3) edge start points
    w: FloatArray  # (n, k, 3) edge end points
    normals: FloatArray  # (n, k, 3) v x w, length sin(edge angle)
    unit_normals: FloatArray  # (n, k, 3), zero for zero-length edges
    proper: BoolArray  # (n, k) the edge has a defined great circle
    nxv: FloatArray  # (n, k, 3) normals x v: p . nxv >= 0 <=> p is past v along the edge
    wxn: FloatArray  # (n, k, 3) w x normals: p . wxn >= 0 <=> p is before w along the edge
    centre: FloatArray  # (n, 3) projection centre
    e1: FloatArray  # (n, 3) tangent-plane axes at the centre, e1 x e2 = centre
    e2: FloatArray
    xy: FloatArray  # (n, k, 2) gnomonic coordinates of the vertices

    @property
    def n(self) -> int:
        return int(self.v.shape[0])

    @property
    def k(self) -> int:
        return int(self.v.shape[1])

    @classmethod
    def build(cls, vectors: FloatArray) -> PolygonBatch:
        v = normalise(vectors)
        w = np.roll(v, -1, axis=1)
        normals = np.cross(v, w)
        length = np.linalg.norm(normals, axis=-1)
        proper = length > _TINY
        unit = np.divide(
            normals, length[..., None], out=np.zeros_like(normals), where=proper[..., None]
        )
        centre = normalise(v.sum(axis=1))
        # Any axis not parallel to the centre gives a valid tangent frame.
        axis = np.where(
            (np.abs(centre[:, 2]) < 0.9)[:, None], np.array([0.0, 0.0, 1.0]), np.eye(3)[0]
        )
        e1 = normalise(np.cross(axis, centre))
        e2 = np.cross(centre, e1)
        xy = project(v, centre, e1, e2)
        return cls(
            v=v,
            w=w,
            normals=normals,
            unit_normals=unit,
            proper=proper,
            nxv=np.cross(normals, v),
            wxn=np.cross(w, normals),
            centre=centre,
            e1=e1,
            e2=e2,
            xy=xy,
        )

    def take(self, index: slice | NDArray[np.intp]) -> PolygonBatch:
        """A sub-batch (used to bound memory when refining many polygons)."""
        return PolygonBatch(
            **{name: getattr(self, name)[index] for name in self.__dataclass_fields__}
        )


def project(points: FloatArray, centre: FloatArray, e1: FloatArray, e2: FloatArray) -> FloatArray:
    """Gnomonic coordinates ``(n, m, 2)`` of points ``(n, m, 3)`` about per-polygon centres."""
    pc = np.einsum("nmj,nj->nm", points, centre)
    safe = np.where(pc > _MIN_COS, pc, 1.0)
    x = np.einsum("nmj,nj->nm", points, e1) / safe
    y = np.einsum("nmj,nj->nm", points, e2) / safe
    return np.stack([x, y], axis=-1)


def edge_distances(batch: PolygonBatch, points: FloatArray) -> FloatArray:
    """Angular distance (radians) from points ``(n, m, 3)`` to each edge: ``(n, m, k)``."""
    s = np.einsum("nmj,nkj->nmk", points, batch.unit_normals)
    perpendicular = np.arcsin(np.clip(np.abs(s), 0.0, 1.0))
    within = (
        (np.einsum("nmj,nkj->nmk", points, batch.nxv) >= 0.0)
        & (np.einsum("nmj,nkj->nmk", points, batch.wxn) >= 0.0)
        & batch.proper[:, None, :]
    )
    to_start = angle_between(points[:, :, None, :], batch.v[:, None, :, :])
    to_end = np.roll(to_start, -1, axis=-1)
    return np.where(within, perpendicular, np.minimum(to_start, to_end))


def contains(batch: PolygonBatch, points: FloatArray) -> BoolArray:
    """Closed point-in-polygon for points ``(n, m, 3)`` against each polygon: ``(n, m)``."""
    pc = np.einsum("nmj,nj->nm", points, batch.centre)
    xy = project(points, batch.centre, batch.e1, batch.e2)
    px = xy[..., 0][..., None]
    py = xy[..., 1][..., None]
    xi = batch.xy[..., 0][:, None, :]
    yi = batch.xy[..., 1][:, None, :]
    xj = np.roll(xi, -1, axis=-1)
    yj = np.roll(yi, -1, axis=-1)
    # Half-open rule: an edge counts when exactly one end is strictly above the ray, so a ray
    # through a vertex is counted once and horizontal (or zero-length) edges never.
    straddle = (yi > py) != (yj > py)
    dy = np.where(straddle, yj - yi, 1.0)
    x_cross = xi + (py - yi) * (xj - xi) / dy
    hits = np.count_nonzero(straddle & (px < x_cross), axis=-1)
    inside = (hits % 2 == 1) & (pc > _MIN_COS)
    on_edge = edge_distances(batch, points).min(axis=-1) <= EPSILON
    return np.asarray(inside | on_edge)


def strict_crossings(
    batch: PolygonBatch, a: FloatArray, b: FloatArray, ab_unit_normals: FloatArray
) -> BoolArray:
    """Whether any batch edge properly crosses any arc ``a[i]->b[i]`` (``(m, 3)`` each): ``(n,)``.

    "Properly" means at a point interior to both arcs, with every end point clearly off the
    other arc's great circle. Touching and collinear cases are left to the closed
    point-in-polygon tests, which callers always run as well; that is what keeps rounding
    noise in nearly-zero orientations from inventing or hiding a crossing.
    """
    o1 = np.einsum("nkj,mj->nkm", batch.unit_normals, a)
    o2 = np.einsum("nkj,mj->nkm", batch.unit_normals, b)
    o3 = np.einsum("mj,nkj->nkm", ab_unit_normals, batch.v)
    o4 = np.einsum("mj,nkj->nkm", ab_unit_normals, batch.w)
    t = _SIGN_TOLERANCE
    # The four orientations (-o1, o2, o3, -o4) must agree in sign: each arc separates the
    # other's end points *and* the crossing is on the near side, not at the antipode.
    positive = (o1 < -t) & (o2 > t) & (o3 > t) & (o4 < -t)
    negative = (o1 > t) & (o2 < -t) & (o3 < -t) & (o4 > t)
    return np.asarray((positive | negative).any(axis=(1, 2)))


def intersects_polygon(batch: PolygonBatch, other: PolygonBatch) -> BoolArray:
    """Closed intersection of each batch polygon with the single polygon ``other``: ``(n,)``."""
    n, k = batch.n, batch.k
    their_vertices = np.broadcast_to(other.v[0], (n, other.k, 3))
    hit = np.asarray(contains(batch, their_vertices).any(axis=1), dtype=bool)
    hit |= contains(other, batch.v.reshape(1, n * k, 3)).reshape(n, k).any(axis=1)
    todo = ~hit
    if todo.any():
        sub = batch.take(np.flatnonzero(todo))
        hit[todo] = strict_crossings(sub, other.v[0], other.w[0], other.unit_normals[0])
    return hit


def covers_polygon(batch: PolygonBatch, other: PolygonBatch) -> BoolArray:
    """Whether each batch polygon contains the single polygon ``other`` entirely: ``(n,)``.

    ``other`` is inside a polygon when all its vertices are (boundary included), no edges
    cross properly, and no vertex of the polygon pokes into ``other``'s interior.
    """
    n = batch.n
    their_vertices = np.broadcast_to(other.v[0], (n, other.k, 3))
    result = np.asarray(contains(batch, their_vertices).all(axis=1), dtype=bool)
    todo = np.flatnonzero(result)
    if len(todo):
        sub = batch.take(todo)
        crossing = strict_crossings(sub, other.v[0], other.w[0], other.unit_normals[0])
        ours = sub.v.reshape(1, sub.n * sub.k, 3)
        interior = contains(other, ours) & (edge_distances(other, ours).min(axis=-1) > EPSILON)
        poke = interior.reshape(sub.n, sub.k).any(axis=1)
        result[todo] = ~crossing & ~poke
    return result


def intersects_circle(batch: PolygonBatch, centre: FloatArray, radius: float) -> BoolArray:
    """Closed intersection with the cap of ``radius`` radians around ``centre``: ``(n,)``."""
    points = np.broadcast_to(centre, (batch.n, 1, 3))
    near = edge_distances(batch, points)[:, 0, :].min(axis=-1) <= radius + EPSILON
    return np.asarray(near | contains(batch, points)[:, 0])


@dataclass(frozen=True)
class LonLatBox:
    """A RANGE box in radians: ``start`` + ``width`` longitude (wrapping), lat interval."""

    start: float
    width: float  # >= 2 pi means every longitude
    lat_min: float
    lat_max: float

    @property
    def full_longitude(self) -> bool:
        return self.width >= 2.0 * np.pi

    def contains_lonlat(self, lon: FloatArray, lat: FloatArray, slack: float) -> BoolArray:
        """Closed membership of longitudes/latitudes (radians) with a tolerance."""
        lat_ok = (lat >= self.lat_min - slack) & (lat <= self.lat_max + slack)
        if self.full_longitude:
            return np.asarray(lat_ok)
        offset = np.mod(lon - self.start, 2.0 * np.pi)
        # Longitude tolerance grows towards the poles, where meridians converge; a pole
        # itself belongs to every meridian.
        cos_lat = np.maximum(np.cos(lat), 1e-300)
        lon_slack = np.minimum(slack / cos_lat, np.pi)
        lon_ok = (offset <= self.width + lon_slack) | (offset >= 2.0 * np.pi - lon_slack)
        at_pole = np.abs(lat) >= np.pi / 2 - slack
        return np.asarray(lat_ok & (lon_ok | at_pole))


def _lonlat(vectors: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.arctan2(y, x), np.arctan2(z, np.hypot(x, y))


def intersects_box(batch: PolygonBatch, box: LonLatBox) -> BoolArray:
    """Closed intersection of each polygon with a longitude/latitude box: ``(n,)``."""
    lon, lat = _lonlat(batch.v)
    hit = np.asarray(box.contains_lonlat(lon, lat, EPSILON).any(axis=1), dtype=bool)

    corner_lons = [box.start] if box.full_longitude else [box.start, box.start + box.width]
    corners = np.array(
        [
            [np.cos(b) * np.cos(a), np.cos(b) * np.sin(a), np.sin(b)]
            for a in corner_lons
            for b in (box.lat_min, box.lat_max)
        ]
    )
    hit |= contains(batch, np.broadcast_to(corners, (batch.n, len(corners), 3))).any(axis=1)

    if not box.full_longitude:
        for meridian in corner_lons:
            hit |= _crosses_meridian(batch, meridian, box)
    for parallel in (box.lat_min, box.lat_max):
        if abs(parallel) < np.pi / 2:
            hit |= _crosses_parallel(batch, parallel, box)
    return hit


def _crosses_meridian(batch: PolygonBatch, lon: float, box: LonLatBox) -> BoolArray:
    plane = np.array([-np.sin(lon), np.cos(lon), 0.0])  # normal of the meridian's plane
    towards = np.array([np.cos(lon), np.sin(lon), 0.0])  # selects the half at ``lon``
    sa = batch.v @ plane
    sb = batch.w @ plane
    straddle = sa * sb < 0
    # The point of the minor arc v->w on the plane, as a positive combination of v and w.
    x = np.abs(sa)[..., None] * batch.w + np.abs(sb)[..., None] * batch.v
    _, lat = _lonlat(x)
    on_half = x @ towards >= 0
    in_lat = (lat >= box.lat_min - EPSILON) & (lat <= box.lat_max + EPSILON)
    return np.asarray((straddle & on_half & in_lat).any(axis=1))


def _crosses_parallel(batch: PolygonBatch, lat: float, box: LonLatBox) -> BoolArray:
    # Write the arc as x(t) = v cos t + u sin t, t in [0, theta], with u the unit tangent at v;
    # then z(t) = r cos(t - t0) and the crossings solve r cos(t - t0) = sin(lat).
    v = batch.v
    theta = angle_between(v, batch.w)
    u = normalise(batch.w - np.einsum("nkj,nkj->nk", v, batch.w)[..., None] * v)
    r = np.hypot(v[..., 2], u[..., 2])
    t0 = np.arctan2(u[..., 2], v[..., 2])
    target = np.sin(lat)
    reachable = (r >= abs(target)) & (r > _TINY) & (theta > _TINY)
    delta = np.arccos(np.clip(target / np.where(reachable, r, 1.0), -1.0, 1.0))
    hit = np.zeros(batch.n, dtype=bool)
    for t in (t0 - delta, t0 + delta):
        t = np.mod(t, 2.0 * np.pi)
        t = np.where(t > 2.0 * np.pi - EPSILON, 0.0, t)
        on_arc = reachable & (t <= theta + EPSILON)
        point = v * np.cos(t)[..., None] + u * np.sin(t)[..., None]
        p_lon, p_lat = _lonlat(point)
        inside = box.contains_lonlat(p_lon, p_lat, EPSILON)
        hit |= (on_arc & inside).any(axis=1)
    return hit
