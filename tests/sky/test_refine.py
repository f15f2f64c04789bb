"""Vectorised refinement agrees with the scalar predicates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.sky import (
    Circle,
    FootprintArray,
    Point,
    Polygon,
    Range,
    SkyGeometryError,
    lonlat_to_vectors,
    refine,
    to_geojson,
)
from obsarchive.sky import refinement as refine_module
from tests.sky import strategies as sk


def _random_footprints(count: int, seed: int) -> list[Polygon]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        lon = float(rng.uniform(0, 360))
        lat = float(np.degrees(np.arcsin(rng.uniform(-0.999, 0.999))))
        out.append(sk.quad(lon, lat, *rng.uniform(0.05, 3.0, size=2), float(rng.uniform(0, 3))))
    return out


REGIONS = [
    Point(10, 10),
    Point(0, 90),
    Circle(0, 0, 20),
    Circle(123, -89, 15),
    Polygon([(350, -10), (350, 10), (10, 10), (10, -10)]),
    Polygon([(0, 70), (120, 70), (240, 70)]),
    Range(350, 10, -30, 30),
    Range(0, 360, 60, 90),
    Range(100, 140, -40, -20),
]


@pytest.mark.parametrize("region", REGIONS, ids=repr)
def test_refine_equals_scalar_predicates(region: object) -> None:
    polygons = _random_footprints(200, seed=7)
    mask = refine(FootprintArray.from_polygons(polygons), region)  # type: ignore[arg-type]
    expected = [p.intersects(region) for p in polygons]  # type: ignore[arg-type]
    assert mask.tolist() == expected
    assert sum(expected) > 0 or isinstance(region, Point)


def test_refine_accepts_a_raw_vector_array() -> None:
    polygons = _random_footprints(50, seed=3)
    array = np.stack([p.vectors for p in polygons])
    region = Circle(0, 0, 60)
    assert refine(array, region).tolist() == [p.intersects(region) for p in polygons]


def test_mixed_vertex_counts_are_padded_without_changing_answers() -> None:
    triangle = Polygon([(0, 0), (2, 0), (1, 2)])
    hexagon = Polygon([(10, 0), (11, -1), (12, 0), (12, 1), (11, 2), (10, 1)])
    array = FootprintArray.from_polygons([triangle, hexagon])
    assert array.vectors.shape == (2, 6, 3)
    regions = (Point(1, 1), Point(11, 0.5), Point(1.9, 1.9), Circle(3, 0, 1.01), Range(1, 11, 0, 0))
    for region in regions:
        assert refine(array, region).tolist() == [
            triangle.intersects(region),
            hexagon.intersects(region),
        ]


def test_from_rings_reads_geojson_coordinates() -> None:
    polygons = _random_footprints(20, seed=11)
    rings = [to_geojson(p)["coordinates"][0] for p in polygons]
    region = Circle(180, 0, 90)
    expected = [p.intersects(region) for p in polygons]
    assert refine(FootprintArray.from_rings(rings), region).tolist() == expected
    # Ragged input (different vertex counts, closed or not) takes the general path.
    ragged = [rings[0], rings[1][:-1], [*rings[2][:-1], rings[2][1], rings[2][0]]]
    assert refine(FootprintArray.from_rings(ragged), region).tolist() == [
        polygons[0].intersects(region),
        polygons[1].intersects(region),
        Polygon([*rings[2][:-1], rings[2][1]], strict=False).intersects(region),
    ]
    assert len(FootprintArray.from_rings([])) == 0
    assert refine(FootprintArray.from_rings([]), region).tolist() == []


def test_from_rings_accepts_degenerate_upstream_footprints() -> None:
    line = [[24.5, -32.25], [24.5, -32.25], [24.2, -32.25], [24.2, -32.25], [24.5, -32.25]]
    array = FootprintArray.from_rings([line])
    assert refine(array, Point(24.5, -32.25)).tolist() == [True]
    assert refine(array, Circle(24.35, -32.2, 0.1)).tolist() == [True]
    assert refine(array, Point(24.35, -31.0)).tolist() == [False]


@pytest.mark.parametrize("bad", [[["a", "b"], [1, 2], [3, 4]], [1, 2, 3], [[[1, 2]]], []])
def test_from_rings_rejects_malformed_rings(bad: object) -> None:
    with pytest.raises(SkyGeometryError):
        FootprintArray.from_rings([bad])  # type: ignore[list-item]


def test_chunking_does_not_change_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    polygons = _random_footprints(300, seed=5)
    region = Polygon([(0, -30), (60, -30), (60, 30), (0, 30)])
    expected = refine(FootprintArray.from_polygons(polygons), region)
    monkeypatch.setattr(refine_module, "_CHUNK_ELEMENTS", 64)
    assert refine(FootprintArray.from_polygons(polygons), region).tolist() == expected.tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_refine_equals_scalar_for_random_regions(data: st.DataObject) -> None:
    polygons = [data.draw(sk.footprints()) for _ in range(6)]
    anchor = polygons[0]
    region = data.draw(
        st.one_of(
            sk.near_point(anchor),
            sk.near_circles(anchor),
            sk.near_polygons(anchor),
            sk.near_ranges(anchor),
        )
    )
    mask = refine(FootprintArray.from_polygons(polygons), region)
    assert mask.tolist() == [p.intersects(region) for p in polygons]


def test_ten_thousand_footprints_are_refined_in_one_vectorised_call() -> None:
    # Performance sanity without timing: the work is done by array operations over all
    # footprints at once (no Python loop per footprint), and the answer is right.
    rng = np.random.default_rng(1)
    n = 10_000
    lon = rng.uniform(0, 360, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    half = 0.25
    corners = np.stack(
        [
            lonlat_to_vectors(lon + dx / np.cos(np.radians(np.clip(lat, -85, 85))), lat + dy)
            for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))
        ],
        axis=1,
    )
    corners[..., :] /= np.linalg.norm(corners, axis=-1, keepdims=True)
    array = FootprintArray(corners)
    circle = Circle(0, 0, 30)
    mask = refine(array, circle)
    centres = array.vectors.mean(axis=1)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centre_distance = np.degrees(np.arccos(np.clip(centres @ circle.vector, -1, 1)))
    # Everything well inside is found, everything well outside is not.
    assert mask[centre_distance < 29].all()
    assert not mask[centre_distance > 32].any()
    assert math.isclose(mask.mean(), (1 - math.cos(math.radians(30))) / 2, rel_tol=0.15)


def test_refine_covers_equals_scalar() -> None:
    polygons = _random_footprints(200, seed=9)
    polygons.append(sk.quad(0.0, 0.0, 3.0, 3.0, 0.0))
    query = Polygon([(359.5, -0.5), (0.5, -0.5), (0.5, 0.5), (359.5, 0.5)])
    mask = refine(FootprintArray.from_polygons(polygons), query, "covers")
    assert mask.tolist() == [p.covers(query) for p in polygons]
    assert mask[-1]
    point = Point(0.0, 0.0)
    assert refine(FootprintArray.from_polygons(polygons), point, "covers").tolist() == [
        p.contains_point(point) for p in polygons
    ]


def test_refine_rejects_unknown_predicates() -> None:
    array = FootprintArray.from_polygons(_random_footprints(2, seed=1))
    with pytest.raises(ValueError):
        refine(array, Point(0, 0), "within")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        refine(array, Circle(0, 0, 1), "covers")
