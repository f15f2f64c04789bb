"""Filesystem-store specifics: on-disk layout, atomicity, crashes, confinement to the root."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from obsarchive.storage import (
    FilesystemStore,
    InvalidKeyError,
    ObjectNotFoundError,
    StoreConfigurationError,
    object_key,
)
from tests.conftest import require_shared_data
from tests.storage.conftest import SIGNING_KEY, FrozenClock

KEY = object_key(
    "coj", "kb05", "20150219", "processed", "coj1m011-kb05-20150219-0125-e90", ".fits.fz"
)


def make_store(root: Path, **options: object) -> FilesystemStore:
    return FilesystemStore(root, signing_key=SIGNING_KEY, **options)  # type: ignore[arg-type]


def test_constructor_touches_nothing(tmp_path: Path) -> None:
    FilesystemStore(tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_latest_version_is_a_plain_file_at_the_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    first = store.put(KEY, io.BytesIO(b"first"))
    assert (tmp_path / KEY).read_bytes() == b"first"

    second = store.put(KEY, io.BytesIO(b"second"))
    assert (tmp_path / KEY).read_bytes() == b"second"
    # A hard link to the version's bytes: the operator copy costs no space.
    assert (tmp_path / KEY).stat().st_nlink == 2

    store.delete(KEY, second.version_id)
    assert (tmp_path / KEY).read_bytes() == b"first"
    store.delete(KEY, first.version_id)
    assert not (tmp_path / KEY).exists()


def test_upstream_checklist_37_path_size_and_md5(tmp_path: Path) -> None:
    path = require_shared_data() / "fits" / "coj1m011-kb05-20150219-0125-e90.fits.fz"
    store = make_store(tmp_path)
    with path.open("rb") as product:
        stored = store.put(KEY, product, content_type="image/fits")
    on_disk = tmp_path / "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"
    assert on_disk.read_bytes() == path.read_bytes()
    assert stored.md5 == "cff1cc4a16b8f46713e61944f42028c9"
    assert store.stat(KEY).size == 83520


def test_version_ids_sort_by_time_even_on_a_frozen_clock(tmp_path: Path) -> None:
    clock = FrozenClock()
    store = make_store(tmp_path, clock=clock)
    ids = [store.put(KEY, io.BytesIO(bytes([n]))).version_id for n in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert all(len(vid) <= 32 for vid in ids)  # fits upstream's varchar(32) column too
    clock.advance(timedelta(hours=-1))  # the wall clock steps back: ids still increase
    assert store.put(KEY, io.BytesIO(b"later")).version_id > ids[-1]
    assert store.versions(KEY)[0].size == len(b"later")


class FailingReader(io.RawIOBase):
    """A source that dies after handing out some bytes (a broken network mount, say)."""

    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise OSError("source went away")
        count = min(len(buffer), self._left)
        buffer[:count] = b"x" * count
        self._left -= count
        return count


def test_a_failed_put_leaves_no_version_and_no_staging(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    previous = store.put(KEY, io.BytesIO(b"previous"))
    with pytest.raises(OSError, match="source went away"):
        store.put(KEY, io.BufferedReader(FailingReader(3 * 1024 * 1024)))
    assert [v.version_id for v in store.versions(KEY)] == [previous.version_id]
    assert (tmp_path / KEY).read_bytes() == b"previous"
    assert list((tmp_path / ".obsarchive" / "tmp").iterdir()) == []


_WRITER = """
import sys
from obsarchive.storage import FilesystemStore
FilesystemStore(sys.argv[1]).put(sys.argv[2], sys.stdin.buffer)
"""


def test_a_writer_killed_mid_put_leaves_no_partial_version(tmp_path: Path) -> None:
    root = tmp_path / "store"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), KEY], stdin=subprocess.PIPE
    )
    assert writer.stdin is not None
    writer.stdin.write(os.urandom(2 * 1024 * 1024))
    writer.stdin.flush()
    staging = root / ".obsarchive" / "tmp"
    deadline = time.monotonic() + 30
    while not (staging.is_dir() and any(p.stat().st_size > 0 for p in staging.iterdir())):
        assert time.monotonic() < deadline, "the writer never started staging"
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdin.close()

    store = make_store(root)
    assert store.versions(KEY) == []
    assert list(store.keys()) == []
    assert not (root / KEY).exists()
    # The orphan is only in the staging area, and the store keeps working.
    assert store.purge_staging(older_than=timedelta(0)) == 1
    assert store.put(KEY, io.BytesIO(b"after the crash")).size == len(b"after the crash")


def test_purge_staging_spares_recent_files(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.check()
    orphan = tmp_path / ".obsarchive" / "tmp" / "put-x.part"
    orphan.write_bytes(b"partial")
    assert store.purge_staging(older_than=timedelta(hours=1)) == 0
    assert orphan.exists()


def test_symlink_escapes_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "store"
    root.mkdir()
    (root / "coj").symlink_to(outside)
    store = make_store(root)

    with pytest.raises(InvalidKeyError, match="outside"):
        store.put(KEY, io.BytesIO(b"x"))
    assert list(outside.iterdir()) == []
    assert store.versions(KEY) == []


def test_symlinks_planted_in_the_version_tree_are_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store")
    store.put(KEY, io.BytesIO(b"x"))
    secret_dir = tmp_path / "secret"
    (secret_dir / "kb05").mkdir(parents=True)
    versions = tmp_path / "store" / ".obsarchive" / "versions"
    (versions / "lsc").symlink_to(secret_dir)
    hostile = "lsc/kb05/20150219/raw/x.fits"
    with pytest.raises(InvalidKeyError):
        store.stat(hostile)
    with pytest.raises(InvalidKeyError):
        store.open(hostile)
    assert list(store.keys("lsc/")) == []


def test_the_internal_directory_is_not_a_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with pytest.raises(InvalidKeyError, match="reserved"):
        store.put(".obsarchive/versions/x", io.BytesIO(b"x"))


def test_keys_whose_paths_clash_are_refused_without_a_trace(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.put("coj/kb05/file", io.BytesIO(b"a file"))
    with pytest.raises(InvalidKeyError, match="conflicts"):
        store.put("coj/kb05/file/inside", io.BytesIO(b"x"))
    store.put("lsc/dir/inside", io.BytesIO(b"x"))
    with pytest.raises(InvalidKeyError, match="conflicts"):
        store.put("lsc/dir", io.BytesIO(b"x"))
    assert sorted(store.keys()) == ["coj/kb05/file", "lsc/dir/inside"]


def test_hostile_version_ids_name_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.put(KEY, io.BytesIO(b"x"))
    for version_id in ("../../../../etc/passwd", "/etc/passwd", "x\x00y"):
        with pytest.raises(ObjectNotFoundError):
            store.stat(KEY, version_id)
        store.delete(KEY, version_id)
    assert len(store.versions(KEY)) == 1


def test_concurrent_puts_serialise_per_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    payloads = [bytes([n]) * (1000 + n) for n in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda data: store.put(KEY, io.BytesIO(data)), payloads))
    versions = store.versions(KEY)
    assert len({r.version_id for r in results}) == 16 == len(versions)
    # The operator copy is always the newest version, whatever the interleaving.
    newest = versions[0]
    with store.open(KEY, newest.version_id) as stream:
        assert (tmp_path / KEY).read_bytes() == stream.read()


def test_custom_url_signer(tmp_path: Path) -> None:
    calls: list[tuple[str, str, timedelta]] = []

    def signer(key: str, version_id: str, expires: timedelta) -> str:
        calls.append((key, version_id, expires))
        return f"https://archive.example/dl/{version_id}"

    store = FilesystemStore(tmp_path, url_signer=signer)
    stored = store.put(KEY, io.BytesIO(b"x"))
    assert (
        store.url(KEY, expires=timedelta(hours=1))
        == f"https://archive.example/dl/{stored.version_id}"
    )
    assert calls == [(KEY, stored.version_id, timedelta(hours=1))]


def test_url_without_a_signing_key_is_a_configuration_error(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    store.put(KEY, io.BytesIO(b"x"))
    with pytest.raises(StoreConfigurationError, match="signing key"):
        store.url(KEY)


def test_url_of_a_missing_key_raises(tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError):
        make_store(tmp_path).url(KEY)


def test_check_refuses_a_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreConfigurationError, match="not a directory"):
        FilesystemStore(tmp_path / "file").check()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_check_refuses_a_read_only_root(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(StoreConfigurationError):
            FilesystemStore(root).check()
    finally:
        root.chmod(0o700)


def test_a_damaged_record_is_not_reported_as_missing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    stored = store.put(KEY, io.BytesIO(b"x"))
    record = tmp_path / ".obsarchive" / "versions" / KEY / f"{stored.version_id}.json"
    record.write_text("{not json")
    from obsarchive.storage import StoreUnavailableError

    with pytest.raises(StoreUnavailableError, match="unreadable"):
        store.stat(KEY)


def test_a_file_from_an_upstream_store_is_kept_as_the_oldest_version(tmp_path: Path) -> None:
    legacy = tmp_path / KEY
    legacy.parent.mkdir(parents=True)
    original = b"written by upstream's FileSystemStore"
    legacy.write_bytes(original)
    store = make_store(tmp_path)

    new = store.put(KEY, io.BytesIO(b"re-ingested"))

    versions = store.versions(KEY)
    assert versions[0].version_id == new.version_id
    assert len(versions) == 2
    old = versions[1]
    assert (
        old.md5
        == hashlib.md5(b"written by upstream's FileSystemStore", usedforsecurity=False).hexdigest()
    )
    with store.open(KEY, old.version_id) as stream:
        assert stream.read() == b"written by upstream's FileSystemStore"
    assert legacy.read_bytes() == b"re-ingested"
