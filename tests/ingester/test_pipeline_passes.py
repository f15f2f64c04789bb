"""How many times an ingest reads and hashes a product's bytes (docs/performance.md, L6).

The duplicate check must come before the upload (nothing is stored for an archived md5), and
the store computes the md5 of what it stored: so two reads and two md5 passes are the
minimum, and a third would be a regression. Header reads add a little.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from obsarchive.ingester import IngestPipeline, NonFatalDoNotRetryError
from obsarchive.products.synthetic import write_large_fits
from obsarchive.storage.filesystem import FilesystemStore
from tests.ingester.stub_archive import Reply, stub_archive
from tests.ingester.test_pipeline import settings_for

DATA_BYTES = 12 * 1024 * 1024


class CountingFile(io.FileIO):
    """A file that counts the bytes read through it."""

    read_bytes = 0

    def readinto(self, buffer: Any) -> int | None:
        count = super().readinto(buffer)
        CountingFile.read_bytes += count or 0
        return count

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        CountingFile.read_bytes += len(data)
        return data


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes fed to md5 (the checksum helpers look ``hashlib.md5`` up when called)."""
    fed = [0]
    real = hashlib.md5

    class CountingMd5:
        def __init__(self, data: bytes = b"", **kwargs: Any) -> None:
            self._hash = real(data, **kwargs)
            fed[0] += len(data)

        def update(self, data: bytes) -> None:
            fed[0] += len(data)
            self._hash.update(data)

        def hexdigest(self) -> str:
            return self._hash.hexdigest()

        def digest(self) -> bytes:
            return self._hash.digest()

    monkeypatch.setattr(hashlib, "md5", CountingMd5)
    return fed


def test_a_large_product_is_read_and_hashed_twice_at_most(tmp_path: Path, hashed: list[int]):
    path = write_large_fits(tmp_path, data_bytes=DATA_BYTES)
    size = path.stat().st_size
    with stub_archive() as stub:
        pipeline = IngestPipeline.from_settings(
            settings_for(stub), store=FilesystemStore(tmp_path / "store")
        )
        CountingFile.read_bytes = 0
        with io.BufferedReader(CountingFile(path, "rb"), 1024 * 1024) as stream:
            result = pipeline.ingest(stream, path=path.name)
        assert result.stored.size == size
        assert result.md5 == result.stored.md5
        # Two full passes; headers are read once more from the first bytes only.
        assert 2 * size <= CountingFile.read_bytes <= 2 * size + 4 * 1024 * 1024
        assert hashed[0] == 2 * size

        # An archived md5: one pass for the check, nothing stored, nothing hashed again.
        stub.answer("GET", "/versions/", Reply(200, {"count": 1}))
        stored_before = len(list(pipeline.store.keys()))
        hashed[0] = 0
        CountingFile.read_bytes = 0
        with (
            io.BufferedReader(CountingFile(path, "rb"), 1024 * 1024) as stream,
            pytest.raises(NonFatalDoNotRetryError),
        ):
            pipeline.ingest(stream, path=path.name)
        assert hashed[0] == size
        assert CountingFile.read_bytes <= size + 4 * 1024 * 1024
        assert len(list(pipeline.store.keys())) == stored_before
