"""Reference §8 checklist: the frames, versions, thumbnails, search and ingest behaviours.

Each test is named after its checklist number (``test_c041_...`` is item 41) and asserts the
recommended (R) behaviour where upstream is broken. Account, auth, throttle, health, OpenAPI
and event-delivery items are in test_accounts_checklist.py / test_events_*.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from obsarchive.products.record import Version as Version_
from obsarchive.server.frames.models import Frame, Thumbnail, Version
from tests.server.factories import (
    FUTURE,
    PAST,
    box_area,
    frame_payload,
    frame_record,
    new_version,
    thumbnail_payload,
)

pytestmark = pytest.mark.django_db

ROW_KEYS = {
    "id", "basename", "observation_date", "observation_day", "proposal_id", "instrument_id",
    "target_name", "reduction_level", "site_id", "telescope_id", "exposure_time",
    "primary_optical_element", "public_date", "configuration_type", "observation_id",
    "request_id", "version_set", "url", "filename",
}  # fmt: skip
ALIASES = {
    "DATE_OBS": "observation_date", "DAY_OBS": "observation_day", "PROPID": "proposal_id",
    "INSTRUME": "instrument_id", "OBJECT": "target_name", "RLEVEL": "reduction_level",
    "SITEID": "site_id", "TELID": "telescope_id", "EXPTIME": "exposure_time",
    "FILTER": "primary_optical_element", "L1PUBDAT": "public_date",
    "OBSTYPE": "configuration_type", "BLKUID": "observation_id", "REQNUM": "request_id",
}  # fmt: skip
SERIALIZER_KEYS = {
    "id", "basename", "area", "related_frames", "version_set", "filename", "url",
    "reduction_level", "observation_day", "observation_date", "proposal_id", "instrument_id",
    "target_name", "site_id", "telescope_id", "exposure_time", "primary_optical_element",
    "public_date", "configuration_type", "observation_id", "request_id",
}  # fmt: skip
ENVELOPE_KEYS = {"count", "next", "previous", "results", "count_estimated"}


def result_ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def bulk_frames(count: int, **fields: Any) -> list[Frame]:
    """Many public frames with one version each, straight through the ORM (fast setup)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    defaults = {"proposal_id": "BULK", "public_date": PAST, "configuration_type": "EXPOSE"}
    defaults.update(fields)
    frames = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"bulk-{index:05d}-{fields.get('site_id', 'x')}",
                observation_date=start + timedelta(minutes=index),
                **defaults,
            )
            for index in range(count)
        ]
    )
    Version.objects.bulk_create(
        [
            Version(frame=frame, key=f"k-{frame.pk}", md5=f"{frame.pk:032x}", extension=".fits")
            for frame in frames
        ]
    )
    return frames


# ---------------------------------------------------------------------------------------------
# Discovery & plumbing


def test_c002_robots_txt(world: Any) -> None:
    response = world.anon.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "Disallow: /" in response.content.decode()


def test_c003_api_root_lists_collections(world: Any) -> None:
    body = world.anon.get("/", HTTP_ACCEPT="application/json").json()
    assert set(body) == {"frames", "versions", "thumbnails"}
    for name, url in body.items():
        assert url.startswith("http://") and url.endswith(f"/{name}/")


def test_c004_missing_slash_redirects(world: Any) -> None:
    response = world.anon.get("/frames")
    assert response.status_code == 301
    assert response["Location"].endswith("/frames/")


def test_c005_cors_allows_any_origin(world: Any) -> None:
    response = world.anon.get("/frames/", HTTP_ORIGIN="https://elsewhere.example")
    assert response["Access-Control-Allow-Origin"] == "*"


# ---------------------------------------------------------------------------------------------
# Frame list: shape and pagination


def test_c007_envelope_has_exactly_five_keys(world: Any, ingest: Any) -> None:
    ingest(frame_payload())
    body = world.anon.get("/frames/").json()
    assert set(body) == ENVELOPE_KEYS


def test_c008_page_sizes(world: Any) -> None:
    bulk_frames(1001)
    anon = world.anon
    assert len(anon.get("/frames/").json()["results"]) == 100
    assert len(anon.get("/frames/?limit=5").json()["results"]) == 5
    assert len(anon.get("/frames/?limit=5000").json()["results"]) == 1000
    assert len(anon.get("/frames/?limit=0").json()["results"]) == 100
    assert len(anon.get("/frames/?limit=abc").json()["results"]) == 100


def test_c009_next_and_previous_links(world: Any) -> None:
    bulk_frames(7)
    body = world.anon.get("/frames/?limit=3&site_id=&proposal_id=BULK").json()
    assert body["previous"] is None
    nxt = urlparse(body["next"])
    assert nxt.scheme == "http" and nxt.path == "/frames/"
    query = parse_qs(nxt.query, keep_blank_values=True)
    assert query["limit"] == ["3"] and query["offset"] == ["3"]
    assert query["proposal_id"] == ["BULK"] and query["site_id"] == [""]
    second = world.anon.get(body["next"]).json()
    assert parse_qs(urlparse(second["previous"]).query).get("offset") is None
    assert {r["id"] for r in second["results"]}.isdisjoint({r["id"] for r in body["results"]})
    last = world.anon.get("/frames/?limit=3&offset=6").json()
    assert last["next"] is None and len(last["results"]) == 1


def test_c010_superuser_force_count_is_exact(world: Any) -> None:
    bulk_frames(5)
    body = world.su.get("/frames/?force_count").json()
    assert body["count"] == 5
    assert body["count_estimated"] is False


def test_c011_anonymous_force_count_is_ignored(world: Any) -> None:
    bulk_frames(3)
    body = world.anon.get("/frames/?force_count=1").json()
    assert body["count_estimated"] is True


