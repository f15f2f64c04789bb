"""The ingester against a live archive (SQLite and PostgreSQL) and an S3-protocol server.

Real processes and protocols only: ``obsarchive serve`` over HTTP, moto's S3 server over HTTP,
the real LCO sample products and synthetic ones.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import requests

from obsarchive.ingester import (
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
    upload_file_and_ingest_to_archive,
)
from tests.e2e.conftest import unique_fits
from tests.ingester.stub_archive import closed_port_url

pytestmark = [pytest.mark.s3, pytest.mark.usefixtures("aws_credentials")]

PDF_METADATA = {
    "PROPID": "LCOEPO2014B-010",
    "DATE-OBS": "2015-02-19T13:56:05.261",
    "DAY-OBS": "20150219",
    "INSTRUME": "nres03",
    "SITEID": "cpt",
    "TELID": "1m0a",
    "OBSTYPE": "EXPOSE",
    "BLKUID": "1234",
    "RLEVEL": 92,
}
THUMBNAIL_METADATA = {
    "SITEID": "tfn",
    "INSTRUME": "sq32",
    "DATE-OBS": "2024-04-26T11:11:11",
    "DAY-OBS": "20240426",
    "TELID": "0m4a",
    "PROPID": "LCOEPO2014B-010",
    "OBSTYPE": "EXPOSE",
    "frame_basename": "tfn0m419-sq32-20240426-0097-e91",
}


def md5_of_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_md5(url: str) -> str:
    digest = hashlib.md5()
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stored_versions(live_archive, s3_server, prefix: str = "") -> list[tuple[str, str]]:
    pages = s3_server.client.get_paginator("list_object_versions").paginate(
        Bucket=live_archive.bucket, Prefix=prefix
    )
    return [(v["Key"], v["VersionId"]) for page in pages for v in page.get("Versions", [])]


@pytest.mark.slow
def test_every_sample_product_ingests_downloads_identically_and_reingests_as_duplicate(
    live_archive, shared_data, s3_server
):
    settings = live_archive.settings()
    products: list[tuple[Path, dict]] = [
        (path, {}) for path in sorted((shared_data / "fits").iterdir())
    ]
    products.append((shared_data / "other" / "cptnrs03-fa13-20150219-0001-e92-summary.pdf", {}))
    seen_md5: set[str] = set()
    for path, _ in products:
        md5 = md5_of_file(path)
        kwargs: dict = {}
        if path.suffix == ".pdf":
            kwargs["file_metadata"] = dict(PDF_METADATA)
        with open(path, "rb") as f:
            if md5 in seen_md5:
                # Some fpacked catalogues are byte-identical to their .fits twin.
                with pytest.raises(NonFatalDoNotRetryError):
                    upload_file_and_ingest_to_archive(f, settings=settings, **kwargs)
                continue
            response = upload_file_and_ingest_to_archive(f, settings=settings, **kwargs)
        seen_md5.add(md5)
        (version,) = response["version_set"]
        assert version["md5"] == md5
        frame = live_archive.get(f"frames/{response['frameid']}/").json()
        assert frame["basename"] == path.name.split(".", 1)[0]
        (archived,) = [v for v in frame["version_set"] if v["md5"] == md5]
        assert archived["key"] == version["key"]
        assert download_md5(archived["url"]) == md5, path.name

    # Everything again: every product is now a duplicate, and nothing new is stored.
    before = stored_versions(live_archive, s3_server)
    for path, _ in products:
        kwargs = {"file_metadata": dict(PDF_METADATA)} if path.suffix == ".pdf" else {}
        with open(path, "rb") as f, pytest.raises(NonFatalDoNotRetryError):
            upload_file_and_ingest_to_archive(f, settings=settings, **kwargs)
    assert stored_versions(live_archive, s3_server) == before


def test_thumbnail_ingests_to_thumbnails(live_archive, shared_data):
    jpg = shared_data / "other" / "tfn0m419-sq32-20240426-0097-e91-small.jpg"
    metadata = dict(THUMBNAIL_METADATA)
    with open(jpg, "rb") as f:
        try:
            response = upload_file_and_ingest_to_archive(
                f,
                file_metadata=metadata,
                is_thumbnail=True,
                thumbnail_size="small",
                settings=live_archive.settings(),
            )
        except NonFatalDoNotRetryError:
            pytest.skip("thumbnail already ingested on this server by an earlier test")
    assert metadata == THUMBNAIL_METADATA  # the caller's dict is left alone
    assert response["size"] == "small"
    # The OCS thumbnail answer has no "id" (so upstream's thumbnail_id is None too); the
    # thumbnail is found by its basename under its frame.
    assert "thumbnail_id" in response
    listed = live_archive.get("thumbnails/", frame_basename=metadata["frame_basename"]).json()
    (thumbnail,) = [t for t in listed["results"] if t["basename"] == response["basename"]]
    assert thumbnail["size"] == "small"
    assert download_md5(thumbnail["url"]) == md5_of_file(jpg)


def test_archive_down_is_backoff_and_nothing_is_recorded(live_archive):
    product = unique_fits()
    settings = live_archive.settings(API_ROOT=closed_port_url())
    with pytest.raises(BackoffRetryError):
        upload_file_and_ingest_to_archive(product, settings=settings)
    # The archive was never reached, so the product is still new to it.
    response = upload_file_and_ingest_to_archive(product, settings=live_archive.settings())
    assert response["frameid"]


def test_store_down_is_backoff_and_nothing_is_recorded(live_archive):
    product = unique_fits()
    settings = live_archive.settings(
        S3_ENDPOINT_URL=closed_port_url().rstrip("/"), S3_MAX_ATTEMPTS="1"
    )
    with pytest.raises(BackoffRetryError, match="object store"):
        upload_file_and_ingest_to_archive(product, settings=settings)
    md5 = hashlib.md5(product.getvalue()).hexdigest()
    assert live_archive.get("versions/", md5=md5).json()["count"] == 0


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"this is not FITS at all" * 100, "cpt1m001-fa14-20260115-0001-e00.fits.fz", "FITS"),
        (None, "cpt1m001-fa14-20260115-0002-e00.fits", "PROPID"),
        (b"", "cpt1m001-fa14-20260115-0003-e00.fits", "empty"),
    ],
    ids=["garbage", "missing-headers", "empty"],
)
def test_malformed_products_are_do_not_retry_with_a_clear_message(
    live_archive, s3_server, content, name, message
):
    if content is None:
        buffer = unique_fits(omit=["PROPID"])
        content = buffer.getvalue()
    before = stored_versions(live_archive, s3_server, "cpt/fa14/")
    with pytest.raises(DoNotRetryError, match=message) as info:
        upload_file_and_ingest_to_archive(
            io.BytesIO(content), path=name, settings=live_archive.settings()
        )
    assert name in str(info.value)
    assert info.value.filename == name
    assert stored_versions(live_archive, s3_server, "cpt/fa14/") == before


def test_a_refused_record_leaves_no_object_behind(live_archive, s3_server):
    # A staff token may ask versions/ but not POST frames/: the archive answers 403 after the
    # upload, and the ingester must remove the version it uploaded.
    staff = live_archive.token_for("e2e-staff", staff=True)
    product = unique_fits()
    before = stored_versions(live_archive, s3_server)
    with pytest.raises(DoNotRetryError, match="403"):
        upload_file_and_ingest_to_archive(product, settings=live_archive.settings(AUTH_TOKEN=staff))
    assert stored_versions(live_archive, s3_server) == before
