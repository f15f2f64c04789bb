"""Rules the web interface shares instead of repeating: the typed environment reader behind
its settings, and the spherical helpers behind the resolver and the sky plot."""

from __future__ import annotations

import math

import pytest

from obsarchive.config import ConfigurationError
from obsarchive.server.web.config import WebSettings, load_web_settings
from obsarchive.server.web.sphere import footprint_ring, mean_direction, unit_vector


def test_web_settings_read_through_the_env_reader() -> None:
    loaded = load_web_settings(
        {
            "RESOLVER_URL": "  https://resolver.example/sesame?{name}  ",
            "RESOLVER_CACHE_SECONDS": "0",
            "UI_ZIP_MAX_FRAMES": " 7 ",
            "UI_PAGE_SIZES": "10, 10,5,",
            "RESOLVER_TIMEOUT": "",
        }
    )
    assert loaded == WebSettings(
        resolver_url="https://resolver.example/sesame?{name}",
        resolver_cache_seconds=0,
        zip_max_frames=7,
        page_sizes=(5, 10),
    )
    assert load_web_settings({"UI_PAGE_SIZES": "  ", "RESOLVER_URL": " "}) == WebSettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RESOLVER_URL", "http://"),  # a scheme but no host to ask
        ("RESOLVER_URL", "resolver.example"),
        ("RESOLVER_TIMEOUT", "inf"),
        ("RESOLVER_TIMEOUT", "0.05"),
        ("RESOLVER_CACHE_SECONDS", "-1"),
        ("RESOLVER_CACHE_SECONDS", "1.5"),
        ("UI_ZIP_MAX_FRAMES", "many"),
        ("UI_PAGE_SIZES", ","),
        ("UI_PAGE_SIZES", "10,x"),
        ("UI_PAGE_SIZES", "-5,10"),
    ],
)
def test_bad_web_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_web_settings({variable: value})
    assert caught.value.variable == variable


def test_footprint_ring_is_lenient() -> None:
    closed = {"type": "Polygon", "coordinates": [[[-10, 1], [10, 1], [10, 2], [-10, 1]]]}
    assert footprint_ring(closed) == [(-10.0, 1.0), (10.0, 1.0), (10.0, 2.0)]  # RA not wrapped
    holed = {"coordinates": [[[1, 1], ["nan", 2], [3, "inf"], [4, 4]]]}
    assert footprint_ring(holed) == [(1.0, 1.0), (4.0, 4.0)]
    broken: object
    for broken in (None, {}, {"coordinates": []}, {"coordinates": [[["a", 1]]]}, "text"):
        assert footprint_ring(broken) == []


def test_mean_direction() -> None:
    assert mean_direction([]) is None
    assert mean_direction([(10.0, 20.0), (190.0, -20.0)]) is None  # antipodes cancel
    across = mean_direction(iter([(359.0, 0.0), (1.0, 0.0)]))  # any iterable, across RA 0
    assert across is not None
    ra, dec = across
    assert min(ra, 360.0 - ra) < 1e-9 and dec == pytest.approx(0.0, abs=1e-9)
    assert mean_direction([(-30.0, 45.0)]) == pytest.approx((330.0, 45.0))
    pole = mean_direction([(0.0, 89.0), (180.0, 89.0)])  # RA is arbitrary there
    assert pole is not None and pole[1] == pytest.approx(90.0)
    x, y, z = unit_vector(90.0, 0.0)
    assert (x, y, z) == pytest.approx((0.0, 1.0, 0.0), abs=1e-12)
    assert math.isclose(sum(c * c for c in unit_vector(123.0, -45.0)), 1.0)
