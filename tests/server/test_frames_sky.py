"""Sky searches through the HTTP API: exact on the sphere, indexed, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from obsarchive.server.frames.models import Frame, SkyCell, Version
from obsarchive.server.frames.sky import INLINE_ID_LIMIT
from tests.server.factories import PAST, box_area, frame_payload

pytestmark = pytest.mark.django_db


def ids(client: Any, query: str) -> set[int]:
    response = client.get(f"/frames/?{query}&limit=1000")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def ring_area(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_cone_search(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(10, 10, 11, 11)))
    anon = world.anon
    assert ids(anon, "ra=10.5&dec=10.5&radius=0.01") == {frame.pk}
    # The cone touches only the footprint's edge (no vertex inside, centre outside).
    assert ids(anon, "ra=10.5&dec=11.3&radius=0.31") == {frame.pk}
    assert ids(anon, "ra=10.5&dec=11.3&radius=0.29") == set()
    assert ids(anon, "ra=190.5&dec=10.5&radius=5") == set()


def test_cone_search_across_ra_zero(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(359.5, -1, 0.5, 1)))
    assert ids(world.anon, "ra=359.9&dec=0&radius=0.1") == {frame.pk}
    assert ids(world.anon, "ra=-0.1&dec=0&radius=0.1") == {frame.pk}
    assert ids(world.anon, "ra=1.2&dec=0&radius=0.5") == set()


def test_footprint_around_the_pole(world: Any, ingest: Any) -> None:
    ring = [[0, 88], [90, 88], [180, 88], [270, 88]]
    frame = ingest(frame_payload(area=ring_area(ring)))
    for ra in (0, 45, 123.4, 359.9):
        assert ids(world.anon, f"covers=POINT({ra} 89.9)") == {frame.pk}
    assert ids(world.anon, "covers=POINT(45 87)") == set()


def test_intersects_by_crossing_edges_only(world: Any, ingest: Any) -> None:
    """A thin cross: neither polygon has a vertex inside the other."""
    frame = ingest(frame_payload(area=box_area(0, -0.1, 10, 0.1)))
    cross = "POLYGON((4.9 -5, 5.1 -5, 5.1 5, 4.9 5, 4.9 -5))"
    assert ids(world.anon, f"intersects={cross}") == {frame.pk}
    beside = "POLYGON((4.9 0.2, 5.1 0.2, 5.1 5, 4.9 5, 4.9 0.2))"
    assert ids(world.anon, f"intersects={beside}") == set()


def test_large_footprint(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(100, -30, 112, -18)))
    assert ids(world.anon, "covers=POINT(106 -24)") == {frame.pk}
    # Great-circle edges: the top edge (dec -18 at its corners) sags to dec -18.09 at its
    # middle, so a point at -18.05 is outside although a flat lon/lat box would contain it.
    assert ids(world.anon, "covers=POINT(106 -18.12)") == {frame.pk}
    assert ids(world.anon, "covers=POINT(106 -18.05)") == set()
    assert ids(world.anon, "covers=POINT(100.05 -18.01)") == {frame.pk}


def test_other_geometry_encodings(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(0, 0, 10, 10)))
    point = json.dumps({"type": "Point", "coordinates": [5, 5]})
    assert ids(world.anon, f"covers={point}") == {frame.pk}
    assert ids(world.anon, "covers=SRID=4326;POINT(5 5)") == {frame.pk}
    assert ids(world.anon, "covers=point( 5   5 )") == {frame.pk}


def test_sky_filters_combine_with_each_other_and_other_filters(world: Any, ingest: Any) -> None:
    near = ingest(frame_payload(area=box_area(0, 0, 2, 2), site_id="ogg"))
    also_near = ingest(frame_payload(area=box_area(1, 1, 3, 3), site_id="coj"))
    ingest(frame_payload(area=box_area(50, 50, 52, 52), site_id="ogg"))
    anon = world.anon
    assert ids(anon, "covers=POINT(1.5 1.5)") == {near.pk, also_near.pk}
    assert ids(anon, "covers=POINT(1.5 1.5)&site_id=ogg") == {near.pk}
    assert ids(anon, "covers=POINT(1.5 1.5)&ra=2.5&dec=2.5&radius=0.2") == {also_near.pk}


def test_sky_search_respects_visibility(world: Any, ingest: Any) -> None:
    from tests.server.factories import FUTURE

    secret = ingest(
        frame_payload(area=box_area(0, 0, 2, 2), proposal_id="PROP-A", public_date=FUTURE)
    )
    assert ids(world.anon, "covers=POINT(1 1)") == set()
    assert ids(world.client(world.member), "covers=POINT(1 1)") == {secret.pk}


def test_reingest_moves_the_footprint(world: Any, ingest: Any) -> None:
    payload = frame_payload(area=box_area(0, 0, 2, 2))
    frame = ingest(payload)
    cells_before = set(SkyCell.objects.filter(frame=frame).values_list("uniq", flat=True))
    moved = frame_payload(area=box_area(40, 40, 42, 42), basename=frame.basename)
    ingest(moved)
    assert ids(world.anon, "covers=POINT(1 1)") == set()
    assert ids(world.anon, "covers=POINT(41 41)") == {frame.pk}
    assert cells_before.isdisjoint(
        SkyCell.objects.filter(frame=frame).values_list("uniq", flat=True)
    )
    ingest(frame_payload(area=None, basename=frame.basename))
    assert not SkyCell.objects.filter(frame=frame).exists()
    assert "area" not in world.anon.get(f"/frames/{frame.pk}/").json()


def test_patch_area_reindexes(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(0, 0, 2, 2)))
    response = world.su.patch(
        f"/frames/{frame.pk}/", {"area": box_area(20, 20, 22, 22)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["area"] == box_area(20, 20, 22, 22)
    assert ids(world.anon, "covers=POINT(21 21)") == {frame.pk}
    assert ids(world.anon, "covers=POINT(1 1)") == set()


def test_degenerate_footprint_is_stored_and_searchable(world: Any, ingest: Any) -> None:
    """A zero-area footprint (broken WCS) must not make the ingest fail; its edge is searchable."""
    flat = ring_area([[10, 10], [11, 10], [12, 10]])
    frame = ingest(frame_payload(area=flat))
    assert ids(world.anon, "ra=11&dec=10.05&radius=0.1") == {frame.pk}


def test_many_matches_use_one_parameter(world: Any, ingest: Any) -> None:
    """More survivors than fit a plain IN list still come back exactly (and counted)."""
    template = ingest(frame_payload(area=box_area(30, 30, 31, 31)))
    cells = list(SkyCell.objects.filter(frame=template).values_list("uniq", flat=True))
    count = INLINE_ID_LIMIT + 100
    frames = Frame.objects.bulk_create(
        [
            Frame(
                basename=f"crowd-{n}",
                observation_date=PAST,
                public_date=PAST,
                area=template.area,
                footprint=template.footprint,
            )
            for n in range(count)
        ]
    )
    Version.objects.bulk_create(
        [Version(frame=f, key=f"c{f.pk}", md5=f"{f.pk:032x}", extension=".fits") for f in frames]
    )
    SkyCell.objects.bulk_create([SkyCell(frame=f, uniq=u) for f in frames for u in cells])
    body = world.anon.get("/frames/?covers=POINT(30.5 30.5)&limit=1000").json()
    assert body["count"] == count + 1 and body["count_estimated"] is False
    assert len(body["results"]) == count + 1
    assert ids(world.anon, "covers=POINT(35 35)") == set()


def test_real_footprints_are_found_at_their_centre(world: Any, shared_data: Any) -> None:
    """Every reference record with a footprint (real LCO WCS) is found by a point inside it.

    Several upstream records carry zero-area footprints (two distinct corners): they must be
    accepted and found by a point on them.
    """
    from obsarchive.sky import polygon_from_geojson

    records = json.loads((shared_data / "expected-records.json").read_text())
    posted: dict[int, Any] = {}
    for name, entry in records.items():
        record = dict(entry["record"])
        if not record.get("area") or not name.endswith(".fits.fz"):
            continue
        payload = {
            **record,
            "headers": {"ORIGNAME": name},
            "version_set": [{"key": f"k-{name}", "md5": entry["md5"], "extension": ".fits.fz"}],
        }
        response = world.su.post("/frames/", payload, format="json")
        assert response.status_code == 201, (name, response.json())
        posted[response.json()["id"]] = record["area"]
    assert posted
    for frame_id, area in posted.items():
        centre = polygon_from_geojson(area, strict=False).centroid
        found = ids(world.su, f"covers=POINT({centre.lon} {centre.lat})")
        assert frame_id in found


def test_detail_honours_sky_filters(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload(area=box_area(0, 0, 10, 10)))
    assert world.anon.get(f"/frames/{frame.pk}/?covers=POINT(5 5)").status_code == 200
    assert world.anon.get(f"/frames/{frame.pk}/?covers=POINT(50 50)").status_code == 404
    assert world.anon.get(f"/frames/{frame.pk}/?covers=POINT(5)").status_code == 400
