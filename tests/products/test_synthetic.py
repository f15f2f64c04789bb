"""The synthetic products are deterministic, realistic and what they claim to be."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from obsarchive.products.synthetic import (
    frame_basename,
    star_field,
    write_catalogue,
    write_fits,
    write_large_fits,
    write_tar_bundle,
)


def _md5(path: Path | None) -> str:
    assert path is not None
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for directory in (a, b, c):
        directory.mkdir()
    assert _md5(write_fits(a, compressed=True)) == _md5(write_fits(b, compressed=True))
    assert _md5(write_fits(a, seed=1)) != _md5(write_fits(c, seed=2))
    assert _md5(write_tar_bundle(a)) == _md5(write_tar_bundle(b))
    assert _md5(write_catalogue(a)) == _md5(write_catalogue(b))


def test_frame_basename() -> None:
    assert frame_basename("coj", "1m0a", "kb05", "20150219", 125, "EXPOSE", 90) == (
        "coj1m001-kb05-20150219-0125-e90"
    )
    assert frame_basename("ogg", "0m4b", "sq30", "20260101", 7, "BIAS", 0).endswith("-0007-b00")


def test_header_and_wcs(tmp_path: Path) -> None:
    when = dt.datetime(2026, 3, 1, 23, 59, 59, 500000, tzinfo=dt.UTC)
    path = write_fits(
        tmp_path, date_obs=when, ra_deg=10.684, dec_deg=41.269, shape=(100, 200), rlevel=91
    )
    assert path is not None and path.name == "cpt1m001-fa14-20260301-0001-e91.fits"
    with fits.open(path) as hdus:
        header = hdus[0].header
        data = hdus[0].data
        assert data.shape == (100, 200) and data.dtype.kind == "f" and data.itemsize == 4
        assert header["DATE-OBS"] == "2026-03-01T23:59:59.500"
        assert header["DAY-OBS"] == "20260301"
        assert header["RA"] == "00:42:44.160" and header["DEC"] == "+41:16:08.40"
        assert header["RLEVEL"] == 91 and header["L1IDBIAS"].startswith("bias_fa14_")
        wcs = WCS(header)
        ra, dec = wcs.all_pix2world([100.5], [50.5], 1)
        assert abs(ra[0] - 10.684) < 1e-9 and abs(dec[0] - 41.269) < 1e-9
        scale = np.hypot(header["CD1_1"], header["CD2_1"]) * 3600
        assert abs(scale - 0.389) < 1e-9


def test_raw_frames_are_unsigned_16_bit(tmp_path: Path) -> None:
    with fits.open(write_fits(tmp_path, rlevel=0)) as hdus:
        assert hdus[0].header["BITPIX"] == 16 and hdus[0].data.dtype.kind == "u"


def test_compressed_frame_is_fpacked(tmp_path: Path) -> None:
    path = write_fits(tmp_path, compressed=True, rlevel=91)
    assert path is not None and path.name.endswith(".fits.fz")
    with fits.open(path) as hdus:
        assert len(hdus) == 2 and hdus[0].header["NAXIS"] == 0
        assert isinstance(hdus[1], fits.CompImageHDU)
        assert hdus[1].header["OBJECT"] == "synthetic field"


def test_star_field_has_stars_and_noise() -> None:
    image = star_field((64, 64), seed=3, n_stars=5)
    assert image.shape == (64, 64)
    assert np.median(image) < 450 < image.max()  # sky about 400, stars well above it
    assert not np.array_equal(image, star_field((64, 64), seed=4, n_stars=5))
    np.testing.assert_array_equal(image, star_field((64, 64), seed=3, n_stars=5))


def test_write_to_a_binary_stream() -> None:
    buffer = io.BytesIO()
    assert write_fits(buffer) is None
    assert buffer.getvalue().startswith(b"SIMPLE  =")
    assert len(buffer.getvalue()) % 2880 == 0


def test_catalogue(tmp_path: Path) -> None:
    path = write_catalogue(tmp_path, n_sources=10)
    assert path is not None and path.name.endswith("_cat.fits.fz")
    with fits.open(path) as hdus:
        assert hdus[1].name == "CAT" and len(hdus[1].data) == 10
        assert "ra" in hdus[1].columns.names


def test_tar_bundle_members(tmp_path: Path) -> None:
    path = write_tar_bundle(tmp_path)
    assert path is not None
    with tarfile.open(path) as archive:
        names = archive.getnames()
        meta = archive.extractfile(names[1])
        assert meta is not None
        header = fits.getheader(io.BytesIO(meta.read()))
    assert names[1].endswith("e91.fits")
    assert header["RADIUS"] == 1.5 and header["OBSTYPE"] == "TARGET" and header["ENCID"] == "igla"


def test_large_fits_is_sparse_and_declares_its_size(tmp_path: Path) -> None:
    path = write_large_fits(tmp_path, data_bytes=50 * 1024 * 1024)
    assert path.stat().st_size >= 50 * 1024 * 1024
    with fits.open(path) as hdus:  # astropy agrees with the structure
        header = hdus[0].header
        assert header["NAXIS1"] * header["NAXIS2"] * 4 >= 50 * 1024 * 1024
