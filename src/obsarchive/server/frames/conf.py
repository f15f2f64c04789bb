"""Settings of the frames API, read from Django settings once per process.

The allowed configuration types come from ConfigDB when ``CONFIGDB_URL`` is set and
reachable (the union of every instrument type's configuration type codes), else from
``CONFIGURATION_TYPES`` — resolved once, on first use, as upstream resolves them at start-up.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings

__all__ = ["FramesSettings", "configuration_types", "frames_settings", "reset"]

logger = logging.getLogger(__name__)

CONFIGDB_TIMEOUT = (3.0, 10.0)  # connect, read: start-up must not hang on ConfigDB


@dataclass(frozen=True)
class FramesSettings:
    """What the frames API is configured with."""

    configured_types: tuple[str, ...]
    science_types: tuple[str, ...]
    thumbnail_sizes: tuple[str, ...]
    default_limit: int
    max_limit: int
    configdb_url: str
    url_expiry: timedelta = timedelta(hours=48)


@functools.cache
def frames_settings() -> FramesSettings:
    """The frames settings of this process (cached; :func:`reset` clears it in tests)."""
    default_limit = int(getattr(settings, "PAGINATION_DEFAULT_LIMIT", 100))
    max_limit = int(getattr(settings, "PAGINATION_MAX_LIMIT", 1000))
    return FramesSettings(
        configured_types=tuple(getattr(settings, "CONFIGURATION_TYPES", ())),
        science_types=tuple(getattr(settings, "SCIENCE_CONFIGURATION_TYPES", ())),
        thumbnail_sizes=tuple(getattr(settings, "THUMBNAIL_SIZE_CHOICES", ())),
        default_limit=min(default_limit, max_limit),
        max_limit=max_limit,
        configdb_url=str(getattr(settings, "CONFIGDB_URL", "") or ""),
    )


def _types_from_configdb(url: str) -> tuple[str, ...] | None:
    """Configuration type codes from ``<url>/instruments/``, or None when unavailable."""
    endpoint = url.rstrip("/") + "/instruments/"
    try:
        response = requests.get(endpoint, timeout=CONFIGDB_TIMEOUT)
        response.raise_for_status()
        payload: Any = response.json()
        codes: set[str] = set()
        for instrument in payload.get("results", []):
            for config_type in instrument["instrument_type"]["configuration_types"]:
                codes.add(str(config_type["code"]))
    except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ConfigDB %s unusable (%s); using CONFIGURATION_TYPES", endpoint, exc)
        return None
    return tuple(sorted(codes)) if codes else None


@functools.cache
def configuration_types() -> tuple[str, ...]:
    """The configuration types accepted on ingest and by the include/exclude filters."""
    config = frames_settings()
    if config.configdb_url:
        from_configdb = _types_from_configdb(config.configdb_url)
        if from_configdb is not None:
            return from_configdb
    return config.configured_types


def reset() -> None:
    """Forget the cached settings and configuration types (tests change settings)."""
    frames_settings.cache_clear()
    configuration_types.cache_clear()
