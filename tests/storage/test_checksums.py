"""Streaming md5 helpers."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obsarchive.storage.checksums import EMPTY_MD5, HashingReader, copy_with_md5, md5_of


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class ReadOnly:
    """A stream with ``read`` only (no ``readinto``), like some socket and tar wrappers."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def test_upstream_checklist_1() -> None:
    stream = io.BytesIO(b"1234567890")
    assert md5_of(stream) == ("e807f1fcf82d132f9bb018ca6738a19f", 10)


def test_empty_stream() -> None:
    assert md5_of(io.BytesIO()) == (EMPTY_MD5, 0)
    assert md5(b"") == EMPTY_MD5


@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=700))
def test_md5_of_matches_hashlib_for_any_chunking(data: bytes, chunk: int) -> None:
    assert md5_of(io.BytesIO(data), chunk_size=chunk) == (md5(data), len(data))
    assert md5_of(ReadOnly(data), chunk_size=chunk) == (md5(data), len(data))  # type: ignore[arg-type]


def test_md5_of_starts_at_the_current_position() -> None:
    stream = io.BytesIO(b"skip-me|hash-me")
    stream.seek(8)
    assert md5_of(stream) == (md5(b"hash-me"), 7)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        md5_of(io.BytesIO(b"x"), chunk_size=0)


@given(sizes=st.lists(st.integers(min_value=-1, max_value=300), max_size=20))
def test_hashing_reader_hashes_exactly_what_was_read(sizes: list[int]) -> None:
    data = bytes(range(256)) * 4
    reader = HashingReader(io.BytesIO(data))
    seen = b"".join(reader.read(n) for n in sizes)
    assert reader.md5 == md5(seen)
    assert reader.size == len(seen)
    assert seen == data[: len(seen)]


def test_hashing_reader_is_forward_only() -> None:
    reader = HashingReader(io.BytesIO(b"abc"))
    assert reader.readable()
    assert not reader.seekable()
    with pytest.raises(OSError):
        reader.seek(0)


def test_hashing_reader_readinto_and_buffered_use() -> None:
    data = os.urandom(100_000)
    reader = HashingReader(io.BytesIO(data))
    buffered = io.BufferedReader(reader, buffer_size=4096)
    assert buffered.read() == data
    assert (reader.md5, reader.size) == (md5(data), len(data))


def test_copy_with_md5() -> None:
    data = os.urandom(3 * 1024 * 1024 + 1)
    target = io.BytesIO()
    assert copy_with_md5(io.BytesIO(data), target, chunk_size=1024 * 1024) == (md5(data), len(data))
    assert target.getvalue() == data