def test_c012_short_time_window_counts_exactly(world: Any) -> None:
    bulk_frames(4)
    short = world.anon.get("/frames/?start=2020-01-01T00:00:00&end=2020-01-05T00:00:00").json()
    assert short["count_estimated"] is False and short["count"] == 4
    long = world.anon.get("/frames/?start=2019-01-01T00:00:00&end=2020-01-05T00:00:00").json()
    assert long["count_estimated"] is True


@pytest.mark.parametrize("param", ["request_id=5", "observation_id=5", "basename_exact=x"])
def test_c013_identifier_filters_count_exactly(world: Any, param: str) -> None:
    bulk_frames(2)
    body = world.anon.get(f"/frames/?{param}").json()
    assert body["count_estimated"] is False
    assert body["count"] == 0


def test_c014_unfiltered_count_is_estimated(world: Any) -> None:
    bulk_frames(3)
    body = world.anon.get("/frames/").json()
    assert body["count_estimated"] is True
    assert body["count"] >= 0


def test_c014_pages_beyond_a_low_estimate_still_return_rows(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from obsarchive.server.frames import views
    from obsarchive.server.frames.pagination import CountResult

    bulk_frames(6)
    # Unit-level: force the estimator to under-count, as a stale planner estimate does.
    monkeypatch.setattr(
        views, "count_queryset", lambda *a, **k: CountResult(count=1, estimated=True)
    )
    body = world.anon.get("/frames/?limit=2&offset=2").json()
    assert len(body["results"]) == 2
    assert body["next"] is not None  # a full page suggests more, whatever the estimate says


def test_c015_cursor_pagination(world: Any) -> None:
    frames = bulk_frames(7)
    anon = world.anon
    first = anon.get("/frames/?pagination_style=cursor&limit=3").json()
    assert set(first) == {"next", "previous", "results"}
    assert first["previous"] is None
    seen = [row["id"] for row in first["results"]]
    page = first
    while page["next"]:
        page = anon.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    expected = [f.pk for f in sorted(frames, key=lambda f: f.observation_date, reverse=True)]
    assert seen == expected
    second = anon.get(first["next"]).json()
    back = anon.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    big = anon.get("/frames/?pagination_style=cursor&limit=5000").json()
    assert len(big["results"]) == 7


def test_c016_row_keys_and_aliases(world: Any, ingest: Any) -> None:
    ingest(frame_payload(request_id="12", exposure_time=12.5))
    row = world.anon.get("/frames/").json()["results"][0]
    assert ROW_KEYS | set(ALIASES) <= set(row)
    for alias, field in ALIASES.items():
        assert row[alias] == row[field]
    assert row["REQNUM"] == 12 and row["EXPTIME"] == 12.5


def test_c017_area_key_only_with_footprint(world: Any, ingest: Any) -> None:
    with_area = ingest(frame_payload(area=box_area(0, 0, 10, 10)))
    without = ingest(frame_payload(area=None))
    rows = {r["id"]: r for r in world.anon.get("/frames/").json()["results"]}
    assert rows[with_area.pk]["area"]["type"] == "Polygon"
    assert rows[with_area.pk]["area"]["coordinates"][0][2] == [10, 10]
    assert "area" not in rows[without.pk]


def test_c018_related_frames_can_be_left_out(world: Any, ingest: Any) -> None:
    ingest(frame_payload(related=("some-calibration",)))
    rows = world.anon.get("/frames/").json()["results"]
    assert isinstance(rows[0]["related_frames"], list) and len(rows[0]["related_frames"]) == 1
    for value in ("false", "FALSE", "False"):
        text = world.anon.get(f"/frames/?include_related_frames={value}").content.decode()
        assert "related_frames" not in text
        assert '"results":[{' in text.replace(" ", "")


def test_c019_thumbnails_only_on_request(world: Any, ingest: Any) -> None:
    record = frame_record()
    frame = ingest(frame_payload(record))
    assert (
        world.su.post("/thumbnails/", thumbnail_payload(record), format="json").status_code == 201
    )
    plain = world.anon.get("/frames/").json()["results"][0]
    assert "thumbnails" not in plain
    row = world.anon.get("/frames/?include_thumbnails=TRUE").json()["results"][0]
    (thumb,) = row["thumbnails"]
    assert set(thumb) == {"id", "frame", "size", "basename", "extension", "key", "url"}
    assert thumb["frame"] == frame.pk and thumb["size"] == "small"


def test_c020_datetime_and_date_formats(world: Any, ingest: Any) -> None:
    when = datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    ingest(frame_payload(observation_date=when, public_date=datetime(2021, 3, 5, tzinfo=UTC)))
    row = world.anon.get("/frames/").json()["results"][0]
    assert row["observation_date"] == "2021-03-04T05:06:07.123000Z"
    assert row["public_date"] == "2021-03-05T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["observation_day"])
    assert row["version_set"][0]["created"].endswith("Z")


def test_c021_versions_newest_first_and_url(world: Any, ingest: Any, stored_version: Any) -> None:
    record = frame_record()
    older = stored_version(record, ".fits")
    ingest(frame_payload(record, versions=[older]))
    newer = stored_version(record, ".fits.fz")
    ingest(frame_payload(record, versions=[newer]))
    row = world.anon.get("/frames/").json()["results"][0]
    assert [v["md5"] for v in row["version_set"]] == [newer.md5, older.md5]
    for item in row["version_set"]:
        assert set(item) == {"id", "key", "md5", "extension", "url", "created"}
    assert row["url"] == row["version_set"][0]["url"] != ""
    assert row["filename"] == record.basename + ".fits.fz"
    # (R) each version's URL names that version's own extension (upstream reused the newest).
    assert ".fits?" in row["version_set"][1]["url"] or row["version_set"][1]["url"].endswith(
        ".fits"
    )


def test_c022_versionless_and_placeholder_frames_are_hidden(world: Any, ingest: Any) -> None:
    visible = ingest(frame_payload())
    versionless = ingest(frame_payload(versions=[]))
    ingest(frame_payload(related=("never-ingested-name",)))
    placeholder = Frame.objects.get(basename="never-ingested-name")
    body = world.su.get("/frames/?force_count").json()
    ids = {r["id"] for r in body["results"]}
    assert visible.pk in ids and versionless.pk not in ids and placeholder.pk not in ids
    assert body["count"] == 2
    assert world.su.get(f"/frames/{placeholder.pk}/").status_code == 404
    assert world.su.get(f"/frames/{placeholder.pk}/related/").status_code == 404
    related = world.su.get(f"/frames/{visible.pk}/related/").json()
    assert related == []


def test_c023_ordering(world: Any, ingest: Any) -> None:
    a = ingest(frame_payload(observation_date=PAST, exposure_time=30.0))
    b = ingest(frame_payload(observation_date=PAST + timedelta(days=1), exposure_time=10.0))
    c = ingest(frame_payload(observation_date=PAST + timedelta(days=2), exposure_time=20.0))

    def order(query: str) -> list[int]:
        return [r["id"] for r in world.anon.get(f"/frames/{query}").json()["results"]]

    assert order("") == [c.pk, b.pk, a.pk]
    assert order("?ordering=exposure_time") == [b.pk, c.pk, a.pk]
    assert order("?ordering=-id") == [c.pk, b.pk, a.pk]
    assert order("?ordering=id") == [a.pk, b.pk, c.pk]
    assert order("?ordering=nonsense") == [c.pk, b.pk, a.pk]
    assert order("?ordering=nonsense,-exposure_time") == [a.pk, c.pk, b.pk]


# ---------------------------------------------------------------------------------------------
# Frame list: visibility


@pytest.fixture
def visibility_frames(ingest: Any) -> dict[str, Frame]:
    return {
        "public": ingest(frame_payload(proposal_id="OTHER", public_date=PAST)),
        "other_private": ingest(frame_payload(proposal_id="OTHER", public_date=FUTURE)),
        "other_no_date": ingest(frame_payload(proposal_id="OTHER", public_date=None)),
        "mine_private": ingest(frame_payload(proposal_id="PROP-A", public_date=FUTURE)),
        "mine_public": ingest(frame_payload(proposal_id="PROP-A", public_date=PAST)),
    }


def _names(frames: dict[str, Frame], ids: set[int]) -> set[str]:
    return {name for name, frame in frames.items() if frame.pk in ids}


def test_c024_anonymous_sees_public_only(world: Any, visibility_frames: Any) -> None:
    seen = _names(visibility_frames, result_ids(world.anon.get("/frames/")))
    assert seen == {"public", "mine_public"}


def test_c025_member_sees_public_and_own(world: Any, visibility_frames: Any) -> None:
    seen = _names(visibility_frames, result_ids(world.client(world.member).get("/frames/")))
    assert seen == {"public", "mine_public", "mine_private"}


def test_c026_superuser_sees_everything(world: Any, visibility_frames: Any) -> None:
    seen = _names(visibility_frames, result_ids(world.su.get("/frames/")))
    assert seen == set(visibility_frames)


def test_c027_member_public_false_means_own_proposals(world: Any, visibility_frames: Any) -> None:
    member = world.client(world.member)
    own = _names(visibility_frames, result_ids(member.get("/frames/?public=false")))
    assert own == {"mine_public", "mine_private"}
    for query in ("?public=true", ""):
        seen = _names(visibility_frames, result_ids(member.get(f"/frames/{query}")))
        assert seen == {"public", "mine_public", "mine_private"}


def test_c028_anonymous_public_flag(world: Any, visibility_frames: Any) -> None:
    assert result_ids(world.anon.get("/frames/?public=false")) == set()
    seen = _names(visibility_frames, result_ids(world.anon.get("/frames/?public=true")))
    assert seen == {"public", "mine_public"}


@pytest.mark.parametrize("value", ["true", "True", "1", "false", "False", "0", "maybe", "yes"])
def test_c029_public_values(world: Any, visibility_frames: Any, value: str) -> None:
    response = world.client(world.member).get(f"/frames/?public={value}")
    seen = _names(visibility_frames, result_ids(response))
    if value.lower() in {"false", "0"}:
        assert seen == {"mine_public", "mine_private"}
    else:  # true, and unrecognised values, which are ignored
        assert seen == {"public", "mine_public", "mine_private"}


def test_c030_member_without_proposals_public_false_is_empty(
    world: Any, visibility_frames: Any
) -> None:
    stranger = world.client(world.stranger)
    assert _names(visibility_frames, result_ids(stranger.get("/frames/"))) == {
        "public",
        "mine_public",
    }
    assert result_ids(stranger.get("/frames/?public=false")) == set()


def test_c031_superuser_public_false_means_not_yet_public(
    world: Any, visibility_frames: Any
) -> None:
    seen = _names(visibility_frames, result_ids(world.su.get("/frames/?public=false")))
    assert seen == {"other_private", "other_no_date", "mine_private"}


# ---------------------------------------------------------------------------------------------
# Frame list: filters


def test_c032_time_window_end_inclusive(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(observation_date=datetime(2011, 2, 1, tzinfo=UTC)))
    assert frame.pk in result_ids(world.anon.get("/frames/?start=2011-01-01&end=2011-03-01"))
    assert frame.pk not in result_ids(world.anon.get("/frames/?start=2012-01-01&end=2012-03-01"))
    exact = "/frames/?start=2011-01-15&end=2011-02-01T00:00:00Z"
    assert frame.pk in result_ids(world.anon.get(exact))


def test_c033_bad_date_is_400_keyed(world: Any) -> None:
    response = world.anon.get("/frames/?start=notadate")
    assert response.status_code == 400
    assert response.json() == {"start": ["Enter a valid date/time."]}


def test_c034_basename_substring_and_exact(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(basename="allyourbase"))
    assert frame.pk in result_ids(world.anon.get("/frames/?basename=ALLyour"))
    assert result_ids(world.anon.get("/frames/?basename_exact=allyour")) == set()
    assert result_ids(world.anon.get("/frames/?basename_exact=allyourbase")) == {frame.pk}


def test_c035_target_name_filters(world: Any, ingest: Any) -> None:
    planet = ingest(frame_payload(target_name="planet9"))
    cafe = ingest(frame_payload(target_name="cafe society"))
    assert result_ids(world.anon.get("/frames/?OBJECT=planet")) == {planet.pk}
    assert result_ids(world.anon.get("/frames/?target_name=PLANET")) == {planet.pk}
    assert result_ids(world.anon.get("/frames/?target_name_exact=planet")) == set()
    assert result_ids(world.anon.get("/frames/?target_name_exact=planet9")) == {planet.pk}
    assert result_ids(world.anon.get("/frames/?target_name=café")) == {cafe.pk}
    assert result_ids(world.anon.get("/frames/?target_name_exact=café society")) == {cafe.pk}
    assert result_ids(world.anon.get("/frames/?OBJECT=café")) == set()


def test_c036_empty_target_name(world: Any, ingest: Any) -> None:
    empty = ingest(frame_payload(target_name=""))
    ingest(frame_payload(target_name="M31"))
    assert result_ids(world.anon.get("/frames/?empty_target_name=1")) == {empty.pk}


def test_c037_exposure_time_is_a_minimum(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(exposure_time=300.0))
    assert result_ids(world.anon.get("/frames/?EXPTIME=200")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?exposure_time=200")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?EXPTIME=900")) == set()


