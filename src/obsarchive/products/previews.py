"""Preview images (thumbnails) of FITS images: zscale-stretched JPEGs in three sizes.

>>> from obsarchive.products.previews import render_preview
>>> with open("coj1m011-kb05-20150219-0125-e90.fits.fz", "rb") as f:  # doctest: +SKIP
...     jpeg = render_preview(f, "small")
>>> jpeg[:2]  # doctest: +SKIP
b'\\xff\\xd8'

Memory stays bounded whatever the image size: the pixels are read in bands of rows through
astropy's ``.section`` (so a tile-compressed image is decompressed one band at a time), and
each band is immediately binned down to the preview's scale. Only the binned image, at most
the preview size, is ever held whole.

The stretch is IRAF's zscale (:class:`astropy.visualization.ZScaleInterval`) with a linear
map, the display astronomers expect from DS9 or the LCO archive. The picture is shown as on
the sky with FITS conventions: pixel (1, 1) at the bottom left.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

import numpy as np
from astropy.io import fits
from astropy.visualization import ZScaleInterval

from obsarchive.products.errors import ProductError
from obsarchive.products.streams import BorrowedStream

__all__ = [
    "PREVIEW_SIZES",
    "NoImageError",
    "PreviewError",
    "preview_pixels",
    "render_preview",
    "render_previews",
]

#: Longest side in pixels of each named preview size (LCO's ``small`` previews are 500 px).
PREVIEW_SIZES: Mapping[str, int] = {"small": 500, "medium": 1000, "large": 2000}

# Bytes of float64 pixels read per band: bounds the working memory of a preview.
_BAND_BYTES = 8 * 1024 * 1024
# The HDU a processed LCO frame keeps its science image in.
_SCIENCE_EXTNAME = "SCI"
_JPEG_QUALITY = 85
# Pixels zscale is given: it samples about 1000 itself; a few more cost nothing.
_ZSCALE_SAMPLES = 4000


class PreviewError(ProductError):
    """No preview can be made from this product (unreadable or unexpected pixel data)."""


class NoImageError(PreviewError):
    """The product holds no image to preview: a catalogue, a table or a 1-D spectrum."""


def _pixels_for(size: str | int) -> int:
    if isinstance(size, bool):
        raise ValueError(f"preview size must be a name or a positive integer, got {size!r}")
    if isinstance(size, int):
        if size < 1:
            raise ValueError(f"preview size must be positive, got {size}")
        return size
    try:
        return PREVIEW_SIZES[size]
    except KeyError:
        names = ", ".join(PREVIEW_SIZES)
        raise ValueError(f"unknown preview size {size!r} (expected {names} or pixels)") from None


@contextmanager
def _fits_stream(fileobj: IO[bytes]) -> Iterator[IO[bytes]]:
    """A seekable stream over ``fileobj`` that astropy may close without closing the caller's.

    A real file gets a duplicated descriptor (astropy can then memory-map it: no copy of the
    compressed bytes in memory); other seekable streams get a borrowed view; a non-seekable
    stream is spooled to a temporary file first.
    """
    seekable = False
    try:
        seekable = bool(fileobj.seekable())
    except (AttributeError, ValueError, OSError):
        seekable = False
    if not seekable:
        with tempfile.TemporaryFile(prefix="obsarchive-preview-") as spool:
            shutil.copyfileobj(fileobj, spool, 1024 * 1024)
            spool.seek(0)
            yield BorrowedStream(spool)
        return
    start = fileobj.tell()
    try:
        descriptor = fileobj.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        descriptor = -1
    if descriptor >= 0:
        duplicate = os.fdopen(os.dup(descriptor), "rb")
        try:
            duplicate.seek(0)
            yield duplicate
        finally:
            duplicate.close()
            # The duplicate shared the caller's file offset; a seek from the end makes the
            # caller's buffered reader drop its buffer, so the next seek really moves.
            fileobj.seek(0, io.SEEK_END)
            fileobj.seek(start)
        return
    fileobj.seek(0)
    try:
        yield BorrowedStream(fileobj)
    finally:
        fileobj.seek(start)


def _image_shape(hdu: Any) -> tuple[int, ...] | None:
    """The data shape of an image HDU (numpy order), or None when it is not an image."""
    if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
        return None
    shape = tuple(int(n) for n in hdu.shape)
    if len(shape) < 2 or any(n == 0 for n in shape):
        return None
    return shape


def _choose_image(hdus: fits.HDUList) -> Any:
    """The HDU to preview: the ``SCI`` extension if there is one, else the first image."""
    first = None
    for hdu in hdus:
        if _image_shape(hdu) is None:
            continue
        if str(hdu.name).upper() == _SCIENCE_EXTNAME:
            return hdu
        if first is None:
            first = hdu
    return first


def _binned_bands(hdu: Any, shape: tuple[int, ...], factor: int) -> Iterator[np.ndarray]:
    """The first image plane, averaged over ``factor`` x ``factor`` blocks, band by band.

    Partial blocks at the right and top edges are dropped (less than ``factor`` pixels).
    """
    ny, nx = shape[-2], shape[-1]
    lead = (0,) * (len(shape) - 2)  # a cube's first plane, as DS9 shows it
    out_x = nx // factor
    rows_per_band = max(factor, (_BAND_BYTES // (8 * nx)) // factor * factor)
    usable_rows = (ny // factor) * factor
    for first_row in range(0, usable_rows, rows_per_band):
        last_row = min(first_row + rows_per_band, usable_rows)
        band = np.asarray(hdu.section[(*lead, slice(first_row, last_row), slice(0, nx))])
        band = band.astype(np.float64, copy=False)[:, : out_x * factor]
        if factor > 1:
            rows = (last_row - first_row) // factor
            # nanmean: a block of bad (NaN) pixels stays NaN; a partly bad block keeps its
            # good pixels' mean.
            with np.errstate(invalid="ignore"), _quiet_nanmean():
                band = np.nanmean(band.reshape(rows, factor, out_x, factor), axis=(1, 3))
        yield band.astype(np.float32)


@contextmanager
def _quiet_nanmean() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        yield


def preview_pixels(fileobj: IO[bytes], max_side: int, *, filename: str | None = None) -> np.ndarray:
    """The image a preview of about ``max_side`` pixels is drawn from, binned.

    Parameters
    ----------
    fileobj : binary file object
        A FITS file (plain or tile-compressed), read from byte 0 and left open.
    max_side : int
        The longest side wanted. The image is averaged over n x n blocks, n being the whole
        factor nearest to (longest side / ``max_side``), so the result's longest side lies
        between 2/3 and 3/2 of ``max_side`` (or is the image's own when that is smaller).
    filename : str, optional
        Named in error messages.

    Returns
    -------
    numpy.ndarray
        float32, 2-D, in FITS row order (row 0 is the bottom of the picture).

    Raises
    ------
    NoImageError
        There is no 2-D image in the file.
    PreviewError
        The file cannot be read as FITS, or its pixels cannot be decoded.
    """
    return _read_binned(fileobj, max_side, filename)[0]


def _read_binned(fileobj: IO[bytes], max_side: int, filename: str | None) -> tuple[np.ndarray, int]:
    """The binned image and the longest side of the original image."""
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    try:
        with _fits_stream(fileobj) as stream, fits.open(stream, lazy_load_hdus=True) as hdus:
            hdu = _choose_image(hdus)
            if hdu is None:
                raise NoImageError(filename, "there is no image to preview")
            shape = _image_shape(hdu)
            assert shape is not None
            longest = max(shape[-2], shape[-1])
            factor = max(1, round(longest / max_side))
            if min(shape[-2], shape[-1]) < factor:
                # A strip (one row of a cut-down frame): keep every pixel.
                factor = 1
            bands = list(_binned_bands(hdu, shape, factor))
    except ProductError:
        raise
    except (OSError, ValueError, TypeError, IndexError, KeyError, MemoryError) as exc:
        raise PreviewError(filename, f"cannot read the image: {exc}") from exc
    return np.concatenate(bands, axis=0), longest


def _stretch(pixels: np.ndarray) -> np.ndarray:
    """zscale + linear stretch to 8 bits; non-finite pixels are black.

    Works in place on float32 copies: at most two image-sized arrays exist at once.
    """
    finite = np.isfinite(pixels)
    flat = pixels.ravel()
    # zscale looks at ~1000 pixels anyway; sampling first avoids copying every finite pixel.
    stride = max(1, flat.size // _ZSCALE_SAMPLES)
    sample = flat[::stride]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        sample = pixels[finite]
    if sample.size == 0:
        return np.zeros(pixels.shape, dtype=np.uint8)
    low, high = (float(v) for v in ZScaleInterval().get_limits(sample))
    if not high > low:
        return np.where(finite, np.uint8(128), np.uint8(0))
    scaled = np.subtract(pixels, np.float32(low), dtype=np.float32)
    scaled *= np.float32(255.0 / (high - low))
    np.clip(scaled, 0.0, 255.0, out=scaled)
    scaled[~finite] = 0.0
    scaled += np.float32(0.5)
    return scaled.astype(np.uint8)


def _jpeg(image: Any, side: int, quality: int) -> bytes:
    """``image`` resized so its longest side is ``side`` pixels, as a JPEG file."""
    from PIL import Image

    width, height = image.size
    if max(width, height) != side:
        scale = side / max(width, height)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(target, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def render_previews(
    fileobj: IO[bytes],
    sizes: Sequence[str | int] = tuple(PREVIEW_SIZES),
    *,
    filename: str | None = None,
    quality: int = _JPEG_QUALITY,
) -> dict[str | int, bytes]:
    """JPEG previews of a FITS image in several sizes, reading the pixels once.

    Parameters
    ----------
    fileobj : binary file object
        A FITS file (``.fits`` or fpacked ``.fits.fz``); read from byte 0, left open.
    sizes : sequence of str or int
        Names from :data:`PREVIEW_SIZES` or longest sides in pixels.
    filename : str, optional
        Named in error messages.
    quality : int
        JPEG quality (1-95).

    Returns
    -------
    dict
        ``{size: jpeg bytes}`` for each requested size. The longest side of each is the
        size's pixels, or the image's own size when that is smaller (never enlarged).

    Raises
    ------
    NoImageError, PreviewError
        As :func:`preview_pixels`.
    ValueError
        An unknown size name.
    """
    from PIL import Image

    wanted = {size: _pixels_for(size) for size in sizes}
    if not wanted:
        return {}
    pixels, longest = _read_binned(fileobj, max(wanted.values()), filename)
    # FITS row 0 is the bottom of the picture; image rows run top to bottom.
    stretched = Image.fromarray(np.ascontiguousarray(_stretch(pixels)[::-1]))  # 8-bit grey
    # Never larger than the image itself: a preview must not invent resolution.
    return {size: _jpeg(stretched, min(side, longest), quality) for size, side in wanted.items()}


def render_preview(
    fileobj: IO[bytes],
    size: str | int,
    *,
    filename: str | None = None,
    quality: int = _JPEG_QUALITY,
) -> bytes:
    """One JPEG preview of a FITS image (zscale, linear, grey scale).

    Parameters
    ----------
    fileobj : binary file object
        A FITS file (``.fits`` or fpacked ``.fits.fz``); read from byte 0 and left open.
        Only the pixels needed are read, in bands, so memory does not grow with the image.
    size : str or int
        ``"small"``, ``"medium"``, ``"large"`` (:data:`PREVIEW_SIZES`) or the longest side in
        pixels.
    filename : str, optional
        Named in error messages.
    quality : int
        JPEG quality (1-95).

    Returns
    -------
    bytes
        The JPEG file.

    Raises
    ------
    NoImageError
        The file holds no 2-D image (a catalogue, a table).
    PreviewError
        The file is not readable FITS.
    ValueError
        Unknown size name.
    """
    return render_previews(fileobj, (size,), filename=filename, quality=quality)[size]
