"""Geometry text input: WKT, EWKT, hex WKB, GeoJSON; errors are always SkyGeometryError."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsarchive.sky import (
    Point,
    Polygon,
    SkyGeometryError,
    geometry_from_geojson,
    parse_geometry,
    parse_wkb_hex,
    parse_wkt,
    polygon_from_geojson,
    to_geojson,
    to_wkt,
)

# --- WKT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "POINT(5 5)",
        "point(5 5)",
        "  POINT ( 5   5 ) ",
        "Point(5.0 5e0)",
        "SRID=4326;POINT(5 5)",
        "srid=4326; point (+5 5.)",
        "POINT(5\t5)",
    ],
)
def test_points(text: str) -> None:
    assert parse_wkt(text) == Point(5, 5)


def test_polygon_and_negative_ra() -> None:
    polygon = parse_wkt("POLYGON((-10 -10, -10 20, 20 20, 20 0, -10 -10))")
    assert isinstance(polygon, Polygon)
    assert polygon.vertices == ((-10, -10), (-10, 20), (20, 20), (20, 0))
    assert polygon.contains_point(Point(355, 0))


def test_polygon_whitespace_and_case() -> None:
    text = "polygon ( ( 350 -10 ,350 10,10 10 , 10 -10,350 -10 ) )"
    assert parse_wkt(text) == Polygon([(350, -10), (350, 10), (10, 10), (10, -10)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("POINT(5)", "a number"),
        ("POINT(1,2)", "a number"),
        ("POINT(1 2 3)", "2-dimensional"),
        ("POINT Z (1 2 3)", "2-dimensional"),
        ("POINT EMPTY", "empty"),
        ("POINT(a b)", "a number"),
        ("POINT(1 2) x", "after the geometry"),
        ("POINT(1 2", "after the two coordinates"),
        ("POINT(1 95)", r"\[-90, 90\]"),
        ("POINT(1e999 0)", "finite"),
        ("garbage", "POINT or POLYGON|unsupported"),
        ("", "POINT or POLYGON"),
        ("LINESTRING(0 0, 1 1)", "unsupported geometry type"),
        ("SRID=3857;POINT(1 2)", "SRID"),
        ("POLYGON((0 0, 1 0, 1 1))", "at least 4"),
        ("POLYGON((0 0, 1 0, 1 1, 0 1))", "closed"),
        ("POLYGON((0 0, 10 0, 10 10, 0 0), (1 1, 2 1, 2 2, 1 1))", "holes"),
        ("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", "self-intersecting"),
        ("POLYGON((0 0, 1 0, 2 0, 0 0))", "self-intersecting|zero area"),
        ("POLYGON EMPTY", "empty"),
        ("POINT(1 2);", "after the geometry"),
        ("POINT(1 2)\x00", "unexpected text"),
    ],
)
def test_wkt_errors(text: str, message: str) -> None:
    with pytest.raises(SkyGeometryError, match=message):
        parse_wkt(text)


def test_wkt_rejects_non_text_and_huge_input() -> None:
    with pytest.raises(SkyGeometryError):
        parse_wkt(b"POINT(1 2)")  # type: ignore[arg-type]
    with pytest.raises(SkyGeometryError, match="longer"):
        parse_wkt("POINT(" + " " * 200_000 + "1 2)")


def test_to_wkt_round_trips() -> None:
    polygon = Polygon([(350.5, -10), (350.5, 10), (10, 10), (10, -10)])
    assert parse_wkt(to_wkt(polygon)) == polygon
    assert parse_wkt(to_wkt(Point(1.25, -3))) == Point(1.25, -3)


_WKT_PIECES = st.sampled_from(
    [
        "POINT",
        "POLYGON",
        "point",
        "(",
        ")",
        "((",
        "))",
        ",",
        " ",
        "  ",
        "SRID=4326;",
        "EMPTY",
        "Z",
        "1",
        "-2.5",
        "1e3",
        "1e999",
        "nan",
        "inf",
        ".",
        "+",
        "e",
        "360",
        "91",
        "0 0",
        "10 0",
        "10 10",
        "0 10",
        ";",
        "=",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_WKT_PIECES, max_size=25).map("".join))
def test_wkt_fuzz_structured(text: str) -> None:
    try:
        result = parse_wkt(text)
    except SkyGeometryError:
        return
    assert isinstance(result, (Point, Polygon))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_geometry_fuzz_any_text(text: str) -> None:
    try:
        result = parse_geometry(text)
    except SkyGeometryError:
        return
    assert isinstance(result, (Point, Polygon))


# --- WKB -------------------------------------------------------------------------------------


def _wkb_point(lon: float, lat: float, *, big: bool = False, srid: int | None = None) -> str:
    order = ">" if big else "<"
    code = 1 | (0x20000000 if srid is not None else 0)
    body = struct.pack(order + "I", code)
    if srid is not None:
        body += struct.pack(order + "I", srid)
    return (bytes([0 if big else 1]) + body + struct.pack(order + "dd", lon, lat)).hex()


def _wkb_polygon(ring: list[tuple[float, float]]) -> str:
    data = bytes([1]) + struct.pack("<III", 3, 1, len(ring))
    data += b"".join(struct.pack("<dd", *p) for p in ring)
    return data.hex()


def test_hex_wkb_points_and_polygons() -> None:
    assert parse_geometry(_wkb_point(5, 5)) == Point(5, 5)
    assert parse_geometry(_wkb_point(5, 5, big=True)) == Point(5, 5)
    assert parse_geometry(_wkb_point(5, 5, srid=4326).upper()) == Point(5, 5)
    ring = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    assert parse_geometry(_wkb_polygon(ring)) == Polygon(ring)


@pytest.mark.parametrize(
    "text",
    [
        _wkb_point(5, 5)[:-4],  # truncated
        _wkb_point(5, 5) + "00",  # trailing byte
        _wkb_point(5, 5, srid=3857),
        _wkb_point(float("nan"), float("nan")),  # POINT EMPTY
        "02" + _wkb_point(5, 5)[2:],  # bad byte order
        (bytes([1]) + struct.pack("<I", 2) + b"\x00" * 16).hex(),  # linestring
        (bytes([1]) + struct.pack("<II", 3, 0xFFFFFFF)).hex(),  # absurd ring count
        (bytes([1]) + struct.pack("<I", 1001) + b"\x00" * 24).hex(),  # ISO POINT Z
    ],
)
def test_hex_wkb_errors(text: str) -> None:
    with pytest.raises(SkyGeometryError):
        parse_wkb_hex(text)
    with pytest.raises(SkyGeometryError):
        parse_geometry(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_wkb_fuzz(data: bytes) -> None:
    try:
        result = parse_wkb_hex(data.hex())
    except SkyGeometryError:
        return
    assert isinstance(result, (Point, Polygon))


# --- GeoJSON ---------------------------------------------------------------------------------

UPSTREAM_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[156.30, -26.17], [156.30, -26.01], [156.47, -26.01], [156.47, -26.17], [156.30, -26.17]]
    ],
}


def test_geojson_polygon_round_trip_echoes_input() -> None:
    polygon = polygon_from_geojson(UPSTREAM_AREA)
    assert to_geojson(polygon) == UPSTREAM_AREA
    assert polygon_from_geojson(json.dumps(UPSTREAM_AREA)) == polygon
    assert parse_geometry(json.dumps(UPSTREAM_AREA)) == polygon


def test_geojson_keeps_ra_as_given() -> None:
    area = {
        "type": "Polygon",
        "coordinates": [[[350, -10], [350, 10], [10, 10], [10, -10], [350, -10]]],
    }
    assert to_geojson(polygon_from_geojson(area)) == area
    negative = {
        "type": "Polygon",
        "coordinates": [[[-10, -10], [-10, 10], [10, 10], [10, -10], [-10, -10]]],
    }
    assert to_geojson(polygon_from_geojson(negative)) == negative


def test_geojson_point_and_altitude() -> None:
    assert geometry_from_geojson({"type": "Point", "coordinates": [1, 2]}) == Point(1, 2)
    assert to_geojson(Point(1, 2)) == {"type": "Point", "coordinates": [1.0, 2.0]}
    with_altitude = {
        "type": "Polygon",
        "coordinates": [[[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 0, 5]]],
    }
    assert polygon_from_geojson(with_altitude).vertices == ((0, 0), (1, 0), (1, 1))


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "not json",
        '{"type": "Polygon"',
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        {"type": "Polygon"},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        {"type": "Polygon", "coordinates": [[["a", 0], [1, 0], [1, 1], ["a", 0]]]},
        {"type": "Polygon", "coordinates": [[[True, 0], [1, 0], [1, 1], [True, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]], [[0, 0]]]},
        {"type": "Polygon", "coordinates": [[0, 0, 1, 0, 1, 1, 0, 0]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 100], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, None], [0, 0]]]},
        {"type": "Polygon", "coordinates": "x"},
    ],
)
def test_geojson_errors(value: object) -> None:
    with pytest.raises(SkyGeometryError):
        polygon_from_geojson(value)  # type: ignore[arg-type]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-400, 400)
    | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(["type", "coordinates", "x"]), children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _JSON,
        st.builds(lambda c: {"type": "Polygon", "coordinates": c}, _JSON),
        st.builds(
            lambda ring: {"type": "Polygon", "coordinates": [ring + ring[:1]]},
            st.lists(
                st.lists(st.floats(-400, 400), min_size=2, max_size=2), min_size=1, max_size=8
            ),
        ),
    )
)
def test_geojson_fuzz(value: object) -> None:
    for strict in (True, False):
        try:
            result = polygon_from_geojson(value, strict=strict)  # type: ignore[arg-type]
        except SkyGeometryError:
            continue
        assert isinstance(result, Polygon)
