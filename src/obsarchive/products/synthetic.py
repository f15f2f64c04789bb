"""Small, realistic, synthetic LCO-like products for tests, the demo and the simulator.

Everything here is deterministic for a given ``seed``: the same arguments give the same bytes
(and so the same md5), which lets tests assert exact outcomes. Headers follow the LCO layout
(DATE-OBS, DAY-OBS, PROPID, INSTRUME, SITEID, TELID, OBSTYPE, BLKUID, REQNUM, RLEVEL, a TAN WCS
with a CD matrix at about 0.39"/pixel, L1ID* links for processed frames, ...); images are a
star field of Gaussian sources on a noisy sky.

>>> import io, datetime as dt
>>> from obsarchive.products.synthetic import write_fits
>>> buffer = io.BytesIO()
>>> write_fits(buffer, date_obs=dt.datetime(2026, 1, 15, 3, 0, tzinfo=dt.UTC))
>>> buffer.getvalue()[:6]
b'SIMPLE'
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import math
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from astropy.coordinates import Angle
from astropy.io import fits

__all__ = [
    "DEFAULT_DATE_OBS",
    "PIXEL_SCALE_ARCSEC",
    "frame_basename",
    "frame_header",
    "star_field",
    "write_catalogue",
    "write_fits",
    "write_large_fits",
    "write_tar_bundle",
]

#: The observation time used when none is given (a fixed instant keeps outputs reproducible).
DEFAULT_DATE_OBS = dt.datetime(2026, 1, 15, 3, 0, 0, tzinfo=dt.UTC)
#: The plate scale of LCO's 1-m Sinistro cameras, arcseconds per pixel.
PIXEL_SCALE_ARCSEC = 0.389

_TYPE_LETTERS = {
    "EXPOSE": "e",
    "SPECTRUM": "e",
    "TARGET": "e",
    "STANDARD": "s",
    "BIAS": "b",
    "DARK": "d",
    "SKYFLAT": "f",
    "LAMPFLAT": "w",
    "GUIDE": "g",
    "EXPERIMENTAL": "x",
    "ARC": "a",
    "DOUBLE": "a",
    "TRAILED": "t",
}

Destination = str | os.PathLike[str] | IO[bytes]

_MJD_ZERO = dt.datetime(1858, 11, 17, tzinfo=dt.UTC)


def frame_basename(
    site_id: str,
    telescope_id: str,
    instrument_id: str,
    day_obs: str,
    frame_number: int,
    obstype: str,
    rlevel: int,
) -> str:
    """An LCO frame basename: ``cpt1m001-fa14-20260115-0001-e91``."""
    letter = _TYPE_LETTERS.get(obstype, "e")
    telescope_class = telescope_id[:3]
    return (
        f"{site_id}{telescope_class}01-{instrument_id}-{day_obs}-"
        f"{frame_number:04d}-{letter}{rlevel:02d}"
    )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _fits_time(value: dt.datetime) -> str:
    """LCO's DATE-OBS style: naive UTC with milliseconds (``2015-02-19T13:56:05.261``)."""
    return _utc(value).replace(tzinfo=None).isoformat(timespec="milliseconds")


