"""The ObsCore 1.1 view of frames: columns, classification rules and one row per data product.

Every rule that turns archive fields into ObsCore values is here, in two forms that must
agree -- a Python function for a frame in hand and a database filter for SIA constraints:

* ``dataproduct_type``: FITS products of imagers are ``image``; products of spectrographs
  (``VO_SPECTROGRAPHS`` instrument prefixes) ``spectrum``; source catalogues (OBSTYPE
  ``CATALOG`` or a ``_cat`` basename) ``measurements``; anything else (PDF summaries, guide
  tarballs) has no ObsCore row. SIA serves images only.
* ``calib_level``: raw exposures 1 (LCO raw frames are standard FITS, so not 0); reduced
  exposures (RLEVEL > 0, or a reduction suffix other than ``00``) 2; derived products
  without an exposure suffix (master calibrations, stacks) and catalogues 3.
* ``obs_id``: the basename without its reduction suffix, so the raw ``-e00`` and the
  reduced ``-e91`` products (and the catalogue) of one exposure share it.
* ``obs_publisher_did``: ``<VO_IVOID>?<basename>``, compared case-insensitively.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q

from obsarchive import sky
from obsarchive.server.vo.bandpasses import BandpassTable
from obsarchive.server.vo.config import VoSettings
from obsarchive.server.vo.footprints import Spatial
from obsarchive.server.vo.votable import Field

__all__ = [
    "FITS_EXTENSIONS",
    "HEADER_KEYS",
    "OBSCORE_FIELDS",
    "PUBDID_FIELD_ID",
    "SIGNATURE_FIELD_ID",
    "FrameFacts",
    "basename_from_did",
    "calib_level",
    "calib_level_q",
    "content_type",
    "dataproduct_type",
    "datetime_from_mjd",
    "footprint_polygon",
    "image_q",
    "mjd",
    "obs_id",
    "obscore_fields",
    "obscore_row",
    "publisher_did",
    "spatial_resolution",
]

FITS_EXTENSIONS = (".fits", ".fits.fz")
TAR_EXTENSIONS = (".tar.gz", ".tar")
#: The header keys an ObsCore row reads (image size, seeing, pixel scale).
HEADER_KEYS = ("NAXIS1", "NAXIS2", "ZNAXIS1", "ZNAXIS2", "L1FWHM", "PIXSCALE")
#: XML ID of the obs_publisher_did FIELD, bound by the DataLink and SODA descriptors.
PUBDID_FIELD_ID = "pubdid"
#: XML ID of the column carrying per-row cutout signatures (proprietary frames).
SIGNATURE_FIELD_ID = "sodasig"

# <obs id>-<type letter><two-digit reduction level>[_cat]; letters listed, not ranged, so that
# PostgreSQL's collation-dependent ranges cannot change the meaning.
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_SUFFIX = re.compile(r"^(?P<obs>.+)-(?P<kind>[a-z])(?P<level>[0-9]{2})(?P<cat>_cat)?$")
_SUFFIX_SQL = f"-[{_LETTERS}][0-9][0-9](_cat)?$"
_REDUCED_SUFFIX_SQL = f"-[{_LETTERS}](0[1-9]|[1-9][0-9])(_cat)?$"
_MJD_UNIX_EPOCH = 40587.0
_SECONDS_PER_DAY = 86400.0
_CONTENT_TYPES = {
    ".fits": "application/fits",
    ".fits.fz": "application/fits",
    ".tar.gz": "application/x-tar-gzip",
    ".tar": "application/x-tar",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def _o(utype: str) -> str:
    return f"obscore:{utype}"


_SPATIAL = "Char.SpatialAxis."
_TIME = "Char.TimeAxis."
_SPECTRAL = "Char.SpectralAxis."

# The mandatory ObsCore 1.1 columns (names, units, UCDs and utypes of ObsCore Appendix C),
# the optional standard ones the archive can fill, then archive extensions (no utype).
OBSCORE_FIELDS: tuple[Field, ...] = (
    Field("dataproduct_type", "char", "*", ucd="meta.code.class",
          utype=_o("ObsDataset.dataProductType")),
    Field("dataproduct_subtype", "char", "*", ucd="meta.code.class",
          utype=_o("ObsDataset.dataProductSubtype"), description="OBSTYPE of the frame"),
    Field("calib_level", "int", ucd="meta.code;obs.calib", utype=_o("ObsDataset.calibLevel")),
    Field("obs_collection", "char", "*", ucd="meta.id", utype=_o("DataID.collection")),
    Field("obs_id", "char", "*", ucd="meta.id", utype=_o("DataID.observationID")),
    Field("obs_title", "char", "*", ucd="meta.title;obs", utype=_o("DataID.title")),
    Field("obs_publisher_did", "char", "*", ucd="meta.ref.ivoid",
          utype=_o("Curation.publisherDID"), id=PUBDID_FIELD_ID),
    Field("access_url", "char", "*", ucd="meta.ref.url", utype=_o("Access.Reference"),
          description="Signed, expiring download URL of the file"),
    Field("access_format", "char", "*", ucd="meta.code.mime", utype=_o("Access.format")),
    Field("access_estsize", "long", unit="kbyte", ucd="phys.size;meta.file",
          utype=_o("Access.size")),
    Field("target_name", "char", "*", ucd="meta.id;src", utype=_o("Target.name")),
    Field("s_ra", "double", unit="deg", ucd="pos.eq.ra",
          utype=_o(_SPATIAL + "Coverage.Location.Coord.Position2D.Value2.C1")),
    Field("s_dec", "double", unit="deg", ucd="pos.eq.dec",
          utype=_o(_SPATIAL + "Coverage.Location.Coord.Position2D.Value2.C2")),
    Field("s_fov", "double", unit="deg", ucd="phys.angSize;instr.fov",
          utype=_o(_SPATIAL + "Coverage.Bounds.Extent.diameter")),
    Field("s_region", "char", "*", ucd="pos.outline;obs.field", xtype="adql:REGION",
          utype=_o(_SPATIAL + "Coverage.Support.Area")),
    Field("s_resolution", "double", unit="arcsec", ucd="pos.angResolution",
          utype=_o(_SPATIAL + "Resolution.Refval.value")),
    Field("s_xel1", "long", ucd="meta.number", utype=_o(_SPATIAL + "numBins1")),
    Field("s_xel2", "long", ucd="meta.number", utype=_o(_SPATIAL + "numBins2")),
    Field("s_pixel_scale", "double", unit="arcsec", ucd="phys.angSize;instr.pixel",
          utype=_o(_SPATIAL + "Sampling.RefVal.SamplingPeriod")),
    Field("t_min", "double", unit="d", ucd="time.start;obs.exposure",
          utype=_o(_TIME + "Coverage.Bounds.Limits.StartTime")),
    Field("t_max", "double", unit="d", ucd="time.end;obs.exposure",
          utype=_o(_TIME + "Coverage.Bounds.Limits.StopTime")),
    Field("t_exptime", "double", unit="s", ucd="time.duration;obs.exposure",
          utype=_o(_TIME + "Coverage.Support.Extent")),
    Field("t_resolution", "double", unit="s", ucd="time.resolution",
          utype=_o(_TIME + "Resolution.Refval.value")),
    Field("t_xel", "long", ucd="meta.number", utype=_o(_TIME + "numBins")),
    Field("em_min", "double", unit="m", ucd="em.wl;stat.min",
          utype=_o(_SPECTRAL + "Coverage.Bounds.Limits.LoLimit")),
    Field("em_max", "double", unit="m", ucd="em.wl;stat.max",
          utype=_o(_SPECTRAL + "Coverage.Bounds.Limits.HiLimit")),
    Field("em_res_power", "double", ucd="spect.resolution",
          utype=_o(_SPECTRAL + "Resolution.ResolPower.refVal")),
    Field("em_xel", "long", ucd="meta.number", utype=_o(_SPECTRAL + "numBins")),
    Field("o_ucd", "char", "*", ucd="meta.ucd", utype=_o("Char.ObservableAxis.ucd")),
    Field("pol_states", "char", "*", ucd="meta.code;phys.polarization",
          utype=_o("Char.PolarizationAxis.stateList")),
    Field("pol_xel", "long", ucd="meta.number", utype=_o("Char.PolarizationAxis.numBins")),
    Field("facility_name", "char", "*", ucd="meta.id;instr.tel",
          utype=_o("Provenance.ObsConfig.Facility.name")),
    Field("instrument_name", "char", "*", ucd="meta.id;instr",
          utype=_o("Provenance.ObsConfig.Instrument.name")),
    Field("proposal_id", "char", "*", ucd="meta.id;obs.proposal",
          utype=_o("Provenance.Proposal.identifier")),
    Field("obs_release_date", "char", "*", ucd="time.release", xtype="timestamp",
          utype=_o("Curation.releaseDate"), description="Public date (UTC)"),
    Field("data_rights", "char", "*", ucd="meta.code", utype=_o("Curation.rights")),
    Field("preview", "char", "*", ucd="meta.ref.url;meta.preview",
          description="Signed, expiring URL of a JPEG preview"),
    Field("frame_id", "long", ucd="meta.id", description="Archive frame id (/frames/<id>/)"),
    Field("basename", "char", "*", ucd="meta.id;meta.file", description="Archive basename"),
    Field("obstype", "char", "*", ucd="meta.code", description="OBSTYPE"),
    Field("rlevel", "int", ucd="meta.code;obs.calib", description="RLEVEL (reduction level)"),
    Field("filter", "char", "*", ucd="meta.id;instr.filter", description="FILTER"),
    Field("site_id", "char", "*", ucd="meta.id;instr.obsty", description="SITEID"),
    Field("telescope_id", "char", "*", ucd="meta.id;instr.tel", description="TELID"),
    Field("request_id", "long", ucd="meta.id", description="REQNUM"),
    Field("soda_signature", "char", "*", ucd="meta.code", id=SIGNATURE_FIELD_ID,
          description="Authorises cutouts of a proprietary frame until the SODA descriptor's "
                      "EXPIRES; empty for public frames"),
)  # fmt: skip

_DALI_REGION = Field(
    "s_region", "double", "*", unit="deg", ucd="pos.outline;obs.field", xtype="polygon",
    utype=_o(_SPATIAL + "Coverage.Support.Area"),
)  # fmt: skip


def obscore_fields(config: VoSettings) -> tuple[Field, ...]:
    """The ObsCore columns with ``s_region`` in the configured serialisation."""
    if config.region_format == "dali":
        return tuple(_DALI_REGION if f.name == "s_region" else f for f in OBSCORE_FIELDS)
    return OBSCORE_FIELDS


# -- identifiers --------------------------------------------------------------------------


def publisher_did(config: VoSettings, basename: str) -> str:
    """``obs_publisher_did`` of a frame."""
    return f"{config.ivoid}?{basename}"


def basename_from_did(config: VoSettings, did: str) -> str | None:
    """The basename a publisher DID names (prefix compared case-insensitively), else None."""
    text = did.strip()
    prefix = config.ivoid + "?"
    if len(text) <= len(prefix) or text[: len(prefix)].lower() != prefix.lower():
        return None
    basename = text[len(prefix) :]
    if len(basename) > 1000 or any(ord(c) < 0x20 for c in basename):
        return None
    return basename


# -- classification -----------------------------------------------------------------------


@dataclass(frozen=True)
class FrameFacts:
    """The frame fields the classification rules read."""

    basename: str
    configuration_type: str
    instrument_id: str
    reduction_level: int
    extension: str


def _is_catalogue(basename: str, configuration_type: str) -> bool:
    return configuration_type == "CATALOG" or basename.endswith("_cat")


def dataproduct_type(facts: FrameFacts, spectrographs: tuple[str, ...]) -> str | None:
    """``image``, ``spectrum``, ``measurements`` or None (no ObsCore row)."""
    spectrograph = bool(spectrographs) and facts.instrument_id.startswith(spectrographs)
    if facts.extension in TAR_EXTENSIONS:
        return "spectrum" if spectrograph else None
    if facts.extension not in FITS_EXTENSIONS:
        return None
    if _is_catalogue(facts.basename, facts.configuration_type):
        return "measurements"
    return "spectrum" if spectrograph else "image"


def obs_id(basename: str) -> str:
    """The observation a product belongs to: the basename without its reduction suffix."""
    match = _SUFFIX.match(basename)
    return match["obs"] if match else basename


def calib_level(facts: FrameFacts) -> int:
    """ObsCore calibration level (see the module documentation)."""
    match = _SUFFIX.match(facts.basename)
    if match is None or _is_catalogue(facts.basename, facts.configuration_type):
        return 3
    if facts.reduction_level > 0 or match["level"] != "00":
        return 2
    return 1


def _derived_q() -> Q:
    return (
        Q(configuration_type="CATALOG")
        | Q(basename__endswith="_cat")
        | ~Q(basename__regex=_SUFFIX_SQL)
    )


def calib_level_q(level: int) -> Q:
    """Frames whose :func:`calib_level` is ``level`` (nothing for levels never produced)."""
    reduced = Q(reduction_level__gt=0) | Q(basename__regex=_REDUCED_SUFFIX_SQL)
    if level == 3:
        return _derived_q()
    if level == 2:
        return ~_derived_q() & reduced
    if level == 1:
        return ~_derived_q() & ~reduced
    return Q(pk__in=[])


def image_q(spectrographs: tuple[str, ...], extension_field: str = "newest_extension") -> Q:
    """Frames whose :func:`dataproduct_type` is ``image``.

    ``extension_field`` names an annotation holding the extension of the frame's newest
    version (the file a row describes).
    """
    condition = Q(**{f"{extension_field}__in": FITS_EXTENSIONS}) & ~Q(configuration_type="CATALOG")
    condition &= ~Q(basename__endswith="_cat")
    for prefix in spectrographs:
        condition &= ~Q(instrument_id__startswith=prefix)
    return condition


def content_type(extension: str) -> str:
    """The MIME type of a stored file by extension (``application/octet-stream`` if unknown)."""
    return _CONTENT_TYPES.get(extension.lower(), "application/octet-stream")


# -- values -------------------------------------------------------------------------------


def mjd(moment: datetime) -> float:
    """Modified Julian Date (UTC) of an aware datetime."""
    return _MJD_UNIX_EPOCH + moment.timestamp() / _SECONDS_PER_DAY


def datetime_from_mjd(value: float) -> datetime | None:
    """The aware UTC datetime of an MJD, or None when outside Python's datetime range."""
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=value - _MJD_UNIX_EPOCH)
    except (OverflowError, ValueError):
        return None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def spatial_resolution(fwhm: Any, pixel_scale: Any) -> float | None:
    """``s_resolution`` in arcsec: the seeing (``L1FWHM``) when known, else ``PIXSCALE``.

    SIA's SPATRES constraint compares this same value, so a row always matches its own column.
    """
    seeing = _positive(fwhm)
    return seeing if seeing is not None else _positive(pixel_scale)


