"""open_store: FILESTORE_TYPE to a configured store, without touching disk or network."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from obsarchive.config import StoreSettings, load_settings
from obsarchive.storage import (
    FilesystemStore,
    MemoryStore,
    S3Store,
    StoreConfigurationError,
    open_store,
)
from tests.s3server import S3Server


def test_local_store_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"FILESTORE_TYPE": "local", "FILESYSTEM_STORAGE_ROOT_DIR": str(tmp_path / "root")}
    )
    store = open_store(settings.store, signing_key=b"k")
    assert isinstance(store, FilesystemStore)
    assert store.root == tmp_path / "root"
    assert not (tmp_path / "root").exists()  # nothing created until first use


def test_dummy_stores_files_instead_of_discarding_them(tmp_path: Path) -> None:
    settings = load_settings(
        {"FILESTORE_TYPE": "dummy", "FILESYSTEM_STORAGE_ROOT_DIR": str(tmp_path)}
    )
    store = open_store(settings.store)
    assert isinstance(store, FilesystemStore)
    store.put("a/b.fits", io.BytesIO(b"kept"))
    assert (tmp_path / "a" / "b.fits").read_bytes() == b"kept"


def test_memory_store_signs_with_the_given_key() -> None:
    store = open_store(StoreSettings(filestore_type="memory", base_url="https://a.example/"),
                       signing_key=b"k")  # fmt: skip
    assert isinstance(store, MemoryStore)
    stored = store.put("a/b.fits", io.BytesIO(b"x"))
    url = store.url("a/b.fits")
    assert url.startswith("https://a.example/download/a/b.fits?version=" + stored.version_id)


def test_s3_store_is_built_without_network_access() -> None:
    settings = load_settings(
        {"FILESTORE_TYPE": "s3", "BUCKET": "frames", "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    store = open_store(settings.store)
    assert isinstance(store, S3Store)
    assert store.bucket == "frames"


def test_unknown_types_are_configuration_errors() -> None:
    with pytest.raises(StoreConfigurationError, match="crazystore"):
        open_store(replace(StoreSettings(), filestore_type="crazystore"))


@pytest.mark.s3
def test_s3_store_from_the_environment_round_trip(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_server.create_bucket()
    environment = s3_server.env(bucket)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, environment[name])  # boto3's own credential chain reads these
    store = open_store(load_settings(environment).store)
    store.check()
    stored = store.put("coj/kb05/20150219/raw/x.fits", io.BytesIO(b"bytes"))
    with store.open("coj/kb05/20150219/raw/x.fits", stored.version_id) as stream:
        assert stream.read() == b"bytes"
