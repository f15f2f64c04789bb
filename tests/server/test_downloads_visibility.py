"""Every download path x every kind of caller x public and proprietary frames.

Callers: anonymous, a member of ``PROP-A`` (the frames' proposal), a member of another
proposal, a staff user, a superuser. Paths: the row's download URL, the zip (token header and
``auth_token`` body), the funpack and catalogue routes, thumbnails (list and their files) and
the download script. A proprietary file must never reach a caller who cannot see its frame.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest

from obsarchive.products.record import Version as RecordVersion
from obsarchive.server.accounts.services import add_members, token_for
from obsarchive.server.frames.storage import thumbnail_object_key
from tests.server.factories import FUTURE, PAST, frame_record, thumbnail_payload
from tests.server.test_downloads import body, e91_bytes

KINDS = ("public", "proprietary")
CALLERS = ("anonymous", "member", "other", "staff", "superuser")
EXPECTED: dict[str, set[str]] = {
    "anonymous": {"public"},
    "member": {"public", "proprietary"},
    "other": {"public"},
    "staff": {"public"},
    "superuser": {"public", "proprietary"},
}
JPEG = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"


@pytest.fixture
def setup(download_archive: Any, world: Any) -> dict[str, Any]:
    add_members("PROP-B", [world.stranger.username])
    frames, contents = {}, {}
    for number, kind in enumerate(KINDS):
        basename = f"cpt1m010-fa14-20260115-{number + 1:04d}-e91"
        public_date = PAST if kind == "public" else FUTURE
        contents[kind] = e91_bytes(seed=number)
        frames[kind] = download_archive.add(
            contents[kind],
            basename=basename,
            proposal_id="PROP-A",
            public_date=public_date,
            reduction_level=91,
        )
        record = frame_record(
            basename=basename, proposal_id="PROP-A", public_date=public_date, reduction_level=91
        )
        key = thumbnail_object_key(
            basename=f"{basename}-small",
            extension=".jpg",
            site_id=record.site_id,
            instrument_id=record.instrument_id,
            observation_day=record.observation_day,
        )
        stored = download_archive.store.put(key, io.BytesIO(JPEG + kind.encode()))
        payload = thumbnail_payload(
            record, version=RecordVersion(stored.version_id, stored.md5, ".jpg")
        )
        response = world.su.post("/thumbnails/", payload, format="json")
        assert response.status_code == 201, response.content
    users = {
        "member": world.member,
        "other": world.stranger,
        "staff": world.staff,
        "superuser": world.superuser,
    }
    return {"frames": frames, "contents": contents, "users": users}


def _client(world: Any, setup: dict[str, Any], caller: str) -> Any:
    return world.anon if caller == "anonymous" else world.client(setup["users"][caller])


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _zip_kinds(setup: dict[str, Any], response: Any) -> set[str]:
    if response.status_code == 404:
        return set()
    assert response.status_code == 200, response.content
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    found = set()
    for name in archive.namelist():
        for kind, frame in setup["frames"].items():
            if frame.basename in name:
                found.add(kind)
                assert archive.read(name) == setup["contents"][kind]
    return found


@pytest.mark.parametrize("caller", CALLERS)
def test_row_urls_are_handed_only_to_those_who_see_the_frame(
    world: Any, setup: dict[str, Any], caller: str
) -> None:
    client = _client(world, setup, caller)
    for kind, frame in setup["frames"].items():
        response = client.get(f"/frames/{frame.pk}/")
        if kind not in EXPECTED[caller]:
            assert response.status_code == 404
            continue
        url = response.json()["url"]
        assert body(world.anon.get(_local(url))) == setup["contents"][kind]


@pytest.mark.parametrize("caller", CALLERS)
def test_zip_with_credentials_in_the_header(world: Any, setup: dict[str, Any], caller: str) -> None:
    ids = [frame.pk for frame in setup["frames"].values()]
    response = _client(world, setup, caller).post("/frames/zip/", {"frame_ids": ids}, format="json")
    assert _zip_kinds(setup, response) == EXPECTED[caller]


@pytest.mark.parametrize("caller", [c for c in CALLERS if c != "anonymous"])
@pytest.mark.parametrize("options", [{}, {"uncompress": "true"}, {"catalog_only": "true"}])
def test_zip_with_auth_token_in_the_body(
    world: Any, setup: dict[str, Any], caller: str, options: dict[str, str]
) -> None:
    ids = [frame.pk for frame in setup["frames"].values()]
    form = {f"frame_ids[{i}]": str(pk) for i, pk in enumerate(ids)}
    form.update(auth_token=token_for(setup["users"][caller]).key, **options)
    response = world.anon.post("/frames/zip/", form)
    if options:
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(body(response)))
        found = {
            kind
            for kind, frame in setup["frames"].items()
            if any(frame.basename in name for name in archive.namelist())
        }
        assert found == EXPECTED[caller]
    else:
        assert _zip_kinds(setup, response) == EXPECTED[caller]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ["frame-funpack/{}/funpack/", "frame-catalog/{}/catalog/"])
def test_derived_file_routes(world: Any, setup: dict[str, Any], caller: str, route: str) -> None:
    client = _client(world, setup, caller)
    for kind, frame in setup["frames"].items():
        response = client.get("/" + route.format(frame.pk))
        if kind in EXPECTED[caller]:
            assert response.status_code == 200
            assert body(response)[:6] == b"SIMPLE"
        else:
            assert response.status_code == 404
            assert response.json() == {"detail": "No Frame matches the given query."}


@pytest.mark.parametrize("caller", CALLERS)
def test_thumbnails_and_their_files(world: Any, setup: dict[str, Any], caller: str) -> None:
    client = _client(world, setup, caller)
    results = client.get("/thumbnails/").json()["results"]
    by_frame = {item["frame"]: item for item in results}
    seen = {kind for kind, frame in setup["frames"].items() if frame.pk in by_frame}
    assert seen == EXPECTED[caller]
    for kind in seen:
        item = by_frame[setup["frames"][kind].pk]
        assert body(world.anon.get(_local(item["url"]))) == JPEG + kind.encode()
        detail = client.get(f"/frames/{setup['frames'][kind].pk}/?include_thumbnails=true")
        assert [t["size"] for t in detail.json()["thumbnails"]] == ["small"]


@pytest.mark.parametrize("caller", CALLERS)
def test_download_script(world: Any, setup: dict[str, Any], caller: str) -> None:
    client = _client(world, setup, caller)
    ids = ",".join(str(frame.pk) for frame in setup["frames"].values())
    for response in (
        client.get(f"/frames/download-script/?frame_ids={ids}"),
        client.get("/frames/download-script/?proposal_id=PROP-A"),
    ):
        assert response.status_code == 200
        script = response.content.decode()
        listed = {kind for kind, frame in setup["frames"].items() if frame.basename in script}
        assert listed == EXPECTED[caller]
        if caller != "anonymous":
            assert token_for(setup["users"][caller]).key not in script
    if caller != "anonymous":
        by_body = world.anon.post(
            "/frames/download-script/",
            {"frame_ids": ids, "auth_token": token_for(setup["users"][caller]).key},
        )
        script = by_body.content.decode()
        listed = {kind for kind, frame in setup["frames"].items() if frame.basename in script}
        assert listed == EXPECTED[caller]
        assert token_for(setup["users"][caller]).key not in script
