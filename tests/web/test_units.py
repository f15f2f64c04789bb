"""Pure parts of the web interface: coordinates, the canonical query, the named-object table,
the sky plot's geometry, FITS card order, exports and configuration."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from django.http import QueryDict

from obsarchive.config import ConfigurationError
from obsarchive.server.web.config import WebSettings, load_web_settings
from obsarchive.server.web.coords import (
    CoordinateError,
    format_dec,
    format_degrees,
    format_ra,
    parse_dec,
    parse_position,
    parse_ra,
    parse_radius,
)
from obsarchive.server.web.exports import COLUMNS, csv_chunks, json_chunks, votable_chunks
from obsarchive.server.web.headers import card_order, ordered_header
from obsarchive.server.web.query import canonical_query, same_query
from obsarchive.server.web.resolver import footprint_centre, local_objects, normalise_name
from obsarchive.server.web.skyplot import sky_plot

# -- coordinates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "degrees"),
    [
        ("150.1", 150.1),
        ("150.1d", 150.1),
        ("10:00:24", 150.1),
        ("10 00 24", 150.1),
        ("10h00m24s", 150.1),
        ("10.006666666666666h", 150.1),
        ("-10", 350.0),
        ("360", 0.0),
        ("23:59:59.99", 359.99995833),
    ],
)
def test_ra(text: str, degrees: float) -> None:
    assert parse_ra(text) == pytest.approx(degrees, abs=1e-7)


@pytest.mark.parametrize(
    ("text", "degrees"),
    [
        ("2.2", 2.2),
        ("+02:12:00", 2.2),
        ("-00:30:00", -0.5),
        ("\u221200 30 00", -0.5),  # a typographic minus
        ("2d12m", 2.2),
        ("-89:59:59.9", -89.99997222),
    ],
)
def test_dec(text: str, degrees: float) -> None:
    assert parse_dec(text) == pytest.approx(degrees, abs=1e-7)


@pytest.mark.parametrize(
    "text", ["", "abc", "25:00:00", "10:61:00", "-10:00:00h", "400", "ten o'clock"]
)
def test_bad_ra(text: str) -> None:
    with pytest.raises(CoordinateError):
        parse_ra(text)


@pytest.mark.parametrize("text", ["91", "-90.5", "+91:00:00", "north"])
def test_bad_dec(text: str) -> None:
    with pytest.raises(CoordinateError):
        parse_dec(text)


def test_positions_and_radii() -> None:
    assert parse_position("10:00:24 +02:12:00") == pytest.approx((150.1, 2.2))
    assert parse_position("150.1, 2.2") == pytest.approx((150.1, 2.2))
    assert parse_position("10 00 24 +02 12 00") == pytest.approx((150.1, 2.2))
    with pytest.raises(CoordinateError):
        parse_position("150.1")
    assert parse_radius("5'") == pytest.approx(5 / 60)
    assert parse_radius("5 arcmin") == pytest.approx(5 / 60)
    assert parse_radius('30"') == pytest.approx(30 / 3600)
    assert parse_radius("0.1") == pytest.approx(0.1)
    for bad in ("0", "-1", "181", "5 parsecs"):
        with pytest.raises(CoordinateError):
            parse_radius(bad)


def test_formatting_round_trips() -> None:
    assert format_ra(150.1) == "10:00:24.00"
    assert format_dec(-0.5) == "-00:30:00.0"
    assert format_dec(0.0) == "+00:00:00.0"
    assert format_ra(359.99999999) == "00:00:00.00"  # rounds up to a whole turn
    assert format_degrees(150.1000004) == "150.1"
    assert format_degrees(-0.0000001) == "0"
    for value in (0.0, 12.345678, 359.5):
        assert parse_ra(format_ra(value)) == pytest.approx(value, abs=1e-4)


# -- the canonical query ---------------------------------------------------------------------------


def test_canonical_query() -> None:
    raw = QueryDict(
        "start=&site_id=cpt&name=M31&ra=10:00:24&dec=%2B02:12:00&radius=6'&public=only&offset=0"
        "&limit=100&covers=POINT(1 2)"
    )
    query = canonical_query(raw, default_limit=100)
    assert query.errors == {}
    assert query.name == "M31" and not query.wants_resolution  # ra/dec given, no Resolve
    assert same_query(
        query.params,
        QueryDict("site_id=cpt&ra=150.1&dec=2.2&radius=0.1&public_only=true&covers=POINT(1 2)"),
    )
    assert canonical_query(QueryDict("name=M31")).wants_resolution
    assert canonical_query(QueryDict("name=M31&ra=1&dec=2&resolve=1")).wants_resolution
    combined = canonical_query(QueryDict("ra=10:00:24 %2B02:12:00"))
    assert (combined.params["ra"], combined.params["dec"]) == ("150.1", "2.2")
    bad = canonical_query(QueryDict("ra=nowhere&radius=huge"))
    assert set(bad.errors) == {"ra", "radius"}
    assert bad.params["ra"] == "nowhere"  # kept as typed, for the form


# -- the named objects -------------------------------------------------------------------------


def test_the_named_object_table_is_consistent() -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord, get_constellation

    table = local_objects()
    objects = list({id(entry): entry for entry in table.values()}.values())
    assert 250 <= len(objects) <= 400
    assert {f"m{i}" for i in range(1, 111)} <= set(table)  # the whole Messier catalogue
    coords = SkyCoord([o.ra for o in objects] * u.deg, [o.dec for o in objects] * u.deg)
    found = get_constellation(coords, short_name=True)
    wrong = [
        (o.name, o.constellation, c)
        for o, c in zip(objects, found, strict=True)
        if o.constellation != c
    ]
    assert wrong == []
    # Every name and alias points at one object only.
    aliases = [normalise_name(alias) for o in objects for alias in o.aliases]
    assert len(aliases) == len(set(aliases))


def test_known_positions() -> None:
    table = local_objects()
    m31 = table[normalise_name("Andromeda Galaxy")]
    assert (m31.ra, m31.dec) == pytest.approx((10.6846, 41.2692), abs=2e-3)
    assert table[normalise_name("NGC 224")] is m31
    assert table[normalise_name("Messier 031")] is m31
    assert table["ngc1976"] is table["m42"]
    omega = table[normalise_name("Omega Centauri")]
    assert (omega.ra, omega.dec) == pytest.approx((201.697, -47.4795), abs=2e-3)


def test_footprint_centres_across_ra_zero_and_at_the_pole() -> None:
    wrap = {
        "type": "Polygon",
        "coordinates": [[[359.9, -0.1], [0.1, -0.1], [0.1, 0.1], [359.9, 0.1], [359.9, -0.1]]],
    }
    ra, dec = footprint_centre(wrap)
    assert min(ra, 360 - ra) < 1e-6 and dec == pytest.approx(0.0, abs=1e-9)
    pole = {"type": "Polygon", "coordinates": [[[0, 89.5], [90, 89.5], [180, 89.5], [270, 89.5]]]}
    assert footprint_centre(pole)[1] == pytest.approx(90.0)
    assert footprint_centre({"type": "Polygon"}) is None
    assert footprint_centre(None) is None


# -- the sky plot ---------------------------------------------------------------------------------


def _box(ra: float, dec: float, half: float) -> dict:
    ring = [
        [ra - half, dec - half],
        [ra + half, dec - half],
        [ra + half, dec + half],
        [ra - half, dec + half],
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _points(shape_points: str) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in shape_points.split()]


def test_tangent_plot_puts_east_left_and_north_up() -> None:
    rows = [
        {"id": 1, "basename": "east", "area": _box(150.2, 2.0, 0.05)},
        {"id": 2, "basename": "north", "area": _box(150.0, 2.2, 0.05)},
    ]
    plot = sky_plot(rows, cone=(150.0, 2.0, 0.3))
    assert plot is not None and plot.mode == "tangent"
    east, north = (_points(shape.polygons[0]) for shape in plot.shapes)
    cx, cy, r = plot.circle
    assert (cx, cy) == pytest.approx((plot.size / 2, plot.size / 2))
    assert max(x for x, _ in east) < cx  # east is left of the centre
    assert max(y for _, y in north) < cy  # north is up (smaller y)
    assert 0 < r < plot.size / 2


def test_plot_across_ra_zero_and_all_sky() -> None:
    rows = [
        {"id": 1, "basename": "a", "area": _box(359.95, 0.0, 0.04)},
        {"id": 2, "basename": "b", "area": _box(0.05, 0.0, 0.04)},
    ]
    plot = sky_plot(rows)
    assert plot is not None and plot.mode == "tangent"
    xs = [x for shape in plot.shapes for x, _ in _points(shape.polygons[0])]
    assert max(xs) - min(xs) < plot.size  # one compact picture, not split across the sky
    spread = [
        {"id": 1, "basename": "a", "area": _box(359.97, 0.0, 0.1)},  # across RA = 0
        {"id": 3, "basename": "c", "area": _box(180.0, -60.0, 0.1)},
    ]
    allsky = sky_plot(spread)
    assert allsky is not None and allsky.mode == "allsky"
    wrapped = next(shape for shape in allsky.shapes if shape.frame_id == 1)
    assert len(wrapped.polygons) == 2  # drawn at both edges of the map
    assert wrapped.marker is not None  # too small to see: a dot marks it
    assert sky_plot([{"id": 4, "basename": "d", "area": None}]) is None


# -- FITS card order ---------------------------------------------------------------------------


def test_card_order_of_a_compressed_file_is_the_files() -> None:
    from astropy.io import fits

    from tests.web.seed import seed_specs

    data = seed_specs()[0].fits_bytes(7).getvalue()
    with fits.open(io.BytesIO(data)) as hdus:
        presented = [key for key in hdus[1].header if key]
    with fits.open(io.BytesIO(data), disable_image_compression=True) as hdus:
        raw = [key for key in hdus[1].header if key]
    order = card_order(io.BytesIO(data))
    # astropy moves the scaling keywords of a compressed image to the end; the file keeps
    # them where they were written, and that is the order shown.
    assert raw.index("EXTNAME") < raw.index("BZERO") < raw.index("ORIGIN")
    assert order.index("EXTNAME") < order.index("BZERO") < order.index("ORIGIN")
    expected = [key for key in presented if key not in ("BSCALE", "BZERO")]
    positions = [order.index(key) for key in expected]
    assert positions == sorted(positions)
    record = {key: 1 for key in reversed(presented)}  # as PostgreSQL's jsonb may return them
    shown = [key for key, _ in ordered_header(record, order)]
    assert [key for key in shown if key not in ("BSCALE", "BZERO")] == expected


def test_card_order_stops_at_its_budget_and_on_garbage() -> None:
    assert card_order(io.BytesIO(b"")) == []
    assert card_order(io.BytesIO(b"not a fits file" * 1000)) != []  # no crash, some keys
    endless = io.BytesIO(b"COMMENT " + b" " * 72)
    assert len(card_order(endless, max_bytes=2880)) <= 1


# -- exports -------------------------------------------------------------------------------------


ROWS = [
    {
        "id": 7,
        "basename": 'odd, "quoted" <name> & co',
        "filename": "x.fits.fz",
        "observation_date": "2026-01-01T00:00:00Z",
        "area": _box(10.0, 20.0, 0.1),
        "exposure_time": None,
        "reduction_level": 91,
        "observation_id": None,
    }
]


def test_csv_and_json_exports() -> None:
    text = "".join(csv_chunks(iter([ROWS, []])))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [c.name for c in COLUMNS] == list(rows[0])
    assert rows[0]["basename"] == ROWS[0]["basename"]
    assert float(rows[0]["ra"]) == pytest.approx(10.0, abs=1e-6)
    assert rows[0]["exposure_time"] == ""
    assert json.loads("".join(json_chunks(iter([ROWS, ROWS])))) == ROWS * 2
    assert json.loads("".join(json_chunks(iter([])))) == []


def test_votable_export_parses_with_astropy() -> None:
    from astropy.io.votable import parse_single_table

    text = "".join(
        votable_chunks(iter([ROWS]), description="test & <more>", query="/frames/?a=1&b=2")
    )
    table = parse_single_table(io.BytesIO(text.encode())).to_table()
    assert list(table["id"]) == [7]
    assert table["basename"][0] == ROWS[0]["basename"]
    assert table["dec"].unit == "deg" and table["dec"][0] == pytest.approx(20.0, abs=1e-4)
    assert bool(table["exposure_time"].mask[0]) and bool(table["observation_id"].mask[0])
    assert math.isclose(float(table["ra"][0]), 10.0, abs_tol=1e-6)


# -- configuration --------------------------------------------------------------------------------


def test_configuration() -> None:
    assert load_web_settings({}) == WebSettings()
    loaded = load_web_settings(
        {
            "RESOLVER_URL": "https://example.org/sesame/",
            "RESOLVER_TIMEOUT": "2.5",
            "UI_PAGE_SIZES": "50,10",
        }
    )
    assert loaded.resolver_timeout == 2.5 and loaded.page_sizes == (10, 50)
    for environ, variable in (
        ({"RESOLVER_URL": "ftp://x"}, "RESOLVER_URL"),
        ({"RESOLVER_TIMEOUT": "soon"}, "RESOLVER_TIMEOUT"),
        ({"RESOLVER_TIMEOUT": "nan"}, "RESOLVER_TIMEOUT"),
        ({"UI_PAGE_SIZES": "0"}, "UI_PAGE_SIZES"),
        ({"UI_ZIP_MAX_FRAMES": "0"}, "UI_ZIP_MAX_FRAMES"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            load_web_settings(environ)
        assert caught.value.variable == variable
