"""Machine-independent performance properties of the frame read paths (docs/performance.md).

Wall-clock time is measured in ``benchmarks/``; here we assert what does not depend on the
machine: which index a query can use (the plan, with sorting and table scans priced out so the
planner takes an index whenever one can answer the query) and how many SQL statements run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from obsarchive.server.frames import querysets
from obsarchive.server.frames.filters import ordering_from
from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.pagination import cursor_page, never_null, order_by

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _plan(queryset: QuerySet) -> str:
    """The database's plan of ``queryset``, as text (one line per node)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Price sorts and table scans out: the planner then walks an index whenever one
            # can return the rows in order, and must still sort when none can. Local to the
            # test's transaction.
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_incremental_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def _sorts(plan: str) -> bool:
    if connection.vendor == "postgresql":
        return any(line.strip().startswith(("Sort", "->  Sort")) for line in plan.splitlines())
    return "TEMP B-TREE FOR ORDER BY" in plan or "TEMP B-TREE FOR RIGHT PART" in plan


@pytest.fixture
def frames(db: Any) -> list[Frame]:
    made = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"plan-{n:03d}",
                observation_date=NOW - timedelta(hours=n // 2),
                public_date=NOW - timedelta(days=400),
                exposure_time=None if n % 5 == 0 else float(n % 7),
                proposal_id="PROP-A",
            )
            for n in range(40)
        ]
    )
    Version.objects.bulk_create(
        [Version(frame=f, key=f"k{f.pk}", md5=f"{f.pk:032x}", extension=".fits") for f in made]
    )
    return made


def _page(ordering: str | None) -> QuerySet:
    queryset = querysets.searchable_frames(None, NOW)
    return order_by(queryset, ordering_from(ordering))[:10]


def test_list_columns_that_cannot_be_null_are_recognised(frames: list[Frame]) -> None:
    listed = querysets.searchable_frames(None, NOW)
    names = ["observation_date", "exposure_time", "id", "basename"]
    assert never_null(listed, names) == {"observation_date", "id", "basename"}
    # Without the list's ``observation_date IS NOT NULL`` the column is nullable again.
    assert never_null(Frame.objects.all(), names) == {"id", "basename"}
    # An OR does not exclude NULL.
    from django.db.models import Q

    either = Frame.objects.filter(Q(observation_date__isnull=False) | Q(pk=1))
    assert "observation_date" not in never_null(either, names)


def test_default_order_has_no_nulls_clause(frames: list[Frame]) -> None:
    sql = str(_page(None).query).upper()
    assert "NULLS" not in sql
    # A nullable sort column still places NULL as the smallest value.
    assert "NULLS LAST" in str(_page("-exposure_time").query).upper()


@pytest.mark.parametrize("ordering", [None, "-observation_date", "observation_date", "-id"])
def test_default_list_page_walks_the_date_index(frames: list[Frame], ordering: str | None) -> None:
    plan = _plan(_page(ordering))
    assert not _sorts(plan), plan
    if connection.vendor == "postgresql" and ordering != "-id":
        assert "frames_frame_obsdate_id" in plan, plan


@pytest.mark.parametrize("ordering", ["-exposure_time", "exposure_time"])
def test_exposure_time_pages_walk_their_index(frames: list[Frame], ordering: str) -> None:
    plan = _plan(_page(ordering))
    assert not _sorts(plan), plan
    assert "frames_frame_exptime_id" in plan, plan


def test_cursor_page_walks_the_index_from_the_cursor(frames: list[Frame]) -> None:
    ordering = ordering_from(None)
    first = cursor_page(querysets.searchable_frames(None, NOW), ordering, limit=5, token=None)
    assert first.next_cursor is not None
    captured: list[QuerySet] = []

    def fetch(queryset: QuerySet) -> list[Any]:
        captured.append(queryset)
        return list(queryset)

    second = cursor_page(
        querysets.searchable_frames(None, NOW),
        ordering,
        limit=5,
        token=first.next_cursor,
        fetch=fetch,
    )
    expected = list(
        Frame.objects.filter(observation_date__isnull=False).order_by("-observation_date", "-id")
    )[5:10]
    assert second.rows == expected
    plan = _plan(captured[0])
    assert not _sorts(plan), plan
    if connection.vendor == "postgresql":
        # The redundant bound on the first column makes the scan start at the cursor.
        assert "Index Cond" in plan and "observation_date <=" in plan, plan


