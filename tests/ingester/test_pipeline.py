"""The ingest pipeline and the upstream-compatible functions (memory store, local HTTP stub)."""

from __future__ import annotations

import io
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from obsarchive.config import load_settings
from obsarchive.ingester import (
    IngestPipeline,
    NonFatalDoNotRetryError,
    frame_exists,
    ingest_archive_record,
    upload_file_and_ingest_to_archive,
    upload_file_to_file_store,
    validate_fits_and_create_archive_record,
)
from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError
from obsarchive.ingester.settings import resolve_api_root, resolve_auth_token
from obsarchive.products.synthetic import write_fits, write_large_fits
from obsarchive.storage.filesystem import FilesystemStore
from obsarchive.storage.memory import MemoryStore
from tests.ingester.stub_archive import Reply, stub_archive

E90 = "coj1m011-kb05-20150219-0125-e90.fits.fz"
E90_MD5 = "cff1cc4a16b8f46713e61944f42028c9"
PDF = "cptnrs03-fa13-20150219-0001-e92-summary.pdf"
JPG = "tfn0m419-sq32-20240426-0097-e91-small.jpg"
PDF_METADATA = {
    "SITEID": "cpt",
    "INSTRUME": "nres03",
    "DATE-OBS": "2015-02-19T13:56:05.261",
    "DAY-OBS": "",
    "OBSTYPE": "EXPOSE",
    "RLEVEL": 92,
    "PROPID": "LCOEPO2014B-010",
    "TELID": "1m0a",
    "BLKUID": "1234",
}
THUMBNAIL_METADATA = {
    "SITEID": "tfn",
    "INSTRUME": "sq32",
    "DATE-OBS": "2024-04-26T11:11:11",
    "DAY-OBS": "20240426",
    "TELID": "0m4a",
    "frame_basename": "tfn0m419-sq32-20240426-0097-e91",
}
RESPONSE_KEYS = {
    "area",
    "basename",
    "configuration_type",
    "exposure_time",
    "filename",
    "frame_basename",
    "frameid",
    "headers",
    "instrument_id",
    "observation_date",
    "observation_day",
    "observation_id",
    "primary_optical_element",
    "proposal_id",
    "public_date",
    "reduction_level",
    "related_frame_filenames",
    "request_id",
    "site_id",
    "size",
    "target_name",
    "telescope_id",
    "url",
    "version_set",
}


@pytest.fixture
def stub():
    with stub_archive() as archive:
        yield archive


@pytest.fixture
def store():
    return MemoryStore()


def settings_for(stub, **environ):
    # Previews (obsarchive.ingester.previews) have their own tests; here they would only add
    # thumbnail objects and POSTs to every frame ingest.
    base = {"API_ROOT": stub.api_root, "AUTH_TOKEN": "T", "MAKE_PREVIEWS": "false"}
    return load_settings({**base, **environ})


def synthetic(name: str = "cpt1m001-fa14-20260115-0007-e00.fits", **header) -> io.BytesIO:
    buffer = io.BytesIO()
    write_fits(buffer, basename=name.split(".", 1)[0], **header)
    buffer.seek(0)
    buffer.name = name
    return buffer


def test_e90_ingest_gives_the_ocs_ingester_response(stub, store, shared_data):
    with open(shared_data / "fits" / E90, "rb") as f:
        response = upload_file_and_ingest_to_archive(f, settings=settings_for(stub), store=store)

    (check,) = stub.seen("GET", "/versions/")
    assert check.query == {"md5": [E90_MD5]} and check.headers["authorization"] == "Token T"
    (post,) = stub.seen("POST", "/frames/")
    assert set(response) == RESPONSE_KEYS
    assert {k: v for k, v in post.json().items()} == {
        k: v for k, v in response.items() if k not in {"frameid", "filename", "url"}
    }
    expected = {
        "reduction_level": 90,
        "observation_day": "20150219",
        "observation_date": "2015-02-19T13:56:05.261",
        "proposal_id": "LCOEPO2014B-010",
        "instrument_id": "kb05",
        "target_name": "M84",
        "site_id": "coj",
        "telescope_id": "1m0a",
        "exposure_time": 10.0,
        "primary_optical_element": "V",
        "public_date": "2015-02-19T13:56:05",
        "configuration_type": "EXPOSE",
        "observation_id": "53195954",
        "request_id": "0000296263",
        "frame_basename": None,
        "size": "",
        "basename": "coj1m011-kb05-20150219-0125-e90",
        "frameid": 1,
        "filename": "coj1m011-kb05-20150219-0125-e90.fits.fz",
    }
    assert {k: response[k] for k in expected} == expected
    (version,) = response["version_set"]
    key = "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"
    (stored,) = store.versions(key)
    assert version == {
        "key": stored.version_id,
        "md5": E90_MD5,
        "extension": ".fits.fz",
        "object_key": key,
        "size": 83520,
    }
    assert stored.content_type == "image/fits"
    assert response["area"]["type"] == "Polygon" and len(response["area"]["coordinates"][0]) == 5
    assert not {"COMMENT", "HISTORY", ""} & set(response["headers"])


