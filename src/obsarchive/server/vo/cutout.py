"""FITS cutouts for SODA: only the pixels needed are read, and the result is streamed.

For every image HDU with a celestial WCS the sky region becomes a pixel box; the output has
the primary header (or the cut primary image), then one ``IMAGE`` extension per cut image
(tile-compressed images come out uncompressed), with ``CRPIX`` shifted so the WCS stays
exact. Tables (catalogues) are left out. Pixels are read in bands through astropy's
``.section``, which for ``CompImageHDU`` decompresses only the tiles a band touches, and are
written in their stored representation (``BZERO``/``BSCALE`` kept), so memory stays bounded
by a band whatever the image size.

A ``CIRCLE`` box is exactly astropy's ``Cutout2D(data, centre, 2 * radius, wcs,
mode="trim")``: centred on the requested position, so the cutout's WCS puts it at the centre
pixel. Polygons and ranges get the smallest box of whole pixels meeting the region, found by
bisection with the exact spherical predicates of :mod:`obsarchive.sky`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.nddata.utils import NoOverlapError
from astropy.wcs import WCS, FITSFixedWarning

from obsarchive import sky

__all__ = ["Cutout", "CutoutError", "NoImageError", "PixelBox", "pixel_box", "plan_cutout"]

logger = logging.getLogger(__name__)

BLOCK = 2880
# Bytes of decompressed rows (full width) read per band.
_BAND_BYTES = 4 * 1024 * 1024
_BITPIX_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
_STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "END"}
# Cards that describe the original pixel array or bytes and would lie about the cutout.
_STALE = {"CHECKSUM", "DATASUM", "DATASEC", "TRIMSEC", "BIASSEC"}
# Keywords about pixels, meaningless on a dataless primary header.
_IMAGE_ONLY = frozenset({"BSCALE", "BZERO", "BLANK", "BUNIT"})
# Cutout2D converts the radius with the pixel scale at the reference point, which is only
# right near it (the gnomonic scale grows as 1/cos^2 of the distance): circles larger than
# this, or centred farther than this from the image centre, are boxed by bisection.
_NEAR = 2.0
_EDGE_POINTS = 8
Region = sky.Circle | sky.Polygon | sky.Range


class CutoutError(Exception):
    """The stored product cannot be read as FITS."""


class NoImageError(CutoutError):
    """The product has no image HDU with a celestial WCS: nothing can be cut out."""


@dataclass(frozen=True)
class PixelBox:
    """Zero-based, end-exclusive pixel ranges: columns ``x0:x1``, rows ``y0:y1``."""

    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def _celestial(header: fits.Header) -> WCS | None:
    """The celestial WCS of an image on its first two pixel axes, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            full = WCS(header)
    except Exception:  # noqa: BLE001 - astropy/wcslib raise many types for broken headers
        return None
    if not full.has_celestial or {full.wcs.lng, full.wcs.lat} != {0, 1}:
        return None
    celestial = full.celestial
    if celestial.pixel_n_dim != 2:
        return None
    return celestial


