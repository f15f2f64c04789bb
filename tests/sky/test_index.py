"""The HEALPix sky index: cell budgets, plan shape and, above all, no false negatives."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.sky import (
    DEFAULT_MAX_TERMS,
    INDEX_MAX_CELLS,
    INDEX_MAX_DEPTH,
    Circle,
    Point,
    Polygon,
    QueryPlan,
    Range,
    index_cells,
    polygon_from_geojson,
    query_plan,
    uniq,
    uniq_depth,
    uniq_to_depth_ipix,
)
from tests.sky import strategies as sk

LCO_1M = Polygon([(156.30, -26.17), (156.30, -25.73), (156.74, -25.73), (156.74, -26.17)])


# --- NUNIQ helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "ipix"), [(0, 0), (0, 11), (1, 47), (10, 12 * 4**10 - 1), (29, 5)]
)
def test_uniq_round_trip(depth: int, ipix: int) -> None:
    value = uniq(depth, ipix)
    assert value == 4 * 4**depth + ipix
    assert uniq_depth(value) == depth
    assert uniq_to_depth_ipix(value) == (depth, ipix)


@pytest.mark.parametrize(("depth", "ipix"), [(-1, 0), (0, 12), (30, 0), (3, -1)])
def test_uniq_rejects_impossible_cells(depth: int, ipix: int) -> None:
    with pytest.raises(ValueError):
        uniq(depth, ipix)


# --- stored cells ----------------------------------------------------------------------------


def test_lco_footprint_gets_a_handful_of_fine_cells() -> None:
    cells = index_cells(LCO_1M)
    assert 1 <= len(cells) <= INDEX_MAX_CELLS
    assert cells == sorted(cells)
    assert all(6 <= uniq_depth(c) <= INDEX_MAX_DEPTH for c in cells)


def test_small_footprints_reach_the_depth_cap_and_big_ones_go_coarse() -> None:
    tiny = sk.quad(10.0, 10.0, 0.01, 0.01, 0.0)
    assert max(uniq_depth(c) for c in index_cells(tiny)) == INDEX_MAX_DEPTH
    big = sk.quad(10.0, 10.0, 5.0, 5.0, 0.0)
    cells = index_cells(big)
    assert len(cells) <= INDEX_MAX_CELLS
    assert max(uniq_depth(c) for c in cells) <= 4
    assert len(index_cells(big, max_cells=64)) > len(cells)


def test_point_and_whole_sky_cells() -> None:
    assert [uniq_depth(c) for c in index_cells(Point(10, 20))] == [INDEX_MAX_DEPTH]
    assert index_cells(Circle(0, 0, 150)) == [uniq(0, i) for i in range(12)]


@pytest.mark.parametrize("lat", [89.999, -89.999, 45.0])
def test_cells_cover_sampled_points_of_the_footprint(lat: float) -> None:
    footprint = sk.quad(359.9, lat, 0.4, 0.3, 0.7)
    cells = set(index_cells(footprint))
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(400):
        lon, la = sk.offset(359.9, lat, *rng.uniform(-0.5, 0.5, size=2))
        point = Point(lon, la)
        if not footprint.contains_point(point):
            continue
        checked += 1
        # Every point of the footprint lies in a stored cell (or a descendant of one).
        assert query_plan(point).matches(cells)
    assert checked > 50


# --- plans -----------------------------------------------------------------------------------


def _assert_well_formed(plan: QueryPlan) -> None:
    assert list(plan.uniq_values) == sorted(set(plan.uniq_values))
    bounds = [b for pair in plan.uniq_ranges for b in pair]
    assert bounds == sorted(bounds)
    assert all(low < high for low, high in plan.uniq_ranges)
    for value in plan.uniq_values:  # values are not inside ranges
        assert not any(low <= value <= high for low, high in plan.uniq_ranges)
    # Adjacent intervals were merged.
    intervals = sorted([(v, v) for v in plan.uniq_values] + list(plan.uniq_ranges))
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(intervals))


@pytest.mark.parametrize(
    "region",
    [
        Point(156.5, -26.0),
        Point(0.0, 90.0),
        Circle(10, 20, 10),
        Circle(359.99, 0.0, 0.5),
        Circle(0, -89.9, 10),
        Range(350, 10, -5, 5),
        Range(0, 360, -10, 10),
        Range(0, 360, 80, 90),
        LCO_1M,
        Polygon([(350, -10), (350, 10), (10, 10), (10, -10)]),
        Polygon([(0, 85), (90, 85), (180, 85), (270, 85)]),
        Polygon([(0, 0), (30, 0), (30, 0.05), (0, 0.05)]),
    ],
    ids=repr,
)
def test_plans_are_well_formed_and_within_budget(region: object) -> None:
    plan = query_plan(region)  # type: ignore[arg-type]
    _assert_well_formed(plan)
    assert 1 <= plan.term_count <= DEFAULT_MAX_TERMS
    assert not plan.whole_sky


def test_a_ten_degree_cone_needs_at_most_a_few_hundred_terms() -> None:
    plan = query_plan(Circle(10, 20, 10))
    assert plan.term_count <= 300
    assert plan.depth >= 5  # fine enough to be selective (cells under 2 degrees)


def test_point_plan_uses_the_finest_depth() -> None:
    plan = query_plan(Point(156.5, -26.0))
    assert plan.depth == INDEX_MAX_DEPTH
    assert plan.term_count < 40


def test_smaller_budgets_give_coarser_plans() -> None:
    region = Circle(10, 20, 3)
    generous = query_plan(region, max_terms=400)
    tight = query_plan(region, max_terms=30)
    assert tight.term_count <= 30
    assert tight.depth < generous.depth
    assert query_plan(region, max_terms=1).whole_sky


def test_whole_sky_regions() -> None:
    assert query_plan(Range(-math.inf, math.inf, -90, 90)).whole_sky
    assert query_plan(Circle(0, 0, 170)).whole_sky
    everything = QueryPlan.everything()
    assert everything.matches([uniq(0, 3)])
    assert everything.matches([uniq(INDEX_MAX_DEPTH, 12 * 4**INDEX_MAX_DEPTH - 1)])


def test_plan_selects_ancestors_and_descendants() -> None:
    point = Point(156.5, -26.0)
    plan = query_plan(point, max_depth=INDEX_MAX_DEPTH)
    fine = index_cells(point)[0]
    depth, ipix = uniq_to_depth_ipix(fine)
    for level in range(depth + 1):
        assert plan.matches([uniq(level, ipix >> 2 * (depth - level))])
    coarse_plan = query_plan(Circle(156.5, -26.0, 2.0), max_terms=60)
    assert coarse_plan.depth < INDEX_MAX_DEPTH
    assert coarse_plan.matches([fine])  # a stored cell deeper than the query depth


def test_far_away_footprints_are_not_candidates() -> None:
    plan = query_plan(LCO_1M)
    assert not plan.matches(index_cells(sk.quad(336.5, 26.0, 0.2, 0.2, 0.0)))
    assert not plan.matches(index_cells(Point(156.5, 26.0)))


def test_real_lco_footprints(shared_data) -> None:  # type: ignore[no-untyped-def]
    import json

    records = json.loads((shared_data / "expected-records.json").read_text())
    areas = [r["record"]["area"] for r in records.values() if r["record"].get("area")]
    assert areas
    for area in areas:
        # Upstream records include footprints collapsed to a line: they must stay indexable.
        footprint = polygon_from_geojson(area, strict=False)
        cells = index_cells(footprint)
        assert 1 <= len(cells) <= INDEX_MAX_CELLS
        for lon, lat in footprint.vertices:
            assert footprint.contains_point(Point(lon, lat))
            assert query_plan(Point(lon, lat)).matches(cells)
        centre = footprint.centroid
        assert query_plan(Circle(centre.lon, centre.lat, 0.01)).matches(cells)


# --- no false negatives ----------------------------------------------------------------------

_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_no_false_negative(footprint: Polygon, region: object) -> None:
    if footprint.intersects(region):  # type: ignore[arg-type]
        plan = query_plan(region)  # type: ignore[arg-type]
        assert plan.matches(index_cells(footprint)), (footprint, region, plan.depth)


@_SETTINGS
@given(st.data())
def test_no_false_negatives_for_points(data: st.DataObject) -> None:
    footprint = data.draw(sk.footprints())
    _check_no_false_negative(footprint, data.draw(sk.near_point(footprint, spread=1.0)))


@_SETTINGS
@given(st.data())
def test_no_false_negatives_for_circles(data: st.DataObject) -> None:
    footprint = data.draw(sk.footprints())
    _check_no_false_negative(footprint, data.draw(sk.near_circles(footprint)))


@_SETTINGS
@given(st.data())
def test_no_false_negatives_for_polygons(data: st.DataObject) -> None:
    footprint = data.draw(sk.footprints())
    _check_no_false_negative(footprint, data.draw(sk.near_polygons(footprint)))


@_SETTINGS
@given(st.data())
def test_no_false_negatives_for_ranges(data: st.DataObject) -> None:
    footprint = data.draw(sk.footprints())
    _check_no_false_negative(footprint, data.draw(sk.near_ranges(footprint)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(footprint=sk.footprints(), budget=st.integers(8, 400))
def test_no_false_negatives_at_any_budget(footprint: Polygon, budget: int) -> None:
    vertex = Point(*footprint.vertices[0])
    plan = query_plan(vertex, max_terms=budget)
    assert plan.term_count <= budget or plan.whole_sky
    assert plan.matches(index_cells(footprint))


# Touching cases: boundaries that meet in a single point or along an edge, including edges
# that run along HEALPix cell boundaries (meridians 0/90/180/270 in the polar caps).
TOUCHING = [
    (Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]), Polygon([(1, 0), (2, 0), (2, 1), (1, 1)])),
    (Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]), Polygon([(1, 1), (2, 1), (2, 2), (1, 2)])),
    (
        Polygon([(85, 60), (90, 60), (90, 62), (85, 62)]),
        Polygon([(90, 60), (95, 60), (95, 62), (90, 62)]),
    ),
    (Polygon([(89, 70), (90, 70), (90, 71), (89, 71)]), Range(90, 100, 70, 71)),
    (Polygon([(359, 50), (0, 50), (0, 51), (359, 51)]), Range(0, 5, 50, 51)),
    (Polygon([(10, -10), (20, -10), (20, 0), (10, 0)]), Circle(15, 5, 5)),
    (Polygon([(10, 80), (20, 80), (20, 85), (10, 85)]), Point(20, 85)),
    (Polygon([(180, 45), (181, 45), (181, 46), (180, 46)]), Point(180, 45.5)),
    (
        Polygon([(0, 41.8103149), (1, 41.8103149), (1, 42.5), (0, 42.5)]),
        Range(0, 1, 40, 41.8103149),
    ),
]


@pytest.mark.parametrize(("footprint", "region"), TOUCHING, ids=repr)
def test_touching_regions_are_found(footprint: Polygon, region: object) -> None:
    assert footprint.intersects(region)  # type: ignore[arg-type]
    _check_no_false_negative(footprint, region)
    if isinstance(region, Polygon):
        _check_no_false_negative(region, footprint)


def _corner_cases(depth: int, ipix: int) -> list[tuple[Point, Polygon]]:
    """A query point on each corner of a HEALPix cell and a tiny footprint inside that cell.

    The point's own cell (as ``lonlat_to_healpix`` assigns it) is usually a neighbour, so
    only the plan's ring of neighbouring cells can bring the footprint in.
    """
    import astropy.units as u
    from cdshealpix import nested

    from obsarchive.sky import lonlat_to_vectors, vectors_to_lonlat

    cell = np.array([ipix], dtype=np.uint64)
    lon, lat = nested.vertices(cell, depth)
    clon, clat = nested.healpix_to_lonlat(cell, depth)
    centre = lonlat_to_vectors(clon.to_value(u.deg)[0], clat.to_value(u.deg)[0])
    cases = []
    for corner_lon, corner_lat in zip(lon.to_value(u.deg)[0], lat.to_value(u.deg)[0], strict=True):
        corner = lonlat_to_vectors(corner_lon, corner_lat)
        inward = centre - corner
        side = np.cross(corner, inward)
        a = vectors_to_lonlat(corner + 0.1 * inward + 0.02 * side)
        b = vectors_to_lonlat(corner + 0.1 * inward - 0.02 * side)
        footprint = Polygon(
            [(corner_lon, corner_lat), (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))]
        )
        cases.append((Point(float(corner_lon), float(corner_lat)), footprint))
    return cases


@pytest.mark.parametrize("ipix", [5, 123_456, 4 * 4**10 + 77, 11 * 4**10 + 999, 12 * 4**10 - 3])
def test_points_on_cell_corners_find_footprints_in_neighbouring_cells(ipix: int) -> None:
    for point, footprint in _corner_cases(INDEX_MAX_DEPTH, ipix):
        assert footprint.contains_point(point)
        assert query_plan(point).matches(index_cells(footprint))