def frame_header(
    *,
    basename: str,
    site_id: str = "cpt",
    telescope_id: str = "1m0a",
    instrument_id: str = "fa14",
    obstype: str = "EXPOSE",
    proposal_id: str = "LCO2026A-001",
    date_obs: dt.datetime = DEFAULT_DATE_OBS,
    day_obs: str | None = None,
    exptime: float = 30.0,
    filter: str = "rp",
    object_name: str = "synthetic field",
    ra_deg: float = 150.0,
    dec_deg: float = 2.0,
    shape: tuple[int, int] = (64, 64),
    rlevel: int | None = 0,
    request_id: str = "0001234567",
    observation_id: str = "12345678",
    related: Mapping[str, str] | None = None,
    public_date: str | None = None,
    pixel_scale_arcsec: float = PIXEL_SCALE_ARCSEC,
    rotation_deg: float = 0.0,
    wcs: bool = True,
    extra_headers: Mapping[str, Any] | None = None,
    omit: Sequence[str] = (),
) -> fits.Header:
    """The header of a synthetic LCO frame (see :func:`write_fits` for the parameters)."""
    start = _utc(date_obs)
    stop = start + dt.timedelta(seconds=exptime)
    day = day_obs or start.strftime("%Y%m%d")
    header = fits.Header()
    cards: list[tuple[str, Any, str]] = [
        ("ORIGIN", "LCOGT", "Organization responsible for the data"),
        ("SITEID", site_id, "ID code of the Observatory site"),
        ("ENCID", "doma", "ID code of the Enclosure"),
        ("TELID", telescope_id, "ID code of the Telescope"),
        ("TELESCOP", f"{telescope_id}-01", "Name of the Telescope"),
        ("INSTRUME", instrument_id, "Instrument used"),
        ("OBSTYPE", obstype, "Observation type"),
        ("EXPTIME", float(exptime), "[s] Exposure length"),
        ("FILTER", filter, "Filter used"),
        ("DATE-OBS", _fits_time(start), "[UTC] Start of the observation"),
        ("DAY-OBS", day, "Date at start of local night"),
        ("MJD-OBS", round((start - _MJD_ZERO).total_seconds() / 86400.0, 8), "[UTC days] Start"),
        ("UTSTART", start.strftime("%H:%M:%S.%f")[:12], "[UTC] Exposure start"),
        ("UTSTOP", stop.strftime("%H:%M:%S.%f")[:12], "[UTC] Exposure end"),
        ("PROPID", proposal_id, "Proposal ID"),
        ("OBJECT", object_name, "Object name"),
        ("BLKUID", observation_id, "Block ID"),
        ("REQNUM", request_id, "Request number"),
        ("MOLUID", "2001", "Molecule ID"),
        ("TRACKNUM", "0000987654", "Request group number"),
        (
            "RA",
            Angle(ra_deg, "deg").to_string(unit="hourangle", sep=":", precision=3, pad=True),
            "[HH:MM:SS.sss]",
        ),
        (
            "DEC",
            Angle(dec_deg, "deg").to_string(
                unit="deg", sep=":", precision=2, alwayssign=True, pad=True
            ),
            "[sDD:MM:SS.ss]",
        ),
        ("AIRMASS", 1.2, "Effective mean airmass"),
    ]
    for keyword, value, comment in cards:
        header[keyword] = (value, comment)
    if rlevel is not None:
        header["RLEVEL"] = (int(rlevel), "Reduction level")
    if wcs:
        scale = pixel_scale_arcsec / 3600.0
        rotation = math.radians(rotation_deg)
        ny, nx = shape
        header["CTYPE1"] = ("RA---TAN", "Type of WCS Projection")
        header["CTYPE2"] = ("DEC--TAN", "Type of WCS Projection")
        header["CRPIX1"] = ((nx + 1) / 2.0, "[pixel] Reference point")
        header["CRPIX2"] = ((ny + 1) / 2.0, "[pixel] Reference point")
        header["CRVAL1"] = (float(ra_deg), "[deg] RA at the reference pixel")
        header["CRVAL2"] = (float(dec_deg), "[deg] Dec at the reference pixel")
        header["CUNIT1"] = ("deg", "Units of RA")
        header["CUNIT2"] = ("deg", "Units of Dec")
        # East left, north up, then rotated by rotation_deg as CROTA2 would (CDELT1 < 0).
        header["CD1_1"] = (-scale * math.cos(rotation), "[deg/pixel] WCS CD matrix")
        header["CD1_2"] = (-scale * math.sin(rotation), "[deg/pixel] WCS CD matrix")
        header["CD2_1"] = (-scale * math.sin(rotation), "[deg/pixel] WCS CD matrix")
        header["CD2_2"] = (scale * math.cos(rotation), "[deg/pixel] WCS CD matrix")
        header["RADESYS"] = ("ICRS", "Equatorial coordinate system")
    if rlevel:
        instrument_day = f"{instrument_id}_{day}"
        links = {
            "L1IDBIAS": f"bias_{instrument_day}_bin1x1.fits.fz",
            "L1IDDARK": f"dark_{instrument_day}_bin1x1.fits.fz",
            "L1IDFLAT": f"flat_{instrument_day}_SKYFLAT_bin1x1_{filter}.fits.fz",
            "L1IDMASK": f"bpm-{instrument_id}_bin1x1.fits.fz",
            "ORIGNAME": basename.replace("_cat", "")[:-2] + "00",
        }
        for keyword, value in links.items():
            header[keyword] = value
    for keyword, value in (related or {}).items():
        header[keyword] = value
    if public_date is not None:
        header["L1PUBDAT"] = (public_date, "[UTC] Public date")
    header.add_comment("Synthetic product written by obsarchive.products.synthetic")
    header.add_history("Not real data: generated for tests and demonstrations.")
    for keyword, value in (extra_headers or {}).items():
        header[keyword] = value
    for keyword in omit:
        header.remove(keyword, ignore_missing=True, remove_all=True)
    return header