def test_c038_reduction_level(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(reduction_level=10))
    assert result_ids(world.anon.get("/frames/?RLEVEL=10")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?reduction_level=10")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?RLEVEL=11")) == set()
    response = world.anon.get("/frames/?RLEVEL=abc")
    assert response.status_code == 400 and "RLEVEL" in response.json()


@pytest.mark.parametrize(
    ("alias", "field", "value", "other"),
    [
        ("OBSTYPE", "configuration_type", "BIAS", "EXPOSE"),
        ("PROPID", "proposal_id", "KEY2020A-001", "key2020a-001"),
        ("INSTRUME", "instrument_id", "fa14", "FA14"),
        ("SITEID", "site_id", "ogg", "OGG"),
        ("TELID", "telescope_id", "2m0a", "2M0A"),
        ("FILTER", "primary_optical_element", "gp", "GP"),
        ("BLKUID", "observation_id", "444039", "444040"),
        ("REQNUM", "request_id", "1234", "1235"),
    ],
)
def test_c039_exact_field_filters(
    world: Any, ingest: Any, alias: str, field: str, value: str, other: str
) -> None:
    frame = ingest(frame_payload(**{field: value}))
    ingest(frame_payload(**{field: other}))
    for name in (alias, field):
        assert result_ids(world.anon.get(f"/frames/?{name}={value}")) == {frame.pk}


