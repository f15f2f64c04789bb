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

from obsarchive.config import ConfigurationError, EnvReader, parse_list

__all__ = ["WebSettings", "current_web_settings", "load_web_settings"]


@dataclass(frozen=True)
class WebSettings:
    """What the web interface is configured with (see the module docstring)."""

    resolver_url: str = ""
    resolver_timeout: float = 5.0
    resolver_cache_seconds: int = 86400
    zip_max_frames: int = 1000
    page_sizes: tuple[int, ...] = (20, 50, 100, 200, 500)


def _page_sizes(env: EnvReader, default: tuple[int, ...]) -> tuple[int, ...]:
    """``UI_PAGE_SIZES``: a comma list of positive integers, sorted, duplicates dropped."""
    raw = env.optional("UI_PAGE_SIZES")
    if raw is None or raw.strip() == "":
        return default
    try:
        sizes = tuple(sorted({int(item) for item in parse_list(raw)}))
    except ValueError:
        raise ConfigurationError(
            "UI_PAGE_SIZES", f"expected a comma list of integers, got {raw!r}"
        ) from None
    # A value of only commas parses to no sizes: refused, the table needs at least one.
    if not sizes or sizes[0] < 1:
        raise ConfigurationError("UI_PAGE_SIZES", "page sizes must be positive integers")
    return sizes


def load_web_settings(environ: Mapping[str, str]) -> WebSettings:
    """Read :class:`WebSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    defaults = WebSettings()
    env = EnvReader(environ)
    url = env.url("RESOLVER_URL") or ""
    # EnvReader.url checks the scheme; a resolver also needs a host to send the name to.
    if url and not urlsplit(url).netloc:
        raise ConfigurationError("RESOLVER_URL", f"expected an http(s) URL, got {url!r}")
    return WebSettings(
        resolver_url=url,
        resolver_timeout=env.number("RESOLVER_TIMEOUT", defaults.resolver_timeout, minimum=0.1),
        resolver_cache_seconds=env.integer(
            "RESOLVER_CACHE_SECONDS", defaults.resolver_cache_seconds, minimum=0
        ),
        zip_max_frames=env.integer("UI_ZIP_MAX_FRAMES", defaults.zip_max_frames, minimum=1),
        page_sizes=_page_sizes(env, defaults.page_sizes),
    )


def current_web_settings() -> WebSettings:
    """The settings in force: ``settings.OBSARCHIVE_WEB``, else the defaults."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_WEB", None)
    if isinstance(configured, WebSettings):
        return configured
    return WebSettings()
