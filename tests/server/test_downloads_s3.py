"""Downloads from an S3 store (moto's S3 protocol over HTTP): presigned row URLs, streamed
zips, uncompressed files from a stream that cannot seek, and nginx manifests."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from obsarchive.config import load_settings
from obsarchive.server.frames.storage import archive_store, reset_store
from tests.server.conftest import DownloadArchive
from tests.server.factories import PAST
from tests.server.test_downloads import assert_uncompressed_equal, body, fz_bytes

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_archive(
    s3_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, db: Any
) -> Iterator[DownloadArchive]:
    bucket = s3_server.create_bucket()
    environ = s3_server.env(bucket)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, environ[name])
    settings.ARCHIVE = dataclasses.replace(settings.ARCHIVE, store=load_settings(environ).store)
    reset_store()
    try:
        yield DownloadArchive(store=archive_store(), root=None)
    finally:
        reset_store()


def test_row_urls_are_presigned_s3_urls(
    s3_archive: DownloadArchive, world: Any, s3_server: Any
) -> None:
    content = fz_bytes(seed=21)
    frame = s3_archive.add(content, public_date=PAST)
    url = world.anon.get(f"/frames/{frame.pk}/").json()["url"]
    assert url.startswith(s3_server.endpoint_url) and "versionId=" in url
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.content == content


def test_zips_and_uncompressed_files_from_s3(s3_archive: DownloadArchive, world: Any) -> None:
    contents = [fz_bytes(seed=seed) for seed in (22, 23)]
    frames = [s3_archive.add(data, public_date=PAST, record_size=False) for data in contents]
    ids = [frame.pk for frame in frames]
    response = world.anon.post("/frames/zip/", {"frame_ids": ids}, format="json")
    data = body(response)
    assert int(response["Content-Length"]) == len(data)  # sizes from S3 HEAD requests
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    by_name = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    for frame, content in zip(frames, contents, strict=True):
        assert by_name[frame.basename + ".fits.fz"] == content
    response = world.anon.post(
        "/frames/zip/", {"frame_ids": ids, "uncompress": True}, format="json"
    )
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    for frame, content in zip(frames, contents, strict=True):
        name = next(n for n in archive.namelist() if n.endswith(frame.basename + ".fits"))
        assert_uncompressed_equal(content, archive.read(name))
    single = world.anon.get(f"/frame-funpack/{frames[0].pk}/funpack/")
    produced = body(single)
    assert int(single["Content-Length"]) == len(produced)
    assert_uncompressed_equal(contents[0], produced)


def test_nginx_manifest_points_at_the_bucket_proxy(
    s3_archive: DownloadArchive, world: Any, settings: Any, s3_server: Any
) -> None:
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, zip_mode="nginx"
    )
    content = fz_bytes(seed=24)
    frame = s3_archive.add(content, public_date=PAST)
    response = world.anon.post("/frames/zip/", {"frame_ids": [frame.pk]}, format="json")
    ((line),) = response.content.decode().splitlines()
    dash, size, location, name = line.split(" ")
    assert dash == "-" and int(size) == len(content)
    assert location.startswith("/zip-files/") and "versionId=" in location
    assert name.endswith(f"/{frame.basename}.fits.fz")
    # What nginx's /zip-files/ location does: proxy the path and query to the bucket.
    fetched = requests.get(s3_server.endpoint_url + location.removeprefix("/zip-files"), timeout=30)
    assert fetched.status_code == 200 and fetched.content == content
    assert urlsplit(location).query
