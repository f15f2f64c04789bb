"""Single-file downloads: signed URLs (ranges, expiry, tampering), funpack and catalogue files.

Frames are ingested through the real serializer and service with their files in a real
filesystem store (``download_archive``); requests go through Django's test client.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pytest
from astropy.io import fits

from obsarchive.products.synthetic import frame_header, write_fits
from obsarchive.server.downloads.fitsfiles import FitsStreamError, catalogue, uncompressed
from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.storage import download_signing_key
from obsarchive.storage.signing import signed_download_url
from tests.server.factories import FUTURE, PAST

DOWNLOAD_PROBLEM = (
    "There was a problem downloading your files. Please try again later or select fewer files."
)
SKIP_CARDS = {"SIMPLE", "XTENSION", "EXTEND", "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM"}


# -- products ----------------------------------------------------------------------------------


def fz_bytes(seed: int = 0, shape: tuple[int, int] = (48, 64), **header: Any) -> bytes:
    """A synthetic fpacked LCO image (uint16 raw frame unless ``rlevel`` says otherwise)."""
    buffer = io.BytesIO()
    write_fits(buffer, compressed=True, shape=shape, seed=seed, **header)
    return buffer.getvalue()


def e91_bytes(*, with_catalogue: bool = True, seed: int = 0) -> bytes:
    """A processed LCO frame as BANZAI writes it: SCI (compressed) + CAT + BPM (compressed)."""
    rng = np.random.default_rng(seed)
    header = frame_header(basename="cpt1m010-fa14-20260115-0001-e91", rlevel=91, shape=(40, 50))
    sci = fits.CompImageHDU(
        data=rng.normal(100, 10, (40, 50)).astype(np.float32), header=header, name="SCI"
    )
    hdus = [fits.PrimaryHDU(), sci]
    if with_catalogue:
        columns = [
            fits.Column(name="ra", format="D", array=rng.uniform(149, 151, 12)),
            fits.Column(name="dec", format="D", array=rng.uniform(1, 3, 12)),
            fits.Column(name="flux", format="E", array=rng.uniform(1, 1e4, 12)),
        ]
        hdus.append(fits.BinTableHDU.from_columns(columns, name="CAT"))
    hdus.append(fits.CompImageHDU(data=np.zeros((40, 50), dtype=np.uint8), name="BPM"))
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


def cards(header: fits.Header) -> list[tuple[str, Any]]:
    return [(c.keyword, c.value) for c in header.cards if c.keyword not in SKIP_CARDS]


def assert_uncompressed_equal(original: bytes | Path, produced: bytes) -> None:
    """``produced`` holds astropy's decompression of ``original``: same HDUs, pixels, cards,
    and no compressed HDU left."""
    source = original if isinstance(original, Path) else io.BytesIO(original)
    with fits.open(source) as want, fits.open(io.BytesIO(produced)) as got:
        assert len(want) == len(got)
        for expected, actual in zip(want, got, strict=True):
            assert not isinstance(actual, fits.CompImageHDU)
            assert cards(expected.header) == cards(actual.header)
            if expected.data is None:
                assert actual.data is None
            elif isinstance(expected, fits.BinTableHDU):
                assert expected.data.tobytes() == actual.data.tobytes()
            else:
                assert expected.data.shape == actual.data.shape
                assert expected.data.dtype.newbyteorder("=") == actual.data.dtype.newbyteorder("=")
                assert np.array_equal(expected.data, actual.data, equal_nan=True)


# -- helpers -----------------------------------------------------------------------------------


def body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def local(url: str) -> str:
    """The path and query of an absolute archive URL (the test client needs no host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def row(client: Any, frame: Frame) -> dict[str, Any]:
    response = client.get(f"/frames/{frame.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def frame(download_archive: Any, world: Any) -> Frame:
    return download_archive.add(fz_bytes(), proposal_id="PROP-A", public_date=FUTURE)


# -- signed single-file downloads ------------------------------------------------------------


def test_the_row_url_serves_the_file(download_archive: Any, world: Any, frame: Frame) -> None:
    content = fz_bytes()
    item = row(world.client(world.member), frame)
    assert item["url"] == item["version_set"][0]["url"]
    response = world.anon.get(local(item["url"]))  # the URL itself is the capability
    assert response.status_code == 200
    assert body(response) == content
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Type"] == "image/fits"
    assert response["Content-Disposition"] == f"attachment; filename={frame.basename}.fits.fz"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.md5(content).hexdigest()}"'
    assert "private" in response["Cache-Control"]


def test_url_expiry_follows_the_setting(
    download_archive: Any, world: Any, frame: Frame, settings: Any
) -> None:
    def expires_in() -> float:
        query = dict(parse_qsl(urlsplit(row(world.su, frame)["url"]).query))
        return int(query["expires"]) - datetime.now(UTC).timestamp()

    assert 48 * 3600 - 60 < expires_in() <= 48 * 3600
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, url_expiry=timedelta(minutes=10)
    )
    assert 540 < expires_in() <= 600