def star_field(
    shape: tuple[int, int],
    *,
    seed: int = 0,
    n_stars: int = 20,
    sky: float = 400.0,
    read_noise: float = 8.0,
    fwhm_pixels: float = 4.0,
) -> np.ndarray:
    """A float32 sky image: Gaussian stars on a flat background with Gaussian noise."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    image = np.full(shape, sky, dtype=np.float64)
    sigma = fwhm_pixels / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    reach = math.ceil(5 * sigma)  # a star is drawn only where it is brighter than noise
    for _ in range(n_stars):
        x0, y0 = rng.uniform(0, nx), rng.uniform(0, ny)
        flux = rng.lognormal(mean=8.0, sigma=1.0)
        x_lo, x_hi = max(0, int(x0) - reach), min(nx, int(x0) + reach + 1)
        y_lo, y_hi = max(0, int(y0) - reach), min(ny, int(y0) + reach + 1)
        yy, xx = np.mgrid[y_lo:y_hi, x_lo:x_hi]
        image[y_lo:y_hi, x_lo:x_hi] += (
            flux
            / (2 * math.pi * sigma**2)
            * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))
        )
    # Photon noise (Gaussian approximation of Poisson) plus read noise.
    image += rng.normal(0.0, 1.0, size=shape) * np.sqrt(np.clip(image, 0, None))
    image += rng.normal(0.0, read_noise, size=shape)
    return image.astype(np.float32)


def _target(dest: Destination, name: str) -> tuple[IO[bytes], Path | None, bool]:
    """Open the destination: a directory gets ``name`` inside it, a path is used as is."""
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        if path.is_dir():
            path = path / name
        return open(path, "wb"), path, True  # the caller closes it
    return dest, None, False


def _write_hdus(dest: Destination, name: str, hdus: fits.HDUList) -> Path | None:
    stream, path, owned = _target(dest, name)
    try:
        buffer = io.BytesIO()
        hdus.writeto(buffer, output_verify="silentfix")
        stream.write(buffer.getvalue())
    finally:
        if owned:
            stream.close()
    return path


def write_fits(
    dest: Destination,
    *,
    basename: str | None = None,
    site_id: str = "cpt",
    telescope_id: str = "1m0a",
    instrument_id: str = "fa14",
    obstype: str = "EXPOSE",
    proposal_id: str = "LCO2026A-001",
    date_obs: dt.datetime = DEFAULT_DATE_OBS,
    day_obs: str | None = None,
    exptime: float = 30.0,
    filter: str = "rp",
    object_name: str = "synthetic field",
    ra_deg: float = 150.0,
    dec_deg: float = 2.0,
    shape: tuple[int, int] = (64, 64),
    rlevel: int | None = 0,
    compressed: bool = False,
    request_id: str = "0001234567",
    observation_id: str = "12345678",
    frame_number: int = 1,
    related: Mapping[str, str] | None = None,
    public_date: str | None = None,
    pixel_scale_arcsec: float = PIXEL_SCALE_ARCSEC,
    rotation_deg: float = 0.0,
    wcs: bool = True,
    extra_headers: Mapping[str, Any] | None = None,
    omit: Sequence[str] = (),
    seed: int = 0,
    n_stars: int = 20,
) -> Path | None:
    """Write a synthetic LCO image: ``.fits``, or fpacked ``.fits.fz`` when ``compressed``.

    Parameters
    ----------
    dest : path, directory or binary file
        A directory receives ``{basename}.fits[.fz]``; a file path is written as is; a binary
        file object receives the bytes.
    basename : str, optional
        Defaults to the LCO name built from site, telescope, instrument, night, frame number,
        type letter and reduction level (``cpt1m001-fa14-20260115-0001-e00``).
    site_id, telescope_id, instrument_id, obstype, proposal_id, exptime, filter, object_name
        The SITEID, TELID, INSTRUME, OBSTYPE, PROPID, EXPTIME, FILTER and OBJECT values.
    date_obs : datetime
        DATE-OBS (UTC; a naive value is taken as UTC). DAY-OBS defaults to its UTC date.
    ra_deg, dec_deg : float
        The pointing: RA/DEC (sexagesimal) and the WCS reference point.
    shape : (ny, nx)
        Image size in pixels.
    rlevel : int or None
        RLEVEL; ``None`` omits the card. A processed frame (``rlevel > 0``) is float32 and
        carries L1IDBIAS/L1IDDARK/L1IDFLAT/L1IDMASK/ORIGNAME links; a raw one is uint16.
    compressed : bool
        Write an empty primary HDU plus a RICE tile-compressed image HDU, as fpack does.
    request_id, observation_id : str
        REQNUM and BLKUID.
    related : Mapping, optional
        Extra related-frame cards (e.g. ``{"L1IDCAT": ...}``).
    public_date : str, optional
        L1PUBDAT.
    wcs : bool
        Write the TAN WCS (CD matrix, ``pixel_scale_arcsec``, ``rotation_deg``).
    extra_headers : Mapping, optional
        Cards set last (they override everything above).
    omit : sequence of str
        Keywords removed at the very end (to build products lacking a required header).
    seed, n_stars : int
        The star field's random seed and number of stars.

    Returns
    -------
    Path or None
        The file written, or ``None`` when ``dest`` is a file object.
    """
    day = day_obs or _utc(date_obs).strftime("%Y%m%d")
    name = basename or frame_basename(
        site_id, telescope_id, instrument_id, day, frame_number, obstype, rlevel or 0
    )
    header = frame_header(
        basename=name,
        site_id=site_id,
        telescope_id=telescope_id,
        instrument_id=instrument_id,
        obstype=obstype,
        proposal_id=proposal_id,
        date_obs=date_obs,
        day_obs=day,
        exptime=exptime,
        filter=filter,
        object_name=object_name,
        ra_deg=ra_deg,
        dec_deg=dec_deg,
        shape=shape,
        rlevel=rlevel,
        request_id=request_id,
        observation_id=observation_id,
        related=related,
        public_date=public_date,
        pixel_scale_arcsec=pixel_scale_arcsec,
        rotation_deg=rotation_deg,
        wcs=wcs,
        extra_headers=extra_headers,
        omit=omit,
    )
    image = star_field(shape, seed=seed, n_stars=n_stars)
    data: np.ndarray = image if rlevel else np.clip(np.rint(image), 0, 65535).astype(np.uint16)
    if compressed:
        hdus = fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.CompImageHDU(data=data, header=header, name=header.get("EXTNAME", "SCI")),
            ]
        )
        extension = ".fits.fz"
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(data=data, header=header)])
        extension = ".fits"
    return _write_hdus(dest, name + extension, hdus)


def write_catalogue(
    dest: Destination,
    *,
    basename: str | None = None,
    extension: str = ".fits.fz",
    n_sources: int = 25,
    seed: int = 0,
    **frame: Any,
) -> Path | None:
    """Write a source catalogue (``…_cat``): the frame's header on an empty primary + a table.

    LCO's ``_cat.fits.fz`` files are in fact uncompressed, so the default extension is
    ``.fits.fz`` with plain content. ``frame`` takes :func:`write_fits`'s header arguments.
    The primary HDU has no image, so the catalogue has no footprint (as upstream).
    """
    date_obs = frame.get("date_obs", DEFAULT_DATE_OBS)
    day = frame.get("day_obs") or _utc(date_obs).strftime("%Y%m%d")
    if basename is None:
        basename = (
            frame_basename(
                frame.get("site_id", "cpt"),
                frame.get("telescope_id", "1m0a"),
                frame.get("instrument_id", "fa14"),
                day,
                frame.pop("frame_number", 1),
                frame.get("obstype", "EXPOSE"),
                frame.get("rlevel", 91) or 0,
            )
            + "_cat"
        )
    frame.setdefault("rlevel", 91)
    header = frame_header(basename=basename, **frame)
    rng = np.random.default_rng(seed)
    ra0, dec0 = frame.get("ra_deg", 150.0), frame.get("dec_deg", 2.0)
    half_width = 64 * PIXEL_SCALE_ARCSEC / 3600.0 / 2
    columns = [
        fits.Column(name="ra", format="D", unit="deg",
                    array=ra0 + rng.uniform(-half_width, half_width, n_sources)),
        fits.Column(name="dec", format="D", unit="deg",
                    array=dec0 + rng.uniform(-half_width, half_width, n_sources)),
        fits.Column(name="x", format="E", array=rng.uniform(1, 64, n_sources)),
        fits.Column(name="y", format="E", array=rng.uniform(1, 64, n_sources)),
        fits.Column(name="flux", format="E", array=rng.lognormal(8.0, 1.0, n_sources)),
        fits.Column(name="fluxerr", format="E", array=rng.uniform(5, 50, n_sources)),
    ]  # fmt: skip
    for keyword in ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2"):
        header.remove(keyword, ignore_missing=True)
    hdus = fits.HDUList(
        [fits.PrimaryHDU(header=header), fits.BinTableHDU.from_columns(columns, name="CAT")]
    )
    return _write_hdus(dest, basename + extension, hdus)


def write_tar_bundle(
    dest: Destination,
    *,
    basename: str = "lscnrs01-fa09-20260115-0049-e91",
    meta_member: str | None = None,
    include_meta: bool = True,
    spectrum_first: bool = False,
    radius_arcsec: float = 1.5,
    **frame: Any,
) -> Path | None:
    """Write an NRES-like spectrograph package (``.tar.gz``).

    The package holds the metadata FITS file (``meta_member``, by default
    ``{basename}/{basename}.fits``: RA, DEC and RADIUS for the fibre, OBSTYPE TARGET, RLEVEL
    91, ENCID ``igla``), a 1-D spectrum ``…-1d.fits`` and a ``…-summary.pdf``.
    ``include_meta=False`` leaves the metadata file out; ``spectrum_first`` puts the spectrum
    before it, so the generic reader (first ``.fits`` member) and the LCO one (first
    ``e00/e90/e91.fits`` member) pick different members.
    ``frame`` takes :func:`write_fits`'s header arguments.
    """
    frame.setdefault("site_id", "lsc")
    frame.setdefault("telescope_id", "igla")
    frame.setdefault("instrument_id", "nres01")
    frame.setdefault("obstype", "TARGET")
    frame.setdefault("rlevel", 91)
    frame.setdefault("object_name", "HD 1234")
    frame.setdefault("shape", (16, 64))
    seed = frame.pop("seed", 0)
    header = frame_header(
        basename=basename,
        wcs=False,
        extra_headers={"RADIUS": radius_arcsec, "ENCID": "igla", **frame.pop("extra_headers", {})},
        **frame,
    )
    meta = io.BytesIO()
    fits.PrimaryHDU(data=star_field(frame["shape"], seed=seed, n_stars=3), header=header).writeto(
        meta
    )
    spectrum = io.BytesIO()
    fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(np.linspace(0, 1, 128, dtype=np.float32), name="SPEC")]
    ).writeto(spectrum)
    members: list[tuple[str, bytes]] = [(f"{basename}/{basename}-1d.fits", spectrum.getvalue())]
    if include_meta:
        meta_entry = (meta_member or f"{basename}/{basename}.fits", meta.getvalue())
        members.insert(len(members) if spectrum_first else 0, meta_entry)
    members.append((f"{basename}/{basename}-summary.pdf", b"%PDF-1.3\n% synthetic\n%%EOF\n"))

    stream, path, owned = _target(dest, basename + ".tar.gz")
    try:
        # Fixed times (gzip header and members) keep the bytes, and so the md5, reproducible.
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=stream, mtime=0) as compressed,
            tarfile.open(fileobj=compressed, mode="w") as archive,
        ):
            directory = tarfile.TarInfo(basename)
            directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, 0
            archive.addfile(directory)
            for member_name, content in members:
                info = tarfile.TarInfo(member_name)
                info.size, info.mode, info.mtime = len(content), 0o644, 0
                archive.addfile(info, io.BytesIO(content))
    finally:
        if owned:
            stream.close()
    return path


def write_large_fits(
    dest: str | os.PathLike[str],
    *,
    data_bytes: int,
    compressed: bool = False,
    **frame: Any,
) -> Path:
    """Write a big FITS file quickly: real headers, then ``data_bytes`` of sparse zeros.

    The data unit is allocated with ``truncate`` (a sparse file on most filesystems), so
    writing 200 MB takes milliseconds and no memory. With ``compressed`` the file is a
    tile-compressed image whose heap is ``data_bytes`` of zeros: structurally valid, but any
    attempt to decompress it would fail, which proves a reader never decompresses.
    ``frame`` takes :func:`write_fits`'s header arguments; ``dest`` is a file or directory.
    """
    side = max(1, int(math.sqrt(data_bytes / 4)))
    shape = (max(1, -(-data_bytes // 4 // side)), side)  # at least data_bytes of pixels
    frame.setdefault("rlevel", 91)
    date_obs = frame.get("date_obs", DEFAULT_DATE_OBS)
    basename = frame.pop("basename", None) or frame_basename(
        frame.get("site_id", "cpt"),
        frame.get("telescope_id", "1m0a"),
        frame.get("instrument_id", "fa14"),
        frame.get("day_obs") or _utc(date_obs).strftime("%Y%m%d"),
        frame.pop("frame_number", 1),
        frame.get("obstype", "EXPOSE"),
        frame["rlevel"] or 0,
    )
    header = frame_header(basename=basename, shape=shape, **frame)
    path = Path(dest)
    if path.is_dir():
        path = path / (basename + (".fits.fz" if compressed else ".fits"))
    if compressed:
        # A tiny real compressed HDU gives astropy's own table header; scale it up.
        tiny = io.BytesIO()
        fits.HDUList(
            [fits.PrimaryHDU(), fits.CompImageHDU(np.zeros((1, side), np.float32), header)]
        ).writeto(tiny)
        table = fits.Header.fromstring(tiny.getvalue()[2880:], sep="")
        rows = shape[0]
        table["NAXIS2"] = rows
        table["ZNAXIS2"] = shape[0]
        table["PCOUNT"] = data_bytes
        table["THEAP"] = table["NAXIS1"] * rows
        primary = fits.PrimaryHDU().header.tostring().encode("ascii")
        extension = table.tostring().encode("ascii")
        data_size = table["NAXIS1"] * rows + data_bytes
        head = primary + extension
    else:
        hdu = fits.PrimaryHDU(header=header)
        hdu.header["BITPIX"] = -32
        hdu.header["NAXIS"] = 2
        hdu.header["NAXIS1"] = shape[1]
        hdu.header.insert("NAXIS1", ("NAXIS2", shape[0]), after=True)
        head = hdu.header.tostring().encode("ascii")
        data_size = shape[0] * shape[1] * 4
    padded = -(-data_size // 2880) * 2880
    with open(path, "wb") as stream:
        stream.write(head)
        stream.truncate(len(head) + padded)
    return path
