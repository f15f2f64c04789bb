"""One test per row of the exception table (reference §2.2, with the §2.3 obsarchive overrides).

Every test drives a public entry point end to end: real files (synthetic or the LCO samples),
real object stores (memory, or S3 over HTTP via moto), and real HTTP to a local stub archive,
a closed port or a black-hole socket. Nothing patches ``requests``.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from obsarchive.config import load_settings
from obsarchive.ingester import (
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
    frame_exists,
    upload_file_and_ingest_to_archive,
    upload_file_to_file_store,
    validate_fits_and_create_archive_record,
)
from obsarchive.products.synthetic import write_fits, write_tar_bundle
from obsarchive.storage import StoredObject
from obsarchive.storage.memory import MemoryStore
from tests.ingester.stub_archive import Reply, black_hole, closed_port_url, stub_archive

LCO_TAR = {".tar.gz": "ocs_archive.input.lcotarwithfitsfile.LcoTarWithFitsFile"}
THUMBNAIL_METADATA = {
    "SITEID": "tfn",
    "INSTRUME": "sq32",
    "DATE-OBS": "2024-04-26T11:11:11",
    "DAY-OBS": "20240426",
    "TELID": "0m4a",
    "frame_basename": "tfn0m419-sq32-20240426-0097-e91",
}


@pytest.fixture
def stub():
    with stub_archive() as archive:
        yield archive


@pytest.fixture
def store():
    return MemoryStore()


def settings_for(api_root: str, **environ: str):
    # No previews: they would add thumbnail POSTs to successful frame ingests, nothing else.
    base = {"API_ROOT": api_root, "AUTH_TOKEN": "T", "MAKE_PREVIEWS": "false"}
    return load_settings({**base, **environ})


def fits_bytes(name: str = "cpt1m001-fa14-20260115-0001-e91.fits", **header) -> io.BytesIO:
    buffer = io.BytesIO()
    write_fits(buffer, basename=name.split(".", 1)[0], **header)
    buffer.seek(0)
    buffer.name = name
    return buffer


def ingest(fileobj, stub, store, path=None, environ=None, **kwargs):
    return upload_file_and_ingest_to_archive(
        fileobj,
        path,
        settings=settings_for(stub.api_root, **(environ or {})),
        store=store,
        **kwargs,
    )


def assert_nothing_written(stub, store) -> None:
    assert list(store.keys()) == []
    assert stub.seen("POST", "/frames/") == [] and stub.seen("POST", "/thumbnails/") == []


# --- product rows --------------------------------------------------------------------------


def test_no_filename_is_do_not_retry_but_frame_exists_works(stub, store):
    data = fits_bytes().getvalue()
    settings = settings_for(stub.api_root)
    with pytest.raises(DoNotRetryError, match="no file name"):
        ingest(io.BytesIO(data), stub, store)
    with pytest.raises(DoNotRetryError):
        validate_fits_and_create_archive_record(io.BytesIO(data), settings=settings)
    with pytest.raises(DoNotRetryError):
        upload_file_to_file_store(io.BytesIO(data), settings=settings, store=store)
    assert_nothing_written(stub, store)
    # frame_exists needs only the bytes; a name given with path= makes the ingest work.
    assert frame_exists(io.BytesIO(data), settings=settings) is False
    assert ingest(io.BytesIO(data), stub, store, path="fake_path.fits")["frameid"] == 1
    stub.answer("GET", "/versions/", Reply(200, {"count": 1}))
    assert frame_exists(io.BytesIO(data), settings=settings) is True


@pytest.mark.parametrize("name", ["x.FITS", "x.txt", "noextension"])
def test_unsupported_extension_is_do_not_retry(stub, store, name):
    with pytest.raises(DoNotRetryError, match="not a currently supported file type") as info:
        ingest(fits_bytes(), stub, store, path=name)
    assert info.value.filename == name
    assert_nothing_written(stub, store)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("this.module.is.fake.fitsfile.FakeFitsFile", "was not found"),
        ("obsarchive.products.product.FakeFitsFile", "does not exist"),
        ("obsarchive.storage.base.StoredObject", "must be a subclass"),
    ],
)
def test_broken_filetype_override_is_do_not_retry(stub, store, target, message):
    overrides = repr({".fits": target})
    with pytest.raises(DoNotRetryError, match=message):
        ingest(fits_bytes(), stub, store, environ={"FILETYPE_MAPPING_OVERRIDES": overrides})
    assert_nothing_written(stub, store)


def test_missing_required_header_is_do_not_retry(stub, store):
    with pytest.raises(DoNotRetryError, match="fooheader"):
        ingest(fits_bytes(), stub, store, required_headers=["fooheader"])
    assert_nothing_written(stub, store)


def test_fits_class_given_another_extension_is_do_not_retry(stub, store):
    overrides = repr({".fit": "ocs_archive.input.fitsfile.FitsFile"})
    with pytest.raises(DoNotRetryError, match="must have extension"):
        ingest(
            fits_bytes(),
            stub,
            store,
            path="x.fit",
            environ={"FILETYPE_MAPPING_OVERRIDES": overrides},
        )
    assert_nothing_written(stub, store)


def test_uninferable_obstype_is_do_not_retry(stub, store):
    product = io.BytesIO()
    write_fits(product, basename="oddname", obstype="UNKNOWN", compressed=True)
    with pytest.raises(DoNotRetryError, match="OBSTYPE is UNKNOWN and could not be inferred"):
        ingest(product, stub, store, path="oddname.fits.fz")
    assert_nothing_written(stub, store)


def test_tar_without_meta_fits_is_do_not_retry(stub, store, tmp_path):
    path = write_tar_bundle(tmp_path / "lscnrs01-fa09-20260115-0049-e91.tar.gz", include_meta=False)
    environ = {"FILETYPE_MAPPING_OVERRIDES": repr(LCO_TAR)}
    with open(path, "rb") as f, pytest.raises(DoNotRetryError, match="required keywords"):
        ingest(f, stub, store, environ=environ)
    assert_nothing_written(stub, store)


def test_thumbnail_without_size_is_do_not_retry(stub, store, shared_data):
    jpg = shared_data / "other" / "tfn0m419-sq32-20240426-0097-e91-small.jpg"
    metadata = dict(THUMBNAIL_METADATA)
    with open(jpg, "rb") as f, pytest.raises(DoNotRetryError) as info:
        ingest(f, stub, store, file_metadata=metadata, is_thumbnail=True)
    assert str(info.value) == "thumbnail_size must be provided for thumbnail files"
    assert metadata == THUMBNAIL_METADATA
    assert_nothing_written(stub, store)


def test_invalid_filestore_type_is_do_not_retry(stub, monkeypatch):
    monkeypatch.setenv("FILESTORE_TYPE", "crazystore")
    monkeypatch.setenv("API_ROOT", stub.api_root)
    with pytest.raises(DoNotRetryError, match="FILESTORE_TYPE") as info:
        upload_file_and_ingest_to_archive(fits_bytes())
    assert info.value.filename == "cpt1m001-fa14-20260115-0001-e91.fits"
    with pytest.raises(DoNotRetryError, match="FILESTORE_TYPE"):
        upload_file_to_file_store(fits_bytes())
    assert stub.requests == []


def test_already_archived_md5_is_non_fatal_and_nothing_is_uploaded(stub, store):
    stub.answer("GET", "/versions/", Reply(200, {"count": 1}))
    with pytest.raises(NonFatalDoNotRetryError) as info:
        ingest(fits_bytes(), stub, store)
    assert str(info.value) == "Version with this md5 already exists"
    assert info.value.filename == "cpt1m001-fa14-20260115-0001-e91.fits"
    assert_nothing_written(stub, store)


class CorruptingStore(MemoryStore):
    """A store whose bytes differ from what was sent (a proxy rewriting uploads, say)."""

    def put(self, key, fileobj, **options) -> StoredObject:
        stored = super().put(key, fileobj, **options)
        return StoredObject(stored.key, stored.version_id, "0" * 32, stored.size)


def test_store_md5_mismatch_is_backoff_and_the_upload_is_removed(stub):
    store = CorruptingStore()
    with pytest.raises(BackoffRetryError, match="S3 md5 did not match ours"):
        ingest(fits_bytes(), stub, store)
    assert_nothing_written(stub, store)


def test_unreachable_object_store_is_backoff(stub, monkeypatch):
    # boto3 reads credentials from the process environment, not from obsarchive's settings.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    environ = {
        "FILESTORE_TYPE": "s3",
        "BUCKET": "ingest-test",
        "S3_ENDPOINT_URL": closed_port_url().rstrip("/"),
        "S3_MAX_ATTEMPTS": "1",
        "S3_CONNECT_TIMEOUT": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    settings = settings_for(stub.api_root, **environ)
    with pytest.raises(BackoffRetryError, match="object store"):
        upload_file_and_ingest_to_archive(fits_bytes(), settings=settings)
    with pytest.raises(BackoffRetryError, match="object store"):
        upload_file_to_file_store(fits_bytes(), settings=settings)
    assert stub.seen("POST", "/frames/") == []


@pytest.mark.s3
def test_missing_bucket_is_do_not_retry(stub, s3_server):
    store = s3_server.store("no-such-bucket-for-ingest")
    with pytest.raises(DoNotRetryError, match="does not exist"):
        ingest(fits_bytes(), stub, store)
    assert stub.seen("POST", "/frames/") == []


@pytest.mark.s3
def test_unversioned_bucket_is_do_not_retry(stub, s3_server):
    store = s3_server.store(s3_server.create_bucket(versioned=False))
    with pytest.raises(DoNotRetryError, match="not versioned"):
        ingest(fits_bytes(), stub, store)
    assert stub.seen("POST", "/frames/") == []


@pytest.mark.s3
def test_timezone_aware_date_obs_works_with_s3(stub, s3_server):
    bucket = s3_server.create_bucket()
    store = s3_server.store(bucket)
    product = fits_bytes(
        date_obs=dt.datetime(2016, 4, 1, tzinfo=dt.UTC),
        extra_headers={"DATE-OBS": "2016-04-01T00:00:00+00:00"},
    )
    response = ingest(product, stub, store)
    assert response["observation_date"] == "2016-04-01T00:00:00+00:00"
    (key,) = store.keys()
    assert key.startswith("cpt/fa14/20160401/")
    (version,) = response["version_set"]
    head = s3_server.client.head_object(Bucket=bucket, Key=key, VersionId=version["key"])
    assert head["StorageClass"] == "STANDARD_IA"


# --- archive HTTP rows ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/versions/", "/frames/"])
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_archive_4xx_is_do_not_retry_and_leaves_nothing_stored(stub, store, path, status):
    method = "GET" if path == "/versions/" else "POST"
    stub.answer(method, path, Reply(status, {"detail": "no"}))
    with pytest.raises(DoNotRetryError, match=str(status)):
        ingest(fits_bytes(), stub, store)
    assert list(store.keys()) == []
    if path == "/versions/":
        stub.answer("GET", "/versions/", Reply(status, {"detail": "no"}))
        with pytest.raises(DoNotRetryError):
            frame_exists(fits_bytes(), settings=settings_for(stub.api_root))


def test_archive_429_is_backoff(stub, store):
    stub.answer("GET", "/versions/", Reply(429, {"detail": "throttled"}, {"Retry-After": "3"}))
    with pytest.raises(BackoffRetryError) as info:
        ingest(fits_bytes(), stub, store)
    assert info.value.retry_after == 3.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_archive_5xx_is_backoff(stub, store, status):
    stub.answer("POST", "/frames/", Reply(status, "<html>oops</html>"))
    with pytest.raises(BackoffRetryError, match=str(status)):
        ingest(fits_bytes(), stub, store)
    stub.answer("GET", "/versions/", Reply(status, "oops"))
    with pytest.raises(BackoffRetryError):
        frame_exists(fits_bytes(), settings=settings_for(stub.api_root))


def test_archive_connection_refused_is_backoff(store):
    url = closed_port_url()
    with pytest.raises(BackoffRetryError, match=r"[Cc]onnection refused"):
        upload_file_and_ingest_to_archive(fits_bytes(), settings=settings_for(url), store=store)
    with pytest.raises(BackoffRetryError):
        frame_exists(fits_bytes(), settings=settings_for(url))
    assert list(store.keys()) == []


def test_archive_dns_failure_is_backoff(store):
    # .invalid never resolves (RFC 6761), with or without network access.
    settings = settings_for("http://archive.obsarchive-test.invalid/")
    with pytest.raises(BackoffRetryError, match="archive"):
        upload_file_and_ingest_to_archive(fits_bytes(), settings=settings, store=store)
    with pytest.raises(BackoffRetryError):
        frame_exists(fits_bytes(), settings=settings)


def test_archive_timeout_is_backoff(store):
    timeouts = {"ARCHIVE_CONNECT_TIMEOUT": "1", "ARCHIVE_READ_TIMEOUT": "0.2"}
    with black_hole() as url:
        settings = settings_for(url, **timeouts)
        with pytest.raises(BackoffRetryError, match="in time"):
            upload_file_and_ingest_to_archive(fits_bytes(), settings=settings, store=store)
        with pytest.raises(BackoffRetryError):
            frame_exists(fits_bytes(), settings=settings)


def test_versions_answer_without_count_is_backoff(stub, store):
    stub.answer("GET", "/versions/", Reply(200, {"results": []}))
    with pytest.raises(BackoffRetryError, match="count"):
        ingest(fits_bytes(), stub, store)


def test_unparsable_json_from_the_archive_is_backoff(stub, store):
    stub.answer("POST", "/frames/", Reply(201, "<html>not json</html>"))
    with pytest.raises(BackoffRetryError, match="not JSON"):
        ingest(fits_bytes(), stub, store)


@pytest.mark.parametrize("api_root", ["archive.example.org/", "ftp://archive.example.org/"])
def test_malformed_api_root_is_do_not_retry(store, api_root):
    with pytest.raises(DoNotRetryError, match="API_ROOT"):
        upload_file_and_ingest_to_archive(fits_bytes(), api_root=api_root, store=store)
    with pytest.raises(DoNotRetryError, match="API_ROOT"):
        frame_exists(fits_bytes(), api_root=api_root)
    assert list(store.keys()) == []


# --- header value rows ---------------------------------------------------------------------


def test_non_integer_rlevel_is_do_not_retry(stub, store):
    with pytest.raises(DoNotRetryError, match="RLEVEL"):
        ingest(fits_bytes(rlevel=None, extra_headers={"RLEVEL": "N/A"}), stub, store)
    assert_nothing_written(stub, store)


def test_missing_date_obs_without_public_date_is_do_not_retry(stub, store):
    product = fits_bytes(omit=["DATE-OBS", "L1PUBDAT"])
    with pytest.raises(DoNotRetryError, match="DATE-OBS"):
        ingest(product, stub, store, required_headers=[])
    assert_nothing_written(stub, store)


def test_unparsable_pointing_is_do_not_retry(stub, store):
    product = fits_bytes(extra_headers={"RADIUS": 5, "RA": "abc", "DEC": "-10:00:00"})
    with pytest.raises(DoNotRetryError, match="pointing"):
        ingest(product, stub, store)
    assert_nothing_written(stub, store)


def test_unreachable_observation_portal_is_backoff(stub, store):
    environ = {
        "OBSERVATION_PORTAL_BASE_URL": closed_port_url(),
        "OBSERVATION_PORTAL_API_TOKEN": "portal-token",
    }
    with pytest.raises(BackoffRetryError, match="Observation Portal"):
        ingest(fits_bytes(omit=["L1PUBDAT"]), stub, store, environ=environ)
    assert_nothing_written(stub, store)


@pytest.mark.parametrize("url", ["", "portal.example.org"])
def test_malformed_observation_portal_url_is_do_not_retry(stub, monkeypatch, url):
    monkeypatch.setenv("API_ROOT", stub.api_root)
    monkeypatch.setenv("OBSERVATION_PORTAL_BASE_URL", url)
    monkeypatch.setenv("OBSERVATION_PORTAL_API_TOKEN", "portal-token")
    with pytest.raises(DoNotRetryError, match="OBSERVATION_PORTAL_BASE_URL"):
        upload_file_and_ingest_to_archive(fits_bytes(), store=MemoryStore())
    assert stub.requests == []


def test_commentary_cards_not_blacklisted_are_sent_as_text(stub, store):
    # Upstream: raw TypeError inside requests.post. obsarchive makes the headers JSON-safe, so
    # the row's failure cannot happen; it must certainly not escape raw.
    product = fits_bytes(extra_headers={"COMMENT": "a comment card", "HISTORY": "a history"})
    response = ingest(product, stub, store, blacklist_headers=[])
    (posted,) = stub.seen("POST", "/frames/")
    assert "a comment card" in str(posted.json()["headers"]["COMMENT"])
    assert response["frameid"] == 1


def test_tgz_mapped_to_the_tar_class_is_do_not_retry(stub, store, tmp_path):
    path = write_tar_bundle(tmp_path / "lscnrs01-fa09-20260115-0049-e91.tar.gz")
    overrides = {".tgz": "ocs_archive.input.tarwithfitsfile.TarWithFitsFile"}
    environ = {"FILETYPE_MAPPING_OVERRIDES": repr(overrides)}
    with open(path, "rb") as f, pytest.raises(DoNotRetryError, match=r"\.tar"):
        ingest(f, stub, store, path="lscnrs01-fa09-20260115-0049-e91.tgz", environ=environ)
    assert_nothing_written(stub, store)


def test_thumbnail_file_without_is_thumbnail_is_do_not_retry(stub, store, shared_data):
    jpg = shared_data / "other" / "tfn0m419-sq32-20240426-0097-e91-small.jpg"
    metadata = {**THUMBNAIL_METADATA, "size": "small"}
    with open(jpg, "rb") as f, pytest.raises(DoNotRetryError, match="thumbnail"):
        ingest(f, stub, store, file_metadata=metadata)
    assert_nothing_written(stub, store)
    assert stub.requests == []


# --- every exception carries the file name and the cause ----------------------------------


def test_errors_carry_filename_and_cause(store, tmp_path):
    path = Path(tmp_path / "cpt1m001-fa14-20260115-0001-e91.fits")
    path.write_bytes(fits_bytes().getvalue())
    with open(path, "rb") as f, pytest.raises(BackoffRetryError) as info:
        upload_file_and_ingest_to_archive(f, settings=settings_for(closed_port_url()), store=store)
    assert info.value.filename == str(path)
    assert info.value.__cause__ is not None