@pytest.mark.parametrize(
    ("header", "status", "start", "end"),
    [
        ("bytes=10-19", 206, 10, 19),
        ("bytes=0-0", 206, 0, 0),
        ("bytes=100-", 206, 100, None),
        ("bytes=-25", 206, -25, None),
        ("bytes=5-999999999", 206, 5, None),
        ("bytes=0-9,20-29", 200, 0, None),  # several ranges: the whole file
        ("bytes=9-5", 200, 0, None),  # invalid: ignored
        ("items=0-5", 200, 0, None),  # unknown unit: ignored
    ],
)
def test_single_ranges(
    world: Any, frame: Frame, header: str, status: int, start: int, end: int | None
) -> None:
    content = fz_bytes()
    response = world.anon.get(local(row(world.su, frame)["url"]), HTTP_RANGE=header)
    assert response.status_code == status
    expected = content[start : None if end is None else end + 1]
    assert body(response) == expected
    assert response["Content-Length"] == str(len(expected))
    if status == 206:
        first = start if start >= 0 else len(content) + start
        assert (
            response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
        )
    else:
        assert not response.has_header("Content-Range")


@pytest.mark.parametrize("header", ["bytes=999999-", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(world: Any, frame: Frame, header: str) -> None:
    size = len(fz_bytes())
    response = world.anon.get(local(row(world.su, frame)["url"]), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert response.json() == {"detail": "The requested range is not satisfiable."}


def test_if_range_and_conditional_requests(world: Any, frame: Frame) -> None:
    url = local(row(world.su, frame)["url"])
    etag = world.anon.get(url)["ETag"]
    matching = world.anon.get(url, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE=etag)
    assert matching.status_code == 206 and body(matching) == b"SIMP"
    stale = world.anon.get(url, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"0123"')
    assert stale.status_code == 200 and len(body(stale)) == len(fz_bytes())
    assert world.anon.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert world.anon.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_head_and_other_methods(world: Any, frame: Frame) -> None:
    url = local(row(world.su, frame)["url"])
    head = world.anon.head(url)
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(fz_bytes())) and body(head) == b""
    post = world.anon.post(url)
    assert post.status_code == 405 and "GET" in post["Allow"]


def test_an_expired_link_is_refused(download_archive: Any, world: Any, frame: Frame) -> None:
    version = Version.objects.get(frame=frame)
    past = int(datetime.now(UTC).timestamp()) - 1
    url = signed_download_url(
        "http://testserver/", version.object_key, version.key, past, download_signing_key()
    )
    response = world.anon.get(local(url))
    assert response.status_code == 403
    assert response.json() == {"detail": "This download link is invalid or has expired."}
    still_valid = signed_download_url(
        "http://testserver/", version.object_key, version.key, past + 3600, download_signing_key()
    )
    assert world.anon.get(local(still_valid)).status_code == 200


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    path = changes.pop("path", parts.path)
    query.update(changes)
    return f"{path}?{urlencode(query)}"


def test_tampered_links_are_refused(download_archive: Any, world: Any) -> None:
    secret = download_archive.add(fz_bytes(seed=1), proposal_id="PROP-A", public_date=FUTURE)
    other = download_archive.add(fz_bytes(seed=2), proposal_id="PROP-B", public_date=FUTURE)
    url = row(world.client(world.member), secret)["url"]
    other_version = Version.objects.get(frame=other)
    query = dict(parse_qsl(urlsplit(url).query))
    attempts = [
        _tampered(url, path="/download/" + other_version.object_key),  # another file
        _tampered(url, version=other_version.key),
        _tampered(url, expires=str(int(query["expires"]) + 86400)),  # extend the link
        _tampered(url, signature=query["signature"][:-2] + "AA"),
        _tampered(url, signature=""),
        urlsplit(url).path,  # no query at all
        _tampered(url, expires="99999999999999999999999"),
    ]
    for attempt in attempts:
        response = world.anon.get(attempt)
        assert response.status_code == 403, attempt
        assert response.json()["detail"] == "This download link is invalid or has expired."
    assert world.anon.get(local(url)).status_code == 200


def test_each_version_keeps_its_own_bytes(download_archive: Any, world: Any) -> None:
    first = fz_bytes(seed=3)
    frame = download_archive.add(first, basename="cpt1m010-fa14-20260115-0042-e00")
    old_url = row(world.su, frame)["url"]
    second = fz_bytes(seed=4)
    download_archive.add(second, basename="cpt1m010-fa14-20260115-0042-e00")
    item = row(world.su, frame)
    assert len(item["version_set"]) == 2
    assert body(world.anon.get(local(item["url"]))) == second
    assert body(world.anon.get(local(old_url))) == first
    assert body(world.anon.get(local(item["version_set"][1]["url"]))) == first


def test_a_deleted_file_is_404_json(download_archive: Any, world: Any, frame: Frame) -> None:
    url = row(world.su, frame)["url"]
    version = Version.objects.get(frame=frame)
    download_archive.store.delete(version.object_key, version.key)
    response = world.anon.get(local(url))
    assert response.status_code == 404 and response.json() == {"detail": "No such file."}


# -- uncompressed (funpack) and catalogue files --------------------------------------------


def test_funpack_equals_astropys_decompression(download_archive: Any, world: Any) -> None:
    content = fz_bytes(seed=5, shape=(70, 90))
    public = download_archive.add(content, public_date=PAST)
    response = world.anon.get(f"/frame-funpack/{public.pk}/funpack/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f"attachment; filename={public.basename}.fits"
    produced = body(response)
    assert response["Content-Length"] == str(len(produced))
    assert len(produced) % 2880 == 0
    assert_uncompressed_equal(content, produced)


def test_funpack_of_a_float_image_with_quantisation(download_archive: Any, world: Any) -> None:
    content = fz_bytes(seed=6, rlevel=91)  # float32, quantised by the compression
    frame = download_archive.add(content, public_date=PAST, reduction_level=91)
    assert_uncompressed_equal(content, body(world.anon.get(f"/frame-funpack/{frame.pk}/funpack/")))


def test_uncompressed_real_products(shared_data: Path) -> None:
    for path in sorted((shared_data / "fits").glob("*.fits.fz")):
        with open(path, "rb") as stream:
            derived = uncompressed(stream)
            produced = b"".join(derived.chunks())
        assert len(produced) == derived.size, path.name
        assert_uncompressed_equal(path, produced)


def test_funpack_of_a_real_product_through_the_view(
    download_archive: Any, world: Any, shared_data: Path
) -> None:
    path = shared_data / "fits" / "cpt1m012-fl10-20151216-0073-e00.fits.fz"
    frame = download_archive.add(path.read_bytes(), public_date=PAST)
    response = world.anon.get(f"/frame-funpack/{frame.pk}/funpack/")
    produced = body(response)
    assert response.status_code == 200 and int(response["Content-Length"]) == len(produced)
    assert_uncompressed_equal(path, produced)


def test_catalogue_is_sci_header_plus_cat_table(download_archive: Any, world: Any) -> None:
    content = e91_bytes()
    frame = download_archive.add(content, public_date=PAST, reduction_level=91)
    response = world.anon.get(f"/frame-catalog/{frame.pk}/catalog/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f"attachment; filename={frame.basename}-catalog.fits"
    )
    produced = body(response)
    assert int(response["Content-Length"]) == len(produced)
    with fits.open(io.BytesIO(content)) as source, fits.open(io.BytesIO(produced)) as result:
        assert len(result) == 2
        assert result[0].data is None
        sci = source["SCI"].header
        for keyword in ("SITEID", "INSTRUME", "DATE-OBS", "OBJECT", "CD1_1", "CRVAL1"):
            assert result[0].header[keyword] == sci[keyword]
        assert result[1].name == "CAT"
        assert result[1].data.tobytes() == source["CAT"].data.tobytes()
        assert cards(result[1].header) == cards(source["CAT"].header)


def test_catalogue_of_a_frame_without_one(download_archive: Any, world: Any) -> None:
    frame = download_archive.add(e91_bytes(with_catalogue=False), public_date=PAST)
    response = world.anon.get(f"/frame-catalog/{frame.pk}/catalog/")
    assert response.status_code == 404
    assert response.json() == {"detail": "This frame has no catalog."}


def test_derived_files_of_odd_products(download_archive: Any, world: Any) -> None:
    tarball = download_archive.add(b"not fits at all", extension=".tar.gz", public_date=PAST)
    response = world.anon.get(f"/frame-funpack/{tarball.pk}/funpack/")
    assert response.status_code == 404
    assert "not a FITS file" in response.json()["detail"]
    broken = download_archive.add(b"SIMPLE  = garbage" * 300, public_date=PAST)
    response = world.anon.get(f"/frame-funpack/{broken.pk}/funpack/")
    assert response.status_code == 500
    assert response.json() == {"detail": DOWNLOAD_PROBLEM}
    for url in (
        "/frame-funpack/abc/funpack/",
        "/frame-funpack/0/funpack/",
        "/frame-funpack/99999/funpack/",
    ):
        assert world.anon.get(url).status_code == 404


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_a_truncated_file_fails_the_plan_not_the_stream() -> None:
    content = fz_bytes(seed=7)
    with pytest.raises(FitsStreamError):
        uncompressed(io.BytesIO(content[:3000]))
    with pytest.raises(FitsStreamError):
        catalogue(io.BytesIO(content[:100]))


def test_uncompressing_streams_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    data = np.random.default_rng(8).integers(0, 60000, size=(2500, 2500)).astype(np.uint16)
    path = tmp_path / "big.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=data, name="SCI")]).writeto(path)
    del data
    with open(path, "rb") as stream:
        tracemalloc.start()
        try:
            derived = uncompressed(stream)
            total = 0
            digest = hashlib.md5()
            for chunk in derived.chunks():
                total += len(chunk)
                digest.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert total == derived.size >= 2500 * 2500 * 2
    assert peak < 25 * 1024 * 1024, peak  # the image alone is 12.5 MB, as float64 50 MB
    json.dumps({"md5": digest.hexdigest()})  # the stream was consumed to the end


def test_uncompressing_a_file_or_an_in_memory_stream_gives_the_same_bytes(tmp_path: Path) -> None:
    content = fz_bytes(seed=9, shape=(64, 64))
    path = tmp_path / "x.fits.fz"
    path.write_bytes(content)
    from_memory = b"".join(uncompressed(io.BytesIO(content)).chunks())  # read, no memory map
    with open(path, "rb") as stream:
        from_file = b"".join(uncompressed(stream).chunks())  # memory-mapped by astropy
    assert from_memory == from_file
    assert_uncompressed_equal(content, from_file)
