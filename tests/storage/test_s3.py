"""S3-specific behaviour: bucket configuration, failures, upload metadata, delete markers."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import boto3.session
import pytest
from botocore.stub import Stubber

from obsarchive.storage import (
    ObjectNotFoundError,
    StoreConfigurationError,
    StoreUnavailableError,
    object_key,
)
from obsarchive.storage.s3 import S3Store, create_s3_client, storage_class_for
from tests.s3server import S3Server

KEY = object_key(
    "coj", "kb05", "20150219", "processed", "coj1m011-kb05-20150219-0125-e90", ".fits.fz"
)
MiB = 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def offline_session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )


def store_at(endpoint: str, **options: object) -> S3Store:
    client = create_s3_client(
        endpoint_url=endpoint,
        region="us-east-1",
        connect_timeout=float(options.pop("connect_timeout", 1.0)),  # type: ignore[arg-type]
        read_timeout=float(options.pop("read_timeout", 1.0)),  # type: ignore[arg-type]
        max_attempts=int(options.pop("max_attempts", 1)),  # type: ignore[call-overload]
        session=offline_session(),
    )
    return S3Store("obsarchive-test", endpoint_url=endpoint, client=client)


# -- bucket configuration -----------------------------------------------------------------------


@pytest.mark.s3
def test_unversioned_bucket_is_a_configuration_error(s3_server: S3Server) -> None:
    store = s3_server.store(s3_server.create_bucket(versioned=False))
    with pytest.raises(StoreConfigurationError, match="not versioned"):
        store.put(KEY, io.BytesIO(b"data"))
    with pytest.raises(StoreConfigurationError, match="not versioned"):
        store.check()


@pytest.mark.s3
def test_missing_bucket_is_a_configuration_error(s3_server: S3Server) -> None:
    store = s3_server.store("obsarchive-no-such-bucket")
    with pytest.raises(StoreConfigurationError, match="does not exist"):
        store.put(KEY, io.BytesIO(b"data"))
    with pytest.raises(StoreConfigurationError, match="does not exist"):
        store.check()
    with pytest.raises(StoreConfigurationError):
        list(store.keys())


@pytest.mark.s3
def test_check_accepts_a_versioned_bucket(s3_server: S3Server) -> None:
    s3_server.store().check()


def test_bucket_names_shorter_than_three_characters_are_refused() -> None:
    with pytest.raises(StoreConfigurationError, match="3 to 63"):
        S3Store("ab")


def test_missing_credentials_are_a_configuration_error(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe an instance role
    store = S3Store(
        s3_server.create_bucket(), endpoint_url=s3_server.endpoint_url, region="us-east-1"
    )
    with pytest.raises(StoreConfigurationError, match=r"[Cc]redentials"):
        store.put(KEY, io.BytesIO(b"data"))


def test_an_unusable_client_setting_is_a_configuration_error() -> None:
    with pytest.raises(StoreConfigurationError):
        create_s3_client(endpoint_url="not a url", session=offline_session())


# -- unreachable and misbehaving endpoints ------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("operation", ["put", "stat", "open", "versions", "keys", "delete"])
def test_unreachable_endpoint_is_store_unavailable(operation: str) -> None:
    store = store_at(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(StoreUnavailableError):
        if operation == "put":
            store.put(KEY, io.BytesIO(b"data"))
        elif operation == "stat":
            store.stat(KEY)
        elif operation == "open":
            store.open(KEY)
        elif operation == "versions":
            store.versions(KEY)
        elif operation == "keys":
            list(store.keys())
        else:
            store.delete(KEY)


class HangUpServer:
    """Accepts connections and closes them at once (or never answers), counting them."""

    def __init__(self, *, answer: bool) -> None:
        self.connections = 0
        self._answer = answer
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self._answer:
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def hang_up_server() -> Iterator[HangUpServer]:
    server = HangUpServer(answer=True)
    yield server
    server.close()


@pytest.mark.parametrize("attempts", [1, 2])
def test_max_attempts_counts_every_try(hang_up_server: HangUpServer, attempts: int) -> None:
    store = store_at(hang_up_server.endpoint, max_attempts=attempts)
    with pytest.raises(StoreUnavailableError):
        store.stat(KEY)
    assert hang_up_server.connections == attempts


def test_a_silent_server_times_out_as_store_unavailable() -> None:
    server = HangUpServer(answer=False)
    try:
        store = store_at(server.endpoint, read_timeout=0.3)
        with pytest.raises(StoreUnavailableError, match=r"[Tt]imeout|timed out"):
            store.stat(KEY)
    finally:
        server.close()


# -- error codes moto never produces (a stubbed client: this is a unit test of the mapping) -----


@pytest.mark.parametrize(
    ("code", "status", "version_id", "expected"),
    [
        ("SlowDown", 503, None, StoreUnavailableError),
        ("InternalError", 500, None, StoreUnavailableError),
        ("ServiceUnavailable", 503, None, StoreUnavailableError),
        ("TooManyRequestsException", 429, None, StoreUnavailableError),
        ("AccessDenied", 403, None, StoreConfigurationError),
        ("InvalidAccessKeyId", 403, None, StoreConfigurationError),
        ("SignatureDoesNotMatch", 403, None, StoreConfigurationError),
        ("NoSuchBucket", 404, None, StoreConfigurationError),
        ("PermanentRedirect", 301, None, StoreConfigurationError),
        ("NoSuchKey", 404, None, ObjectNotFoundError),
        ("NoSuchVersion", 404, "v1", ObjectNotFoundError),
        ("InvalidArgument", 400, "not-a-version", ObjectNotFoundError),
        ("MethodNotAllowed", 405, "delete-marker", ObjectNotFoundError),
    ],
)
def test_s3_error_codes_map_to_store_errors(
    code: str, status: int, version_id: str | None, expected: type[Exception]
) -> None:
    client = create_s3_client(
        endpoint_url="http://127.0.0.1:9", max_attempts=1, session=offline_session()
    )
    store = S3Store("obsarchive-test", client=client)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(expected):
            store.open(KEY, version_id)


# -- what an upload stores ----------------------------------------------------------------------


@pytest.mark.s3
def test_upload_sets_upstream_headers_and_storage_class(s3_server: S3Server) -> None:
    store = s3_server.store()
    stored = store.put(KEY, io.BytesIO(b"fits bytes"), content_type="image/fits",
                       storage_class="STANDARD_IA")  # fmt: skip
    head = s3_server.client.head_object(Bucket=store.bucket, Key=KEY, VersionId=stored.version_id)
    assert head["ContentType"] == "image/fits"
    # Upstream's exact header (ocs_archive S3Store), derived from the key's file name.
    assert head["ContentDisposition"] == (
        "attachment; filename=coj1m011-kb05-20150219-0125-e90.fits.fz"
    )
    assert head["StorageClass"] == "STANDARD_IA"


@pytest.mark.s3
def test_md5_is_computed_not_taken_from_the_multipart_etag(s3_server: S3Server) -> None:
    store = s3_server.store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    data = os.urandom(12 * MiB)
    stored = store.put(KEY, io.BytesIO(data))
    head = s3_server.client.head_object(Bucket=store.bucket, Key=KEY)
    assert "-" in head["ETag"]  # really went multipart: the ETag is no md5
    assert stored.md5 == md5(data)
    assert store.stat(KEY).md5 == ""  # stat never passes an ETag off as an md5
    assert store.checksum(KEY) == md5(data)


@pytest.mark.s3
def test_upload_from_a_pipe_of_unknown_size(s3_server: S3Server) -> None:
    store = s3_server.store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    data = os.urandom(11 * MiB + 3)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with open(write_end, "wb") as sink:
            sink.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with open(read_end, "rb") as source:
        stored = store.put(KEY, source)
    feeder.join()
    assert (stored.md5, stored.size) == (md5(data), len(data))
    assert store.checksum(KEY, stored.version_id) == md5(data)


@pytest.mark.s3
def test_concurrent_puts_of_one_key_each_get_their_own_version(s3_server: S3Server) -> None:
    store = s3_server.store()
    payloads = [f"writer {n} ".encode() * (n + 1) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda data: store.put(KEY, io.BytesIO(data)), payloads))

    assert len({r.version_id for r in results}) == len(payloads)
    for data, stored in zip(payloads, results, strict=True):
        assert stored.md5 == md5(data)
        with store.open(KEY, stored.version_id) as stream:
            assert stream.read() == data


@pytest.mark.s3
def test_delete_all_removes_delete_markers_too(s3_server: S3Server) -> None:
    store = s3_server.store()
    store.put(KEY, io.BytesIO(b"one"))
    s3_server.client.delete_object(Bucket=store.bucket, Key=KEY)  # leaves a delete marker

    # Only a delete marker is current: the key reads as absent, its old version remains.
    with pytest.raises(ObjectNotFoundError):
        store.stat(KEY)
    assert len(store.versions(KEY)) == 1

    store.delete(KEY)
    listing = s3_server.client.list_object_versions(Bucket=store.bucket, Prefix=KEY)
    assert listing.get("Versions", []) == []
    assert listing.get("DeleteMarkers", []) == []


@pytest.mark.s3
def test_keys_skip_keys_that_only_have_delete_markers(s3_server: S3Server) -> None:
    store = s3_server.store()
    stored = store.put(KEY, io.BytesIO(b"one"))
    s3_server.client.delete_object(Bucket=store.bucket, Key=KEY)
    s3_server.client.delete_object(Bucket=store.bucket, Key=KEY, VersionId=stored.version_id)
    assert list(store.keys()) == []


@pytest.mark.s3
def test_open_streams_in_pieces(s3_server: S3Server) -> None:
    store = s3_server.store()
    data = os.urandom(3 * MiB + 5)
    store.put(KEY, io.BytesIO(data))
    pieces = []
    with store.open(KEY) as stream:
        while piece := stream.read(256 * 1024):
            assert len(piece) <= 256 * 1024
            pieces.append(piece)
    assert b"".join(pieces) == data


@pytest.mark.s3
def test_presigned_url_names_the_version_and_lifetime(s3_server: S3Server) -> None:
    store = s3_server.store()
    stored = store.put(KEY, io.BytesIO(b"x"))
    url = store.url(KEY, stored.version_id, expires=timedelta(hours=2))
    assert f"versionId={stored.version_id}" in url
    assert "X-Amz-Expires=7200" in url
    with pytest.raises(ValueError, match="at most"):
        store.url(KEY, expires=timedelta(days=8))


# -- storage class policy -----------------------------------------------------------------------

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (datetime(2015, 2, 19, 13, 56, 5), "STANDARD_IA"),  # naive DATE-OBS is UTC
        (NOW - timedelta(days=61), "STANDARD_IA"),
        (NOW - timedelta(days=60), "STANDARD"),  # strictly more than the threshold
        (NOW - timedelta(days=59, hours=23), "STANDARD"),
        (NOW.replace(tzinfo=None) - timedelta(days=1), "STANDARD"),
        # Aware, non-UTC: 2024-04-02 23:00-05:00 is 2024-04-03 04:00 UTC, 59.3 days before NOW.
        (datetime(2024, 4, 2, 23, 0, tzinfo=timezone(timedelta(hours=-5))), "STANDARD"),
        (datetime(2024, 4, 1, 0, 0, tzinfo=timezone(timedelta(hours=5))), "STANDARD_IA"),
        (None, "STANDARD"),
    ],
)
def test_storage_class_for(observed: datetime | None, expected: str) -> None:
    assert storage_class_for(observed, NOW, 60) == expected


def test_storage_class_for_accepts_a_naive_now() -> None:
    observed = datetime(2024, 1, 1, tzinfo=UTC)
    assert storage_class_for(observed, datetime(2024, 6, 1), 60) == "STANDARD_IA"
    assert storage_class_for(observed, datetime(2024, 1, 2), 60) == "STANDARD"
