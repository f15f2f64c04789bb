"""Exact spherical predicates: points, polygons, circles and ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from obsarchive.sky import (
    Circle,
    Point,
    Polygon,
    Range,
    SkyGeometryError,
    intersects,
)
from tests.sky import strategies as sk

SQUARE = Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
WRAP = Polygon([(350, -10), (350, 10), (10, 10), (10, -10), (350, -10)])
NORTH_CAP = Polygon([(0, 85), (90, 85), (180, 85), (270, 85)])


# --- point in polygon ------------------------------------------------------------------------


def test_upstream_square_covers_inside_point_only() -> None:
    assert SQUARE.contains_point(Point(5, 5))
    assert not SQUARE.contains_point(Point(20, 20))


def test_boundary_points_are_covered() -> None:
    assert SQUARE.contains_point(Point(10, 10))  # vertex
    assert SQUARE.contains_point(Point(0, 5))  # on a meridian edge
    assert SQUARE.contains_point(Point(5, 0))  # on the equator edge
    assert not SQUARE.contains_point(Point(10.000001, 5))
    assert not SQUARE.contains_point(Point(5, -0.000001))


def test_polygon_across_ra_zero() -> None:
    assert WRAP.contains_point(Point(0, 0))
    assert WRAP.contains_point(Point(359, 5))
    assert WRAP.contains_point(Point(-1, 5))  # same meridian as 359
    assert WRAP.contains_point(Point(360, 0))
    assert not WRAP.contains_point(Point(340, 0))
    assert not WRAP.contains_point(Point(180, 0))


@pytest.mark.parametrize("lon", [0, 45, 90, 135, 180, 225, 270, 315, 359.999, -30])
def test_polygon_around_north_pole_contains_dec_89_9_at_any_ra(lon: float) -> None:
    assert NORTH_CAP.contains_point(Point(lon, 89.9))
    assert NORTH_CAP.contains_point(Point(lon, 90))
    assert not NORTH_CAP.contains_point(Point(lon, -89.9))
    assert not NORTH_CAP.contains_point(Point(lon, 80))


def test_polygon_edges_are_great_circles_not_parallels() -> None:
    # The edge from (0, 85) to (90, 85) bulges towards the pole to Dec 86.46 at RA 45.
    bulge = math.degrees(math.atan(math.tan(math.radians(85)) / math.cos(math.radians(45))))
    assert NORTH_CAP.contains_point(Point(45, bulge + 1e-6))
    assert not NORTH_CAP.contains_point(Point(45, bulge - 1e-6))


def test_south_pole_polygon() -> None:
    south = Polygon([(10, -80), (130, -80), (250, -80)])
    assert south.contains_point(Point(77, -89.5))
    assert south.contains_point(Point(0, -90))
    assert not south.contains_point(Point(77, 89.5))


def test_orientation_does_not_matter() -> None:
    reverse = Polygon(SQUARE.vertices[::-1])
    for point in (Point(5, 5), Point(20, 20), Point(10, 5)):
        assert reverse.contains_point(point) == SQUARE.contains_point(point)
    assert reverse.area == pytest.approx(SQUARE.area)
    assert reverse.signed_area == pytest.approx(-SQUARE.signed_area)


def test_non_convex_polygon() -> None:
    ell = Polygon([(0, 0), (6, 0), (6, 2), (2, 2), (2, 6), (0, 6)])
    assert ell.contains_point(Point(1, 5))
    assert ell.contains_point(Point(5, 1))
    assert not ell.contains_point(Point(4, 4))
    # The nearest boundary to (4, 4) is the inner edge at Dec ~2.0, about 2 degrees away.
    assert ell.intersects(Circle(4, 4, 2.1))
    assert not ell.intersects(Circle(4, 4, 1.9))


def test_big_ten_degree_footprint() -> None:
    big = sk.quad(200.0, -60.0, 5.0, 5.0, 0.3)
    assert big.contains_point(Point(200.0, -60.0))
    assert big.contains_point(Point(*sk.offset(200.0, -60.0, 4.9, 0.0)))
    assert not big.contains_point(Point(*sk.offset(200.0, -60.0, 7.2, 0.0)))
    assert big.area_deg2 == pytest.approx(100.0, rel=0.05)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_point_in_polygon_matches_convex_oracle(data: st.DataObject) -> None:
    polygon = data.draw(sk.footprints())
    point = data.draw(sk.near_point(polygon))
    margin = sk.convex_margin(polygon, point)
    assume(abs(margin) > 1e-9)
    assert polygon.contains_point(point) == (margin > 0)


# --- polygon / polygon -----------------------------------------------------------------------


def test_upstream_intersects_example() -> None:
    query = Polygon([(-10, -10), (-10, 20), (20, 20), (20, 0), (-10, -10)])
    assert SQUARE.intersects(query)
    assert query.intersects(SQUARE)


def test_edges_crossing_without_any_vertex_inside() -> None:
    horizontal = Polygon([(0, -1), (10, -1), (10, 1), (0, 1)])
    vertical = Polygon([(4, -5), (6, -5), (6, 5), (4, 5)])
    assert not any(horizontal.contains_point(Point(*v)) for v in vertical.vertices)
    assert not any(vertical.contains_point(Point(*v)) for v in horizontal.vertices)
    assert horizontal.intersects(vertical)
    assert vertical.intersects(horizontal)


def test_crossing_across_ra_zero_and_antipode_is_not_a_crossing() -> None:
    horizontal = Polygon([(355, -1), (5, -1), (5, 1), (355, 1)])
    vertical = Polygon([(359, -5), (1, -5), (1, 5), (359, 5)])
    antipodal = Polygon([(179, -5), (181, -5), (181, 5), (179, 5)])
    assert horizontal.intersects(vertical)
    assert not horizontal.intersects(antipodal)


def test_shared_edge_and_shared_vertex_touch() -> None:
    left = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    right = Polygon([(1, 0), (2, 0), (2, 1), (1, 1)])
    corner = Polygon([(1, 1), (2, 1), (2, 2), (1, 2)])
    apart = Polygon([(1.001, 0), (2, 0), (2, 1), (1.001, 1)])
    assert left.intersects(right)
    assert left.intersects(corner)
    assert not left.intersects(apart)


def test_containment_counts_as_intersection() -> None:
    inner = Polygon([(4, 4), (6, 4), (6, 6), (4, 6)])
    assert SQUARE.intersects(inner)
    assert inner.intersects(SQUARE)


def test_polygons_around_the_pole() -> None:
    other_side = Polygon([(180, 88), (200, 88), (200, 89), (180, 89)])
    assert NORTH_CAP.intersects(other_side)
    assert not NORTH_CAP.intersects(Polygon([(0, 70), (10, 70), (10, 75), (0, 75)]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_polygon_intersection_matches_separating_axis_oracle(data: st.DataObject) -> None:
    a = data.draw(sk.footprints())
    b = data.draw(sk.near_polygons(a))
    separation = sk.convex_separation(a, b)
    assume(abs(separation) > 1e-9)
    assert a.intersects(b) == (separation < 0)
    assert b.intersects(a) == (separation < 0)


# --- circles ---------------------------------------------------------------------------------


def test_circle_touching_only_an_edge() -> None:
    below_equator = Polygon([(0, -10), (10, -10), (10, 0), (0, 0)])
    assert below_equator.intersects(Circle(5, 5, 5))  # tangent to the equator edge
    assert not below_equator.intersects(Circle(5, 5, 4.9999))
    assert below_equator.intersects(Circle(5, 5, 5.0001))


def test_circle_touching_a_vertex_and_containing_a_polygon() -> None:
    centre = Point(*sk.offset(10, 10, 1, 1))  # diagonally out from the corner
    reach = math.degrees(float(sk.angular_distance(Point(10, 10).vector, centre.vector)))
    assert SQUARE.intersects(Circle(centre.lon, centre.lat, reach))
    assert not SQUARE.intersects(Circle(centre.lon, centre.lat, reach - 1e-6))
    assert SQUARE.intersects(Circle(5, 5, 30))  # contains it
    assert SQUARE.intersects(Circle(5, 5, 0.001))  # inside it


def test_cone_at_the_pole() -> None:
    assert NORTH_CAP.intersects(Circle(123, 90, 0.01))
    assert Circle(0, 90, 2).contains_point(Point(250, 88.5))
    assert not Circle(0, 90, 2).contains_point(Point(250, 87.5))


def test_circle_circle() -> None:
    assert Circle(0, 0, 1).intersects(Circle(2, 0, 1))
    assert not Circle(0, 0, 1).intersects(Circle(2.01, 0, 1))
    assert Circle(359.5, 0, 1).intersects(Circle(0.5, 0, 0.1))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_circle_polygon_matches_sampled_distance(data: st.DataObject) -> None:
    polygon = data.draw(sk.footprints())
    circle = data.draw(sk.near_circles(polygon))
    samples = sk.sampled_boundary(polygon)
    distance = float(sk.angular_distance(samples, circle.vector).min())
    longest = max(sk.angular_distance(polygon.vectors, v).max() for v in polygon.vectors)
    resolution = float(longest) / 300
    inside = sk.convex_margin(polygon, circle.centre) > 1e-9
    if inside:
        expected = True
    elif distance - resolution > circle.radius_radians + 1e-9:
        expected = False
    elif distance < circle.radius_radians - 1e-9:
        expected = True
    else:
        return  # too close to call with sampling
    assert polygon.intersects(circle) == expected
    assert circle.intersects(polygon) == expected


# --- ranges ----------------------------------------------------------------------------------


def test_range_wrapping_through_zero() -> None:
    box = Range(350, 10, -5, 5)
    assert box.contains_point(Point(0, 0))
    assert box.contains_point(Point(355, 5))
    assert not box.contains_point(Point(20, 0))
    assert SQUARE.intersects(box)
    assert not Polygon([(20, 0), (30, 0), (30, 10)]).intersects(box)


def test_range_infinite_limits_and_poles() -> None:
    everything = Range(-math.inf, math.inf, -math.inf, math.inf)
    assert everything.full_longitude
    assert everything.contains_point(Point(123, -89))
    cap = Range(0, 360, 89, 90)
    assert cap.contains_point(Point(77, 89.5))
    assert NORTH_CAP.intersects(cap)


def test_polygon_edge_crossing_a_range_parallel_without_vertices() -> None:
    # A tall thin polygon passes through the box's top and bottom; no vertex in either.
    box = Range(0, 10, 0, 1)
    tall = Polygon([(4, -5), (6, -5), (6, 5), (4, 5)])
    assert tall.intersects(box)
    # The great-circle edge from (-20, 10.4) to (30, 10.4) bulges north to Dec 11.45 at RA 5
    # (about 11.41 at RA 0 and 10): a box reaching Dec 11.3 misses it although it reaches
    # above the vertices' Dec, one reaching Dec 11.5 meets it.
    band = Polygon([(-20, 10.4), (30, 10.4), (30, 30), (-20, 30)])
    assert not band.intersects(Range(0, 10, 9, 11.3))
    assert band.intersects(Range(0, 10, 9, 11.5))


def test_polygon_edge_crossing_a_range_meridian_without_vertices() -> None:
    box = Range(10, 20, -30, 30)
    wide = Polygon([(0, -1), (15, -1), (15, 1), (0, 1)])  # enters through the lon=10 side
    assert wide.intersects(box)
    assert not Polygon([(0, -1), (9.9, -1), (9.9, 1), (0, 1)]).intersects(box)


def test_range_range_and_range_circle() -> None:
    assert Range(350, 10, 0, 1).intersects(Range(5, 20, 1, 2))
    assert not Range(350, 10, 0, 1).intersects(Range(11, 20, 0, 2))
    assert Range(0, 10, 80, 90).intersects(Range(100, 110, 89, 90))  # both hold the pole
    assert Range(0, 10, 0, 10).intersects(Circle(15, 5, 5))
    assert not Range(0, 10, 0, 10).intersects(Circle(15, 5, 4.9))
    assert Range(0, 10, 0, 10).intersects(Circle(5, 12, 2))
    assert intersects(Circle(11, 11, 1.5), Range(0, 10, 0, 10))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_range_polygon_never_misses_a_sampled_overlap(data: st.DataObject) -> None:
    polygon = data.draw(sk.footprints())
    box = data.draw(sk.near_ranges(polygon))
    boundary = sk.sampled_boundary(polygon)
    hit = any(box.contains_point(Point(*c)) for c in zip(*_lonlat(boundary), strict=True))
    centre_in = box.contains_point(polygon.centroid)
    if hit or centre_in:
        assert polygon.intersects(box)


def _lonlat(vectors: np.ndarray) -> tuple[list[float], list[float]]:
    lon = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])) % 360
    lat = np.degrees(np.arcsin(np.clip(vectors[:, 2], -1, 1)))
    return list(lon), list(lat)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vertices", "message"),
    [
        ([(0, 0), (1, 1)], "at least 3 distinct"),
        ([(0, 0), (0, 0), (1, 1), (0, 0)], "at least 3 distinct"),
        ([(0, 0), (1, 0), (0, 1), (1, 1)], "self-intersecting"),
        ([(0, 0), (2, 0), (1, 0)], "self-intersecting"),
        ([(0, 0), (120, 0), (240, 0)], "hemisphere"),
        ([(0, 0), (10, 0), (float("nan"), 1)], "finite"),
        ([(0, 0), (10, 0), (float("inf"), 1)], "finite"),
        ([(0, 95), (1, 0), (2, 1)], "[-90, 90]"),
        ([(0, 0), (1, 0), ("a", 1)], "number"),
        ([(0, 0), (1, 0), (True, 1)], "number"),
        ([(0, 0), (1, 0), (1, 2, 3)], "pair"),
        (None, "list"),
    ],
)
def test_invalid_polygons_raise_sky_geometry_error(vertices: object, message: str) -> None:
    with pytest.raises(SkyGeometryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Polygon(vertices)  # type: ignore[arg-type]


def test_too_many_vertices() -> None:
    ring = [(math.cos(t), math.sin(t)) for t in np.linspace(0, 2 * math.pi, 1200)[:-1]]
    with pytest.raises(SkyGeometryError, match="at most"):
        Polygon(ring)


def test_lenient_polygons_for_degenerate_stored_footprints() -> None:
    line = Polygon([(24.5, -32.25), (24.5, -32.25), (24.2, -32.25), (24.2, -32.25)], strict=False)
    assert line.is_degenerate
    assert line.area == pytest.approx(0.0, abs=1e-15)
    assert line.contains_point(Point(24.5, -32.25))
    assert not line.contains_point(Point(24.35, -31.0))
    assert line.intersects(Circle(24.35, -32.25, 0.01))
    bowtie = Polygon([(0, 0), (1, 0), (0, 1), (1, 1)], strict=False)
    assert bowtie.is_degenerate
    assert not SQUARE.is_degenerate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 0), "radius"),
        ((0, 0, -1), "radius"),
        ((0, 0, 181), "radius"),
        ((0, 91, 1), "latitude"),
        ((float("nan"), 0, 1), "finite"),
    ],
)
def test_invalid_circles(args: tuple[float, float, float], message: str) -> None:
    with pytest.raises(SkyGeometryError, match=message):
        Circle(*args)


@pytest.mark.parametrize(
    "args",
    [(0, 10, 5, 1), (0, 10, -95, 1), (0, 10, float("nan"), 1), (math.inf, 10, 0, 1)],
)
def test_invalid_ranges(args: tuple[float, float, float, float]) -> None:
    with pytest.raises(SkyGeometryError):
        Range(*args)


def test_points_validate() -> None:
    with pytest.raises(SkyGeometryError):
        Point(0, -90.5)
    with pytest.raises(SkyGeometryError):
        Point(float("inf"), 0)
    assert Point(-10, 0).contains_point(Point(350, 0))


# --- derived quantities ----------------------------------------------------------------------


def test_area_centroid_and_bounding_circle() -> None:
    small = sk.quad(30.0, 45.0, 0.25, 0.25, 0.0)
    assert small.area_deg2 == pytest.approx(0.25, rel=1e-3)
    assert small.centroid.lon == pytest.approx(30.0, abs=1e-6)
    assert small.centroid.lat == pytest.approx(45.0, abs=1e-4)
    circle = small.bounding_circle
    assert circle.radius == pytest.approx(math.hypot(0.25, 0.25), rel=1e-3)
    for lon, lat in small.vertices:
        assert circle.contains_point(Point(lon, lat))


def test_pole_polygon_centroid_is_the_pole() -> None:
    assert NORTH_CAP.centroid.lat == pytest.approx(90.0, abs=1e-9)
    cap = NORTH_CAP.bounding_circle
    assert cap.lat == pytest.approx(90.0, abs=1e-9)
    assert cap.radius == pytest.approx(5.0, abs=1e-6)


def test_centroid_across_ra_zero() -> None:
    centre = WRAP.centroid
    assert min(centre.lon, 360 - centre.lon) == pytest.approx(0.0, abs=1e-9)
    assert centre.lat == pytest.approx(0.0, abs=1e-9)


# --- covers (footprint contains the whole region) --------------------------------------------


def test_covers_polygon() -> None:
    assert SQUARE.covers(Polygon([(1, 1), (2, 1), (2, 2)]))
    assert SQUARE.covers(SQUARE)  # boundaries count
    assert SQUARE.covers(Point(10, 10))
    assert not SQUARE.covers(Polygon([(5, 5), (15, 5), (15, 6)]))  # partly outside
    assert not SQUARE.covers(Polygon([(-1, -1), (11, -1), (11, 11), (-1, 11)]))  # contains it
    assert WRAP.covers(Polygon([(359, -1), (1, -1), (1, 1), (359, 1)]))
    assert NORTH_CAP.covers(Polygon([(0, 89), (120, 89), (240, 89)]))


def test_covers_non_convex_footprint() -> None:
    ell = Polygon([(0, 0), (6, 0), (6, 2), (2, 2), (2, 6), (0, 6)])
    # All three vertices are inside, but the long edge cuts through the notch.
    assert not ell.covers(Polygon([(1, 1), (5, 1), (1, 5)]))
    assert ell.covers(Polygon([(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)]))
    with pytest.raises(TypeError):
        ell.covers(Circle(1, 1, 0.1))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_covers_matches_convex_oracle(data: st.DataObject) -> None:
    # A convex footprint contains a polygon exactly when it contains all its vertices.
    footprint = data.draw(sk.footprints())
    centre = footprint.bounding_circle
    where = data.draw(sk.near_point(footprint, spread=0.8))
    scale = centre.radius * data.draw(st.floats(0.05, 1.2))
    query = sk.quad(where.lon, where.lat, scale, scale * 0.6, data.draw(st.floats(0, 3)))
    margins = [sk.convex_margin(footprint, Point(*v)) for v in query.vertices]
    assume(all(abs(m) > 1e-9 for m in margins))
    assert footprint.covers(query) == all(m > 0 for m in margins)
