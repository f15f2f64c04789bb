"""No proprietary data leaks: every caller x every kind of frame x every read path.

Callers: anonymous, a member of the frames' proposal ``PROP-A``, a member of another proposal
(``PROP-B``), a staff user, a superuser. Frames of ``PROP-A``: public, proprietary (public
date in the future) and with no public date. Each frame carries facet values of its own
(instrument and filter) and a unique target name, so a leak shows up as text in a response
body. Read paths: list (offset and cursor pagination, with thumbnails and related frames),
detail, headers, related, thumbnails list/detail, aggregate (precomputed and windowed) and the
download links (``url`` and every ``version_set[].url``) — which must be fetchable for visible
frames and are never handed out for the others.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from obsarchive.products.record import Version
from obsarchive.server.accounts.services import add_members, token_for
from obsarchive.server.frames.storage import archive_store, reset_store
from tests.server.factories import FUTURE, PAST, frame_payload, frame_record, thumbnail_payload

pytestmark = pytest.mark.django_db

User = get_user_model()
KINDS = ("public", "proprietary", "nodate")
PUBLIC_DATES: dict[str, datetime | None] = {
    "public": PAST,
    "proprietary": FUTURE,
    "nodate": None,
}
# Who may see which kind of PROP-A frame (reference §2.2 base queryset, §3.4).
EXPECTED: dict[str, set[str]] = {
    "anonymous": {"public"},
    "member": {"public", "proprietary", "nodate"},
    "other_member": {"public"},
    "staff": {"public"},
    "superuser": {"public", "proprietary", "nodate"},
}


@dataclass
class Archive:
    ids: dict[str, int]
    thumbnails: dict[str, int]
    clients: dict[str, APIClient]


@pytest.fixture(autouse=True)
def _forget_store() -> Iterator[None]:
    yield
    reset_store()


def _client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user).key}")
    return client


def _stored(key: str, extension: str) -> Version:
    """Put real bytes in the archive's store so that download links can be followed."""
    stored = archive_store().put(key, io.BytesIO(f"bytes of {key}".encode()))
    return Version(key=stored.version_id, md5=stored.md5, extension=extension)


@pytest.fixture
def archive(tmp_path: Path, settings: Any) -> Archive:
    settings.ARCHIVE = dataclasses.replace(
        settings.ARCHIVE,
        store=dataclasses.replace(settings.ARCHIVE.store, root_dir=tmp_path / "store"),
    )
    reset_store()
    users = {
        "member": User.objects.create_user("alice"),
        "other_member": User.objects.create_user("bob"),
        "staff": User.objects.create_user("ops", is_staff=True),
        "superuser": User.objects.create_superuser("root", "root@example.org", "pw"),
    }
    add_members("PROP-A", ["alice"])
    add_members("PROP-B", ["bob"])
    su = _client(users["superuser"])
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    records = {
        kind: frame_record(
            basename=f"cpt1m010-kb70-leak{kind}-0001-e91",
            proposal_id="PROP-A",
            public_date=PUBLIC_DATES[kind],
            observation_date=observed,
            instrument_id=f"in{kind[:4]}",
            primary_optical_element=f"filter-{kind}",
            target_name=f"target-{kind}",
            reduction_level=91,
        )
        for kind in KINDS
    }
    ids: dict[str, int] = {}
    # The proprietary frames first, then the public one naming them as related frames.
    for kind in ("proprietary", "nodate", "public"):
        related = (
            (records["proprietary"].basename, records["nodate"].basename)
            if kind == "public"
            else ()
        )
        payload = frame_payload(
            records[kind],
            versions=[_stored(f"matrix/{records[kind].basename}.fits.fz", ".fits.fz")],
            related_frame_filenames=related,
        )
        payload["version_set"][0]["object_key"] = f"matrix/{records[kind].basename}.fits.fz"
        response = su.post("/frames/", payload, format="json")
        assert response.status_code == 201, response.content
        ids[kind] = response.json()["id"]
    thumbnails: dict[str, int] = {}
    for kind in KINDS:
        key = f"matrix/{records[kind].basename}-small.jpg"
        payload = thumbnail_payload(records[kind], version=_stored(key, ".jpg"))
        payload["version_set"][0]["object_key"] = key
        response = su.post("/thumbnails/", payload, format="json")
        assert response.status_code == 201, response.content
        listed = su.get("/thumbnails/", {"frame_basename": records[kind].basename}).json()
        thumbnails[kind] = listed["results"][0]["id"]
    clients = {"anonymous": _client(None)} | {name: _client(user) for name, user in users.items()}
    return Archive(ids=ids, thumbnails=thumbnails, clients=clients)


def _leaks(body: bytes, hidden: set[str]) -> list[str]:
    text = body.decode()
    found = []
    for kind in hidden:
        for marker in (f"leak{kind}", f"target-{kind}", f"filter-{kind}", f"in{kind[:4]}"):
            if marker in text:
                found.append(marker)
    return found


def _urls(rows: list[dict[str, Any]]) -> list[str]:
    urls = []
    for row in rows:
        if row.get("url"):
            urls.append(row["url"])
        urls += [v["url"] for v in row.get("version_set", []) if v.get("url")]
        urls += [t["url"] for t in row.get("thumbnails", []) if t.get("url")]
    return urls


