"""Configuration of accounts: Observation Portal integration and throttling.

The portal integration is **off unless configured** (upstream defaults its URLs to a local
portal on port 8000 — the archive's own port in a default install): set ``OAUTH_PROFILE_URL``
to accept portal bearer tokens and portal proposal lists, ``OAUTH_TOKEN_URL`` with
``OAUTH_CLIENT_ID``/``OAUTH_CLIENT_SECRET`` for portal password logins, and
``OAUTH_SERVER_KEY`` for the portal's user-sync endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from obsarchive.config import ConfigurationError

__all__ = ["AccountSettings", "current_account_settings", "load_account_settings"]

_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


@dataclass(frozen=True)
class AccountSettings:
    """Accounts configuration (environment variable names as upstream where one exists)."""

    oauth_profile_url: str | None = None
    oauth_token_url: str | None = None
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    oauth_server_key: str = ""
    portal_connect_timeout: float = 3.0
    portal_read_timeout: float = 10.0
    proposals_cache_seconds: int = 3600
    bearer_cache_seconds: int = 60
    throttle_anon_rate: str | None = "1000/day"
    throttle_user_rate: str | None = "50000/day"

    @property
    def portal_enabled(self) -> bool:
        """True when portal profiles (bearer tokens, proposal lists) are consulted."""
        return bool(self.oauth_profile_url)

    @property
    def portal_login_enabled(self) -> bool:
        """True when password logins may be checked against the portal's OAuth token URL."""
        return bool(self.oauth_token_url and self.oauth_profile_url and self.oauth_client_id)


def _url(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(name, f"expected an http:// or https:// URL, got {value!r}")
    return value


def _rate(environ: Mapping[str, str], name: str, default: str) -> str | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"none", "off", "0"}:
        return None
    if not _RATE.match(value):
        raise ConfigurationError(name, f"expected a rate like 1000/day or 'none', got {raw!r}")
    return value


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"expected a number, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(name, f"must not be negative, got {value}")
    return value


def load_account_settings(environ: Mapping[str, str]) -> AccountSettings:
    """Read :class:`AccountSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    return AccountSettings(
        oauth_profile_url=_url(environ, "OAUTH_PROFILE_URL"),
        oauth_token_url=_url(environ, "OAUTH_TOKEN_URL"),
        oauth_client_id=environ.get("OAUTH_CLIENT_ID", ""),
        oauth_client_secret=environ.get("OAUTH_CLIENT_SECRET", ""),
        oauth_server_key=environ.get("OAUTH_SERVER_KEY", ""),
        portal_connect_timeout=_number(environ, "OAUTH_CONNECT_TIMEOUT", 3.0) or 3.0,
        portal_read_timeout=_number(environ, "OAUTH_READ_TIMEOUT", 10.0) or 10.0,
        proposals_cache_seconds=int(_number(environ, "PROPOSALS_CACHE_SECONDS", 3600)),
        bearer_cache_seconds=int(_number(environ, "OAUTH_BEARER_CACHE_SECONDS", 60)),
        throttle_anon_rate=_rate(environ, "THROTTLE_ANON_RATE", "1000/day"),
        throttle_user_rate=_rate(environ, "THROTTLE_USER_RATE", "50000/day"),
    )


def current_account_settings() -> AccountSettings:
    """The settings in force: ``settings.OBSARCHIVE_ACCOUNTS`` (built from the environment)."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_ACCOUNTS", None)
    if isinstance(configured, AccountSettings):
        return configured
    return AccountSettings()
