"""Bad input never yields a 500: the reference's defect appendix and fuzzed requests.

Hypothesis sends random values for every parameter the frames endpoints read, and random
payloads to the ingest endpoints; every answer must be a 2xx/4xx with a JSON body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.server.frames.models import Frame, Headers
from tests.server.factories import PAST, box_area, frame_payload, frame_record, new_version

pytestmark = pytest.mark.django_db

FRAME_PARAMETERS = [
    "start", "end", "DATE_OBS", "DAY_OBS", "dayobs", "basename", "basename_exact", "OBJECT",
    "target_name", "target_name_exact", "empty_target_name", "L1PUBDAT", "public", "EXPTIME",
    "exposure_time", "OBSTYPE", "configuration_type", "PROPID", "proposal_id", "INSTRUME",
    "instrument_id", "SITEID", "site_id", "TELID", "telescope_id", "FILTER",
    "primary_optical_element", "BLKUID", "observation_id", "REQNUM", "request_id", "RLEVEL",
    "reduction_level", "submitter", "exclude_OBSTYPE", "exclude_configuration_type",
    "include_configuration_type", "exclude_calibrations", "covers", "intersects", "ra", "dec",
    "radius", "ordering", "limit", "offset", "pagination_style", "cursor", "force_count",
    "include_related_frames", "include_thumbnails",
]  # fmt: skip
AGGREGATE_PARAMETERS = [
    "start", "end", "public", "site_id", "telescope_id", "primary_optical_element",
    "instrument_id", "configuration_type", "proposal_id", "query_timeout", "aggregate_field",
]  # fmt: skip
THUMBNAIL_PARAMETERS = [
    "frame_basename", "proposal_id", "observation_id", "request_id", "size", "limit", "offset",
]  # fmt: skip

SPECIAL_VALUES = [
    "", " ", "\x00", "nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "1", "99999999999999999999",
    "-99999999999999999999", "9223372036854775808", "1.5", "true", "FALSE", "null",
    "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2020-13-45", "2020-01-01",
    "20200101", "01/15/2020", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00",
    "POINT(5)", "POINT(1,2)", "POINT(a b)", "POINT(1e400 0)", "POINT(0 91)", "POINT(nan nan)",
    "POLYGON((0 0, 1 1))", "POLYGON((0 0, 0 1, 1 1, 1 0, 0 0))", "POLYGON((0 0,0 0,0 0,0 0))",
    "SRID=4326;POINT(1 2)", "0101000000000000000000F03F000000000000F03F",
    '{"type": "Point", "coordinates": [1, 2]}', '{"type": "Point"', "-id,nonsense,,",
    "cursor", "eyJ2IjogWzFdLCAiciI6IGZhbHNlfQ", "eyJ2IjogW251bGwsIG51bGxdLCAiciI6IDF9",
    "EXPOSE", "BIAS", "small", "%", "_", "'", '"', "\\", "é", "💫",
]  # fmt: skip

values = st.one_of(
    st.sampled_from(SPECIAL_VALUES),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _assert_clean(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code != 204 and response.status_code != 301:
        json.loads(response.content)  # every answer is JSON, including errors


@pytest.fixture
def fuzz_frames(world: Any, ingest: Any) -> Frame:
    frame = ingest(frame_payload(area=box_area(0, 0, 10, 10), proposal_id="PROP-A"))
    ingest(frame_payload(exposure_time=None, related=(frame.basename,)))
    return frame


@FUZZ
@given(params=st.dictionaries(st.sampled_from(FRAME_PARAMETERS), values, max_size=6))
def test_fuzzed_frame_searches_never_fail(world: Any, fuzz_frames: Frame, params: dict) -> None:
    for client in (world.anon, world.client(world.member)):
        _assert_clean(client.get("/frames/", params))
    _assert_clean(world.anon.get(f"/frames/{fuzz_frames.pk}/", params))
    _assert_clean(world.anon.get(f"/frames/{fuzz_frames.pk}/related/", params))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(AGGREGATE_PARAMETERS), values, max_size=5))
def test_fuzzed_aggregates_never_fail(world: Any, fuzz_frames: Frame, params: dict) -> None:
    response = world.anon.get("/frames/aggregate/", params)
    assert response.status_code < 500 or response.json() in (
        "Aggregate over everything have not been generated yet. Try again later.",
        {
            "detail": "Aggregation query timed out. Either try narrowing the search space by "
            "adding more filters or increase the timeout."
        },
    )


@FUZZ
@given(
    params=st.dictionaries(st.sampled_from(THUMBNAIL_PARAMETERS), values, max_size=4),
    md5=values,
)
def test_fuzzed_thumbnail_and_version_lists_never_fail(
    world: Any, fuzz_frames: Frame, params: dict, md5: str
) -> None:
    _assert_clean(world.anon.get("/thumbnails/", params))
    _assert_clean(world.client(world.staff).get("/versions/", {"md5": md5, **params}))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
        st.sampled_from(SPECIAL_VALUES),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
PAYLOAD_FIELDS = [
    "basename", "area", "version_set", "headers", "related_frame_filenames", "observation_day",
    "configuration_type", "observation_date", "public_date", "reduction_level", "proposal_id",
    "instrument_id", "target_name", "site_id", "telescope_id", "primary_optical_element",
    "exposure_time", "observation_id", "request_id", "related_frames", "frame_basename", "size",
]  # fmt: skip


@settings(FUZZ, max_examples=60)
@given(changes=st.dictionaries(st.sampled_from(PAYLOAD_FIELDS), JSON_VALUES, max_size=4))
def test_fuzzed_ingest_payloads_never_fail(world: Any, changes: dict) -> None:
    payload = frame_payload() | changes
    _assert_clean(world.su.post("/frames/", payload, format="json"))
    thumbnail = frame_payload(versions=[new_version(".jpg")]) | {
        "frame_basename": "fuzz-parent",
        "size": "small",
    }
    _assert_clean(world.su.post("/thumbnails/", thumbnail | changes, format="json"))


@settings(FUZZ, max_examples=60)
@given(changes=st.dictionaries(st.sampled_from(PAYLOAD_FIELDS), JSON_VALUES, max_size=3))
def test_fuzzed_updates_never_fail(world: Any, fuzz_frames: Frame, changes: dict) -> None:
    _assert_clean(world.su.patch(f"/frames/{fuzz_frames.pk}/", changes, format="json"))


# ---------------------------------------------------------------------------------------------
# Appendix A (4): what upstream answers with a 500


def test_headers_of_frame_without_headers_row_is_404(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    Headers.objects.filter(frame=frame).delete()
    response = world.anon.get(f"/frames/{frame.pk}/headers/")
    assert response.status_code == 404 and "detail" in response.json()


def test_mixed_naive_and_aware_window_is_fine(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(observation_date=PAST))
    query = "/frames/?start=2015-12-20T00:00:00&end=2015-12-24T00:00:00%2B00:00"
    body = world.anon.get(query).json()
    assert [r["id"] for r in body["results"]] == [frame.pk]
    assert body["count_estimated"] is False
    other_format = world.anon.get("/frames/?start=12/20/2015&end=12/24/2015").json()
    assert [r["id"] for r in other_format["results"]] == [frame.pk]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        b'{"basename": NaN}',
        b"{" * 5000,
    ],
)
def test_malformed_json_bodies_are_400(world: Any, body: bytes) -> None:
    response = world.su.post("/frames/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("headers", {"KEY": "nul\x00inside"}),
        ("headers", {"nul\x00key": 1}),
        ("headers", ["not", "a", "dict"]),
        ("basename", "../escape"),
        ("basename", "a" * 1001),
        ("related_frame_filenames", ["ok", ""]),
        ("related_frame_filenames", "not-a-list"),
        ("version_set", [{"key": "k", "md5": "m"}]),
        ("version_set", [{"key": "k" * 1025, "md5": "m", "extension": ".fits"}]),
        ("version_set", [{"key": "k", "md5": "m", "extension": ".fits", "object_key": "../x"}]),
        ("version_set", "nope"),
        ("area", {"type": "Polygon", "coordinates": [[[0, 0], [0, 100], [1, 1], [0, 0]]]}),
        ("area", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
        ("area", {"type": "Point", "coordinates": [0, 0]}),
        ("area", "POLYGON((0 0, 0 1, 1 1, 0 0))"),
        ("exposure_time", "fast"),
        ("observation_id", "12abc"),
        ("observation_id", 2**64),
        ("observation_date", "9999-12-31T23:59:59-05:00"),
        ("public_date", 12345),
    ],
)
def test_malformed_payload_fields_are_400_keyed(world: Any, field: str, value: Any) -> None:
    response = world.su.post("/frames/", frame_payload() | {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_duplicate_md5_inside_one_payload_is_400(world: Any) -> None:
    version = new_version()
    response = world.su.post("/frames/", frame_payload(versions=[version, version]), format="json")
    assert response.status_code == 400
    errors = response.json()["version_set"]
    assert errors[0] == {} and "md5" in errors[1]


def test_update_refuses_versions_and_headers(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    response = world.su.patch(
        f"/frames/{frame.pk}/", {"version_set": [], "headers": {}}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"version_set", "headers"}


def test_bad_cursor_is_404_json(world: Any, ingest: Any) -> None:
    ingest(frame_payload())
    for token in ("garbage", "eyJ2IjogWyJ4IiwgMV0sICJyIjogZmFsc2V9", "%00"):
        response = world.anon.get(f"/frames/?pagination_style=cursor&cursor={token}")
        assert response.status_code == 404
        assert response.json() == {"detail": "Invalid cursor"}


def test_cone_parameters_must_come_together(world: Any) -> None:
    response = world.anon.get("/frames/?ra=10&dec=5")
    assert response.status_code == 400 and "radius" in response.json()
    response = world.anon.get("/frames/?ra=10&dec=95&radius=1")
    assert response.status_code == 400 and "dec" in response.json()
    response = world.anon.get("/frames/?ra=10&dec=5&radius=0")
    assert response.status_code == 400 and "radius" in response.json()


def test_record_round_trip_types(world: Any) -> None:
    """The ingester's raw header types (string ids, naive dates) are what the server gets."""
    record = frame_record(observation_id="0000444039", request_id="00012")
    response = world.su.post("/frames/", frame_payload(record), format="json")
    assert response.status_code == 201
    assert response.json()["observation_id"] == 444039
    assert response.json()["request_id"] == 12


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/frames.json", 200),
        ("/frames/{id}.json", 200),
        ("/frames/{id}/related.json", 200),
        ("/frames/{id}/headers.json", 200),
        ("/frames/aggregate.json", 200),
        ("/thumbnails.json", 200),
        ("/frames/?format=json", 200),
        ("/frames/?format=api", 200),
        ("/frames/?format=xml", 404),
        ("/frames/abc.json", 404),
        ("/frames/-1/", 404),
        ("/frames/0/", 404),
        ("/frames/{id}/nothing/", 404),
    ],
)
def test_format_suffixes_and_odd_paths(world: Any, ingest: Any, path: str, status: int) -> None:
    frame = ingest(frame_payload())
    response = world.anon.get(path.format(id=frame.pk))
    assert response.status_code == status
