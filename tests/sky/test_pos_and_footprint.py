"""SIA POS / DALI shapes in, ObsCore spatial values out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsarchive.sky import (
    Circle,
    Point,
    Polygon,
    Range,
    SkyGeometryError,
    obscore_footprint,
    parse_dali_circle,
    parse_dali_polygon,
    parse_pos,
    polygon_from_geojson,
    sky_order_vertices,
    to_dali_circle,
    to_dali_polygon,
    to_stcs,
)
from tests.sky import strategies as sk

# --- SIA POS ---------------------------------------------------------------------------------


def test_pos_circle_as_pyvo_sends_it() -> None:
    assert parse_pos("CIRCLE 10.7 41.25 0.1") == Circle(10.7, 41.25, 0.1)


def test_pos_range_with_infinities_and_wrap() -> None:
    everything = parse_pos("RANGE -Inf +Inf -inf inf")
    assert isinstance(everything, Range)
    assert everything.full_longitude
    wrap = parse_pos("RANGE 350 10 -5 5")
    assert isinstance(wrap, Range)
    assert wrap.contains_point(Point(0, 0))
    assert not wrap.contains_point(Point(180, 0))
    assert parse_pos("RANGE 1e1 2E1 0 1") == Range(10, 20, 0, 1)


def test_pos_polygon_any_winding() -> None:
    clockwise = parse_pos("POLYGON 10 10 10 10.2 10.2 10.2 10.2 10")
    anticlockwise = parse_pos("POLYGON 10 10 10.2 10 10.2 10.2 10 10.2")
    assert isinstance(clockwise, Polygon)
    assert isinstance(anticlockwise, Polygon)
    assert clockwise.contains_point(Point(10.1, 10.1))
    assert anticlockwise.contains_point(Point(10.1, 10.1))
    assert clockwise.area == pytest.approx(anticlockwise.area)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "BOX 1 2 3 4",
        "CIRCLE 1 2",
        "CIRCLE 1 2 0",
        "CIRCLE 1 2 3 4",
        "CIRCLE a b c",
        "CIRCLE 1 nan 1",
        "CIRCLE 1 inf 1",
        "RANGE 1 2 3",
        "RANGE 1 2 5 3",
        "RANGE 1 2 nan 3",
        "RANGE 1e9 2 0 1",
        "POLYGON 1 2 3 4 5",
        "POLYGON 1 2 3 4",
        "POLYGON 0 0 1 0 0 1 1 1",
    ],
)
def test_pos_errors(text: str) -> None:
    with pytest.raises(SkyGeometryError):
        parse_pos(text)


def test_dali_literals() -> None:
    assert parse_dali_circle("0 90 1.5") == Circle(0, 90, 1.5)
    assert parse_dali_polygon("0 0 1 0 1 1").vertices == ((0, 0), (1, 0), (1, 1))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_pos_fuzz(text: str) -> None:
    try:
        region = parse_pos(text)
    except SkyGeometryError:
        return
    assert isinstance(region, (Circle, Range, Polygon))


# --- output order and values -----------------------------------------------------------------


def _winding_seen_from_inside(vertices: list[tuple[float, float]]) -> float:
    """Signed area of the ring on a sky plot (RA increasing to the left, as seen from inside).

    Computed in a local tangent plane with x = -east: positive means counter-clockwise.
    """
    lon0, lat0 = vertices[0]
    xs, ys = [], []
    for lon, lat in vertices:
        dlon = (lon - lon0 + 180) % 360 - 180
        xs.append(-dlon * math.cos(math.radians(lat0)))
        ys.append(lat - lat0)
    x, y = np.array(xs), np.array(ys)
    return float(0.5 * (x * np.roll(y, -1) - np.roll(x, -1) * y).sum())


@pytest.mark.parametrize(
    "vertices",
    [
        [(10, 10), (10.2, 10), (10.2, 10.2), (10, 10.2)],  # the DALI 1.1 example order
        [(10, 10), (10, 10.2), (10.2, 10.2), (10.2, 10)],
        [(359.9, -0.1), (0.1, -0.1), (0.1, 0.1), (359.9, 0.1)],
    ],
)
def test_dali_polygon_is_counter_clockwise_seen_from_inside(
    vertices: list[tuple[float, float]],
) -> None:
    values = to_dali_polygon(Polygon(vertices))
    pairs = list(zip(values[0::2], values[1::2], strict=True))
    assert len(pairs) == 4
    assert _winding_seen_from_inside(pairs) > 0
    assert all(0 <= lon < 360 for lon, _ in pairs)
    assert {(round(a % 360, 9), round(b, 9)) for a, b in pairs} == {
        (round(a % 360, 9), round(b, 9)) for a, b in vertices
    }


def test_stcs_text() -> None:
    square = Polygon([(10.5, 41.1), (10.9, 41.1), (10.9, 41.4), (10.5, 41.4)])
    text = to_stcs(square)
    assert text.startswith("POLYGON ICRS ")
    numbers = [float(x) for x in text.split()[2:]]
    assert numbers == to_dali_polygon(square)
    assert to_stcs(Circle(-10, 5, 0.5)) == "CIRCLE ICRS 350.0 5.0 0.5"
    assert to_dali_circle(Circle(-10, 5, 0.5)) == [350.0, 5.0, 0.5]


def test_obscore_values_for_a_footprint() -> None:
    footprint = sk.quad(0.0, -30.0, 0.2, 0.1, 0.0)  # straddles RA 0
    values = obscore_footprint(footprint)
    assert min(values.s_ra, 360 - values.s_ra) == pytest.approx(0.0, abs=1e-6)
    assert values.s_dec == pytest.approx(-30.0, abs=1e-3)
    assert values.s_fov == pytest.approx(2 * math.hypot(0.2, 0.1), rel=1e-3)
    assert values.area_deg2 == pytest.approx(0.4 * 0.2, rel=1e-3)
    assert values.s_region.startswith("POLYGON ICRS ")


def test_obscore_values_for_a_degenerate_upstream_footprint() -> None:
    line = polygon_from_geojson(
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [24.5356, -32.2511],
                    [24.5356, -32.2511],
                    [24.2249, -32.2511],
                    [24.2249, -32.2511],
                    [24.5356, -32.2511],
                ]
            ],
        },
        strict=False,
    )
    values = obscore_footprint(line)
    assert values.s_region.startswith("CIRCLE ICRS ")
    assert values.area_deg2 == pytest.approx(0.0, abs=1e-12)
    assert values.s_fov == pytest.approx(0.3107 * math.cos(math.radians(32.2511)), rel=1e-3)
    assert len(sky_order_vertices(line)) == 2


def test_real_footprints_give_obscore_values(shared_data) -> None:  # type: ignore[no-untyped-def]
    import json

    records = json.loads((shared_data / "expected-records.json").read_text())
    for entry in records.values():
        area = entry["record"].get("area")
        if not area:
            continue
        values = obscore_footprint(polygon_from_geojson(area, strict=False))
        assert 0 <= values.s_ra < 360
        assert -90 <= values.s_dec <= 90
        # LCO imagers: fields of view between a few arcminutes and about a degree.
        assert 0.01 < values.s_fov < 1.5
