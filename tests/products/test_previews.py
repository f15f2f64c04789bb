"""Preview rendering: sizes, orientation, stretch, bounded memory, errors, real LCO products."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from obsarchive.products.errors import ProductError
from obsarchive.products.previews import (
    PREVIEW_SIZES,
    NoImageError,
    PreviewError,
    preview_pixels,
    render_preview,
    render_previews,
)
from obsarchive.products.synthetic import write_catalogue, write_fits, write_large_fits


def _image(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


def _fits(data: np.ndarray, *, compressed: bool = False) -> io.BytesIO:
    hdus = (
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=data, name="SCI")])
        if compressed
        else fits.HDUList([fits.PrimaryHDU(data=data)])
    )
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    buffer.seek(0)
    return buffer


class NoSeek(io.RawIOBase):
    """A pipe-like stream: readable, not seekable."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("compressed", [False, True])
def test_every_named_size_has_its_longest_side(compressed: bool) -> None:
    buffer = io.BytesIO()
    write_fits(buffer, shape=(2100, 1400), compressed=compressed, rlevel=91)
    buffer.seek(0)
    previews = render_previews(buffer)
    assert set(previews) == set(PREVIEW_SIZES)
    for name, side in PREVIEW_SIZES.items():
        width, height = _image(previews[name]).size
        assert height == side  # the image is taller than wide
        assert width == round(1400 * side / 2100)


def test_a_preview_is_never_larger_than_the_image() -> None:
    buffer = io.BytesIO()
    write_fits(buffer, shape=(300, 200))
    assert _image(render_preview(buffer, "large")).size == (200, 300)
    width, height = _image(render_preview(buffer, 100)).size
    assert height == 100 and width in (66, 67)  # binned by 3: 200 // 3 columns


def test_pixel_one_one_is_at_the_bottom_left_and_zscale_stretches() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(1000.0, 10.0, size=(200, 200)).astype(np.float32)
    data[:20, :20] = 5000.0  # FITS rows 1-20, columns 1-20: the bottom-left corner on the sky
    image = np.asarray(_image(render_preview(_fits(data), 200)))
    assert image.shape == (200, 200)
    bottom_left = image[-15:, :15].mean()
    top_left = image[:15, :15].mean()
    background = image[60:140, 60:140]
    assert bottom_left > 245 and top_left < 200
    # zscale maps the sky noise over much of the grey range (a min/max stretch would not).
    assert background.std() > 20
    assert 40 < background.mean() < 215


def test_non_finite_pixels_do_not_break_the_stretch() -> None:
    data = np.random.default_rng(2).normal(100.0, 5.0, size=(64, 64)).astype(np.float32)
    data[10:20, :] = np.nan
    data[30, 30] = np.inf
    image = np.asarray(_image(render_preview(_fits(data), 64)))
    assert image[64 - 15, 5] < 10  # a NaN row band is black
    assert image[5:8].std() > 5  # the rest is stretched
    blank = np.full((32, 32), np.nan, dtype=np.float32)
    assert np.asarray(_image(render_preview(_fits(blank), 32))).max() < 10


def test_a_flat_image_is_mid_grey() -> None:
    flat = np.full((50, 50), 7.0, dtype=np.float32)
    image = np.asarray(_image(render_preview(_fits(flat), 50)))
    assert abs(int(np.median(image)) - 128) < 5


def test_binning_averages_blocks() -> None:
    data = np.zeros((400, 400), dtype=np.int16)  # integers: lossless compression
    data[:, :200] = 10
    binned = preview_pixels(_fits(data, compressed=True), 100)
    assert binned.shape == (100, 100)
    assert np.allclose(binned[:, :50], 10.0) and np.allclose(binned[:, 50:], 0.0)


def test_the_science_extension_is_preferred() -> None:
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(data=np.zeros((10, 10), dtype=np.float32)),
            fits.ImageHDU(data=np.ones((30, 20), dtype=np.float32), name="BPM"),
            fits.ImageHDU(data=np.ones((40, 20), dtype=np.float32), name="SCI"),
        ]
    )
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    assert preview_pixels(buffer, 1000).shape == (40, 20)


