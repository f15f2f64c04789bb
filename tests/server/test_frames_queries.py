"""Lists cost a fixed number of queries whatever the page size (no query per row).

Each endpoint is requested with page sizes 1 and 100 over more than 100 matching rows, with
every per-row extra switched on (versions, related frames, thumbnails); the query count must
be the same for both sizes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from obsarchive.server.frames.models import Frame, Headers, SkyCell, Thumbnail, Version
from obsarchive.server.frames.serializers import FrameIngestSerializer
from obsarchive.server.frames.services import ingest_frame
from tests.server.factories import PAST, box_area, frame_payload

pytestmark = pytest.mark.django_db

ROWS = 120


@pytest.fixture
def many_frames(world: Any) -> list[Frame]:
    """ROWS public frames with two versions, a related frame, a thumbnail and a footprint.

    One frame goes through the real ingest (so its cells and footprint are genuine); the rest
    copy its indexed data through bulk inserts to keep the setup fast.
    """
    serializer = FrameIngestSerializer(data=frame_payload(area=box_area(10, 10, 11, 11)))
    assert serializer.is_valid(), serializer.errors
    template = ingest_frame(serializer.validated_data).frame
    cells = list(SkyCell.objects.filter(frame=template).values_list("uniq", flat=True))
    frames = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"many-{index:04d}",
                observation_date=PAST,
                observation_day=PAST.date(),
                public_date=PAST,
                proposal_id="MANY",
                configuration_type="EXPOSE",
                area=template.area,
                footprint=template.footprint,
            )
            for index in range(ROWS)
        ]
    )
    Version.objects.bulk_create(
        [
            Version(frame=f, key=f"{f.pk}-{n}", md5=f"{f.pk:030x}{n:02x}", extension=".fits")
            for f in frames
            for n in range(2)
        ]
    )
    Headers.objects.bulk_create([Headers(frame=f, data={"N": f.pk}) for f in frames])
    SkyCell.objects.bulk_create([SkyCell(frame=f, uniq=u) for f in frames for u in cells])
    Thumbnail.objects.bulk_create(
        [
            Thumbnail(frame=f, size="small", basename=f"thumb-{f.pk}", extension=".jpg", key="k")
            for f in frames
        ]
    )
    through = Frame.related_frames.through
    through.objects.bulk_create(
        [through(from_frame_id=f.pk, to_frame_id=template.pk) for f in frames]
        + [through(from_frame_id=template.pk, to_frame_id=f.pk) for f in frames]
    )
    return frames


def _queries(client: Any, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


@pytest.mark.parametrize(
    "query",
    [
        "proposal_id=MANY&include_thumbnails=true",
        "proposal_id=MANY&include_thumbnails=true&force_count=1",
        "proposal_id=MANY&pagination_style=cursor&include_thumbnails=true",
        "covers=POINT(10.5 10.5)&include_thumbnails=true",
        "ra=10.5&dec=10.5&radius=0.2",
        "include_related_frames=false",
    ],
)
def test_frame_list_query_count_is_independent_of_page_size(
    world: Any, many_frames: Any, query: str
) -> None:
    client = world.client(world.member)
    small, small_body = _queries(client, f"/frames/?{query}&limit=1")
    large, large_body = _queries(client, f"/frames/?{query}&limit=100")
    assert len(small_body["results"]) == 1
    assert len(large_body["results"]) == 100
    assert small == large
    # auth, proposals, sky candidates, count (+ its timeout statements on PostgreSQL), page,
    # versions, related, thumbnails
    assert large <= 14


def test_frame_list_rows_carry_all_versions(world: Any, many_frames: Any) -> None:
    _, body = _queries(world.anon, "/frames/?proposal_id=MANY&limit=100&include_thumbnails=true")
    for row in body["results"]:
        assert len(row["version_set"]) == 2
        assert len(row["related_frames"]) == 1
        assert len(row["thumbnails"]) == 1


def test_thumbnail_and_version_lists_query_count(world: Any, many_frames: Any) -> None:
    for client, path in ((world.su, "/thumbnails/"), (world.client(world.staff), "/versions/")):
        small, _ = _queries(client, f"{path}?limit=1")
        large, body = _queries(client, f"{path}?limit=100")
        assert len(body["results"]) == 100
        assert small == large


def test_related_list_query_count(world: Any, many_frames: Any) -> None:
    template = Frame.objects.exclude(basename__startswith="many-").get()
    count, body = _queries(world.anon, f"/frames/{template.pk}/related/")
    assert len(body) == ROWS
    assert count <= 8


EXACT_FILTER_COLUMNS = [
    "basename", "observation_date", "observation_day", "proposal_id", "instrument_id",
    "target_name", "reduction_level", "site_id", "telescope_id", "exposure_time",
    "primary_optical_element", "public_date", "configuration_type", "observation_id",
    "request_id", "submitter",
]  # fmt: skip


def _leading_index_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        c["columns"][0]
        for c in constraints.values()
        if (c["index"] or c["unique"]) and c["columns"]
    }


def test_every_exact_filter_has_an_index() -> None:
    leading = _leading_index_columns("frames_frame")
    missing = [column for column in EXACT_FILTER_COLUMNS if column not in leading]
    assert missing == []
    assert {"md5", "key", "frame_id"} <= _leading_index_columns("frames_version")
    assert {"uniq", "frame_id"} <= _leading_index_columns("frames_skycell")
    assert {"basename", "frame_id"} <= _leading_index_columns("frames_thumbnail")


def test_default_ordering_has_a_composite_index() -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "frames_frame")
    composite = constraints["frames_frame_obsdate_id"]
    assert composite["columns"] == ["observation_date", "id"]
    assert composite["orders"] == ["DESC", "DESC"]