@pytest.mark.parametrize("caller", sorted(EXPECTED))
def test_no_proprietary_data_leaks(caller: str, archive: Archive) -> None:
    client = archive.clients[caller]
    visible = EXPECTED[caller]
    hidden = set(KINDS) - visible
    id_kind = {frame_id: kind for kind, frame_id in archive.ids.items()}

    # -- list: offset pagination (with everything included) and cursor pagination
    listing = client.get(
        "/frames/", {"force_count": "1", "include_thumbnails": "true", "limit": 1000}
    )
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert {id_kind[row["id"]] for row in rows if row["id"] in id_kind} == visible
    assert _leaks(listing.content, hidden) == []
    cursor = client.get("/frames/", {"pagination_style": "cursor", "limit": 1000})
    assert {id_kind[r["id"]] for r in cursor.json()["results"] if r["id"] in id_kind} == visible
    assert _leaks(cursor.content, hidden) == []
    for flag in ("true", "false"):
        public = client.get("/frames/", {"public": flag, "limit": 1000})
        assert public.status_code == 200
        assert _leaks(public.content, hidden) == []
    download_urls = _urls(rows)

    # -- detail, headers, related for every frame
    for kind, frame_id in archive.ids.items():
        detail = client.get(f"/frames/{frame_id}/", {"include_thumbnails": "true"})
        headers = client.get(f"/frames/{frame_id}/headers/")
        related = client.get(f"/frames/{frame_id}/related/")
        if kind in visible:
            assert detail.status_code == 200
            assert headers.status_code == 200
            assert headers.json()["data"]["OBJECT"] == f"target-{kind}"
            assert related.status_code == 200
            assert _leaks(detail.content, hidden) == []
            assert _leaks(related.content, hidden) == []
            download_urls += _urls([detail.json()])
        else:
            for response in (detail, headers, related):
                assert response.status_code == 404
                assert _leaks(response.content, hidden) == []
    # The public frame is related to both proprietary ones; only visible ones are listed.
    related_rows = client.get(f"/frames/{archive.ids['public']}/related/").json()
    assert {id_kind[r["id"]] for r in related_rows} == visible - {"public"}

    # -- thumbnails
    thumbs = client.get("/thumbnails/", {"limit": 1000})
    assert thumbs.status_code == 200
    thumb_kind = {tid: kind for kind, tid in archive.thumbnails.items()}
    assert {thumb_kind[t["id"]] for t in thumbs.json()["results"]} == visible
    assert _leaks(thumbs.content, hidden) == []
    for kind, thumb_id in archive.thumbnails.items():
        one = client.get(f"/thumbnails/{thumb_id}/")
        assert one.status_code == (200 if kind in visible else 404)
        if kind in visible:
            download_urls.append(one.json()["url"])
    by_basename = client.get(
        "/thumbnails/", {"frame_basename": "cpt1m010-kb70-leakproprietary-0001-e91"}
    )
    assert by_basename.status_code == 200
    assert len(by_basename.json()["results"]) == (1 if "proprietary" in visible else 0)

    # -- aggregate: precomputed answer and time windows, public and private parts
    facets = client.get("/frames/aggregate/")
    assert facets.status_code == 200
    assert _leaks(facets.content, hidden) == []
    start = (datetime.now(UTC) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for flag in ("true", "false"):
        window = client.get("/frames/aggregate/", {"start": start, "end": end, "public": flag})
        assert window.status_code == 200
        assert _leaks(window.content, hidden) == []
    window = client.get("/frames/aggregate/", {"start": start, "end": end, "public": "true"})
    assert "filter-public" in window.json()["filters"]
    proposal_filtered = client.get(
        "/frames/aggregate/",
        {"start": start, "end": end, "public": "false", "proposal_id": "PROP-A"},
    )
    assert _leaks(proposal_filtered.content, hidden) == []

    # -- download links: every link handed out works, and none names a hidden frame
    assert download_urls, "visible frames must come with download links"
    for url in download_urls:
        assert _leaks(url.encode(), hidden) == []
        parts = urlsplit(url)
        assert parts.netloc == "127.0.0.1:8000", url  # FILESYSTEM_STORAGE_BASE_URL
        fetched = APIClient().get(parts.path, dict(parse_qsl(parts.query)))
        assert fetched.status_code == 200, url
        content = b"".join(fetched.streaming_content)
        assert content.startswith(b"bytes of matrix/")
        assert _leaks(content, hidden) == []
    # A hidden frame's file cannot be fetched by guessing its path, nor with a signature
    # borrowed from a visible frame's link.
    borrowed = urlsplit(download_urls[0]).query
    for kind in hidden:
        path = f"/download/matrix/cpt1m010-kb70-leak{kind}-0001-e91.fits.fz"
        for query in ("", borrowed):
            guessed = APIClient().get(path, dict(parse_qsl(query)))
            assert guessed.status_code in {403, 404}, (path, query)
    # Each visible frame contributed a link to its file and one to its thumbnail.
    assert len({urlsplit(url).path for url in download_urls}) == 2 * len(visible)


def test_matrix_really_hides_something(archive: Archive) -> None:
    """Guard against a vacuous matrix: the superuser does see the proprietary markers."""
    body = archive.clients["superuser"].get("/frames/", {"limit": 1000}).content
    assert _leaks(body, {"proprietary", "nodate"})
    anonymous = archive.clients["anonymous"].get("/frames/", {"limit": 1000}).content
    assert json.loads(anonymous)["results"], "the public frame is listed"
