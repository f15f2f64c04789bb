"""Name resolution for sky searches: ``GET /resolve/?name=``.

The chain, first answer wins:

1. the shipped table of named objects (``data/named_objects.csv``: Messier, Caldwell and other
   bright NGC/IC objects, with their common names) — offline and instant;
2. the archive's own frames: a name equal to the OBJECT header of frames the caller may see
   resolves to the mean centre of their footprints (so "what we observed as X" is found even
   when no catalogue knows X);
3. optionally a remote resolver (``RESOLVER_URL``: CDS Sesame or an OCS simbad2k service),
   with a timeout; its answers, found or not, are cached.

Everything is in decimal degrees (ICRS/J2000).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

import requests
from django.core.cache import cache

from obsarchive.server.web.config import WebSettings, current_web_settings
from obsarchive.server.web.coords import CoordinateError, parse_dec, parse_ra
from obsarchive.server.web.sphere import footprint_ring, mean_direction

__all__ = [
    "NamedObject",
    "Resolution",
    "ResolverError",
    "ResolverUnavailableError",
    "footprint_centre",
    "local_objects",
    "normalise_name",
    "resolve",
]

logger = logging.getLogger(__name__)

# Frames averaged for an OBJECT-name match: enough for a stable centre, bounded cost.
ARCHIVE_NAME_SAMPLE = 200
_MAX_NAME_LENGTH = 200


class ResolverError(Exception):
    """Base of name-resolution failures."""


class ResolverUnavailableError(ResolverError):
    """The remote resolver failed or timed out: try again later (not "not found")."""


@dataclass(frozen=True)
class NamedObject:
    """One row of the shipped table."""

    name: str
    aliases: tuple[str, ...]
    ra: float
    dec: float
    kind: str
    constellation: str


@dataclass(frozen=True)
class Resolution:
    """A resolved name: where it is and who said so (``local``, ``archive`` or ``remote``)."""

    name: str
    ra: float
    dec: float
    source: str
    matched: str
    frames: int = 0


_CATALOGUE_PREFIX = re.compile(r"^(messier|m|ngc|ic|caldwell|c)0*(\d+)$")


def normalise_name(name: str) -> str:
    """A lookup key: case, spaces, dashes, underscores and catalogue-number zeros ignored.

    ``"M 31"``, ``"m31"``, ``"Messier 031"`` and ``"M-31"`` all give ``"m31"``.
    """
    key = re.sub(r"[\s_\-.']+", "", name.strip().lower())
    match = _CATALOGUE_PREFIX.match(key)
    if match:
        prefix = {"messier": "m", "caldwell": "c"}.get(match.group(1), match.group(1))
        key = f"{prefix}{int(match.group(2))}"
    return key


@functools.cache
def local_objects() -> dict[str, NamedObject]:
    """The shipped table, keyed by every normalised name and alias (read once per process)."""
    text = resources.files("obsarchive.server.web").joinpath("data/named_objects.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    table: dict[str, NamedObject] = {}
    for row in csv.DictReader(lines):
        names = tuple(part.strip() for part in row["names"].split("|") if part.strip())
        entry = NamedObject(
            name=names[0],
            aliases=names,
            ra=parse_ra(row["ra"]),
            dec=parse_dec(row["dec"]),
            kind=row["type"],
            constellation=row["constellation"],
        )
        for alias in names:
            table.setdefault(normalise_name(alias), entry)
    return table


# -- footprints ---------------------------------------------------------------------------


def footprint_centre(area: Any) -> tuple[float, float] | None:
    """The centre of a GeoJSON footprint: the normalised mean of its vertex unit vectors.

    Works across RA = 0/360 and at the poles, unlike the mean of raw RA values.
    """
    return mean_direction(footprint_ring(area))


# -- the chain ----------------------------------------------------------------------------


def _from_table(name: str) -> Resolution | None:
    entry = local_objects().get(normalise_name(name))
    if entry is None:
        return None
    return Resolution(
        name=name.strip(), ra=entry.ra, dec=entry.dec, source="local", matched=entry.name
    )


def _name_variants(name: str) -> list[str]:
    # Exact matches on these spellings use the target_name index; a case-insensitive match
    # would scan the whole table.
    stripped = name.strip()
    return sorted({stripped, stripped.upper(), stripped.lower(), stripped.title()})


def _from_archive(name: str, user: Any, now: datetime) -> Resolution | None:
    from obsarchive.server.frames.querysets import visible_frames

    areas = list(
        visible_frames(user, now)
        .filter(target_name__in=_name_variants(name), area__isnull=False)
        .order_by("-observation_date", "-id")
        .values_list("target_name", "area")[:ARCHIVE_NAME_SAMPLE]
    )
    centres = [centre for _, area in areas if (centre := footprint_centre(area)) is not None]
    position = mean_direction(centres)
    if position is None:
        return None
    return Resolution(
        name=name.strip(),
        ra=position[0],
        dec=position[1],
        source="archive",
        matched=str(areas[0][0]),
        frames=len(centres),
    )


def _remote_url(base: str, name: str) -> str:
    quoted = quote(name.strip(), safe="")
    if "{name}" in base:
        return base.replace("{name}", quoted)
    if "sesame" in base.lower() and not base.endswith(("?", "/")):
        return f"{base}?{quoted}"
    return f"{base}{quoted}" if base.endswith(("/", "?")) else f"{base}/{quoted}"


def _parse_remote(response: requests.Response) -> tuple[float, float] | None:
    """Coordinates from a simbad2k JSON answer or a Sesame XML answer; None = not found."""
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if "json" in content_type or text.lstrip().startswith("{"):
        data = response.json()
        if not isinstance(data, dict) or data.get("error"):
            return None
        for ra_key, dec_key in (("ra_d", "dec_d"), ("ra", "dec")):
            if ra_key in data and dec_key in data:
                try:
                    return float(data[ra_key]) % 360.0, float(data[dec_key])
                except (TypeError, ValueError):
                    # simbad2k before 2025 sent sexagesimal strings here.
                    return parse_ra(str(data[ra_key])), parse_dec(str(data[dec_key]))
        return None
    root = ET.fromstring(text)  # noqa: S314 - the operator's own configured resolver
    ra_node, dec_node = root.find(".//jradeg"), root.find(".//jdedeg")
    if ra_node is None or dec_node is None or not ra_node.text or not dec_node.text:
        return None
    return float(ra_node.text) % 360.0, float(dec_node.text)


def _from_remote(name: str, config: WebSettings) -> Resolution | None:
    key = "resolver_" + hashlib.blake2b(normalise_name(name).encode(), digest_size=16).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return None if cached == "not found" else Resolution(**cached)
    url = _remote_url(config.resolver_url, name)
    try:
        response = requests.get(url, timeout=config.resolver_timeout)
        if response.status_code == 404:
            position = None
        else:
            response.raise_for_status()
            position = _parse_remote(response)
    except requests.Timeout as exc:
        raise ResolverUnavailableError(
            f"The name resolver did not answer within {config.resolver_timeout:g} s."
        ) from exc
    except requests.RequestException as exc:
        raise ResolverUnavailableError(f"The name resolver failed: {exc}") from exc
    except (ValueError, ET.ParseError, CoordinateError) as exc:
        raise ResolverUnavailableError("The name resolver gave an unreadable answer.") from exc
    if position is None or not -90.0 <= position[1] <= 90.0:
        cache.set(key, "not found", timeout=config.resolver_cache_seconds)
        return None
    found = Resolution(
        name=name.strip(), ra=position[0], dec=position[1], source="remote", matched=name.strip()
    )
    cache.set(key, found.__dict__, timeout=config.resolver_cache_seconds)
    return found


def resolve(
    name: str,
    *,
    user: Any,
    now: datetime,
    config: WebSettings | None = None,
    sources: Sequence[str] = ("local", "archive", "remote"),
) -> Resolution | None:
    """Resolve ``name`` to a sky position, or None when no source knows it.

    Parameters
    ----------
    name
        What the user typed: a catalogue designation, a common name or an OBJECT value.
    user, now
        Whose frames may be consulted (the archive's visibility rule) and when.
    config
        The web settings (the remote resolver); those in force by default.
    sources
        Which steps of the chain to try, in order.

    Raises
    ------
    ResolverUnavailableError
        The remote resolver was needed and failed or timed out.
    ValueError
        ``name`` is empty or absurdly long.
    """
    cleaned = name.strip()
    if not cleaned or len(cleaned) > _MAX_NAME_LENGTH or "\x00" in cleaned:
        raise ValueError("Give a target name of 1 to 200 characters.")
    config = config or current_web_settings()
    for source in sources:
        if source == "local":
            found = _from_table(cleaned)
        elif source == "archive":
            found = _from_archive(cleaned, user, now)
        elif source == "remote" and config.resolver_url:
            found = _from_remote(cleaned, config)
        else:
            continue
        if found is not None:
            return found
    return None
