"""Hypothesis strategies and independent geometry oracles for the sky tests.

Footprints are built the way WCS corners are: offsets in the tangent plane at a centre,
projected back onto the sphere. Centres are drawn with extra weight near RA 0/360 and the
poles, where spherical code usually breaks.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from obsarchive.sky import Circle, Point, Polygon, Range, lonlat_to_vectors, vectors_to_lonlat

special_lons = st.sampled_from([0.0, 1e-9, 0.05, 359.95, 360.0 - 1e-9, 180.0, 90.0])
lons = st.one_of(st.floats(0.0, 360.0, exclude_max=True), special_lons)
special_lats = st.sampled_from([0.0, 41.8, -41.8, 88.5, -88.5, 89.7, -89.7, 89.99, -89.99])
lats = st.one_of(st.floats(-89.99, 89.99), special_lats)


def tangent_frame(lon: float, lat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centre = lonlat_to_vectors(lon, lat)
    east = np.array([-math.sin(math.radians(lon)), math.cos(math.radians(lon)), 0.0])
    north = np.cross(centre, east)
    return centre, east, north


def offset(lon: float, lat: float, dx: float, dy: float) -> tuple[float, float]:
    """The point at gnomonic offset (dx, dy) degrees (east, north) from (lon, lat)."""
    centre, east, north = tangent_frame(lon, lat)
    v = centre + math.tan(math.radians(dx)) * east + math.tan(math.radians(dy)) * north
    out_lon, out_lat = vectors_to_lonlat(v)
    return float(out_lon), float(out_lat)


def quad(lon: float, lat: float, half_w: float, half_h: float, angle: float) -> Polygon:
    """A rotated rectangle in the tangent plane at (lon, lat), as a footprint polygon."""
    c, s = math.cos(angle), math.sin(angle)
    corners = []
    for x, y in ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)):
        corners.append(offset(lon, lat, x * c - y * s, x * s + y * c))
    return Polygon(corners)


sizes = st.one_of(st.floats(0.003, 0.6), st.floats(0.6, 6.0))


@st.composite
def footprints(draw: st.DrawFn) -> Polygon:
    lon, lat = draw(lons), draw(lats)
    half_w, half_h = draw(sizes), draw(sizes)
    angle = draw(st.floats(0.0, math.pi))
    polygon = quad(lon, lat, half_w, half_h, angle)
    if draw(st.booleans()):  # winding must not matter
        polygon = Polygon(polygon.vertices[::-1])
    return polygon


@st.composite
def near_point(draw: st.DrawFn, polygon: Polygon, spread: float = 1.5) -> Point:
    centre = polygon.bounding_circle
    reach = centre.radius * spread
    dx = draw(st.floats(-reach, reach))
    dy = draw(st.floats(-reach, reach))
    return Point(*offset(centre.lon, centre.lat, dx, dy))


@st.composite
def near_circles(draw: st.DrawFn, polygon: Polygon) -> Circle:
    where = draw(near_point(polygon, spread=3.0))
    radius = draw(st.one_of(st.floats(1e-4, 0.5), st.floats(0.5, 15.0)))
    return Circle(where.lon, where.lat, radius)


@st.composite
def near_polygons(draw: st.DrawFn, polygon: Polygon) -> Polygon:
    where = draw(near_point(polygon, spread=2.0))
    return quad(where.lon, where.lat, draw(sizes), draw(sizes), draw(st.floats(0.0, math.pi)))


@st.composite
def near_ranges(draw: st.DrawFn, polygon: Polygon) -> Range:
    where = draw(near_point(polygon, spread=2.0))
    if draw(st.integers(0, 9)) == 0:
        lon_min, lon_max = 0.0, 360.0
    else:
        lon_min = (where.lon - draw(st.floats(0.0, 20.0))) % 360.0
        lon_max = (where.lon + draw(st.floats(0.0, 20.0))) % 360.0
    lat_min = max(-90.0, where.lat - draw(st.floats(0.0, 10.0)))
    lat_max = min(90.0, where.lat + draw(st.floats(0.0, 10.0)))
    return Range(lon_min, lon_max, lat_min, lat_max)


# --- independent oracles (no code shared with obsarchive.sky's kernels) ----------------------


def convex_normals(polygon: Polygon) -> np.ndarray:
    """Unit inward edge normals of a convex polygon, orientation found independently."""
    v = polygon.vectors
    w = np.roll(v, -1, axis=0)
    normals = np.cross(v, w)
    if float((normals @ v.sum(axis=0)).sum()) < 0:
        normals = -normals
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def convex_margin(polygon: Polygon, point: Point) -> float:
    """Signed lower bound of the distance to the boundary: > 0 inside, < 0 outside (convex)."""
    s = convex_normals(polygon) @ point.vector
    return float(s.min())


def convex_separation(a: Polygon, b: Polygon) -> float:
    """Planar separating-axis test in a common gnomonic projection: > 0 means disjoint."""
    centre = a.vectors.sum(axis=0) + b.vectors.sum(axis=0)
    centre /= np.linalg.norm(centre)
    axis = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(axis, centre)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(centre, e1)

    def plane(p: Polygon) -> np.ndarray:
        v = p.vectors
        xy = np.stack([v @ e1, v @ e2], axis=1) / (v @ centre)[:, None]
        area = (xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1]).sum()
        return xy if area > 0 else xy[::-1]

    pa, pb = plane(a), plane(b)
    best = -math.inf
    for mine, other in ((pa, pb), (pb, pa)):
        for i in range(len(mine)):
            p, q = mine[i], mine[(i + 1) % len(mine)]
            edge = q - p
            normal = np.array([edge[1], -edge[0]]) / np.hypot(*edge)  # outward for CCW
            best = max(best, float(((other - p) @ normal).min()))
    return best


def sampled_boundary(polygon: Polygon, per_edge: int = 400) -> np.ndarray:
    """Points along every great-circle edge (slerp), shape (k * per_edge, 3)."""
    v = polygon.vectors
    w = np.roll(v, -1, axis=0)
    t = np.linspace(0.0, 1.0, per_edge)[None, :, None]
    points = (1 - t) * v[:, None, :] + t * w[:, None, :]
    return (points / np.linalg.norm(points, axis=-1, keepdims=True)).reshape(-1, 3)


def angular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arccos(np.clip(a @ b, -1.0, 1.0))
