"""The web views through Django's test client: query handling, errors, visibility, queries.

Frames are real ingests of synthetic products (the frames ingest service with the product's
own record, the file stored in the archive's store), so headers and files are genuine.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings

from obsarchive.server.web.config import WebSettings
from tests.web.seed import FUTURE, PAST, SECRET_PROPOSAL, Spec

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def ingest_spec(spec: Spec, seed: int = 0) -> Any:
    """Store the product's bytes and record it with the frames ingest service."""
    from obsarchive.products import open_product
    from obsarchive.products.record import Version
    from obsarchive.server.frames.serializers import FrameIngestSerializer
    from obsarchive.server.frames.services import ingest_frame
    from obsarchive.server.frames.storage import archive_store

    data = spec.fits_bytes(seed)
    product = open_product(data, spec.filename)
    record = product.record()
    data.seek(0)
    stored = archive_store().put(product.storage_key, data)
    version = Version(key=stored.version_id, md5=stored.md5, extension=".fits.fz")
    serializer = FrameIngestSerializer(data=record.to_payload([version]))
    assert serializer.is_valid(), serializer.errors
    return ingest_frame(serializer.validated_data).frame


def spec(key: str, number: int, **fields: Any) -> Spec:
    from tests.web.seed import _frame

    fields.setdefault("date", datetime(2026, 1, 10, 3, 0, tzinfo=UTC))
    return _frame(
        f"{key}-{uuid.uuid4().hex[:6]}",
        number,
        ra=fields.pop("ra", 150.1),
        dec=fields.pop("dec", 2.2),
        object_name=fields.pop("object_name", "COSMOS"),
        **fields,
    )


@pytest.fixture
def frames() -> dict[str, Any]:
    made = {
        "public": ingest_spec(spec("public", 1, site="cpt"), 1),
        "other": ingest_spec(
            spec(
                "other",
                2,
                site="lsc",
                instrument="fa16",
                ra=10.6846,
                dec=41.2692,
                object_name="M31 core",
            ),
            2,
        ),
        "secret": ingest_spec(
            spec(
                "secret",
                3,
                site="tfn",
                instrument="sq99",
                proposal=SECRET_PROPOSAL,
                public_date=FUTURE,
                object_name="Secret target",
                ra=200.0,
                dec=-30.0,
            ),
            3,
        ),
    }
    assert made["public"].public_date < datetime.now(UTC)
    assert PAST  # the public frames' L1PUBDAT
    return made


@pytest.fixture
def alice(db: Any) -> Any:
    from obsarchive.server.accounts.services import add_members

    user = get_user_model().objects.create_user("alice", "alice@example.org", "pw")
    add_members(SECRET_PROPOSAL, ["alice"])
    return user


def ids_in(response: Any) -> list[int]:
    return [row["id"] for row in response.context["page"].rows]


# -- the search page -----------------------------------------------------------------------------