def test_c040_day_and_date_filters(world: Any, ingest: Any) -> None:
    when = datetime(2020, 11, 19, 3, 4, 5, tzinfo=UTC)
    published = datetime(2020, 11, 20, tzinfo=UTC)
    frame = ingest(frame_payload(observation_date=when, public_date=published))
    ingest(frame_payload())
    for query in ("DAY_OBS=2020-11-18", "dayobs=2020-11-18"):
        assert result_ids(world.anon.get(f"/frames/?{query}")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?DATE_OBS=2020-11-19T03:04:05Z")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?L1PUBDAT=2020-11-20T00:00:00")) == {frame.pk}
    assert world.anon.get("/frames/?DAY_OBS=20201118").status_code == 400


def test_c041_covers_point(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(0, 0, 10, 10)))
    assert result_ids(world.anon.get("/frames/?covers=POINT(5 5)")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?covers=POINT(20 20)")) == set()


def test_c042_covers_across_ra_zero(world: Any, ingest: Any) -> None:
    ring = [[350, -10], [350, 10], [10, 10], [10, -10], [350, -10]]
    frame = ingest(frame_payload(area={"type": "Polygon", "coordinates": [ring]}))
    assert result_ids(world.anon.get("/frames/?covers=POINT(0 0)")) == {frame.pk}
    assert result_ids(world.anon.get("/frames/?covers=POINT(340 0)")) == set()


def test_c043_intersects_polygon(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(0, 0, 10, 10)))
    query = "POLYGON((-10 -10, -10 20, 20 20, 20 0, -10 -10))"
    assert result_ids(world.anon.get(f"/frames/?intersects={query}")) == {frame.pk}
    far = "POLYGON((100 10, 100 20, 110 20, 110 10, 100 10))"
    assert result_ids(world.anon.get(f"/frames/?intersects={far}")) == set()


@pytest.mark.parametrize("param", ["covers", "intersects"])
@pytest.mark.parametrize("value", ["POINT(5)", "POINT(1,2)", "garbage", "POINT(a b)"])
def test_c044_bad_geometry_is_400_bare_list(world: Any, param: str, value: str) -> None:
    response = world.anon.get(f"/frames/?{param}={value}")
    assert response.status_code == 400
    assert response.json() == [
        f"Error with {param} query: Point must be specified with exact format 'POINT(RA DEC)'"
    ]


def test_c045_include_and_exclude_configuration_types(world: Any, ingest: Any) -> None:
    bias = ingest(frame_payload(configuration_type="BIAS"))
    dark = ingest(frame_payload(configuration_type="DARK"))
    expose = ingest(frame_payload(configuration_type="EXPOSE"))
    for name in ("exclude_OBSTYPE", "exclude_configuration_type"):
        query = f"/frames/?{name}=BIAS&{name}=DARK"
        assert result_ids(world.anon.get(query)) == {expose.pk}
    assert result_ids(world.anon.get("/frames/?include_configuration_type=EXPOSE")) == {expose.pk}
    both = "/frames/?include_configuration_type=BIAS&include_configuration_type=DARK"
    assert result_ids(world.anon.get(both)) == {bias.pk, dark.pk}
    for name in ("exclude_OBSTYPE", "include_configuration_type"):
        response = world.anon.get(f"/frames/?{name}=NOPE")
        assert response.status_code == 400
        assert response.json() == {
            name: ["Select a valid choice. NOPE is not one of the available choices."]
        }


