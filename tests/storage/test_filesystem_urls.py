"""Filesystem-store download URLs for a named version are signed without touching the disk.

A page of search results signs one URL per row; the archive's download view checks that the
version exists when the URL is used.
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from obsarchive.storage import ObjectNotFoundError
from obsarchive.storage.base import InvalidKeyError
from obsarchive.storage.filesystem import FilesystemStore
from obsarchive.storage.signing import verify_download

SIGNING_KEY = b"url-test-signing-key"
KEY = "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"


def test_named_version_is_signed_without_reading_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = FilesystemStore(root, signing_key=SIGNING_KEY, base_url="https://archive.example/")
    stored = store.put(KEY, io.BytesIO(b"bytes"))
    shutil.rmtree(root)  # nothing left to stat: a URL that needed the disk would fail
    url = store.url(KEY, stored.version_id, timedelta(hours=1))
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert parts.path == f"/download/{KEY}"
    assert query["version"] == stored.version_id
    assert verify_download(
        KEY,
        stored.version_id,
        query["expires"],
        query["signature"],
        SIGNING_KEY,
        now=datetime.now(UTC),
    )
    assert not root.exists()


def test_latest_version_is_still_resolved_on_disk(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path, signing_key=SIGNING_KEY, base_url="https://a.example/")
    with pytest.raises(ObjectNotFoundError):
        store.url(KEY)
    stored = store.put(KEY, io.BytesIO(b"bytes"))
    assert f"version={stored.version_id}" in store.url(KEY)


def test_malformed_names_are_still_refused(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path, signing_key=SIGNING_KEY, base_url="https://a.example/")
    with pytest.raises(ObjectNotFoundError):
        store.url(KEY, "../../etc/passwd")
    with pytest.raises(InvalidKeyError):
        store.url("../escape", "0000000000000000001-000000000000")
