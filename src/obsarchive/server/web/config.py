"""Configuration of the web interface, parsed once from the environment (``OBSARCHIVE_WEB``).

* ``RESOLVER_URL``: a remote name resolver, CDS Sesame (``…/nph-sesame/-ox/SNV?``) or an OCS
  simbad2k root; ``{name}`` in it is replaced by the name, else the name is appended. Unset
  (the default): the local table and the archive's own OBJECT names only.
* ``RESOLVER_TIMEOUT``: seconds allowed for one remote lookup (default 5).
* ``RESOLVER_CACHE_SECONDS``: how long a remote answer, found or not, is kept (default 86400).
* ``UI_ZIP_MAX_FRAMES``: most frames in a "whole result" zip the interface offers (1000).
* ``UI_PAGE_SIZES``: page sizes offered for the results table (``20,50,100,200,500``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from obsarchive.config import ConfigurationError, parse_list

__all__ = ["WebSettings", "current_web_settings", "load_web_settings"]


@dataclass(frozen=True)
class WebSettings:
    """What the web interface is configured with (see the module docstring)."""

    resolver_url: str = ""
    resolver_timeout: float = 5.0
    resolver_cache_seconds: int = 86400
    zip_max_frames: int = 1000
    page_sizes: tuple[int, ...] = (20, 50, 100, 200, 500)


def _float(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"expected a number, got {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise ConfigurationError(name, f"must be at least {minimum}, got {raw}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, f"expected an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(name, f"must be at least {minimum}, got {value}")
    return value


def load_web_settings(environ: Mapping[str, str]) -> WebSettings:
    """Read :class:`WebSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    defaults = WebSettings()
    url = environ.get("RESOLVER_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("RESOLVER_URL", f"expected an http(s) URL, got {url!r}")
    sizes_raw = environ.get("UI_PAGE_SIZES")
    sizes = defaults.page_sizes
    if sizes_raw is not None and sizes_raw.strip():
        try:
            sizes = tuple(sorted({int(item) for item in parse_list(sizes_raw)}))
        except ValueError:
            raise ConfigurationError(
                "UI_PAGE_SIZES", f"expected a comma list of integers, got {sizes_raw!r}"
            ) from None
        if not sizes or sizes[0] < 1:
            raise ConfigurationError("UI_PAGE_SIZES", "page sizes must be positive integers")
    return WebSettings(
        resolver_url=url,
        resolver_timeout=_float(environ, "RESOLVER_TIMEOUT", defaults.resolver_timeout, 0.1),
        resolver_cache_seconds=_int(
            environ, "RESOLVER_CACHE_SECONDS", defaults.resolver_cache_seconds, 0
        ),
        zip_max_frames=_int(environ, "UI_ZIP_MAX_FRAMES", defaults.zip_max_frames, 1),
        page_sizes=sizes,
    )


def current_web_settings() -> WebSettings:
    """The settings in force: ``settings.OBSARCHIVE_WEB``, else the defaults."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_WEB", None)
    if isinstance(configured, WebSettings):
        return configured
    return WebSettings()