def test_a_cube_shows_its_first_plane() -> None:
    cube = np.zeros((3, 30, 40), dtype=np.int16)
    cube[0, :, :20] = 100
    pixels = preview_pixels(_fits(cube, compressed=True), 40)
    assert pixels.shape == (30, 40)
    assert pixels[:, :20].min() == 100.0 and pixels[:, 20:].max() == 0.0


def test_a_catalogue_has_no_image(tmp_path: Path) -> None:
    path = write_catalogue(tmp_path)
    assert path is not None
    with open(path, "rb") as stream, pytest.raises(NoImageError) as caught:
        render_preview(stream, "small", filename=path.name)
    assert isinstance(caught.value, ProductError)
    assert path.name in str(caught.value)


def test_garbage_is_a_preview_error_not_a_crash() -> None:
    with pytest.raises(PreviewError, match=r"x\.fits"):
        render_preview(io.BytesIO(b"this is not FITS" * 200), "small", filename="x.fits")


def test_unknown_sizes_are_refused() -> None:
    buffer = io.BytesIO()
    write_fits(buffer)
    with pytest.raises(ValueError, match="huge"):
        render_preview(buffer, "huge")
    with pytest.raises(ValueError):
        render_preview(buffer, 0)


def test_streams_that_cannot_seek_are_spooled() -> None:
    buffer = io.BytesIO()
    write_fits(buffer, compressed=True, shape=(100, 100))
    expected = render_preview(io.BytesIO(buffer.getvalue()), "small")
    assert render_preview(NoSeek(buffer.getvalue()), "small") == expected  # type: ignore[arg-type]


def test_the_callers_file_stays_open_and_in_place(tmp_path: Path) -> None:
    path = write_fits(tmp_path, compressed=True, shape=(100, 100))
    assert path is not None
    with open(path, "rb") as stream:
        stream.read(100)
        render_preview(stream, "small")
        assert not stream.closed
        assert stream.tell() == 100
        assert stream.read(10) == path.read_bytes()[100:110]
    borrowed = io.BytesIO(path.read_bytes())
    borrowed.seek(7)
    render_preview(borrowed, "small")
    assert not borrowed.closed and borrowed.tell() == 7


def test_memory_stays_bounded_for_a_big_plain_image(tmp_path: Path) -> None:
    # 400 MB of float32 pixels (a sparse file: nothing is really written).
    path = write_large_fits(tmp_path / "big.fits", data_bytes=400 * 1024 * 1024)
    with open(path, "rb") as stream:
        tracemalloc.start()
        try:
            jpeg = render_preview(stream, "medium")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert max(_image(jpeg).size) == PREVIEW_SIZES["medium"]
    assert peak < 60 * 1024 * 1024, peak  # a whole-image read would need 400 MB or more


def test_memory_stays_bounded_for_a_big_compressed_image(tmp_path: Path) -> None:
    data = np.random.default_rng(3).integers(0, 4000, size=(3000, 3000), dtype=np.int32)
    path = tmp_path / "big.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=data, name="SCI")]).writeto(path)
    del data
    with open(path, "rb") as stream:
        tracemalloc.start()
        try:
            jpeg = render_preview(stream, "small")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert _image(jpeg).size == (500, 500)
    # The decompressed image alone is 36 MB (int32), 72 MB as float64.
    assert peak < 30 * 1024 * 1024, peak


def test_real_lco_images_and_catalogues(shared_data: Path) -> None:
    made = 0
    for path in sorted((shared_data / "fits").glob("*.fits*")):
        with open(path, "rb") as stream:
            if "_cat" in path.name:
                with pytest.raises(NoImageError):
                    render_preview(stream, "small", filename=path.name)
                continue
            image = _image(render_preview(stream, "small", filename=path.name))
        with fits.open(path) as hdus:
            shape = next(h.shape for h in hdus if h.is_image and h.shape)
        assert max(image.size) == min(PREVIEW_SIZES["small"], max(shape[-2:]))
        made += 1
    assert made >= 10


def test_a_real_full_frame_preview_shows_structure(shared_data: Path) -> None:
    path = shared_data / "fits" / "cpt1m012-fl10-20151216-0073-e00.fits.fz"
    with open(path, "rb") as stream:
        image = np.asarray(_image(render_preview(stream, "small")))
    assert image.shape[1] == 500
    assert image.std() > 5  # not blank, not saturated
    assert 20 < np.median(image) < 235
