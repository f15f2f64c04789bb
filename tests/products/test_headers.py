"""Header normalisation as pure functions (checklist 23-25, 33) and JSON safety."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given
from hypothesis import strategies as st

from obsarchive.config import HeaderKeys
from obsarchive.products.headers import (
    frame_fields,
    is_set,
    json_safe,
    missing_keys,
    normalise_null_values,
    normalise_related_frames,
    parse_reduction_level,
    related_frames,
    remove_blacklisted,
    repair_observation_day,
)

KEYS = HeaderKeys()
NULLS = ("N/A", "UNSPECIFIED", "UNKNOWN")


def test_is_set() -> None:
    assert is_set(0) and is_set(False) and is_set("x")
    assert not is_set(None) and not is_set("")


def test_null_values_by_key_type() -> None:
    headers = {
        "OBJECT": "UNKNOWN",
        "PROPID": "N/A",
        "BLKUID": "N/A",
        "REQNUM": "UNSPECIFIED",
        "INSTRUME": "fl03",
        "FILTER": "unknown",  # matching is case-sensitive
    }
    result = normalise_null_values(headers, NULLS, KEYS.integer_types)
    assert result == {
        "OBJECT": "",
        "PROPID": "",
        "BLKUID": None,
        "REQNUM": None,
        "INSTRUME": "fl03",
        "FILTER": "unknown",
    }
    assert headers["OBJECT"] == "UNKNOWN"  # not mutated


@pytest.mark.parametrize("value", ["None", "NONE", "nonexistent", "xNoNex"])
def test_integer_keys_containing_none_become_null(value: str) -> None:
    for key in ("REQNUM", "TRACKNUM", "MOLUID", "BLKUID"):
        assert normalise_null_values({key: value}, NULLS, KEYS.integer_types) == {key: None}
    assert normalise_null_values({"OBJECT": value}, NULLS, KEYS.integer_types) == {"OBJECT": value}


def test_integer_keys_follow_the_configured_header_keys() -> None:
    keys = HeaderKeys(request_id="REQID")
    assert normalise_null_values({"REQID": "N/A"}, NULLS, keys.integer_types) == {"REQID": None}
    assert normalise_null_values({"REQNUM": "N/A"}, NULLS, keys.integer_types) == {"REQNUM": ""}


def test_blacklist_always_drops_blank_key() -> None:
    headers = {"FOO": 1, "BAZ": 2, "": "blank", "COMMENT": "c"}
    assert remove_blacklisted(headers, ["FOO"]) == {"BAZ": 2, "COMMENT": "c"}
    assert remove_blacklisted(headers, []) == {"FOO": 1, "BAZ": 2, "COMMENT": "c"}


def test_related_frames_are_reduced_to_basenames() -> None:
    related = ("L1IDBIAS", "L1IDDARK", "L1IDFLAT", "TARFILE", "L1IDMASK")
    headers = {
        "L1IDBIAS": "/a/b/bias_x.fits.fz",
        "L1IDDARK": "dir/dark",
        "L1IDFLAT": "N/A",
        "TARFILE": "x.tar.gz",
        "L1IDMASK": "",
    }
    result = normalise_related_frames(headers, related)
    assert result["L1IDBIAS"] == "bias_x"
    assert result["L1IDDARK"] == "dir/dark"
    assert result["TARFILE"] == "x"
    assert result["L1IDFLAT"] == "N/A"
    assert related_frames(result, related) == ("bias_x", "dir/dark", "N/A", "x")


def test_related_frames_keep_key_order_and_duplicates() -> None:
    headers = {"ORIGNAME": "a", "L1IDBIAS": "b", "L1IDCAT": "a"}
    assert related_frames(headers, ("L1IDBIAS", "L1IDCAT", "ORIGNAME")) == ("b", "a", "a")


@pytest.mark.parametrize(
    ("date", "day"),
    [
        ("2020-01-31T20:09:56.956", "20200131"),
        ("2020-01-31", "20200131"),
        ("2020-01-31 20:09:56", "20200131"),  # upstream: "20200131 20:09:56"
    ],
)
def test_observation_day_from_date(date: str, day: str) -> None:
    for existing in ({}, {"DAY-OBS": ""}, {"DAY-OBS": None}):
        result = repair_observation_day({"DATE-OBS": date, **existing}, KEYS)
        assert result["DAY-OBS"] == day


def test_observation_day_kept_when_set() -> None:
    headers = {"DATE-OBS": "2015-11-10T08:01:07.021", "DAY-OBS": "20151109"}
    assert repair_observation_day(headers, KEYS)["DAY-OBS"] == "20151109"
    assert "DAY-OBS" not in repair_observation_day({}, KEYS)


@pytest.mark.parametrize(
    ("value", "level"), [(91, 91), ("91", 91), (" 10 ", 10), (0, 0), (90.0, 90), ("-1", -1)]
)
def test_reduction_level_parses(value: object, level: int) -> None:
    assert parse_reduction_level(value) == level


@pytest.mark.parametrize("value", ["abc", "", None, True, 91.5, "9 1", "N/A"])
def test_reduction_level_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        parse_reduction_level(value)


def test_missing_keys_is_presence_only() -> None:
    assert missing_keys({"A": "", "B": None}, ["A", "B", "C"]) == ["C"]


def test_frame_fields_defaults() -> None:
    fields = frame_fields({}, KEYS, ("L1IDBIAS",))
    assert fields == {
        "observation_day": None,
        "observation_date": None,
        "proposal_id": "",
        "instrument_id": "",
        "target_name": "",
        "site_id": "",
        "telescope_id": "",
        "exposure_time": None,
        "primary_optical_element": "",
        "public_date": None,
        "configuration_type": "",
        "observation_id": None,
        "request_id": None,
        "related_frame_filenames": (),
        "frame_basename": None,
        "size": "",
    }


def test_frame_fields_follow_configured_keys() -> None:
    keys = HeaderKeys(site_id="SITE", target_name="TARGET")
    fields = frame_fields({"SITE": "ogg", "TARGET": "M31", "SITEID": "no"}, keys, ())
    assert (fields["site_id"], fields["target_name"]) == ("ogg", "M31")


def test_json_safe_conversions() -> None:
    header = fits.Header()
    header.add_comment("first")
    header.add_comment("second")
    commentary = header["COMMENT"]
    assert json_safe(commentary) == "first\nsecond"
    assert json_safe(math.nan) is None
    assert json_safe(math.inf) is None
    assert json_safe(np.float32(1.5)) == 1.5
    assert json_safe(np.int64(7)) == 7 and type(json_safe(np.int64(7))) is int
    assert json_safe(np.bool_(True)) is True
    assert json_safe(complex(1, 2)) == "(1+2j)"
    assert json_safe(dt.datetime(2020, 1, 31, 20, 9)) == "2020-01-31T20:09:00"
    assert json_safe(dt.date(2020, 1, 31)) == "2020-01-31"
    assert json_safe(Decimal("1.25")) == 1.25
    assert json_safe(fits.card.UNDEFINED) is None
    assert json_safe(True) is True and json_safe("x") == "x" and json_safe(None) is None


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(),
        st.complex_numbers(allow_nan=True),
        st.datetimes(),
        st.decimals(allow_nan=True),
    )
)
def test_json_safe_is_always_serialisable(value: object) -> None:
    json.dumps(json_safe(value), allow_nan=False)
