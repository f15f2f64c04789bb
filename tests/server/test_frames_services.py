"""Services used by views and operations commands: deletion, aggregates, updates, keys,
configuration types, downloads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache

from obsarchive.server.frames import conf
from obsarchive.server.frames.models import Frame, Thumbnail, Version
from obsarchive.server.frames.services import (
    ALL_FRAMES_AGGREGATES,
    PUBLIC_FRAMES_AGGREGATES,
    compute_aggregates,
    delete_frames,
    remove_stored_objects,
)
from obsarchive.server.frames.storage import archive_store
from obsarchive.storage.base import ObjectNotFoundError
from tests.server.factories import FUTURE, frame_payload, frame_record, thumbnail_payload

pytestmark = pytest.mark.django_db


# -- deletion -------------------------------------------------------------------------------


def test_delete_frames_returns_orphaned_objects(
    world: Any, ingest: Any, stored_version: Any
) -> None:
    record = frame_record(related=("kept-placeholder",))
    first, second = stored_version(record), stored_version(record)
    ingest(frame_payload(record, versions=[first]))
    frame = ingest(frame_payload(record, versions=[second]))
    world.su.post("/thumbnails/", thumbnail_payload(record), format="json")
    other = ingest(frame_payload())

    deleted = delete_frames(Frame.objects.filter(pk=frame.pk))

    assert deleted.count == 1 and int(deleted) == 1
    version_ids = {ref.version_id for ref in deleted.objects}
    assert {first.key, second.key} <= version_ids
    assert len(deleted.objects) == 3  # two versions and the thumbnail
    assert all(ref.object_key.startswith("cpt/kb70/") for ref in deleted.objects)
    assert Frame.objects.filter(basename="kept-placeholder").exists()
    assert Frame.objects.filter(pk=other.pk).exists()
    assert not Version.objects.filter(frame_id=frame.pk).exists()
    assert not Thumbnail.objects.filter(frame_id=frame.pk).exists()
    assert delete_frames(Frame.objects.filter(pk=frame.pk)).count == 0


def test_remove_stored_objects_deletes_versions_from_the_store(
    ingest: Any, stored_version: Any
) -> None:
    record = frame_record()
    version = stored_version(record)
    frame = ingest(frame_payload(record, versions=[version]))
    (stored,) = Version.objects.filter(frame=frame)
    store = archive_store()
    assert store.exists(stored.object_key, stored.key)
    removed = remove_stored_objects(delete_frames(Frame.objects.filter(pk=frame.pk)).objects)
    assert removed == 1
    assert not store.exists(stored.object_key, stored.key)


def test_http_delete_removes_stored_object_after_commit(
    world: Any, ingest: Any, stored_version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    record = frame_record()
    version = stored_version(record)
    frame = ingest(frame_payload(record, versions=[version]))
    object_key = Version.objects.get(frame=frame).object_key
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert world.su.delete(f"/frames/{frame.pk}/").status_code == 204
    assert archive_store().exists(object_key, version.key)  # not before the commit
    for callback in callbacks:
        callback()
    with pytest.raises(ObjectNotFoundError):
        archive_store().stat(object_key, version.key)


# -- object keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "extension", "expected"),
    [
        ({"reduction_level": 0}, ".fits.fz", "cpt/kb70/{day}/raw/{name}.fits.fz"),
        ({"reduction_level": 91}, ".fits.fz", "cpt/kb70/{day}/processed/{name}.fits.fz"),
        ({"configuration_type": "BIAS"}, ".fits", "cpt/kb70/{day}/raw/{name}.fits"),
        ({"basename": "bpm-kb70_bin2x2"}, ".fits.fz", "cpt/kb70/bpm/{name}.fits.fz"),
    ],
)
def test_versions_keep_their_object_key(
    ingest: Any, overrides: dict, extension: str, expected: str
) -> None:
    from tests.server.factories import new_version

    record = frame_record(**overrides)
    frame = ingest(frame_payload(record, versions=[new_version(extension)]))
    version = Version.objects.get(frame=frame)
    assert version.object_key == expected.format(day=record.observation_day, name=frame.basename)
    # The key is stored: later metadata changes do not move old versions.
    Frame.objects.filter(pk=frame.pk).update(site_id="ogg")
    version.refresh_from_db()
    assert version.object_key.startswith("cpt/")


def test_explicit_object_key_is_kept(ingest: Any) -> None:
    payload = frame_payload()
    payload["version_set"][0]["object_key"] = "custom/place/file.fits.fz"
    frame = ingest(payload)
    assert Version.objects.get(frame=frame).object_key == "custom/place/file.fits.fz"


def test_blank_site_still_ingests_without_url(world: Any) -> None:
    response = world.su.post("/frames/", frame_payload(site_id="", instrument_id=""), format="json")
    assert response.status_code == 201
    assert response.json()["url"] == ""


# -- aggregates -----------------------------------------------------------------------------


def test_compute_aggregates_keeps_public_and_full_answers(ingest: Any) -> None:
    ingest(frame_payload(proposal_id="OPEN", site_id="ogg"))
    ingest(frame_payload(proposal_id="CLOSED", site_id="lsc", public_date=FUTURE))
    ingest(frame_payload(related=("placeholder-only",)))
    result = compute_aggregates()
    assert set(result[ALL_FRAMES_AGGREGATES]["proposals"]) == {"OPEN", "CLOSED", "LCOEPO2014B-010"}
    assert "CLOSED" not in result[PUBLIC_FRAMES_AGGREGATES]["proposals"]
    assert cache.get(ALL_FRAMES_AGGREGATES) == result[ALL_FRAMES_AGGREGATES]
    assert cache.get(PUBLIC_FRAMES_AGGREGATES)["sites"] == ["cpt", "ogg"]


# -- updates --------------------------------------------------------------------------------


def test_patch_and_put(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    other = ingest(frame_payload())
    url = f"/frames/{frame.pk}/"
    patched = world.su.patch(url, {"target_name": "renamed", "exposure_time": 1.5}, format="json")
    assert patched.status_code == 200
    assert patched.json()["target_name"] == "renamed" and patched.json()["exposure_time"] == 1.5
    assert "OBJECT" not in patched.json()
    clash = world.su.patch(url, {"basename": other.basename}, format="json")
    assert clash.status_code == 400 and "basename" in clash.json()
    incomplete = world.su.put(url, {"target_name": "x"}, format="json")
    assert incomplete.status_code == 400
    assert {"basename", "observation_day", "configuration_type"} <= set(incomplete.json())
    full = frame_payload(basename=frame.basename, target_name="put")
    full = {k: v for k, v in full.items() if k not in ("version_set", "headers")}
    assert world.su.put(url, full, format="json").json()["target_name"] == "put"
    assert (
        world.client(world.member).patch(url, {"target_name": "x"}, format="json").status_code
        == 403
    )
    assert world.anon.patch(url, {"target_name": "x"}, format="json").status_code == 401


def test_thumbnail_detail_update_and_delete(world: Any, ingest: Any) -> None:
    record = frame_record()
    ingest(frame_payload(record))
    created = world.su.post("/thumbnails/", thumbnail_payload(record), format="json").json()
    thumbnail = Thumbnail.objects.get(basename=created["basename"])
    url = f"/thumbnails/{thumbnail.pk}/"
    assert world.anon.get(url).json()["basename"] == created["basename"]
    assert world.su.patch(url, {"size": "large"}, format="json").json()["size"] == "large"
    assert world.su.patch(url, {"size": "huge"}, format="json").status_code == 400
    assert world.anon.delete(url).status_code == 401
    assert world.su.delete(url).status_code == 204
    assert world.anon.get(url).status_code == 404


def test_version_detail(world: Any, ingest: Any) -> None:
    frame = ingest(frame_payload())
    version = Version.objects.get(frame=frame)
    staff = world.client(world.staff)
    assert staff.get(f"/versions/{version.pk}/").json()["md5"] == version.md5
    assert staff.get("/versions/999999/").status_code == 404
    assert staff.get(f"/versions/?frame={frame.pk}").json()["count"] == 1


# -- configuration types --------------------------------------------------------------------


@pytest.fixture
def configdb() -> Iterator[str]:
    body = {
        "results": [
            {"instrument_type": {"configuration_types": [{"code": "EXPOSE"}, {"code": "NRES"}]}},
            {"instrument_type": {"configuration_types": [{"code": "ARC"}]}},
        ]
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            data = json.dumps(body).encode() if self.path == "/instruments/" else b"{}"
            self.send_response(200 if self.path == "/instruments/" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def reset_conf() -> Iterator[None]:
    conf.reset()
    yield
    conf.reset()


def test_configuration_types_from_configdb(settings: Any, configdb: str, reset_conf: None) -> None:
    settings.CONFIGDB_URL = configdb
    assert conf.configuration_types() == ("ARC", "EXPOSE", "NRES")


def test_configuration_types_fall_back_to_the_list(settings: Any, reset_conf: None) -> None:
    settings.CONFIGDB_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port
    settings.CONFIGURATION_TYPES = ("EXPOSE", "BIAS")
    assert conf.configuration_types() == ("EXPOSE", "BIAS")


def test_configuration_types_drive_validation(
    world: Any, settings: Any, configdb: str, reset_conf: None
) -> None:
    settings.CONFIGDB_URL = configdb
    assert (
        world.su.post(
            "/frames/", frame_payload(configuration_type="NRES"), format="json"
        ).status_code
        == 201
    )
    assert (
        world.su.post(
            "/frames/", frame_payload(configuration_type="BIAS"), format="json"
        ).status_code
        == 400
    )
    assert world.anon.get("/frames/?include_configuration_type=NRES").status_code == 200
    assert world.anon.get("/frames/?include_configuration_type=BIAS").status_code == 400


# -- downloads ------------------------------------------------------------------------------


def test_row_url_downloads_the_version(world: Any, ingest: Any, stored_version: Any) -> None:
    record = frame_record()
    content = b"SIMPLE  =                    T" + bytes(range(256)) * 20
    ingest(frame_payload(record, versions=[stored_version(record, data=content)]))
    url = world.anon.get("/frames/").json()["results"][0]["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = world.anon.get("/" + path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert record.basename in response["Content-Disposition"]
    tampered = world.anon.get("/" + path.replace("signature=", "signature=x"))
    assert tampered.status_code == 403
    other_version = world.anon.get("/" + path.replace("version=", "version=0"))
    assert other_version.status_code == 403


def test_expired_download_link_is_refused(world: Any, ingest: Any, stored_version: Any) -> None:
    record = frame_record()
    version = stored_version(record)
    frame = ingest(frame_payload(record, versions=[version]))
    stored = Version.objects.get(frame=frame)
    from obsarchive.server.frames.storage import download_signing_key
    from obsarchive.storage.signing import signed_download_url

    past = int((datetime.now(UTC) - timedelta(seconds=5)).timestamp())
    url = signed_download_url(
        "http://testserver/", stored.object_key, stored.key, past, download_signing_key()
    )
    fresh = signed_download_url(
        "http://testserver/", stored.object_key, stored.key, past + 3600, download_signing_key()
    )
    assert world.anon.get("/" + fresh.split("/", 3)[3]).status_code == 200
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert world.anon.get("/" + path).status_code == 403