def _world(wcs: WCS, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    values = wcs.pixel_to_world_values(x, y)
    return np.asarray(values[wcs.wcs.lng], float), np.asarray(values[wcs.wcs.lat], float)


def _rectangle(wcs: WCS, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> sky.Polygon | None:
    """The sky polygon of a pixel rectangle (edges sampled, so distortions are followed)."""
    t = np.linspace(0.0, 1.0, _EDGE_POINTS, endpoint=False)
    xs = np.concatenate(
        [
            x_lo + (x_hi - x_lo) * t,
            np.full_like(t, x_hi),
            x_hi - (x_hi - x_lo) * t,
            np.full_like(t, x_lo),
        ]
    )
    ys = np.concatenate([np.full_like(t, y_lo), y_lo + (y_hi - y_lo) * t,
                         np.full_like(t, y_hi), y_hi - (y_hi - y_lo) * t])  # fmt: skip
    lon, lat = _world(wcs, xs, ys)
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        return None
    try:
        return sky.Polygon(zip(lon.tolist(), lat.tolist(), strict=True), strict=False)
    except sky.SkyGeometryError:
        return None


def _centre_distance(wcs: WCS, ny: int, nx: int, lon: float, lat: float) -> float:
    centre_lon, centre_lat = _world(wcs, (nx - 1) / 2.0, (ny - 1) / 2.0)
    a = SkyCoord(float(centre_lon), float(centre_lat), unit="deg")
    return float(a.separation(SkyCoord(lon, lat, unit="deg")).deg)


def _circle_box(wcs: WCS, ny: int, nx: int, circle: sky.Circle) -> PixelBox | None:
    # Cutout2D only needs the array's shape: a zero-strided view costs no memory.
    shape_only = np.broadcast_to(np.zeros((), dtype=np.uint8), (ny, nx))
    try:
        cut = Cutout2D(
            shape_only,
            SkyCoord(circle.lon % 360.0, circle.lat, unit="deg"),
            2.0 * circle.radius * u.deg,
            wcs=wcs,
            mode="trim",
            copy=False,
        )
    except (NoOverlapError, ValueError):
        return None
    rows, columns = cut.slices_original
    box = PixelBox(columns.start, columns.stop, rows.start, rows.stop)
    return box if box.width > 0 and box.height > 0 else None


def _meets(region: Region, polygon: sky.Polygon | None) -> bool:
    # An unprojectable strip (pixels off the sky) cannot hold region pixels.
    return polygon is not None and region.intersects(polygon)


def _first(low: int, high: int, test: Callable[[int], bool]) -> int:
    """The smallest ``c`` in ``[low, high]`` with ``test(c)`` (monotone; ``test(high)`` holds)."""
    while low < high:
        middle = (low + high) // 2
        if test(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _searched_box(wcs: WCS, ny: int, nx: int, region: Region) -> PixelBox | None:
    """The smallest pixel box meeting ``region``, by bisection over pixel strips."""
    whole = _rectangle(wcs, -0.5, nx - 0.5, -0.5, ny - 0.5)
    if whole is None:
        return PixelBox(0, nx, 0, ny)  # the image cannot be mapped: do not cut it
    if not region.intersects(whole):
        return None

    def columns(first: int, last: int) -> sky.Polygon | None:
        return _rectangle(wcs, first - 0.5, last + 0.5, -0.5, ny - 0.5)

    # Leftmost column: the shortest prefix of columns meeting the region ends there.
    x0 = _first(0, nx - 1, lambda c: _meets(region, columns(0, c)))
    x1 = nx - 1 - _first(0, nx - 1 - x0, lambda k: _meets(region, columns(nx - 1 - k, nx - 1)))

    def rows(first: int, last: int) -> sky.Polygon | None:
        return _rectangle(wcs, x0 - 0.5, x1 + 0.5, first - 0.5, last + 0.5)

    y0 = _first(0, ny - 1, lambda r: _meets(region, rows(0, r)))
    y1 = ny - 1 - _first(0, ny - 1 - y0, lambda k: _meets(region, rows(ny - 1 - k, ny - 1)))
    return PixelBox(x0, x1 + 1, y0, y1 + 1)


def pixel_box(wcs: WCS, shape: tuple[int, int], region: Region | None) -> PixelBox | None:
    """The pixels of an image (``shape`` = ``(ny, nx)``) to cut for ``region``.

    Returns
    -------
    PixelBox or None
        None when the region has no pixel in the image; the whole image for ``None``.
    """
    ny, nx = shape
    if region is None:
        return PixelBox(0, nx, 0, ny)
    if isinstance(region, sky.Circle):
        near = _centre_distance(wcs, ny, nx, region.lon, region.lat) <= _NEAR
        if near and region.radius <= _NEAR:
            return _circle_box(wcs, ny, nx, region)
    return _searched_box(wcs, ny, nx, region)


@dataclass(frozen=True)
class _Part:
    size: int
    produce: Callable[[], Iterator[bytes]]


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _header_part(header: fits.Header) -> _Part:
    data = header.tostring(sep="", endcard=True, padding=True).encode("ascii")
    return _Part(len(data), lambda: iter((data,)))


def _shape(header: fits.Header) -> tuple[int, ...]:
    """Numpy-order shape of an image HDU from its header (``()`` when it has no data)."""
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header.get(f"NAXIS{axis}", 0)) for axis in range(naxis, 0, -1))


def _copy_cards(
    source: fits.Header, target: fits.Header, skip: frozenset[str] = frozenset()
) -> None:
    for card in source.cards:
        keyword = card.keyword
        if keyword in _STRUCTURAL or keyword in _STALE or keyword in skip:
            continue
        if keyword.startswith("NAXIS") and keyword[5:].isdigit():
            continue
        target.append(card, end=True)


def _image_header(
    source: fits.Header, shape: tuple[int, ...], *, primary: bool, box: PixelBox, label: str
) -> fits.Header:
    header = fits.Header()
    if primary:
        header["SIMPLE"] = (True, "conforms to FITS standard")
    else:
        header["XTENSION"] = ("IMAGE", "Image extension")
    header["BITPIX"] = (int(source["BITPIX"]), "array data type")
    header["NAXIS"] = (len(shape), "number of array dimensions")
    for axis, length in enumerate(reversed(shape), start=1):
        header[f"NAXIS{axis}"] = length
    if primary:
        header["EXTEND"] = True
    else:
        header["PCOUNT"] = (0, "number of parameters")
        header["GCOUNT"] = (1, "number of groups")
    _copy_cards(source, header)
    for keyword in list(header.keys()):
        # The WCS reference pixel (primary and alternate WCSs) and IRAF's physical offset move
        # with the first pixel; nothing else of a linear or SIP WCS depends on it.
        base = keyword.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") if len(keyword) == 7 else keyword
        if base in ("CRPIX1", "LTV1"):
            shift = box.x0 if base == "CRPIX1" else -box.x0
            header[keyword] = float(header[keyword]) - shift
        elif base in ("CRPIX2", "LTV2"):
            shift = box.y0 if base == "CRPIX2" else -box.y0
            header[keyword] = float(header[keyword]) - shift
    header.add_history(
        f"obsarchive SODA cutout of {label}: pixels x {box.x0 + 1}:{box.x1}, "
        f"y {box.y0 + 1}:{box.y1} (1-based, inclusive)"
    )
    return header


def _pixels(hdu: Any, header: fits.Header, full: tuple[int, ...], box: PixelBox) -> _Part:
    """The box's pixels in stored representation, band by band, padded to a FITS block."""
    dtype = np.dtype(_BITPIX_DTYPES[int(header["BITPIX"])])
    leading = full[:-2]
    nbytes = math.prod(leading) * box.height * box.width * dtype.itemsize
    rows_per_band = max(1, _BAND_BYTES // max(1, full[-1] * dtype.itemsize))

    def produce() -> Iterator[bytes]:
        section = hdu.section
        for lead in np.ndindex(*leading):
            for first in range(box.y0, box.y1, rows_per_band):
                last = min(first + rows_per_band, box.y1)
                band = section[(*lead, slice(first, last), slice(box.x0, box.x1))]
                yield np.ascontiguousarray(band, dtype=dtype).tobytes()
        padding = _padded(nbytes) - nbytes
        if padding:
            yield bytes(padding)

    return _Part(_padded(nbytes), produce)


class Cutout:
    """A planned cutout: its exact ``size`` in bytes and its bytes, produced on demand.

    Holds the source open until :meth:`chunks` is exhausted or :meth:`close` is called.
    """

    def __init__(self, parts: list[_Part], boxes: list[PixelBox], closer: contextlib.ExitStack):
        self._parts = parts
        self._closer = closer
        self.boxes = boxes
        self.size = sum(part.size for part in parts)

    def chunks(self) -> Iterator[bytes]:
        """The FITS file's bytes; closes the source when done.

        Raises
        ------
        CutoutError
            Pixels turned out to be undecodable part way through.
        """
        try:
            for part in self._parts:
                yield from part.produce()
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise CutoutError(f"cannot decode the pixels: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        self._closer.close()


def _is_image(hdu: Any) -> bool:
    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        return False
    shape = _shape(hdu.header)
    return len(shape) >= 2 and all(length > 0 for length in shape)


def _plan(
    hdus: fits.HDUList, region: Region | None, label: str
) -> tuple[list[_Part], list[PixelBox]]:
    parts: list[_Part] = []
    boxes: list[PixelBox] = []
    images = 0
    previous: tuple[WCS, tuple[int, ...]] | None = None
    for index, hdu in enumerate(hdus):
        if not _is_image(hdu):
            continue
        images += 1
        header = hdu.header
        full = _shape(header)
        wcs = _celestial(header)
        if wcs is None and previous is not None and previous[1][-2:] == full[-2:]:
            # Companion images (bad-pixel mask, errors) often carry no WCS of their own
            # but share the science image's pixel grid.
            wcs = previous[0]
        if wcs is None:
            continue
        previous = (wcs, full)
        box = pixel_box(wcs, (full[-2], full[-1]), region)
        if box is None:
            continue
        primary = index == 0
        if not parts and not primary:
            source = hdus[0].header
            dataless = fits.Header()
            dataless["SIMPLE"] = (True, "conforms to FITS standard")
            dataless["BITPIX"] = (8, "array data type")
            dataless["NAXIS"] = (0, "number of array dimensions")
            dataless["EXTEND"] = True
            _copy_cards(source, dataless, skip=_IMAGE_ONLY)
            parts.append(_header_part(dataless))
        shape = (*full[:-2], box.height, box.width)
        out = _image_header(header, shape, primary=primary, box=box, label=label)
        parts.append(_header_part(out))
        parts.append(_pixels(hdu, out, full, box))
        boxes.append(box)
    if images == 0 or previous is None:
        raise NoImageError("the product has no image with a celestial WCS")
    return parts, boxes


def plan_cutout(stream: IO[bytes], region: Region | None, *, label: str = "") -> Cutout | None:
    """Plan the cutout of ``region`` from a FITS product.

    Parameters
    ----------
    stream : seekable binary file
        The stored product (``.fits`` or ``.fits.fz``). It is closed when the result is
        exhausted or closed, or here when there is nothing to return.
    region
        A sky region; ``None`` keeps whole images.
    label
        The product's name, written into the cutout's HISTORY.

    Returns
    -------
    Cutout or None
        None when no image has a pixel in the region.

    Raises
    ------
    NoImageError
        No image HDU with a celestial WCS.
    CutoutError
        Not readable as FITS.
    """
    closer = contextlib.ExitStack()
    closer.callback(stream.close)
    try:
        try:
            hdus = fits.open(
                stream,
                memmap=False,
                lazy_load_hdus=True,
                do_not_scale_image_data=True,
                checksum=False,
            )
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise CutoutError(f"not a readable FITS file: {exc}") from exc
        closer.callback(hdus.close)
        try:
            parts, boxes = _plan(hdus, region, label)
        except CutoutError:
            raise
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise CutoutError(f"cannot read the FITS structure: {exc}") from exc
    except BaseException:
        closer.close()
        raise
    if not boxes:
        closer.close()
        return None
    return Cutout(parts, boxes, closer)