def test_list_request_statement_count_does_not_grow_with_the_page(frames: list[Frame]) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    counts = []
    for limit in (2, 30):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/frames/?limit={limit}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == limit
        counts.append(len(queries))
    assert counts[0] == counts[1]


# -- sky searches (L3) ---------------------------------------------------------------------


def test_sky_search_reads_the_cell_index_alone_then_frames_by_key(world: Any, ingest: Any) -> None:
    from tests.server.factories import box_area, frame_payload

    inside = ingest(frame_payload(area=box_area(10, 10, 11, 11)))
    # A neighbour whose cells are candidates but whose footprint misses the cone: refined away.
    ingest(frame_payload(area=box_area(11.02, 10, 12, 11)))
    ingest(frame_payload(area=box_area(200, -30, 201, -29)))
    with CaptureQueriesContext(connection) as queries:
        response = world.anon.get("/frames/?ra=10.9&dec=10.5&radius=0.1&limit=10")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [inside.pk]
    statements = [query["sql"] for query in queries.captured_queries]
    cell_reads = [sql for sql in statements if "frames_skycell" in sql]
    # The cells are looked up once, on their own: never as a sub-query of a frame query.
    assert len(cell_reads) == 1, cell_reads
    assert "frames_frame" not in cell_reads[0].replace("frames_frame_id", ""), cell_reads[0]
    footprint_reads = [sql for sql in statements if '"footprint"' in sql and "SELECT" in sql]
    assert footprint_reads and all("frames_skycell" not in sql for sql in footprint_reads)


def test_sky_candidates_are_fetched_through_the_primary_key(world: Any, ingest: Any) -> None:
    from obsarchive.server.frames import sky
    from tests.server.factories import box_area, frame_payload

    made = [ingest(frame_payload(area=box_area(10 + n, 10, 11 + n, 11))) for n in range(6)]
    region = sky.cone_region(12.5, 10.5, 0.8)
    candidates = sky.candidate_ids(region)
    assert 3 <= len(candidates) < 6
    searched = querysets.searchable_frames(None, NOW)
    plan = _plan(sky.id_in(searched, candidates).values_list("pk", "footprint"))
    if connection.vendor == "postgresql":
        # The ids reach frames_frame as a literal list: with table statistics (a real archive)
        # that is a primary-key lookup; a 6-row test table may be walked by any index.
        assert "id = ANY" in plan and "frames_skycell" not in plan, plan
    else:
        assert "USING INTEGER PRIMARY KEY" in plan, plan
    # Boxes 11-12, 12-13 and 13-14 degrees meet the cone; the refine drops other candidates.
    assert sky.matching_ids(searched, region) == [made[1].pk, made[2].pk, made[3].pk]


# -- ingest writes (L5) ----------------------------------------------------------------------


def _post_statements(world: Any, payload: dict[str, Any]) -> list[str]:
    client = world.su
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/frames/", payload, format="json")
    assert response.status_code == 201, response.content
    # As upstream, the payload's last version is the newest (listed first).
    listed = [version["md5"] for version in response.json()["version_set"]]
    assert listed == [version["md5"] for version in payload["version_set"]][::-1]
    return [query["sql"] for query in queries.captured_queries]


def test_post_frame_writes_in_a_fixed_small_number_of_statements(world: Any) -> None:
    from tests.server.factories import box_area, frame_payload, new_version

    one = _post_statements(world, frame_payload(area=box_area(10, 10, 11, 11)))
    three = _post_statements(
        world,
        frame_payload(
            basename="cpt1m010-fa16-20200101-0002-e91",
            area=box_area(20, 10, 21, 11),
            versions=[new_version(), new_version(), new_version()],
        ),
    )
    # Sky cells, versions and headers are written in one statement each, whatever their number.
    assert len(three) == len(one)
    cell_inserts = [sql for sql in one if sql.startswith('INSERT INTO "frames_skycell"')]
    version_inserts = [sql for sql in three if sql.startswith('INSERT INTO "frames_version"')]
    header_writes = [sql for sql in one if '"frames_headers"' in sql]
    assert len(cell_inserts) == 1 and len(version_inserts) == 1, three
    assert len(header_writes) == 1, header_writes
    assert len(one) <= 16, "\n".join(one)