def test_c046_exclude_calibrations(world: Any, ingest: Any) -> None:
    bias = ingest(frame_payload(configuration_type="BIAS"))
    expose = ingest(frame_payload(configuration_type="EXPOSE"))
    assert result_ids(world.anon.get("/frames/?exclude_calibrations=true")) == {expose.pk}
    for query in ("?exclude_calibrations=false", ""):
        assert result_ids(world.anon.get(f"/frames/{query}")) == {bias.pk, expose.pk}


def test_c047_submitter(world: Any, ingest: Any) -> None:
    mine = ingest(frame_payload(headers={"USERID": "jdoe"}))
    ingest(frame_payload(headers={"USERID": "someone"}))
    assert result_ids(world.anon.get("/frames/?submitter=jdoe")) == {mine.pk}
    assert result_ids(world.anon.get("/frames/?submitter=jdoé")) == {mine.pk}


def test_c048_empty_and_unknown_parameters_are_ignored(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    query = (
        "/frames/?site_id=&basename=&id=&start=&exclude_OBSTYPE=&RLEVEL=&covers=&public=&whatever=1"
    )
    assert result_ids(world.anon.get(query)) == {frame.pk}


# ---------------------------------------------------------------------------------------------
# Frame detail, related, headers


def test_c049_detail_has_list_row_keys(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=None))
    listed = world.anon.get("/frames/").json()["results"][0]
    detail = world.anon.get(f"/frames/{frame.pk}/").json()
    assert set(detail) == set(listed)
    assert detail["basename"] == frame.basename


def test_c050_detail_of_versionless_frame(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(versions=[]))
    body = world.anon.get(f"/frames/{frame.pk}/").json()
    assert body["version_set"] == [] and body["url"] is None and body["filename"] is None


def test_c051_invisible_or_malformed_detail_is_404(world: Any, ingest: Any) -> None:
    secret = ingest(frame_payload(proposal_id="OTHER", public_date=FUTURE))
    response = world.anon.get(f"/frames/{secret.pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Frame matches the given query."}
    assert world.anon.get("/frames/abc/").status_code == 404
    assert world.anon.get("/frames/99999999999999999999999/").status_code == 404


