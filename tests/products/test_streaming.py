"""Products are read in bounded memory and the caller's streams are respected."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

from obsarchive.products import open_product
from obsarchive.products.streams import SPOOL_IN_MEMORY
from obsarchive.products.synthetic import write_fits, write_large_fits, write_tar_bundle

LARGE = 200 * 1024 * 1024


class CountingReader(io.RawIOBase):
    """A file-like object that counts the bytes read through it."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


@pytest.mark.parametrize("compressed", [False, True], ids=["fits", "fpacked"])
def test_large_product_is_opened_in_bounded_memory(tmp_path: Path, compressed: bool) -> None:
    path = write_large_fits(tmp_path, data_bytes=LARGE, compressed=compressed)
    assert path.stat().st_size > LARGE
    with path.open("rb") as raw:
        counting = CountingReader(raw)
        tracemalloc.start()
        try:
            product = open_product(counting, path.name)
            record = product.record()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert record.area is not None  # the headers (and WCS) were read
    assert peak < 16 * 1024 * 1024, peak  # well below the 200 MB file
    assert counting.bytes_read < 1024 * 1024  # headers only; the data unit was skipped
    # The fpacked heap is zeros: decompressing it would have failed.


def test_caller_stream_stays_open_and_is_read_from_the_start(tmp_path: Path) -> None:
    content = io.BytesIO()
    write_fits(content, compressed=True, rlevel=91)
    content.seek(1234)  # wherever the caller left it
    product = open_product(content, "cpt1m001-fa14-20260115-0001-e91.fits.fz")
    assert not content.closed
    assert product.record().reduction_level == 91
    with product.open() as stream:
        assert stream.tell() == 0
        data = stream.read()
    assert data == content.getvalue()
    assert not content.closed  # closing the view leaves the caller's object open
    assert product.size == len(content.getvalue())


def test_open_from_path_gives_a_fresh_stream_each_time(tmp_path: Path) -> None:
    path = write_fits(tmp_path)
    product = open_product(path)
    with product.open() as first, product.open() as second:
        first.read(100)
        assert second.tell() == 0
        assert hashlib.md5(second.read()).hexdigest() == hashlib.md5(path.read_bytes()).hexdigest()
    assert product.size == path.stat().st_size


class OneWayStream(io.RawIOBase):
    """A pipe-like stream: readable once, not seekable."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data = io.BytesIO(data)
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._data.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("spilled", [False, True], ids=["in-memory", "spilled"])
def test_non_seekable_streams_are_spooled(tmp_path: Path, spilled: bool) -> None:
    if spilled:
        data = write_large_fits(tmp_path, data_bytes=SPOOL_IN_MEMORY + 1).read_bytes()
    else:
        content = io.BytesIO()
        write_fits(content, rlevel=91)
        data = content.getvalue()
    assert (len(data) > SPOOL_IN_MEMORY) is spilled
    with open_product(OneWayStream(data, "cpt1m001-fa14-20260115-0001-e91.fits")) as product:
        assert product.record().reduction_level == 91
        with product.open() as stream:
            assert hashlib.md5(stream.read()).digest() == hashlib.md5(data).digest()


def test_tar_member_is_streamed(tmp_path: Path) -> None:
    path = write_tar_bundle(tmp_path)
    with path.open("rb") as raw:
        product = open_product(raw)
        assert not raw.closed
    assert product.filename == str(path)
    assert product.record().reduction_level == 91


def test_metadata_is_never_mutated(tmp_path: Path) -> None:
    pdf = tmp_path / "cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    pdf.write_bytes(b"%PDF-1.3\n%%EOF\n")
    metadata = {
        "SITEID": "cpt",
        "INSTRUME": "nres03",
        "DATE-OBS": "2015-02-19T13:56:05.261",
        "DAY-OBS": "",
        "OBSTYPE": "EXPOSE",
    }
    before = dict(metadata)
    product = open_product(pdf, metadata=metadata, required_headers=[])
    assert metadata == before
    assert product.headers["DAY-OBS"] == "20150219"
    assert "L1PUBDAT" in product.headers


def test_size_and_content_of_a_small_stream() -> None:
    """Checklist 1, as a product: 10 bytes, the same md5 however the stream was read."""
    stream = io.BytesIO(b"1234567890")
    product = open_product(
        stream, "x.pdf", metadata={"DATE-OBS": "2020-01-31T20:09:56"}, required_headers=[]
    )
    assert product.size == 10
    stream.read()  # the caller reads to EOF
    for _ in range(2):
        with product.open() as content:
            assert hashlib.md5(content.read()).hexdigest() == "e807f1fcf82d132f9bb018ca6738a19f"
