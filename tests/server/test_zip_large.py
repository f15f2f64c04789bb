"""A zip of 200 frames and more than 1 GiB streams in constant memory and is intact."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from obsarchive.products.synthetic import frame_header
from obsarchive.server.frames.models import Version
from tests.server.factories import PAST

FRAMES = 200
PAYLOAD = 5_400_000  # bytes of data per file: 200 files are more than 1 GiB
MIB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _product(number: int, block: bytes) -> bytes:
    """A FITS-shaped file: a real LCO header, then random bytes padded to 2880-byte blocks."""
    basename = f"cpt1m010-fa14-20260115-{number:04d}-e00"
    header = frame_header(basename=basename, shape=(1, PAYLOAD))
    header["BITPIX"] = 8
    head = fits.PrimaryHDU(header=header).header.tostring().encode("ascii")
    data = number.to_bytes(4, "big") + block[4:]  # a distinct md5 per file
    return head + data + bytes(-len(data) % 2880)


@pytest.mark.slow
def test_a_1_gib_zip_of_200_frames(download_archive: Any, world: Any, tmp_path: Path) -> None:
    block = os.urandom(PAYLOAD)
    ids: list[int] = []
    total = 0
    for number in range(1, FRAMES + 1):
        content = _product(number, block)
        total += len(content)
        frame = download_archive.add(
            content,
            basename=f"cpt1m010-fa14-20260115-{number:04d}-e00",
            public_date=PAST,
            record_size=number % 2 == 0,  # half the sizes come from the store's stat
        )
        ids.append(frame.pk)
    assert total > 1024 * MIB
    md5s = dict(Version.objects.filter(frame_id__in=ids).values_list("frame__basename", "md5"))
    del block, content

    target = tmp_path / "download.zip"
    rss_before = _rss()
    rss_peak = rss_before
    tracemalloc.start()
    try:
        response = world.anon.post("/frames/zip/", {"frame_ids": ids}, format="json")
        assert response.status_code == 200
        written = 0
        with open(target, "wb") as out:
            for count, chunk in enumerate(response.streaming_content):
                out.write(chunk)
                written += len(chunk)
                if count % 64 == 0:
                    rss_peak = max(rss_peak, _rss())
        response.close()
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_peak = max(rss_peak, _rss())

    print(  # the numbers behind the bound, for benchmarks and reports (pytest -s)
        f"zip of {written / MIB:.0f} MiB: tracemalloc peak {traced_peak / MIB:.1f} MiB, "
        f"RSS growth {(rss_peak - rss_before) / MIB:.1f} MiB"
    )
    assert written == int(response["Content-Length"]) == target.stat().st_size
    assert traced_peak < 100 * MIB, traced_peak
    assert rss_peak - rss_before < 100 * MIB, (rss_before, rss_peak)

    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None  # CRC of every member
        infos = archive.infolist()
        assert len(infos) == FRAMES
        for info in infos:
            basename = info.filename.split("/", 1)[1].removesuffix(".fits.fz")
            digest = hashlib.md5()
            with archive.open(info) as member:
                while chunk := member.read(MIB):
                    digest.update(chunk)
            assert digest.hexdigest() == md5s[basename], basename
