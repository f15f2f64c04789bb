"""Previews made at ingest, end to end: the real ingester pipeline posting to a live archive.

The archive runs on 127.0.0.1 (ephemeral port); the ingester and the archive share one
filesystem store, as a telescope and its archive share a bucket.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from obsarchive.config import load_settings
from obsarchive.ingester.archive import ArchiveService
from obsarchive.ingester.pipeline import IngestPipeline
from obsarchive.products.previews import PREVIEW_SIZES
from obsarchive.products.synthetic import write_catalogue, write_fits, write_large_fits
from obsarchive.server.accounts.services import token_for
from obsarchive.server.frames.models import Frame, Thumbnail
from tests.server.test_downloads import body


@pytest.fixture(scope="module")
def archive_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """A live archive bound to 127.0.0.1 on an ephemeral port (never a fixed one), sharing
    the test database (created first, so an in-memory SQLite one is handed to its threads)."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("127.0.0.1:0")
    try:
        yield server
    finally:
        # Let request threads of closed connections finish first: they close their database
        # connection on the way out, which must happen while it is still shared with them.
        for thread in threading.enumerate():
            if "process_request_thread" in thread.name:
                thread.join(timeout=5)
        server.stop()


@pytest.fixture
def pipeline(
    transactional_db: Any, archive_server: Any, download_archive: Any, world: Any
) -> Iterator[IngestPipeline]:
    # No keep-alive connection may outlive the test: the server's request thread would then
    # close its database connection after the live server stopped sharing it.
    session = requests.Session()
    session.headers["Connection"] = "close"
    archive = ArchiveService(
        archive_server.url + "/", token_for(world.superuser).key, session=session
    )
    try:
        yield IngestPipeline(archive, download_archive.store, load_settings({}).products)
    finally:
        session.close()


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _product(tmp_path: Path, **kwargs: Any) -> Path:
    path = write_fits(tmp_path, compressed=True, shape=(300, 200), **kwargs)
    assert path is not None
    return path


def test_an_image_gets_three_previews(
    pipeline: IngestPipeline, world: Any, tmp_path: Path, download_archive: Any
) -> None:
    path = _product(tmp_path, public_date="2016-01-01T00:00:00")
    result = pipeline.ingest(str(path))
    frame = Frame.objects.get(pk=result.frame_id)
    thumbnails = {t.size: t for t in Thumbnail.objects.filter(frame=frame)}
    assert set(thumbnails) == set(PREVIEW_SIZES)
    listed = world.anon.get(f"/thumbnails/?frame_basename={frame.basename}").json()["results"]
    assert {item["size"] for item in listed} == set(PREVIEW_SIZES)
    for item in listed:
        size = item["size"]
        assert item["basename"] == f"{frame.basename}-{size}"
        assert item["extension"] == ".jpg"
        key = thumbnails[size].object_key
        assert key.endswith(f"/thumbnails/{frame.basename}-{size}.jpg")
        assert key.split("/")[:3] == ["cpt", "fa14", "20260115"]
        image = Image.open(io.BytesIO(body(world.anon.get(_local(item["url"])))))
        assert image.format == "JPEG"
        assert max(image.size) == min(PREVIEW_SIZES[size], 300)
    detail = world.anon.get(f"/frames/{frame.pk}/?include_thumbnails=true").json()
    assert len(detail["thumbnails"]) == 3


def test_previews_are_as_private_as_their_frame(
    pipeline: IngestPipeline, world: Any, tmp_path: Path
) -> None:
    path = _product(tmp_path, proposal_id="PROP-A", public_date="2999-01-01T00:00:00")
    pipeline.ingest(str(path))
    assert world.anon.get("/thumbnails/").json()["results"] == []
    assert len(world.client(world.member).get("/thumbnails/").json()["results"]) == 3


def test_previews_can_be_turned_off(
    pipeline: IngestPipeline, tmp_path: Path, download_archive: Any
) -> None:
    pipeline.make_previews = False
    result = pipeline.ingest(str(_product(tmp_path)))
    assert not Thumbnail.objects.filter(frame_id=result.frame_id).exists()
    assert [k for k in download_archive.store.keys("") if "/thumbnails/" in k] == []
    on = load_settings({}).ingester
    off = load_settings({"MAKE_PREVIEWS": "false"}).ingester
    assert on.make_previews is True and off.make_previews is False


def test_a_failing_preview_never_fails_the_ingest(
    pipeline: IngestPipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A structurally valid compressed image whose tiles cannot be decompressed.
    path = write_large_fits(tmp_path, data_bytes=4 * 1024 * 1024, compressed=True)
    with caplog.at_level(logging.WARNING, logger="obsarchive.ingester.previews"):
        result = pipeline.ingest(str(path))
    frame = Frame.objects.get(pk=result.frame_id)
    assert frame.version_set.count() == 1
    assert not Thumbnail.objects.filter(frame=frame).exists()
    assert any("no previews" in record.message for record in caplog.records)


def test_products_without_an_image_get_no_preview(
    pipeline: IngestPipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_catalogue(tmp_path)
    assert path is not None
    with caplog.at_level(logging.WARNING, logger="obsarchive.ingester.previews"):
        result = pipeline.ingest(str(path))
    assert not Thumbnail.objects.filter(frame_id=result.frame_id).exists()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_refused_preview_is_logged_and_leaves_no_object(
    pipeline: IngestPipeline,
    tmp_path: Path,
    download_archive: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The archive accepts only "small": the other two POSTs are refused (400).
    settings.THUMBNAIL_SIZE_CHOICES = ("small",)
    from obsarchive.server.frames.conf import reset

    reset()
    try:
        with caplog.at_level(logging.WARNING, logger="obsarchive.ingester.previews"):
            result = pipeline.ingest(str(_product(tmp_path)))
    finally:
        reset()
    assert [t.size for t in Thumbnail.objects.filter(frame_id=result.frame_id)] == ["small"]
    stored = [k for k in download_archive.store.keys("") if "/thumbnails/" in k]
    assert len(stored) == 1 and stored[0].endswith("-small.jpg")
    assert sum("preview not ingested" in r.message for r in caplog.records) == 2
