"""Constant-memory streaming: big files go through put, hashing and reads in bounded memory.

Peak memory is measured with tracemalloc in this process. The S3 server (moto) runs in a
subprocess, so its memory is not counted; what is counted is ours plus boto3's buffers.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from obsarchive.storage import FilesystemStore, md5_of
from tests.s3server import S3Server

MiB = 1024 * 1024
LIMIT = 64 * MiB
T = TypeVar("T")


def generate(path: Path, size_mib: int) -> str:
    """Write ``size_mib`` MiB of non-repeating data in 1 MiB chunks; return its md5."""
    block = bytearray(os.urandom(MiB))
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as out:
        for index in range(size_mib):
            block[:8] = index.to_bytes(8, "little")  # every chunk differs
            out.write(block)
            digest.update(block)
    return digest.hexdigest()


def peak_of(action: Callable[[], T]) -> tuple[T, int]:
    """Run ``action``; return its result and the peak of traced allocations it caused."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        result = action()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def big_file(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    path = tmp_path / "big.fits"
    expected = generate(path, request.param)
    yield path, expected
    path.unlink(missing_ok=True)  # do not leave a gigabyte behind in pytest's tmp retention


@pytest.mark.slow
@pytest.mark.parametrize("big_file", [1024], indirect=True)
def test_one_gigabyte_put_and_hash_on_the_filesystem_store(
    big_file: tuple[Path, str], tmp_path: Path
) -> None:
    path, expected = big_file
    store = FilesystemStore(tmp_path / "store")
    key = "lsc/fa03/20240101/raw/huge-e00.fits"
    try:
        with path.open("rb") as source:
            stored, put_peak = peak_of(lambda: store.put(key, source))
        assert (stored.md5, stored.size) == (expected, 1024 * MiB)
        assert put_peak < LIMIT, f"put peaked at {put_peak / MiB:.1f} MiB"

        with path.open("rb") as source:
            hashed, hash_peak = peak_of(lambda: md5_of(source))
        assert hashed == (expected, 1024 * MiB)
        assert hash_peak < LIMIT, f"md5_of peaked at {hash_peak / MiB:.1f} MiB"
    finally:
        store.delete(key)


@pytest.mark.slow
@pytest.mark.s3
@pytest.mark.parametrize("big_file", [200], indirect=True)
def test_two_hundred_megabytes_through_s3_multipart(
    big_file: tuple[Path, str], s3_server: S3Server
) -> None:
    path, expected = big_file
    store = s3_server.store()  # default transfer settings: 64 MiB threshold, 8 MiB parts
    key = "lsc/fa03/20240101/raw/big-e00.fits"
    try:
        with path.open("rb") as source:
            stored, put_peak = peak_of(lambda: store.put(key, source))
        assert (stored.md5, stored.size) == (expected, 200 * MiB)
        assert put_peak < LIMIT, f"S3 put peaked at {put_peak / MiB:.1f} MiB"

        # Reading back streams the body: no download into memory.
        checksum, read_peak = peak_of(lambda: store.checksum(key, stored.version_id))
        assert checksum == expected
        assert read_peak < LIMIT, f"S3 read peaked at {read_peak / MiB:.1f} MiB"
    finally:
        store.delete(key)
