"""Pagination internals: keyset cursors, counts under a time limit, estimates, links."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.pagination import (
    CountResult,
    count_queryset,
    limit_offset,
    page_links,
    statement_timeout,
)

pytestmark = pytest.mark.django_db

BASE = datetime(2020, 1, 1, tzinfo=UTC)


def make_frames(exposures: list[float | None], same_time_every: int = 3) -> list[Frame]:
    """Frames with repeated observation dates (ties) and the given (nullable) exposures."""
    frames = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"page-{n:04d}",
                observation_date=BASE + timedelta(hours=n // same_time_every),
                public_date=BASE,
                exposure_time=exposure,
                target_name=f"t{n % 4}",
            )
            for n, exposure in enumerate(exposures)
        ]
    )
    Version.objects.bulk_create(
        [Version(frame=f, key=f"p{f.pk}", md5=f"{f.pk:032x}", extension=".fits") for f in frames]
    )
    return frames


def walk(client: Any, query: str, limit: int) -> list[int]:
    seen: list[int] = []
    url: str | None = f"/frames/?pagination_style=cursor&limit={limit}&{query}"
    pages = 0
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
        assert pages < 200
    return seen


def offset_order(client: Any, query: str) -> list[int]:
    return [r["id"] for r in client.get(f"/frames/?limit=1000&{query}").json()["results"]]


@pytest.mark.parametrize(
    "ordering",
    ["", "exposure_time", "-exposure_time", "target_name,-exposure_time", "-id", "basename"],
)
def test_cursor_walk_matches_offset_order(world: Any, ordering: str) -> None:
    exposures: list[float | None] = [None, 1.0, 2.0, None, 2.0, 3.5, None, 1.0, 0.5, 2.0, 7.0]
    make_frames(exposures)
    query = f"ordering={ordering}" if ordering else ""
    expected = offset_order(world.anon, query)
    assert len(expected) == len(exposures)
    for limit in (1, 2, 4, 50):
        assert walk(world.anon, query, limit) == expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    exposures=st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5])), max_size=9),
    limit=st.integers(1, 4),
    descending=st.booleans(),
)
def test_cursor_walk_property(world: Any, exposures: list, limit: int, descending: bool) -> None:
    Frame.objects.all().delete()
    make_frames(exposures)
    query = "ordering=" + ("-" if descending else "") + "exposure_time"
    assert walk(world.anon, query, limit) == offset_order(world.anon, query)


def test_cursor_previous_walks_back(world: Any) -> None:
    make_frames([float(n % 3) for n in range(9)])
    query = "ordering=exposure_time"
    first = world.anon.get(f"/frames/?pagination_style=cursor&limit=2&{query}").json()
    pages = [first]
    while pages[-1]["next"]:
        pages.append(world.anon.get(pages[-1]["next"]).json())
    for earlier, later in itertools.pairwise(pages):
        back = world.anon.get(later["previous"]).json()
        assert [r["id"] for r in back["results"]] == [r["id"] for r in earlier["results"]]


def test_cursor_type_confusion_is_404(world: Any) -> None:
    import base64
    import json

    make_frames([1.0, 2.0])

    def token(values: list, reverse: Any = False) -> str:
        raw = json.dumps({"v": values, "r": reverse}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    bad = [
        token(["not a date", 1]),
        token([{"dt": "2020-01-01T00:00:00"}, 1]),  # naive
        token([{"dt": "2020-01-01T00:00:00+00:00"}, 2**70]),
        token([{"dt": "2020-01-01T00:00:00+00:00"}, 1], reverse="yes"),
        token([{"dt": "2020-01-01T00:00:00+00:00"}]),
        token([{"dt": "2020-01-01T00:00:00+00:00"}, None]),  # ids are never NULL
    ]
    for value in bad:
        response = world.anon.get(f"/frames/?pagination_style=cursor&cursor={value}")
        assert response.status_code == 404, value


# -- counting -------------------------------------------------------------------------------


def _slow_sql() -> str:
    if connection.vendor == "postgresql":
        return "SELECT pg_sleep(2)"
    # A recursive count to 10^8: seconds of work for SQLite.
    return (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n"
    )


def test_statement_timeout_interrupts_and_resets() -> None:
    with (
        pytest.raises(DatabaseError),
        statement_timeout("default", 50),
        connection.cursor() as cursor,
    ):
        cursor.execute(_slow_sql())
    # The connection is usable afterwards and no limit is left behind.
    with statement_timeout("default", 5000), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] in {"0", "0ms"}


def test_exact_count_falls_back_to_an_estimate_on_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    make_frames([1.0] * 5)
    from obsarchive.server.frames import pagination

    real = pagination.statement_timeout
    calls = []

    def instant_timeout(using: str, milliseconds: int) -> Any:
        calls.append(milliseconds)
        # Unit-level: the exact count "times out" at once; the estimate path runs normally.
        return real(using, 1 if len(calls) == 1 else milliseconds)

    monkeypatch.setattr(pagination, "statement_timeout", instant_timeout)
    result = count_queryset(Frame.objects.all(), exact=True, timeout_ms=1500)
    assert isinstance(result, CountResult)
    assert result.count >= 0


def test_estimates_are_flagged() -> None:
    make_frames([1.0] * 5)
    estimate = count_queryset(Frame.objects.filter(exposure_time__gte=0), exact=False, timeout_ms=0)
    assert estimate.estimated is True and estimate.count >= 0
    exact = count_queryset(Frame.objects.filter(exposure_time__gte=0), exact=True, timeout_ms=1000)
    assert exact == CountResult(5, estimated=False)
    empty = count_queryset(Frame.objects.filter(pk__in=[]), exact=False, timeout_ms=0)
    assert empty == CountResult(0, estimated=False)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_estimates_use_statistics() -> None:
    make_frames([1.0] * 40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE frames_frame")
    unfiltered = count_queryset(Frame.objects.all(), exact=False, timeout_ms=0)
    assert unfiltered == CountResult(40, estimated=True)
    filtered = count_queryset(Frame.objects.filter(exposure_time=1.0), exact=False, timeout_ms=0)
    assert filtered.estimated and 1 <= filtered.count <= 80


# -- links and parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (100, 0)),
        ({"limit": "5", "offset": "10"}, (5, 10)),
        ({"limit": "0"}, (100, 0)),
        ({"limit": "-3", "offset": "-4"}, (100, 0)),
        ({"limit": "5000"}, (1000, 0)),
        ({"limit": "1e3", "offset": "x"}, (100, 0)),
        ({"offset": str(10**30)}, (100, 2**53)),
    ],
)
def test_limit_offset(params: dict, expected: tuple[int, int]) -> None:
    assert limit_offset(params, 100, 1000) == expected


def test_page_links() -> None:
    params = {"site_id": ["ogg"], "limit": ["2"], "offset": ["2"]}
    exact = CountResult(5, estimated=False)
    nxt, prev = page_links("http://x/frames/", params, limit=2, offset=2, count=exact, shown=2)
    assert nxt == "http://x/frames/?site_id=ogg&limit=2&offset=4"
    assert prev == "http://x/frames/?site_id=ogg&limit=2"
    nxt, _ = page_links("http://x/frames/", params, limit=2, offset=4, count=exact, shown=1)
    assert nxt is None
    low = CountResult(1, estimated=True)
    nxt, _ = page_links("http://x/frames/", params, limit=2, offset=4, count=low, shown=2)
    assert nxt is not None
    nxt, _ = page_links("http://x/frames/", params, limit=2, offset=4, count=low, shown=1)
    assert nxt is None


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_broad_list_estimates_without_counting(world: Any) -> None:
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    total = 3000  # far more ids than the estimate samples (16 windows of 64)
    future = datetime.now(UTC) + timedelta(days=365)
    frames = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"broad-{n:05d}",
                observation_date=BASE + timedelta(minutes=n),
                # Every third frame is still proprietary: the anonymous list hides it.
                public_date=future if n % 3 == 0 else BASE,
                proposal_id="PROP-B" if n % 3 == 0 else "PROP-A",
            )
            for n in range(total)
        ]
    )
    Version.objects.bulk_create(
        [Version(frame=f, key=f"b{f.pk}", md5=f"{f.pk:032x}", extension=".fits") for f in frames]
    )
    # A hole in the ids, as deletions leave: the estimate must not take MAX(id) at face value.
    ids = [f.pk for f in frames]
    Frame.objects.filter(Q(pk__gte=ids[1000]) & Q(pk__lt=ids[1600])).delete()
    truth = sum(1 for n in range(total) if n % 3 != 0 and not 1000 <= n < 1600)

    client = world.client()
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/frames/?limit=5").json()
    assert body["count_estimated"] is True
    assert len(body["results"]) == 5 and body["next"] is not None
    assert 0.8 * truth <= body["count"] <= 1.2 * truth, (body["count"], truth)
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert not [sql for sql in statements if "COUNT(" in sql]

    # A small search (exact count) is still counted exactly.
    exact = client.get(f"/frames/?basename_exact=broad-{total - 1:05d}").json()
    assert (exact["count"], exact["count_estimated"]) == (1, False)


def test_sqlite_estimate_of_a_narrow_query_is_exact_when_cheap() -> None:
    frames = make_frames([1.0] * 1200)
    narrow = Frame.objects.filter(pk=frames[500].pk)
    result = count_queryset(narrow, exact=False, timeout_ms=0)
    # Whether or not the one row falls in a sampled window, the answer stays 1 on SQLite.
    assert result.estimated is True
    if connection.vendor == "sqlite":
        assert result.count == 1