def _count(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def footprint_polygon(area: Any) -> sky.Polygon | None:
    """The stored GeoJSON footprint as a polygon, or None (no or unusable footprint)."""
    if not area:
        return None
    try:
        return sky.polygon_from_geojson(area, strict=False)
    except (sky.SkyGeometryError, ValueError, TypeError, KeyError, IndexError):
        return None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def obscore_row(
    frame: Any,
    *,
    extension: str,
    size: int | None,
    headers: Mapping[str, Any],
    access_url: str | None,
    preview_url: str | None,
    signature: str | None,
    spatial: Spatial | None,
    now: datetime,
    config: VoSettings,
    bandpasses: BandpassTable,
) -> dict[str, Any]:
    """The ObsCore row of one frame (a ``frames.Frame``) as ``{column: value}``.

    Parameters
    ----------
    frame
        The frame.
    extension, size
        Extension and byte size of the newest stored version.
    headers
        At least the values of :data:`HEADER_KEYS` present in the frame's header.
    access_url, preview_url
        Download URLs of the file and of a preview image (None when there is none).
    signature
        Cutout signature for a proprietary frame, else None.
    spatial
        The footprint's spatial columns (:func:`~.footprints.spatial_columns`), or None.
    now
        The request's time (``data_rights``).
    """
    facts = FrameFacts(
        basename=frame.basename,
        configuration_type=frame.configuration_type,
        instrument_id=frame.instrument_id,
        reduction_level=frame.reduction_level,
        extension=extension,
    )
    kind = dataproduct_type(facts, config.spectrographs)
    values = {
        "site_id": frame.site_id,
        "telescope_id": frame.telescope_id,
        "instrument_id": frame.instrument_id,
    }
    start = frame.observation_date
    t_min = None if start is None else mjd(start)
    exposure = frame.exposure_time
    t_max = None
    if t_min is not None:
        span = exposure if exposure is not None and exposure > 0 else 0.0
        t_max = t_min + span / _SECONDS_PER_DAY
    bounds = bandpasses.bounds(frame.primary_optical_element)
    region: Any = None
    if spatial is not None:
        region = spatial.dali if config.region_format == "dali" else spatial.stcs
    pixel_scale = _positive(headers.get("PIXSCALE"))
    public = frame.public_date is not None and frame.public_date < now
    title_date = _iso(start) or ""
    title = " ".join(
        part
        for part in (
            frame.instrument_id,
            frame.target_name,
            frame.primary_optical_element,
            title_date[:19],
        )
        if part
    )
    return {
        "dataproduct_type": kind,
        "dataproduct_subtype": frame.configuration_type or None,
        "calib_level": calib_level(facts),
        "obs_collection": config.collection_template.render(values),
        "obs_id": obs_id(frame.basename),
        "obs_title": title or frame.basename,
        "obs_publisher_did": publisher_did(config, frame.basename),
        "access_url": access_url or None,
        "access_format": content_type(extension),
        "access_estsize": None if size is None else math.ceil(size / 1000),
        "target_name": frame.target_name or None,
        "s_ra": None if spatial is None else spatial.s_ra,
        "s_dec": None if spatial is None else spatial.s_dec,
        "s_fov": None if spatial is None else spatial.s_fov,
        "s_region": region,
        "s_resolution": spatial_resolution(headers.get("L1FWHM"), headers.get("PIXSCALE")),
        "s_xel1": _count(headers.get("ZNAXIS1") or headers.get("NAXIS1")),
        "s_xel2": _count(headers.get("ZNAXIS2") or headers.get("NAXIS2")),
        "s_pixel_scale": pixel_scale,
        "t_min": t_min,
        "t_max": t_max,
        "t_exptime": exposure,
        "t_resolution": None,
        "t_xel": 1,
        "em_min": None if bounds is None else bounds[0],
        "em_max": None if bounds is None else bounds[1],
        "em_res_power": None,
        "em_xel": 1,
        "o_ucd": "phot.count" if kind in ("image", "spectrum") else None,
        "pol_states": None,
        "pol_xel": 0,
        "facility_name": config.facility_template.render(values),
        "instrument_name": frame.instrument_id or None,
        "proposal_id": frame.proposal_id or None,
        "obs_release_date": _iso(frame.public_date),
        "data_rights": "public" if public else "proprietary",
        "preview": preview_url or None,
        "frame_id": frame.pk,
        "basename": frame.basename,
        "obstype": frame.configuration_type or None,
        "rlevel": frame.reduction_level,
        "filter": frame.primary_optical_element or None,
        "site_id": frame.site_id or None,
        "telescope_id": frame.telescope_id or None,
        "request_id": frame.request_id,
        "soda_signature": signature,
    }
