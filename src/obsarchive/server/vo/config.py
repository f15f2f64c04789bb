"""Configuration of the VO interfaces, parsed once from the environment (``OBSARCHIVE_VO``).

The ObsCore mapping rules an operator must be able to change without code -- the publisher
IVOID, the collection and facility names, the filter table -- live here, next to the limits
of the services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from obsarchive.config import ConfigurationError, EnvReader
from obsarchive.server.vo.naming import NameTemplate, TemplateError

__all__ = [
    "REGION_FORMATS",
    "VoSettings",
    "current_vo_settings",
    "load_vo_settings",
    "validate_ivoid",
]

#: How ``s_region`` is written: an STC-S string (ObsCore 1.1) or a DALI 1.1 polygon array.
REGION_FORMATS = ("stcs", "dali")
_MAX_EXPIRY_SECONDS = 7 * 24 * 3600
# ivo://authority/path: the authority is at least three characters of the IVOA set and the
# resource key must not carry a query or fragment (the basename goes after "?").
_IVOID = re.compile(r"^ivo://[\w\-.~*'()]{3,}(/[\w\-.~*'()/:;=@$,+!]*)?$", re.ASCII)


def validate_ivoid(value: str) -> str | None:
    """The problem with a publisher IVOID, or None when it is usable."""
    if not value.lower().startswith("ivo://"):
        return "must start with ivo://"
    if not _IVOID.match(value):
        return "must be ivo://<authority>[/<resource key>] without '?' or '#'"
    return None


@dataclass(frozen=True)
class VoSettings:
    """How frames are published through the VO interfaces.

    Attributes
    ----------
    ivoid
        ``VO_IVOID``: the IVOID of the archive resource. A frame's ``obs_publisher_did`` is
        ``<ivoid>?<basename>``. The default's ``.invalid`` authority says "not registered".
    collection, facility_name
        ``VO_COLLECTION`` and ``VO_FACILITY_NAME``: templates over ``{site_id}``,
        ``{telescope_id}`` and ``{instrument_id}`` for ``obs_collection`` and
        ``facility_name``.
    filter_table
        ``VO_FILTER_TABLE``: a CSV replacing the shipped LCO filter table (None: shipped).
    spectrographs
        ``VO_SPECTROGRAPHS``: instrument id prefixes whose products are spectra, not images.
    maxrec_default, maxrec_limit
        ``VO_MAXREC_DEFAULT`` (rows without MAXREC) and ``VO_MAXREC_LIMIT`` (hard limit).
    links_max_ids
        ``VO_LINKS_MAX_IDS``: IDs one DataLink request resolves; more give an overflow.
    region_format
        ``VO_S_REGION_FORMAT``: ``stcs`` (default) or ``dali``.
    url_expiry
        ``VO_URL_EXPIRY_SECONDS``: validity of the signed file and cutout URLs handed out.
    """

    ivoid: str = "ivo://obsarchive.invalid/archive"
    collection: str = "LCO/{instrument_id}"
    facility_name: str = "LCO {telescope_id} {site_id}"
    filter_table: Path | None = None
    spectrographs: tuple[str, ...] = ("en", "nres", "floyds")
    maxrec_default: int = 1000
    maxrec_limit: int = 10000
    links_max_ids: int = 100
    region_format: str = "stcs"
    url_expiry: timedelta = timedelta(hours=1)

    @property
    def collection_template(self) -> NameTemplate:
        return NameTemplate(self.collection)

    @property
    def facility_template(self) -> NameTemplate:
        return NameTemplate(self.facility_name)


def _template(env: EnvReader, name: str, default: str) -> str:
    text = env.stripped(name, default)
    try:
        NameTemplate(text)
    except TemplateError as exc:
        raise ConfigurationError(name, str(exc)) from exc
    return text


def load_vo_settings(environ: Mapping[str, str]) -> VoSettings:
    """Read :class:`VoSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A malformed value; the message names the variable.
    """
    defaults = VoSettings()
    env = EnvReader(environ)
    ivoid = env.stripped("VO_IVOID", defaults.ivoid)
    problem = validate_ivoid(ivoid)
    if problem:
        raise ConfigurationError("VO_IVOID", f"{problem}; got {ivoid!r}")
    table = env.stripped("VO_FILTER_TABLE", "")
    region_format = env.choice(
        "VO_S_REGION_FORMAT",
        defaults.region_format,
        REGION_FORMATS,
        ignore_case=True,
        empty_is_default=True,
    )
    maxrec_limit = env.integer("VO_MAXREC_LIMIT", defaults.maxrec_limit, minimum=1)
    maxrec_default = env.integer("VO_MAXREC_DEFAULT", defaults.maxrec_default, minimum=1)
    if maxrec_default > maxrec_limit:
        raise ConfigurationError(
            "VO_MAXREC_DEFAULT", f"must not exceed VO_MAXREC_LIMIT ({maxrec_limit})"
        )
    return VoSettings(
        ivoid=ivoid.rstrip("/"),
        collection=_template(env, "VO_COLLECTION", defaults.collection),
        facility_name=_template(env, "VO_FACILITY_NAME", defaults.facility_name),
        filter_table=Path(table) if table else None,
        spectrographs=env.csv("VO_SPECTROGRAPHS", defaults.spectrographs),
        maxrec_default=maxrec_default,
        maxrec_limit=maxrec_limit,
        links_max_ids=env.integer("VO_LINKS_MAX_IDS", defaults.links_max_ids, minimum=1),
        region_format=region_format,
        url_expiry=_expiry(env),
    )


def _expiry(env: EnvReader) -> timedelta:
    seconds = env.integer("VO_URL_EXPIRY_SECONDS", 3600, minimum=60)
    if seconds > _MAX_EXPIRY_SECONDS:
        # S3 presigned URLs cannot live longer; a long-lived link to proprietary data is a leak.
        raise ConfigurationError(
            "VO_URL_EXPIRY_SECONDS", f"must be at most {_MAX_EXPIRY_SECONDS} (7 days)"
        )
    return timedelta(seconds=seconds)


def current_vo_settings() -> VoSettings:
    """The settings in force: ``settings.OBSARCHIVE_VO``, else the defaults."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_VO", None)
    if isinstance(configured, VoSettings):
        return configured
    return VoSettings()
