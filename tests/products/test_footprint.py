"""Footprints (checklist 34-36): fibre boxes and WCS polygons, across RA 0/360 and at poles."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.products import InvalidHeaderError, open_product
from obsarchive.products.footprint import PointingError, circle_box, footprint, wcs_corners
from obsarchive.products.synthetic import frame_header, write_fits, write_tar_bundle


def _unit(ra: float, dec: float) -> np.ndarray:
    ra_r, dec_r = math.radians(ra), math.radians(dec)
    return np.array(
        [math.cos(dec_r) * math.cos(ra_r), math.cos(dec_r) * math.sin(ra_r), math.sin(dec_r)]
    )


def inside(area: dict[str, Any], ra: float, dec: float) -> bool:
    """Is (ra, dec) inside the small convex spherical polygon (great-circle edges)?

    The point must lie on the same side of every edge as the polygon's own centre (the mean of
    its vertices), whatever the winding; the antipode of an inside point is then outside.
    """
    ring = [_unit(*corner) for corner in area["coordinates"][0][:-1]]
    centre = np.sum(ring, axis=0)
    point = _unit(ra, dec)
    for i in range(len(ring)):
        normal = np.cross(ring[i], ring[(i + 1) % len(ring)])
        if np.dot(normal, point) * np.dot(normal, centre) <= 0:
            return False
    return True


def separation(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in degrees."""
    return math.degrees(math.acos(min(1.0, float(np.dot(_unit(*a), _unit(*b))))))


def _wcs_headers(ra: float, dec: float, size: int = 2048, **extra: Any) -> dict[str, Any]:
    header = frame_header(basename="x", ra_deg=ra, dec_deg=dec, shape=(size, size))
    return {"NAXIS": 2, "NAXIS1": size, "NAXIS2": size, **dict(header), **extra}


# -- the fibre box -----------------------------------------------------------------------------


def test_circle_box_matches_upstream() -> None:
    area = footprint({"RADIUS": 5, "RA": "11:45:44.212", "DEC": "-80:01:44.56"})
    expected = [
        [176.432828, -80.027656],
        [176.435606, -80.027656],
        [176.435606, -80.030433],
        [176.432828, -80.030433],
        [176.432828, -80.027656],
    ]
    assert area is not None and area["type"] == "Polygon"
    for (ra, dec), (their_ra, their_dec) in zip(area["coordinates"][0], expected, strict=True):
        assert ra == pytest.approx(their_ra, abs=1e-6)
        assert dec == pytest.approx(their_dec, abs=1e-6)


def test_circle_box_wraps_ra_into_0_360() -> None:
    """Upstream gives [[-1, 1], [1, 1], [1, -1], [-1, -1], [-1, 1]]; the same box mod 360."""
    area = footprint({"RADIUS": 3600, "RA": 0, "DEC": 0})
    assert area is not None
    ring = area["coordinates"][0]
    assert ring == [[359.0, 1.0], [1.0, 1.0], [1.0, -1.0], [359.0, -1.0], [359.0, 1.0]]
    assert inside(area, 0.0, 0.0)
    assert not inside(area, 180.0, 0.0)


@pytest.mark.parametrize("dec", [89.9995, -89.9995])
def test_circle_box_around_a_pole(dec: float) -> None:
    area = footprint({"RADIUS": 5, "RA": "06:00:00", "DEC": dec})
    assert area is not None
    ring = area["coordinates"][0]
    assert all(-90 <= lat <= 90 for _, lat in ring)
    assert all(0 <= lon < 360 for lon, _ in ring)
    assert inside(area, 0.0, math.copysign(90.0, dec))  # the pole
    assert inside(area, 90.0, dec)  # the pointing


def test_tiny_box_at_ra_zero_stays_below_360() -> None:
    corners = circle_box(0, 0, 1e-13)
    assert all(0 <= ra < 360 for ra, _ in corners)