def test_pdf_with_metadata_is_stored_under_its_processed_key(stub, store, shared_data):
    metadata = dict(PDF_METADATA)
    with open(shared_data / "other" / PDF, "rb") as f:
        response = upload_file_and_ingest_to_archive(
            f, file_metadata=metadata, settings=settings_for(stub), store=store
        )
    assert metadata == PDF_METADATA  # never modified (upstream adds DAY-OBS and L1PUBDAT)
    assert response["observation_day"] == "20150219"
    (stored,) = store.versions(f"cpt/nres03/20150219/processed/{PDF}")
    assert stored.content_type == ""


def test_thumbnail_goes_to_thumbnails(stub, store, shared_data):
    metadata = dict(THUMBNAIL_METADATA)
    with open(shared_data / "other" / JPG, "rb") as f:
        response = upload_file_and_ingest_to_archive(
            f,
            file_metadata=metadata,
            is_thumbnail=True,
            thumbnail_size="small",
            settings=settings_for(stub),
            store=store,
        )
    assert metadata == THUMBNAIL_METADATA  # the size is not written into the caller's dict
    assert stub.seen("POST", "/frames/") == []
    (post,) = stub.seen("POST", "/thumbnails/")
    assert post.json()["size"] == "small"
    assert response["thumbnail_id"] == 1 and "frameid" not in response
    assert response["frame_basename"] == "tfn0m419-sq32-20240426-0097-e91"
    (stored,) = store.versions(f"tfn/sq32/20240426/thumbnails/{JPG}")
    assert stored.content_type == "image/jpg"


def test_thumbnail_without_frame_basename_is_refused(stub, store, shared_data):
    metadata = {k: v for k, v in THUMBNAIL_METADATA.items() if k != "frame_basename"}
    with open(shared_data / "other" / JPG, "rb") as f, pytest.raises(DoNotRetryError):
        upload_file_and_ingest_to_archive(
            f,
            file_metadata=metadata,
            is_thumbnail=True,
            thumbnail_size="small",
            settings=settings_for(stub),
            store=store,
        )
    assert list(store.keys()) == []


def test_a_concurrent_duplicate_is_non_fatal_and_our_upload_is_removed(stub, store):
    # Another ingester archives the same bytes between our check and our POST.
    answers = iter([{"count": 0}, {"count": 1}])
    stub.answer("GET", "/versions/", lambda _r: Reply(200, next(answers)))
    refusal = {"version_set": [{"md5": ["version with this md5 already exists."]}]}
    stub.answer("POST", "/frames/", Reply(400, refusal))
    with pytest.raises(NonFatalDoNotRetryError, match="already exists"):
        upload_file_and_ingest_to_archive(synthetic(), settings=settings_for(stub), store=store)
    assert list(store.keys()) == []


def test_a_temporary_failure_to_record_keeps_the_upload(stub, store):
    # The archive may have committed before failing; a record must never lack its file.
    stub.answer("POST", "/frames/", Reply(503, "busy"))
    with pytest.raises(BackoffRetryError):
        upload_file_and_ingest_to_archive(synthetic(), settings=settings_for(stub), store=store)
    assert len(list(store.keys())) == 1


def test_a_non_seekable_stream_is_ingested(stub, store):
    data = synthetic().getvalue()
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)))
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        response = upload_file_and_ingest_to_archive(
            pipe,
            path="cpt1m001-fa14-20260115-0007-e00.fits",
            settings=settings_for(stub),
            store=store,
        )
    writer.join()
    (version,) = response["version_set"]
    with store.open(version["object_key"], version["key"]) as stored:
        assert stored.read() == data


def test_the_pipeline_accepts_a_path_and_is_shared_by_threads(stub, store, tmp_path):
    pipeline = IngestPipeline.from_settings(settings_for(stub), store=store)
    paths = [
        write_fits(tmp_path, basename=f"cpt1m001-fa14-20260115-{n:04d}-e00", frame_number=n)
        for n in range(1, 9)
    ]
    results: list = []
    threads = [
        threading.Thread(target=lambda p=p: results.append(pipeline.ingest(str(p)))) for p in paths
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.basename for r in results) == sorted(Path(p).name[:-5] for p in paths)
    assert len(stub.seen("POST", "/frames/")) == 8
    assert len(list(store.keys())) == 8


def test_plan_is_a_dry_run(stub, store):
    pipeline = IngestPipeline.from_settings(settings_for(stub), store=store)
    plan = pipeline.plan(synthetic())
    assert plan.storage_key == "cpt/fa14/20260115/raw/cpt1m001-fa14-20260115-0007-e00.fits"
    assert plan.record["basename"] == "cpt1m001-fa14-20260115-0007-e00"
    assert "version_set" not in plan.record
    assert stub.requests == [] and list(store.keys()) == []