def test_c052_detail_honours_filters(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    assert world.anon.get(f"/frames/{frame.pk}/?basename=zzz").status_code == 404
    assert world.anon.get(f"/frames/{frame.pk}/?basename={frame.basename[:5]}").status_code == 200
    assert world.anon.get(f"/frames/{frame.pk}/?start=bad").status_code == 400


def test_c053_related_frames_are_symmetric_and_visible_only(world: Any, ingest: Any) -> None:
    a = ingest(frame_payload())
    secret = ingest(frame_payload(proposal_id="OTHER", public_date=FUTURE))
    b = ingest(frame_payload(related=(a.basename, secret.basename)))
    a_related = world.anon.get(f"/frames/{a.pk}/related/").json()
    assert [item["id"] for item in a_related] == [b.pk]
    assert set(a_related[0]) == SERIALIZER_KEYS
    b_related = world.anon.get(f"/frames/{b.pk}/related/").json()
    assert [item["id"] for item in b_related] == [a.pk]  # the proprietary one is omitted
    assert {item["id"] for item in world.su.get(f"/frames/{b.pk}/related/").json()} == {
        a.pk,
        secret.pk,
    }


def test_c054_headers(world: Any, ingest: Any) -> None:
    record = frame_record(headers={"EXPTIME": 12.5, "NOTE": "first"})
    frame = ingest(frame_payload(record))
    ingest(frame_payload(record, headers={**record.headers, "NOTE": "second"}))
    body = world.anon.get(f"/frames/{frame.pk}/headers/").json()
    assert body == {"data": {**record.headers, "NOTE": "second"}}


# ---------------------------------------------------------------------------------------------
# Ingest


def test_c055_write_permissions(world: Any) -> None:
    assert world.anon.post("/frames/", frame_payload(), format="json").status_code == 401
    member = world.client(world.member)
    response = member.post("/frames/", frame_payload(), format="json")
    assert response.status_code == 403
    assert world.su.post("/frames/", frame_payload(), format="json").status_code == 201


def test_c056_created_body(world: Any, stored_version: Any) -> None:
    record = frame_record(area=box_area(1, 2, 3, 4), related=("calib-x",))
    version = stored_version(record)
    body = world.su.post("/frames/", frame_payload(record, versions=[version]), format="json")
    assert body.status_code == 201
    data = body.json()
    assert set(data) == SERIALIZER_KEYS
    assert data["area"] == record.area
    assert data["basename"] == record.basename
    assert data["filename"] == record.basename + ".fits.fz"
    (item,) = data["version_set"]
    assert set(item) == {"id", "created", "key", "md5", "extension", "url"}
    assert item["key"] == version.key and item["md5"] == version.md5
    assert data["url"] == item["url"] and "download/" in data["url"]
    assert len(data["related_frames"]) == 1


@pytest.mark.parametrize(
    "key",
    [
        "basename",
        "area",
        "headers",
        "related_frame_filenames",
        "observation_day",
        "configuration_type",
        "version_set",
    ],
)
def test_c057_missing_required_key_is_400(world: Any, key: str) -> None:
    payload = frame_payload()
    del payload[key]
    response = world.su.post("/frames/", payload, format="json")
    assert response.status_code == 400
    assert response.json()[key] == ["This field is required."]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("observation_date", "iamnotadate"),
        ("area", {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]}),
        ("configuration_type", "NOT-A-TYPE"),
        ("site_id", "x" * 65),
        ("observation_day", None),
        ("observation_id", -1),
        ("reduction_level", 40000),
    ],
)
def test_c058_invalid_values_are_400_keyed(world: Any, field: str, value: Any) -> None:
    response = world.su.post("/frames/", frame_payload(**{}) | {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_c058_messages(world: Any) -> None:
    body = world.su.post(
        "/frames/", frame_payload() | {"configuration_type": "NOPE"}, format="json"
    ).json()
    assert body == {"configuration_type": ['"NOPE" is not a valid choice.']}
    body = world.su.post(
        "/frames/", frame_payload() | {"observation_date": "iamnotadate"}, format="json"
    ).json()
    assert body["observation_date"][0].startswith("Datetime has wrong format.")
    bad_area = {"type": "Polygon", "coordinates": "nope"}
    body = world.su.post("/frames/", frame_payload() | {"area": bad_area}, format="json").json()
    assert body["area"][0].startswith("Invalid polygon: ")


def test_c059_lenient_inputs(world: Any) -> None:
    for day in ("2015-12-21", "20151221"):
        payload = frame_payload(observation_id="0000444039", request_id=None)
        payload["observation_day"] = day
        payload["exposure_time"] = 10.032415
        response = world.su.post("/frames/", payload, format="json")
        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["observation_day"] == "2015-12-21"
        assert data["observation_id"] == 444039 and data["exposure_time"] == 10.032415
    payload = frame_payload()
    del payload["request_id"]
    created = world.su.post("/frames/", payload, format="json").json()
    assert world.anon.get(f"/frames/{created['id']}/").json()["request_id"] is None


def test_c060_reused_md5_is_400(world: Any) -> None:
    version = new_version()
    assert world.su.post("/frames/", frame_payload(versions=[version]), format="json").status_code
    again = frame_payload(versions=[Version_(key="other", md5=version.md5, extension=".fits")])
    response = world.su.post("/frames/", again, format="json")
    assert response.status_code == 400
    assert response.json() == {"version_set": [{"md5": ["version with this md5 already exists."]}]}


def test_c061_reingest_adds_newest_version(world: Any, stored_version: Any) -> None:
    record = frame_record(target_name="first")
    first = world.su.post(
        "/frames/", frame_payload(record, versions=[stored_version(record)]), format="json"
    ).json()
    newer = stored_version(record)
    second = world.su.post(
        "/frames/",
        frame_payload(record, versions=[newer], target_name="second"),
        format="json",
    ).json()
    assert second["id"] == first["id"]
    assert second["target_name"] == "second"
    assert [v["md5"] for v in second["version_set"]] == [newer.md5, first["version_set"][0]["md5"]]
    assert second["url"] == second["version_set"][0]["url"] != first["url"]


def test_c062_ingested_footprint_is_searchable(world: Any) -> None:
    payload = frame_payload(area=box_area(0, 0, 10, 10))
    created = world.su.post("/frames/", payload, format="json").json()
    assert result_ids(world.anon.get("/frames/?covers=POINT(5 5)")) == {created["id"]}


def test_c063_one_outbox_event_per_ingest_with_versions(world: Any, settings: Any) -> None:
    from obsarchive.server.events.config import EventSettings
    from obsarchive.server.events.models import OutboxEvent

    # A broker nobody listens on: the event must be recorded whatever happens to delivery.
    settings.OBSARCHIVE_EVENTS = EventSettings(broker_url="amqp://guest:guest@127.0.0.1:9//")
    created = world.su.post("/frames/", frame_payload(), format="json")
    assert created.status_code == 201
    events = list(OutboxEvent.objects.all())
    assert len(events) == 1
    assert events[0].frame_id == created.json()["id"]
    assert events[0].body["basename"] == created.json()["basename"]
    assert world.su.post("/frames/", frame_payload(versions=[]), format="json").status_code == 201
    bad = frame_payload() | {"observation_date": "nope"}
    assert world.su.post("/frames/", bad, format="json").status_code == 400
    assert OutboxEvent.objects.count() == 1


def test_c064_placeholders_stay_hidden_until_ingested(world: Any, ingest: Any) -> None:
    ingest(frame_payload(related=("later-frame",)))
    assert Frame.objects.filter(basename="later-frame").exists()
    names = {r["basename"] for r in world.su.get("/frames/").json()["results"]}
    assert "later-frame" not in names
    ingest(frame_payload(basename="later-frame"))
    names = {r["basename"] for r in world.su.get("/frames/").json()["results"]}
    assert "later-frame" in names


def test_c065_superuser_delete(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    assert world.client(world.member).delete(f"/frames/{frame.pk}/").status_code == 403
    assert world.su.delete(f"/frames/{frame.pk}/").status_code == 204
    assert world.su.get(f"/frames/{frame.pk}/").status_code == 404
    assert not Version.objects.filter(frame_id=frame.pk).exists()


# ---------------------------------------------------------------------------------------------
# Aggregate


@pytest.fixture
def facet_frames(ingest: Any) -> dict[str, Frame]:
    now = datetime.now(UTC)
    recent = now - timedelta(days=30)
    return {
        "public": ingest(
            frame_payload(
                observation_date=recent,
                public_date=now - timedelta(days=1),
                site_id="ogg",
                telescope_id="2m0a",
                instrument_id="fs02",
                primary_optical_element="gp",
                configuration_type="EXPOSE",
                proposal_id="PUBLIC-1",
            )
        ),
        "mine": ingest(
            frame_payload(
                observation_date=recent,
                public_date=now + timedelta(days=300),
                site_id="coj",
                telescope_id="1m0a",
                instrument_id="fa12",
                primary_optical_element="rp",
                configuration_type="BIAS",
                proposal_id="PROP-A",
            )
        ),
        "theirs": ingest(
            frame_payload(
                observation_date=recent,
                public_date=now + timedelta(days=300),
                site_id="lsc",
                telescope_id="0m4a",
                instrument_id="kb99",
                primary_optical_element="",
                configuration_type="DARK",
                proposal_id="SECRET-9",
            )
        ),
    }


def _window() -> str:
    now = datetime.now(UTC)
    start = (now - timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%S")
    end = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"start={start}&end={end}"


def test_c066_unfiltered_aggregate(world: Any, facet_frames: Any) -> None:
    from obsarchive.server.frames.services import compute_aggregates

    compute_aggregates()
    keys = {
        "sites",
        "telescopes",
        "filters",
        "instruments",
        "obstypes",
        "proposals",
        "generated_at",
    }
    su = world.su.get("/frames/aggregate/").json()
    assert set(su) == keys
    assert set(su["proposals"]) == {"PUBLIC-1", "PROP-A", "SECRET-9"}
    anon = world.anon.get("/frames/aggregate/").json()
    assert anon["proposals"] == ["PUBLIC-1"] and anon["sites"] == ["ogg"]
    member = world.client(world.member).get("/frames/aggregate/").json()
    assert set(member["proposals"]) == {"PUBLIC-1", "PROP-A"}


def test_c066_unfiltered_aggregate_is_computed_on_first_use(world: Any, facet_frames: Any) -> None:
    cache.clear()
    # (R) upstream answers 500 until the precompute job ran; obsarchive computes it on demand.
    body = world.su.get("/frames/aggregate/").json()
    assert "SECRET-9" in body["proposals"]


def test_c067_filters_need_start_and_end(world: Any) -> None:
    response = world.anon.get("/frames/aggregate/?public=true")
    assert response.status_code == 400
    assert response.json() == "both start & end must be specified"


def test_c068_window_at_most_a_year(world: Any) -> None:
    response = world.anon.get("/frames/aggregate/?start=2020-01-01&end=2021-01-02")
    assert response.status_code == 400
    assert response.json() == "time range must be less than or equal to a year (365 days)"


def test_c069_anonymous_public_aggregate(world: Any, facet_frames: Any) -> None:
    response = world.anon.get(f"/frames/aggregate/?{_window()}&public=true")
    body = response.json()
    assert body["sites"] == ["ogg"] and body["proposals"] == ["PUBLIC-1"]
    assert response["Cache-Control"] == "max-age=3600"  # the window ends in the future
    old = world.anon.get("/frames/aggregate/?start=2019-01-01&end=2019-06-01&public=true")
    assert old["Cache-Control"] == "max-age=86400" and old.has_header("Expires")


@pytest.mark.parametrize("extra", ["&public=false", ""])
def test_c070_anonymous_without_public_gets_nothing(
    world: Any, facet_frames: Any, extra: str
) -> None:
    body = world.anon.get(f"/frames/aggregate/?{_window()}{extra}").json()
    assert all(body[k] == [] for k in ("sites", "telescopes", "filters", "proposals"))


def test_c071_member_aggregate(world: Any, facet_frames: Any) -> None:
    member = world.client(world.member)
    private = member.get(f"/frames/aggregate/?{_window()}&public=false")
    assert private.json()["proposals"] == ["PROP-A"]
    assert private["Cache-Control"] == "max-age=300"
    both = member.get(f"/frames/aggregate/?{_window()}&public=true").json()
    assert set(both["proposals"]) == {"PROP-A", "PUBLIC-1"}


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("site_id", "ogg"),
        ("telescope_id", "2m0a"),
        ("instrument_id", "fs02"),
        ("configuration_type", "EXPOSE"),
        ("primary_optical_element", "gp"),
        ("proposal_id", "PUBLIC-1"),
    ],
)
def test_c072_facet_filters_apply_to_everyone(
    world: Any, ingest: Any, facet_frames: Any, param: str, value: str
) -> None:
    now = datetime.now(UTC)
    ingest(
        frame_payload(
            observation_date=now - timedelta(days=20),
            public_date=now - timedelta(days=1),
            site_id="elp",
            telescope_id="1m0b",
            instrument_id="fa05",
            primary_optical_element="zs",
            configuration_type="SKYFLAT",
            proposal_id="PUBLIC-2",
        )
    )
    unfiltered = world.anon.get(f"/frames/aggregate/?{_window()}&public=true").json()
    assert set(unfiltered["sites"]) == {"ogg", "elp"}
    body = world.anon.get(f"/frames/aggregate/?{_window()}&public=true&{param}={value}").json()
    assert body["sites"] == ["ogg"] and body["proposals"] == ["PUBLIC-1"]


def test_c073_validation_comes_first(world: Any, facet_frames: Any) -> None:
    from obsarchive.server.frames.services import compute_aggregates

    response = world.anon.get("/frames/aggregate/?public=maybe")
    assert response.status_code == 400 and "public" in response.json()
    response = world.anon.get("/frames/aggregate/?query_timeout=30000")
    assert response.status_code == 400 and "query_timeout" in response.json()
    compute_aggregates()
    alone = world.anon.get("/frames/aggregate/?query_timeout=100")
    assert alone.status_code == 200 and alone.json()["proposals"] == ["PUBLIC-1"]


def test_c074_no_empty_strings_and_vary(world: Any, facet_frames: Any) -> None:
    response = world.su.get(f"/frames/aggregate/?{_window()}&public=true")
    body = response.json()
    for name in ("sites", "telescopes", "filters", "instruments", "obstypes", "proposals"):
        assert "" not in body[name]
    assert "" not in world.su.get(f"/frames/aggregate/?{_window()}").json()["filters"]
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"cookie", "authorization"} <= vary


# ---------------------------------------------------------------------------------------------
# Thumbnails


@pytest.fixture
def thumbnails(world: Any, ingest: Any) -> dict[str, Any]:
    out = {}
    for name, proposal, public in (
        ("public", "OTHER", PAST),
        ("mine", "PROP-A", FUTURE),
        ("theirs", "OTHER", FUTURE),
    ):
        record = frame_record(proposal_id=proposal, public_date=public)
        ingest(frame_payload(record))
        response = world.su.post("/thumbnails/", thumbnail_payload(record), format="json")
        assert response.status_code == 201, response.json()
        out[name] = response.json()
    return out


def test_c087_thumbnail_list_shape(world: Any, thumbnails: Any) -> None:
    body = world.su.get("/thumbnails/").json()
    assert set(body) == ENVELOPE_KEYS
    for item in body["results"]:
        assert set(item) == {"id", "frame", "size", "basename", "extension", "key", "url"}
        assert Frame.objects.filter(pk=item["frame"]).exists()


def test_c088_thumbnail_visibility(world: Any, thumbnails: Any) -> None:
    def seen(client: Any) -> set[str]:
        response = client.get("/thumbnails/")
        assert response.status_code == 200
        by_basename = {t["basename"]: name for name, t in thumbnails.items()}
        return {by_basename[item["basename"]] for item in response.json()["results"]}

    assert seen(world.anon) == {"public"}
    assert seen(world.client(world.member)) == {"public", "mine"}
    assert seen(world.su) == {"public", "mine", "theirs"}


def test_c089_thumbnail_filters(world: Any, ingest: Any) -> None:
    record = frame_record(proposal_id="PROP-T", observation_id="77", request_id="88")
    ingest(frame_payload(record))
    for size in ("small", "large"):
        world.su.post("/thumbnails/", thumbnail_payload(record, size=size), format="json")
    other = frame_record()
    ingest(frame_payload(other))
    world.su.post("/thumbnails/", thumbnail_payload(other), format="json")

    def count(query: str) -> int:
        response = world.su.get(f"/thumbnails/?{query}")
        assert response.status_code == 200
        return len(response.json()["results"])

    assert count(f"frame_basename={record.basename}") == 2
    assert count("proposal_id=PROP-T") == 2
    assert count("observation_id=77") == 2
    assert count("request_id=88") == 2
    assert count("size=large") == 1
    response = world.su.get("/thumbnails/?size=huge")
    assert response.status_code == 400 and "size" in response.json()


def test_c090_thumbnail_post_creates_or_reuses_frame(world: Any, ingest: Any) -> None:
    record = frame_record()
    response = world.su.post("/thumbnails/", thumbnail_payload(record), format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"frame", "size", "basename", "url", "key", "extension"}
    created = Frame.objects.get(basename=record.basename)
    assert body["frame"]["id"] == created.pk
    assert created.headers.data == dict(record.headers)
    assert not created.version_set.exists()
    existing = ingest(frame_payload(frame_record()))
    other = frame_record(basename=existing.basename, target_name="ignored")
    body = world.su.post("/thumbnails/", thumbnail_payload(other), format="json").json()
    assert body["frame"]["id"] == existing.pk
    existing.refresh_from_db()
    assert existing.target_name != "ignored"  # an existing frame is left untouched


def test_c091_thumbnail_errors_and_upsert(world: Any) -> None:
    record = frame_record()
    payload = thumbnail_payload(record)
    del payload["size"]
    response = world.su.post("/thumbnails/", payload, format="json")
    assert response.status_code == 400
    assert response.json() == {"size": ["This field is required."]}
    same = thumbnail_payload(record, basename="thumb-one")
    world.su.post("/thumbnails/", same, format="json")
    again = thumbnail_payload(record, basename="thumb-one")
    assert world.su.post("/thumbnails/", again, format="json").status_code == 201
    assert Thumbnail.objects.filter(basename="thumb-one").count() == 1
    world.su.post("/thumbnails/", thumbnail_payload(record, basename="thumb-two"), format="json")
    assert Thumbnail.objects.count() == 2
    missing_parent = thumbnail_payload(record)
    del missing_parent["frame_basename"]
    assert world.su.post("/thumbnails/", missing_parent, format="json").status_code == 400
    no_version = thumbnail_payload(record) | {"version_set": []}
    response = world.su.post("/thumbnails/", no_version, format="json")
    assert response.status_code == 400 and "version_set" in response.json()


def test_c092_thumbnail_frame_appears_after_frame_post(world: Any, settings: Any) -> None:
    from obsarchive.server.events.config import EventSettings
    from obsarchive.server.events.models import OutboxEvent

    settings.OBSARCHIVE_EVENTS = EventSettings(broker_url="amqp://guest:guest@127.0.0.1:9//")
    record = frame_record()
    world.su.post("/thumbnails/", thumbnail_payload(record), format="json")
    assert world.su.get("/frames/").json()["results"] == []
    assert OutboxEvent.objects.count() == 0
    world.su.post("/frames/", frame_payload(record), format="json")
    assert [r["basename"] for r in world.su.get("/frames/").json()["results"]] == [record.basename]
    assert OutboxEvent.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Versions


def test_c093_versions_need_staff(world: Any, ingest: Any) -> None:
    ingest(frame_payload())
    assert world.anon.get("/versions/").status_code == 401
    assert world.client(world.member).get("/versions/").status_code == 403
    body = world.client(world.staff).get("/versions/").json()
    assert set(body) == ENVELOPE_KEYS
    assert set(body["results"][0]) == {"id", "created", "key", "md5", "extension", "url"}
    not_staff_su = get_user_model().objects.create_user("su2", "", "pw", is_superuser=True)
    assert world.client(not_staff_su).get("/versions/").status_code == 403


def test_c094_versions_md5_filter_is_exact(world: Any, ingest: Any) -> None:
    version = new_version()
    ingest(frame_payload(versions=[version]))
    ingest(frame_payload())
    staff = world.client(world.staff)
    hit = staff.get(f"/versions/?md5={version.md5}").json()
    assert hit["count"] == 1 and hit["count_estimated"] is False
    assert hit["results"][0]["md5"] == version.md5
    miss = staff.get(f"/versions/?md5={'0' * 32}").json()
    assert miss["count"] == 0 and miss["count_estimated"] is False and miss["results"] == []