def test_circle_box_numbers_are_hours() -> None:
    (ra, _), *_ = circle_box(1, 0, 0)
    assert ra == pytest.approx(15.0)


@pytest.mark.parametrize(
    "values",
    [
        {"RADIUS": 5, "RA": "abc", "DEC": 0},
        {"RADIUS": 5, "RA": 0, "DEC": "north"},
        {"RADIUS": "wide", "RA": 0, "DEC": 0},
        {"RADIUS": -1, "RA": 0, "DEC": 0},
        {"RADIUS": 5, "RA": 0, "DEC": 91},
        {"RADIUS": 5, "RA": True, "DEC": 0},
    ],
)
def test_unreadable_pointing(values: dict[str, Any]) -> None:
    assert footprint(values) is None
    with pytest.raises(PointingError):
        footprint(values, strict=True)


@pytest.mark.parametrize("missing", ["RADIUS", "RA", "DEC"])
def test_unset_pointing_value_means_no_box(missing: str) -> None:
    values: dict[str, Any] = {"RADIUS": 5, "RA": "11:45:44.212", "DEC": "-80:01:44.56"}
    values[missing] = ""
    assert footprint(values) is None


def test_bad_pointing_in_a_product_is_a_header_error(tmp_path: Path) -> None:
    path = write_tar_bundle(tmp_path, extra_headers={"RA": "abc"})
    with pytest.raises(InvalidHeaderError, match="RA 'abc'") as caught:
        open_product(path)
    assert path.name in str(caught.value)


# -- the WCS polygon ---------------------------------------------------------------------------


def test_linear_wcs_without_sky_axes_has_no_footprint() -> None:
    """Checklist 35's linear case: upstream returns [[8, 7], [2206, 4403], ...] (not a sky
    position); we return None (docs/compatibility.md)."""
    headers = {"CD1_1": 6, "CD1_2": 2, "CD2_1": 3, "CD2_2": 4, "NAXIS1": 1000, "NAXIS2": 1100}
    assert footprint(headers) is None