def test_form_submission_redirects_to_the_api_query(client: Client, frames: dict[str, Any]) -> None:
    response = client.get(
        "/ui/",
        {"start": "", "site_id": "cpt", "ra": "", "public": "", "limit": "100", "offset": "0"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/ui/?site_id=cpt"
    page = client.get("/ui/?site_id=cpt")
    assert page.status_code == 200
    assert ids_in(page) == [frames["public"].pk]
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]


def test_sexagesimal_and_public_only_become_api_parameters(
    client: Client, frames: dict[str, Any]
) -> None:
    response = client.get(
        "/ui/", {"ra": "10:00:24", "dec": "+02:12:00", "radius": "6'", "public": "only"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/ui/?ra=150.1&dec=2.2&radius=0.1&public_only=true"
    page = client.get(response["Location"])
    assert ids_in(page) == [frames["public"].pk]
    api = client.get(
        "/frames/?ra=150.1&dec=2.2&radius=0.1&public_only=true", HTTP_ACCEPT="application/json"
    )
    assert [row["id"] for row in api.json()["results"]] == ids_in(page)


def test_htmx_requests_get_the_canonical_url_pushed(client: Client, frames: dict[str, Any]) -> None:
    response = client.get("/ui/", {"site_id": "cpt", "basename": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Push-Url"] == "/ui/?site_id=cpt"


def test_bad_values_are_shown_at_their_fields_without_a_search(
    client: Client, frames: dict[str, Any]
) -> None:
    response = client.get("/ui/", {"start": "yesterday-ish", "site_id": "cpt", "request_id": "x"})
    assert response.status_code == 200
    assert "page" not in response.context
    errors = response.context["errors"]
    assert set(errors) == {"start", "request_id"}
    body = response.content.decode()
    assert 'id="start-error"' in body and 'value="yesterday-ish"' in body
    assert '<option value="cpt" selected>' in body
    ra = client.get("/ui/", {"ra": "ten o'clock", "dec": "2", "radius": "1"})
    assert "ra" in ra.context["errors"]
    cone = client.get("/ui/", {"ra": "150", "dec": "2"})
    assert "radius" in cone.context["errors"]  # the API needs the three together


def test_name_resolution_without_javascript(client: Client, frames: dict[str, Any]) -> None:
    response = client.get("/ui/", {"name": "M 31", "resolve": "1", "radius": "0.2"})
    assert response.status_code == 302
    assert response["Location"].startswith("/ui/?radius=0.2&ra=10.68")
    page = client.get(response["Location"])
    assert ids_in(page) == [frames["other"].pk]
    unknown = client.get(
        "/ui/", {"name": "Nothing Here 99", "resolve": "1", "ra": "12", "dec": "3", "radius": "1"}
    )
    assert unknown.status_code == 200
    assert "No match found" in unknown.content.decode()
    assert unknown.context["values"]["ra"] == "12"  # left untouched


def test_anonymous_pages_never_show_proprietary_frames(
    client: Client, frames: dict[str, Any], alice: Any
) -> None:
    secret = frames["secret"]
    page = client.get("/ui/?limit=500")
    assert secret.pk not in ids_in(page)
    body = page.content.decode()
    for value in ("tfn", "sq99", SECRET_PROPOSAL, secret.basename):
        assert value not in body
    assert client.get(f"/ui/frames/{secret.pk}/").status_code == 404
    export = client.get("/ui/export/csv/")
    text = b"".join(export.streaming_content).decode()
    assert secret.basename not in text
    assert client.get("/resolve/", {"name": "Secret target"}).status_code == 404

    client.force_login(alice)
    assert secret.pk in ids_in(client.get("/ui/?limit=500"))
    assert client.get(f"/ui/frames/{secret.pk}/").status_code == 200
    assert client.get("/resolve/", {"name": "Secret target"}).json()["source"] == "archive"
    mine = client.get("/ui/?public=false")
    assert ids_in(mine) == [secret.pk]


def test_the_frame_page(client: Client, frames: dict[str, Any]) -> None:
    frame = frames["public"]
    response = client.get(f"/ui/frames/{frame.pk}/")
    assert response.status_code == 200
    keys = [key for key, _ in response.context["header"]]
    assert keys[:3] == ["XTENSION", "BITPIX", "NAXIS"]
    assert response.context["header_ordered"] is True
    filtered = client.get(f"/ui/frames/{frame.pk}/", {"header": "EXPT"})
    assert [key for key, _ in filtered.context["header"]] == ["EXPTIME"]
    assert client.get("/ui/frames/999999/").status_code == 404


def test_count_is_the_apis_count(client: Client, frames: dict[str, Any]) -> None:
    response = client.get("/ui/count/", {"site_id": "cpt"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    api = client.get("/frames/", {"site_id": "cpt"}, HTTP_ACCEPT="application/json").json()
    result = response.context["result"]
    assert (result.count, result.estimated) == (api["count"], api["count_estimated"])
    assert 'id="count-fragment"' in response.content.decode()


def test_exports_stream_every_row(client: Client, frames: dict[str, Any]) -> None:
    from astropy.io.votable import parse_single_table

    api = client.get("/frames/", HTTP_ACCEPT="application/json").json()
    expected = [row["id"] for row in api["results"]]
    response = client.get("/ui/export/csv/")
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="frames-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == expected
    votable = b"".join(client.get("/ui/export/votable/").streaming_content)
    table = parse_single_table(io.BytesIO(votable)).to_table()
    assert list(table["id"]) == expected
    data = json.loads(b"".join(client.get("/ui/export/json/").streaming_content))
    assert data == api["results"] or [r["id"] for r in data] == expected
    assert client.get("/ui/export/xls/").status_code == 404
    assert client.get("/ui/export/csv/", {"start": "never"}).status_code == 400


def test_first_page_uses_a_fixed_number_of_queries(client: Client, frames: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/ui/")  # warm the facet cache
    for i in range(12):
        ingest_spec(spec(f"more{i}", 50 + i), 100 + i)
    with CaptureQueriesContext(connection) as small_queries:
        small = client.get("/ui/?limit=5")
    with CaptureQueriesContext(connection) as large_queries:
        large = client.get("/ui/?limit=500")
    assert len(small.context["page"].rows) == 5
    assert len(large.context["page"].rows) == 14
    assert len(small_queries) == len(large_queries) <= 8


# -- root, resolver ----------------------------------------------------------------------------


def test_root_negotiates(client: Client) -> None:
    browser = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser.status_code == 302 and browser["Location"] == "/ui/"
    api = client.get("/", HTTP_ACCEPT="application/json")
    assert api.status_code == 200 and "frames" in api.json()
    assert client.get("/?format=api", HTTP_ACCEPT="text/html").status_code == 200


class _Resolver(BaseHTTPRequestHandler):
    answers: dict[str, Any] = {}
    delay = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        import time
        from urllib.parse import unquote

        time.sleep(type(self).delay)
        name = unquote(self.path.rsplit("/", 1)[-1])
        body = type(self).answers.get(name, {"error": "No match found"})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self.wfile.write(data)


@pytest.fixture
def remote_resolver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Resolver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        _Resolver.delay = 0.0


def test_resolver_chain_local_archive_remote(
    client: Client, frames: dict[str, Any], remote_resolver: str
) -> None:
    local = client.get("/resolve/", {"name": "messier 42"}).json()
    assert local["source"] == "local" and local["matched"] == "M 42"
    archive = client.get("/resolve/", {"name": "M31 core"}).json()
    assert archive["source"] == "archive" and archive["frames"] == 1
    assert client.get("/resolve/", {"name": "Kepler-22"}).status_code == 404  # no remote set
    assert client.get("/resolve/").status_code == 400

    _Resolver.answers = {"Kepler-22": {"ra_d": 289.2176, "dec_d": 47.8843, "name": "Kepler-22"}}
    with override_settings(
        OBSARCHIVE_WEB=WebSettings(resolver_url=remote_resolver, resolver_timeout=1.0)
    ):
        remote = client.get("/resolve/", {"name": "Kepler-22"}).json()
        assert remote["source"] == "remote" and remote["ra"] == pytest.approx(289.2176)
        assert client.get("/resolve/", {"name": "Nothing 7"}).status_code == 404
        _Resolver.answers = {}
        # Cached: the remote answer is kept even though the service has forgotten it.
        assert client.get("/resolve/", {"name": "Kepler-22"}).json()["source"] == "remote"
        _Resolver.delay = 2.0
        slow = client.get("/resolve/", {"name": "Slow Star"})
        assert slow.status_code == 503 and "did not answer within 1 s" in slow.json()["detail"]


def test_profile_requires_login_and_manages_the_token(client: Client, alice: Any) -> None:
    from rest_framework.authtoken.models import Token

    assert client.get("/ui/profile/")["Location"].startswith("/ui/login/")
    client.force_login(alice)
    page = client.get("/ui/profile/")
    assert SECRET_PROPOSAL in page.content.decode()
    made = client.post("/ui/profile/", {"action": "create"})
    key = Token.objects.get(user=alice).key
    assert key in made.content.decode()
    assert key not in client.get("/ui/profile/").content.decode()
    client.post("/ui/profile/", {"action": "revoke"})
    assert not Token.objects.filter(user=alice).exists()


def test_profile_posts_need_the_csrf_token(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/ui/profile/", {"action": "create"}).status_code == 403


@pytest.mark.parametrize("ordering", ["", "basename", "-exposure_time"])
def test_exports_page_through_ties_in_batches(
    client: Client, frames: dict[str, Any], monkeypatch: pytest.MonkeyPatch, ordering: str
) -> None:
    """Batches of 2 over frames sharing one observation date: none lost, none repeated."""
    from obsarchive.server.web import search

    same_moment = datetime(2026, 1, 11, 3, 0, tzinfo=UTC)
    for i in range(5):
        ingest_spec(spec(f"tie{i}", 70 + i, date=same_moment, exptime=float(i % 2) * 10), 200 + i)
    monkeypatch.setattr(search, "EXPORT_BATCH", 2)
    query = {"ordering": ordering} if ordering else {}
    api = client.get("/frames/", query, HTTP_ACCEPT="application/json").json()
    expected = [row["id"] for row in api["results"]]
    assert len(expected) == 7
    exported = json.loads(b"".join(client.get("/ui/export/json/", query).streaming_content))
    assert [row["id"] for row in exported] == expected
