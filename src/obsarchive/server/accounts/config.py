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

from obsarchive.config import ConfigurationError, EnvReader

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


def _rate(env: EnvReader, name: str, default: str) -> str | None:
    """A DRF throttle rate (``1000/day``), or None for ``none``/``off``/``0`` (no throttling)."""
    raw = env.optional(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"none", "off", "0"}:
        return None
    if not _RATE.match(value):
        raise ConfigurationError(name, f"expected a rate like 1000/day or 'none', got {raw!r}")
    return value


def load_account_settings(environ: Mapping[str, str]) -> AccountSettings:
    """Read :class:`AccountSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    env = EnvReader(environ)
    return AccountSettings(
        oauth_profile_url=env.url("OAUTH_PROFILE_URL"),
        oauth_token_url=env.url("OAUTH_TOKEN_URL"),
        oauth_client_id=env.text("OAUTH_CLIENT_ID", ""),
        oauth_client_secret=env.text("OAUTH_CLIENT_SECRET", ""),
        oauth_server_key=env.text("OAUTH_SERVER_KEY", ""),
        # 0 keeps the default rather than meaning "no timeout": every portal call has one.
        portal_connect_timeout=env.number("OAUTH_CONNECT_TIMEOUT", 3.0) or 3.0,
        portal_read_timeout=env.number("OAUTH_READ_TIMEOUT", 10.0) or 10.0,
        proposals_cache_seconds=int(env.number("PROPOSALS_CACHE_SECONDS", 3600)),
        bearer_cache_seconds=int(env.number("OAUTH_BEARER_CACHE_SECONDS", 60)),
        throttle_anon_rate=_rate(env, "THROTTLE_ANON_RATE", "1000/day"),
        throttle_user_rate=_rate(env, "THROTTLE_USER_RATE", "50000/day"),
    )


def current_account_settings() -> AccountSettings:
    """The settings in force: ``settings.OBSARCHIVE_ACCOUNTS`` (built from the environment)."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_ACCOUNTS", None)
    if isinstance(configured, AccountSettings):
        return configured
    return AccountSettings()