def test_tan_wcs_polygon() -> None:
    headers = _wcs_headers(150.0, 2.0, size=1000)
    area = footprint(headers)
    assert area is not None
    ring = area["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert inside(area, 150.0, 2.0)
    # Corner pixels 1 and 1000 are 999 pixels apart: half the diagonal at 0.389"/pixel.
    half_diagonal = 999 * 0.389 / 3600 / math.sqrt(2)
    for corner in ring[:-1]:
        assert separation(tuple(corner), (150.0, 2.0)) == pytest.approx(half_diagonal, rel=1e-4)


@pytest.mark.parametrize("naxis3", [1, 0, "x"])
def test_cubes_have_no_footprint(naxis3: object) -> None:
    assert footprint(_wcs_headers(150.0, 2.0, NAXIS3=naxis3)) is None


def test_partial_cd_matrix_has_no_footprint() -> None:
    headers = _wcs_headers(150.0, 2.0)
    del headers["CD2_2"]
    assert footprint(headers) is None


@pytest.mark.parametrize(
    "change",
    [
        {"CTYPE1": "RA---XYZ"},
        {"CRVAL1": "abc"},
        {"CRPIX2": math.nan},
        {"CD1_1": "abc"},
        {"CD1_2": True},
        {"CTYPE1": 5},
        {"CD1_1": 0.0, "CD1_2": 0.0, "CD2_1": 0.0, "CD2_2": 0.0},
        {"CTYPE1": "RA---TAN", "CTYPE2": "RA---TAN"},
        {"NAXIS1": 0},
        {"NAXIS1": "big"},
    ],
)
def test_malformed_wcs_has_no_footprint(change: dict[str, Any]) -> None:
    assert footprint(_wcs_headers(150.0, 2.0) | change) is None


def test_cdelt_crota_wcs_matches_the_cd_matrix() -> None:
    """A WCS written with CDELT/CROTA2 gives the same corners as its CD-matrix equivalent."""
    rotation = 30.0
    cd = _wcs_headers(150.0, 2.0, size=1000)
    scale = 0.389 / 3600
    angle = math.radians(rotation)
    # CD = CDELT x rotation(CROTA2), with CDELT1 = -scale and CDELT2 = scale.
    cd.update(
        CD1_1=-scale * math.cos(angle),
        CD1_2=-scale * math.sin(angle),
        CD2_1=-scale * math.sin(angle),
        CD2_2=scale * math.cos(angle),
    )
    cdelt = {k: v for k, v in cd.items() if not k.startswith("CD")}
    cdelt.update(CDELT1=-scale, CDELT2=scale, CROTA2=rotation)
    ours, theirs = wcs_corners(cdelt), wcs_corners(cd)
    assert ours is not None and theirs is not None
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_swapped_axes_still_give_ra_then_dec() -> None:
    headers = _wcs_headers(150.0, 60.0, size=500)
    swapped = dict(headers)
    swapped.update(
        CTYPE1="DEC--TAN", CTYPE2="RA---TAN", CRVAL1=60.0, CRVAL2=150.0,
        CD1_1=headers["CD2_2"], CD2_2=headers["CD1_1"], CD1_2=0.0, CD2_1=0.0,
    )  # fmt: skip
    area = footprint(swapped)
    assert area is not None
    assert all(
        abs(ra - 150.0) < 0.1 and abs(dec - 60.0) < 0.1 for ra, dec in area["coordinates"][0]
    )


@pytest.mark.parametrize("ra", [0.01, 359.99, 0.0])
def test_wcs_across_ra_zero(ra: float) -> None:
    area = footprint(_wcs_headers(ra, 10.0))
    assert area is not None
    ring = area["coordinates"][0]
    assert all(0 <= lon < 360 for lon, _ in ring)
    assert {lon > 180 for lon, _ in ring} == {True, False}  # corners on both sides of 0h
    assert inside(area, ra, 10.0)
    assert not inside(area, ra + 180.0, 10.0)
    # Each edge is short on the sphere, so the polygon is the small frame, not its complement.
    for a, b in itertools.pairwise(ring):
        assert separation(tuple(a), tuple(b)) < 0.3


@pytest.mark.parametrize("dec", [89.95, -89.95])
def test_wcs_containing_a_pole(dec: float) -> None:
    area = footprint(_wcs_headers(45.0, dec, size=2048))  # 0.22 degrees wide
    assert area is not None
    ring = area["coordinates"][0]
    assert all(-90 <= lat <= 90 for _, lat in ring)
    assert inside(area, 0.0, math.copysign(90.0, dec))
    assert inside(area, 45.0, dec)


def test_synthetic_product_footprint_is_centred(tmp_path: Path) -> None:
    path = write_fits(tmp_path, ra_deg=0.001, dec_deg=-30.0, shape=(200, 300), rotation_deg=45)
    area = open_product(path).record().area
    assert area is not None
    assert inside(area, 0.001, -30.0)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["RA---TAN", "DEC--TAN", "RA---SIN", "GLON-CAR", "deg", "12:00:00"]),
)
_keys = st.sampled_from(
    [
        "NAXIS1", "NAXIS2", "NAXIS3", "CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2",
        "CD1_1", "CD1_2", "CD2_1", "CD2_2", "CDELT1", "CDELT2", "CROTA2", "PC1_1", "CUNIT1",
        "RADIUS", "RA", "DEC", "A_ORDER", "PV2_1", "LONPOLE", "EQUINOX",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=14), st.booleans())
def test_footprint_never_raises(changes: dict[str, Any], start_from_wcs: bool) -> None:
    headers = _wcs_headers(10.0, 20.0, size=100) if start_from_wcs else {}
    area = footprint({**headers, **changes})
    if area is not None:
        ring = area["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        assert all(math.isfinite(v) for corner in ring for v in corner)
        assert all(0 <= lon < 360 and -90 <= lat <= 90 for lon, lat in ring)
