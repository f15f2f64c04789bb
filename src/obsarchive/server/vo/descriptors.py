"""Service descriptors written into SIA responses: the SIA service itself, DataLink and SODA.

A client holding an SIA result finds the related services here (SIA 2.0 section 3.1, DataLink
1.1 section 4): the DataLink and SODA descriptors bind their ``ID`` input to the
``obs_publisher_did`` column by its XML ID, so pyvo's ``getdatalink()``, ``iter_datalinks()``
and ``processed()`` work on any row.
"""

from __future__ import annotations

from obsarchive.server.vo.config import VoSettings
from obsarchive.server.vo.datalink import SODA_STANDARD_ID, soda_input_params
from obsarchive.server.vo.obscore import PUBDID_FIELD_ID, SIGNATURE_FIELD_ID
from obsarchive.server.vo.votable import DATALINK_MIME, Param, ServiceDescriptor, service_params

__all__ = [
    "DATALINK_STANDARD_ID",
    "SIA_STANDARD_ID",
    "datalink_descriptor",
    "sia_self_description",
    "soda_descriptor",
]

SIA_STANDARD_ID = "ivo://ivoa.net/std/SIA#query-2.0"
DATALINK_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"


def datalink_descriptor(links_url: str) -> ServiceDescriptor:
    """The links service, bound to ``obs_publisher_did``."""
    return ServiceDescriptor(
        id="datalink",
        description="Links of each dataset: file, previews, calibrations, related products",
        params=service_params(links_url, DATALINK_STANDARD_ID, DATALINK_MIME),
        input_params=(Param("ID", value="", ref=PUBDID_FIELD_ID, ucd="meta.id;meta.main"),),
    )


def soda_descriptor(soda_url: str, expires: int) -> ServiceDescriptor:
    """The cutout service, bound to ``obs_publisher_did``.

    Rows of proprietary frames carry a signature (column ``soda_signature``) valid until
    ``expires``: pyvo does not send the caller's credentials with SODA calls.
    """
    return ServiceDescriptor(
        id="soda",
        description="Cutouts of images (SODA sync)",
        params=service_params(soda_url, SODA_STANDARD_ID, "application/fits"),
        input_params=(
            *soda_input_params(
                Param("ID", value="", ref=PUBDID_FIELD_ID, ucd="meta.ref.url;meta.curation")
            ),
            Param(
                "SIGNATURE", value="", ref=SIGNATURE_FIELD_ID,
                description="Cutout authorisation of a proprietary frame (from the row)",
            ),
            Param(
                "EXPIRES", value=str(expires),
                description="End of validity of the row signatures (Unix time)",
            ),
        ),
    )  # fmt: skip


def _interval(name: str, unit: str | None, description: str) -> Param:
    return Param(
        name, "double", arraysize="2", unit=unit, xtype="interval", description=description
    )


def sia_self_description(sia_url: str, config: VoSettings) -> ServiceDescriptor:
    """The SIA service describing itself (SIA 2.0 section 3.1.1), limits included."""
    return ServiceDescriptor(
        name="this",
        description=(
            "SIA 2.0 image search of the archive. Without MAXREC at most "
            f"{config.maxrec_default} rows are returned; MAXREC is capped at "
            f"{config.maxrec_limit}. Unknown parameters are ignored."
        ),
        params=service_params(sia_url, SIA_STANDARD_ID),
        input_params=(
            Param("POS", description="CIRCLE ra dec r | RANGE ra1 ra2 dec1 dec2 | "
                  "POLYGON ra1 dec1 ... (ICRS degrees)"),
            _interval("BAND", "m", "Wavelength interval (vacuum, metres)"),
            _interval("TIME", "d", "Time interval (MJD, UTC)"),
            Param("POL", options=("I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY",
                                   "XY", "YX", "POLI", "POLA")),
            _interval("FOV", "deg", "Field of view (diameter) interval"),
            _interval("SPATRES", "arcsec", "Spatial resolution interval"),
            _interval("EXPTIME", "s", "Exposure time interval"),
            _interval("TIMERES", "s", "Time resolution interval"),
            _interval("SPECRP", None, "Spectral resolving power interval"),
            Param("ID", description="obs_publisher_did (compared case-insensitively)"),
            Param("COLLECTION"),
            Param("FACILITY"),
            Param("INSTRUMENT"),
            Param("DPTYPE", options=("image", "cube")),
            Param("CALIB", "int", arraysize=None, options=("0", "1", "2", "3", "4")),
            Param("TARGET"),
            Param("FORMAT", options=("application/fits",)),
            Param("MAXREC", "int", arraysize=None, minimum="0",
                  maximum=str(config.maxrec_limit),
                  description=f"Row limit (default {config.maxrec_default})"),
            Param("RESPONSEFORMAT", options=("votable", "application/x-votable+xml")),
        ),
    )  # fmt: skip