def test_validate_fits_and_create_archive_record_uses_no_network(stub, shared_data):
    with open(shared_data / "fits" / E90, "rb") as f:
        record = validate_fits_and_create_archive_record(f, settings=settings_for(stub))
    assert record["reduction_level"] == 90 and record["area"]["type"] == "Polygon"
    assert "version_set" not in record
    assert stub.requests == []


def test_upload_file_to_file_store_returns_the_version(stub, store, shared_data):
    with open(shared_data / "fits" / E90, "rb") as f:
        version = upload_file_to_file_store(f, settings=settings_for(stub), store=store)
    (stored,) = store.versions("coj/kb05/20150219/processed/" + E90)
    assert version == {"key": stored.version_id, "md5": E90_MD5, "extension": ".fits.fz"}
    assert stub.requests == []


def test_ingest_archive_record_posts_the_version(stub):
    record = {"basename": "x-e00", "observation_date": "2021-10-10T20:00:00", "headers": {}}
    version = {"key": "k", "md5": "m", "extension": ".fits"}
    result = ingest_archive_record(version, record, api_root=stub.api_root, auth_token="T")
    assert result is record and record["version_set"] == [version]
    (post,) = stub.seen("POST", "/frames/")
    assert post.json()["version_set"] == [version]
    assert result["frameid"] == 1


def test_frame_exists_reflects_the_archive(stub):
    assert frame_exists(synthetic(), api_root=stub.api_root, auth_token="T") is False
    stub.answer("GET", "/versions/", Reply(200, {"count": 2}))
    assert frame_exists(synthetic(), api_root=stub.api_root, auth_token="T") is True


def test_configuration_is_read_when_called(monkeypatch, store):
    monkeypatch.setenv("MAKE_PREVIEWS", "false")
    with stub_archive() as first, stub_archive() as second:
        for archive in (first, second):
            monkeypatch.setenv("API_ROOT", archive.api_root)
            upload_file_and_ingest_to_archive(synthetic(seed=len(archive.api_root)), store=store)
        assert len(first.seen("POST", "/frames/")) == 1
        assert len(second.seen("POST", "/frames/")) == 1


def test_auth_token_precedence(tmp_path):
    settings = load_settings({"OBSARCHIVE_HOME": str(tmp_path)})
    assert resolve_auth_token(settings) == ""
    (tmp_path / "token").write_text("from-file\n")
    assert resolve_auth_token(settings) == "from-file"
    with_env = load_settings({"OBSARCHIVE_HOME": str(tmp_path), "AUTH_TOKEN": "from-env"})
    assert resolve_auth_token(with_env) == "from-env"
    assert resolve_auth_token(with_env, "explicit") == "explicit"
    assert resolve_api_root(settings, "http://a.example/api") == "http://a.example/api/"


@pytest.mark.slow
def test_a_large_product_is_streamed_in_constant_memory(stub, tmp_path):
    """200 MB through checksum, upload and record with a small, size-independent peak.

    (Previews are off: rendering them is bounded by obsarchive.products.previews, tested there.)
    """
    path = write_large_fits(tmp_path, data_bytes=200 * 1024 * 1024)
    store = FilesystemStore(tmp_path / "store")
    pipeline = IngestPipeline.from_settings(settings_for(stub), store=store)
    tracemalloc.start()
    try:
        result = pipeline.ingest(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.stored.size == path.stat().st_size
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_plan_and_ingest_take_the_arguments_of_validate():
    import inspect

    def parameters(method):
        return list(inspect.signature(method).parameters.values())

    validate = parameters(IngestPipeline.validate)
    assert [p.name for p in validate][:4] == ["self", "fileobj", "path", "file_metadata"]
    assert parameters(IngestPipeline.plan) == validate
    assert parameters(IngestPipeline.ingest) == validate
    assert (
        IngestPipeline.ingest.__name__ == "ingest"
        and "de-duplicate" in IngestPipeline.ingest.__doc__
    )


def test_plan_passes_every_argument_to_validate(stub, store):
    pipeline = IngestPipeline.from_settings(settings_for(stub), store=store)
    plan = pipeline.plan(
        io.BytesIO(b"not read"), JPG, THUMBNAIL_METADATA, is_thumbnail=True, thumbnail_size="small"
    )
    assert plan.storage_key == f"tfn/sq32/20240426/thumbnails/{JPG}"
    assert plan.record["size"] == "small"
    with pytest.raises(DoNotRetryError, match="thumbnail_size"):
        pipeline.plan(io.BytesIO(b"not read"), JPG, THUMBNAIL_METADATA, is_thumbnail=True)
    with pytest.raises(DoNotRetryError, match="MISSING"):
        pipeline.plan(synthetic(), None, None, ["MISSING"])  # required_headers, positionally
    assert stub.requests == [] and list(store.keys()) == []
