"""The object-store contract: one suite, run unchanged against memory, filesystem and S3."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from obsarchive.storage import (
    InvalidKeyError,
    ObjectNotFoundError,
    StoredObject,
    object_key,
)
from obsarchive.storage.checksums import EMPTY_MD5
from tests.conftest import require_shared_data
from tests.storage.conftest import Backend

KEY = object_key(
    "coj", "kb05", "20150219", "processed", "coj1m011-kb05-20150219-0125-e90", ".fits.fz"
)
OTHER = object_key("coj", "kb05", "20150219", "raw", "coj1m011-kb05-20150219-0126-e00", ".fits.fz")


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def put(backend: Backend, key: str, data: bytes, **options: str) -> StoredObject:
    return backend.store.put(key, io.BytesIO(data), **options)


def read(backend: Backend, key: str, version_id: str | None = None) -> bytes:
    with backend.store.open(key, version_id) as stream:
        return stream.read()


def test_round_trip_returns_md5_size_and_bytes(backend: Backend) -> None:
    data = os.urandom(70_000)
    stored = put(backend, KEY, data, content_type="image/fits")

    assert stored.key == KEY
    assert stored.md5 == md5(data)
    assert stored.size == len(data)
    assert stored.version_id
    assert stored.last_modified is not None and stored.last_modified.tzinfo is not None
    assert read(backend, KEY) == data
    assert read(backend, KEY, stored.version_id) == data
    assert backend.store.checksum(KEY, stored.version_id) == md5(data)


def test_put_reads_from_the_current_position(backend: Backend) -> None:
    stream = io.BytesIO(b"HEADERpayload")
    stream.seek(6)
    stored = backend.store.put(KEY, stream)
    assert stored.size == len(b"payload")
    assert read(backend, KEY) == b"payload"


def test_multipart_sized_object_keeps_exact_bytes_and_md5(backend: Backend) -> None:
    # Crosses the 1 MiB streaming chunk and, on S3 (5 MiB parts here), the multipart path.
    data = os.urandom(11 * 1024 * 1024 + 7)
    stored = put(backend, KEY, data)
    assert (stored.md5, stored.size) == (md5(data), len(data))
    assert backend.store.checksum(KEY) == md5(data)


def test_empty_file(backend: Backend) -> None:
    stored = put(backend, KEY, b"")
    assert (stored.md5, stored.size) == (EMPTY_MD5, 0)
    assert read(backend, KEY) == b""
    assert backend.store.stat(KEY).size == 0


def test_two_puts_make_two_versions_newest_first(backend: Backend) -> None:
    first = put(backend, KEY, b"first version")
    second = put(backend, KEY, b"second version, longer")

    assert first.version_id != second.version_id
    versions = backend.store.versions(KEY)
    assert [v.version_id for v in versions] == [second.version_id, first.version_id]
    assert [v.size for v in versions] == [second.size, first.size]
    assert all(v.key == KEY for v in versions)
    assert backend.store.stat(KEY).version_id == second.version_id
    assert read(backend, KEY) == b"second version, longer"
    assert read(backend, KEY, first.version_id) == b"first version"


def test_versions_of_a_missing_key_is_empty(backend: Backend) -> None:
    put(backend, KEY, b"x")
    assert backend.store.versions(OTHER) == []
    # A key that is a string prefix of a stored key is a different key.
    assert backend.store.versions(KEY[:-3]) == []


def test_stat_describes_a_version(backend: Backend) -> None:
    stored = put(backend, KEY, b"12345", content_type="image/fits")
    info = backend.store.stat(KEY, stored.version_id)
    assert (info.key, info.version_id, info.size) == (KEY, stored.version_id, 5)
    assert info.content_type == "image/fits"
    # md5 is known, or '' where the backend cannot know it without reading (S3).
    assert info.md5 in {stored.md5, ""}
    assert info.last_modified is not None


def test_exists(backend: Backend) -> None:
    stored = put(backend, KEY, b"x")
    assert backend.store.exists(KEY)
    assert backend.store.exists(KEY, stored.version_id)
    assert not backend.store.exists(OTHER)
    assert not backend.store.exists(KEY, "not-a-version-of-this-key")


@pytest.mark.parametrize("operation", ["open", "stat", "checksum"])
def test_missing_key_raises_object_not_found(backend: Backend, operation: str) -> None:
    with pytest.raises(ObjectNotFoundError) as caught:
        if operation == "open":
            read(backend, OTHER)
        elif operation == "stat":
            backend.store.stat(OTHER)
        else:
            backend.store.checksum(OTHER)
    assert isinstance(caught.value, FileNotFoundError)


def test_missing_version_raises_object_not_found(backend: Backend) -> None:
    stored = put(backend, KEY, b"x")
    backend.store.delete(KEY, stored.version_id)
    with pytest.raises(ObjectNotFoundError):
        read(backend, KEY, stored.version_id)
    with pytest.raises(ObjectNotFoundError):
        backend.store.stat(KEY, stored.version_id)
    with pytest.raises(ObjectNotFoundError):
        backend.store.stat(KEY, "bogus-version")


def test_delete_one_version(backend: Backend) -> None:
    first = put(backend, KEY, b"one")
    second = put(backend, KEY, b"two")

    backend.store.delete(KEY, first.version_id)
    assert [v.version_id for v in backend.store.versions(KEY)] == [second.version_id]
    assert read(backend, KEY) == b"two"

    third = put(backend, KEY, b"three")
    backend.store.delete(KEY, third.version_id)  # deleting the latest uncovers the previous
    assert backend.store.stat(KEY).version_id == second.version_id
    assert read(backend, KEY) == b"two"


def test_delete_all_versions(backend: Backend) -> None:
    put(backend, KEY, b"one")
    put(backend, KEY, b"two")
    kept = put(backend, OTHER, b"other")

    backend.store.delete(KEY)

    assert backend.store.versions(KEY) == []
    assert not backend.store.exists(KEY)
    assert KEY not in set(backend.store.keys())
    assert backend.store.stat(OTHER).version_id == kept.version_id


def test_deleting_what_is_absent_is_not_an_error(backend: Backend) -> None:
    stored = put(backend, KEY, b"x")
    backend.store.delete(OTHER)
    backend.store.delete(KEY, stored.version_id)
    backend.store.delete(KEY, stored.version_id)
    backend.store.delete(KEY)
    assert backend.store.versions(KEY) == []


def test_keys_lists_stored_keys_by_prefix(backend: Backend) -> None:
    other_night = object_key(
        "coj", "kb05", "20160101", "raw", "coj1m011-kb05-20160101-0001-e00", ".fits.fz"
    )
    other_site = object_key(
        "lsc", "kb78", "20151109", "raw", "lsc1m005-kb78-20151109-0179-e00", ".fits.fz"
    )
    for key in (KEY, OTHER, other_night, other_site):
        put(backend, key, b"x")
    put(backend, KEY, b"second version: still one key")

    assert sorted(backend.store.keys()) == sorted([KEY, OTHER, other_night, other_site])
    assert sorted(backend.store.keys("coj/")) == sorted([KEY, OTHER, other_night])
    assert sorted(backend.store.keys("coj/kb05/2015")) == sorted([KEY, OTHER])
    assert sorted(backend.store.keys("coj/kb05/20150219/raw/")) == [OTHER]
    assert list(backend.store.keys("nothing/here")) == []


HOSTILE_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "coj/../../outside",
    "coj/./kb05",
    "coj//kb05",
    "coj/kb05/",
    "coj/kb\x0005",
    "coj/kb05\nx",
    "coj\\kb05",
    "x" * 1025,
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        backend.store.put(key, io.BytesIO(b"x"))
    assert isinstance(caught.value, ValueError)
    for operation in (backend.store.stat, backend.store.versions, backend.store.delete):
        with pytest.raises(InvalidKeyError):
            operation(key)
    with pytest.raises(InvalidKeyError):
        read(backend, key)
    assert list(backend.store.keys()) == []


def test_url_downloads_the_version_it_names(backend: Backend) -> None:
    first = put(backend, KEY, b"first")
    put(backend, KEY, b"second")

    assert backend.fetch(backend.store.url(KEY, first.version_id)) == b"first"
    assert backend.fetch(backend.store.url(KEY)) == b"second"


def test_url_is_time_limited(backend: Backend) -> None:
    stored = put(backend, KEY, b"x")
    before = backend.clock() if backend.clock else datetime.now(UTC)
    url = backend.store.url(KEY, stored.version_id, expires=timedelta(minutes=30))

    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    if "X-Amz-Expires" in query:  # S3 SigV4: signing time plus lifetime
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires_at = signed_at + timedelta(seconds=int(query["X-Amz-Expires"]))
    else:  # the archive's own signed URLs: absolute expiry
        expires_at = datetime.fromtimestamp(int(query["expires"]), UTC)
    expected = before + timedelta(minutes=30)
    assert abs(expires_at - expected) < timedelta(seconds=5)


def test_url_refuses_a_non_positive_lifetime(backend: Backend) -> None:
    put(backend, KEY, b"x")
    with pytest.raises(ValueError):
        backend.store.url(KEY, expires=timedelta(0))


def test_real_lco_product_round_trip(backend: Backend) -> None:
    path = require_shared_data() / "fits" / "coj1m011-kb05-20150219-0125-e90.fits.fz"
    with path.open("rb") as product:
        stored = backend.store.put(
            KEY,
            product,
            content_type="image/fits",
            content_disposition="attachment; filename=coj1m011-kb05-20150219-0125-e90.fits.fz",
        )
    # The md5 and size upstream and the archive record for this product.
    assert stored.md5 == "cff1cc4a16b8f46713e61944f42028c9"
    assert stored.size == 83520
    assert backend.store.stat(KEY).size == 83520
    assert backend.store.checksum(KEY) == stored.md5
