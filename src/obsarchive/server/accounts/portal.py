"""A small client of the Observation Portal's profile and OAuth token endpoints.

One ``requests.Session`` per process (connection reuse), a timeout on every call, and
third-party exceptions translated into :class:`PortalError` subclasses at this boundary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from obsarchive.server.accounts.config import AccountSettings

__all__ = [
    "PortalClient",
    "PortalError",
    "PortalProfile",
    "PortalRejectedError",
    "PortalUnavailableError",
    "portal_client",
]

logger = logging.getLogger(__name__)


class PortalError(Exception):
    """A problem talking to the Observation Portal."""


class PortalUnavailableError(PortalError):
    """The portal could not be reached, timed out or answered with a server error (retry)."""


class PortalRejectedError(PortalError):
    """The portal refused the credentials (do not retry with the same credentials)."""


@dataclass(frozen=True)
class PortalProfile:
    """The parts of a portal ``/api/profile/`` answer the archive uses."""

    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_staff: bool = False
    is_superuser: bool = False
    staff_view: bool = False
    api_token: str = ""
    proposals: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> PortalProfile:
        """Validate a decoded profile document.

        Raises
        ------
        PortalError
            The document lacks a username or has the wrong shape.
        """
        if not isinstance(data, Mapping):
            raise PortalError("portal profile is not a JSON object")
        username = data.get("username")
        if not isinstance(username, str) or not username.strip():
            raise PortalError("portal profile has no username")
        raw_profile, raw_tokens = data.get("profile"), data.get("tokens")
        profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, Mapping) else {}
        tokens: Mapping[str, Any] = raw_tokens if isinstance(raw_tokens, Mapping) else {}
        proposals_raw = data.get("proposals") or []
        proposals: list[str] = []
        if isinstance(proposals_raw, list):
            for item in proposals_raw:
                pid = item.get("id") if isinstance(item, Mapping) else item
                if isinstance(pid, str) and pid:
                    proposals.append(pid)

        def text(value: Any) -> str:
            return value if isinstance(value, str) else ""

        return cls(
            username=username.strip()[:150],
            first_name=text(data.get("first_name"))[:150],
            last_name=text(data.get("last_name"))[:150],
            email=text(data.get("email"))[:254],
            is_staff=data.get("is_staff") is True,
            is_superuser=data.get("is_superuser") is True,
            staff_view=profile.get("staff_view") is True,
            api_token=text(tokens.get("api_token"))[:255],
            proposals=tuple(dict.fromkeys(proposals)),
        )


class PortalClient:
    """Calls to the portal with the configured URLs and timeouts."""

    def __init__(self, settings: AccountSettings, session: requests.Session | None = None) -> None:
        self._settings = settings
        self._session = session or requests.Session()

    @property
    def _timeout(self) -> tuple[float, float]:
        return (self._settings.portal_connect_timeout, self._settings.portal_read_timeout)

    def profile(self, authorization: str) -> PortalProfile:
        """The profile of the user identified by ``authorization`` (``Token …``/``Bearer …``).

        Raises
        ------
        PortalRejectedError
            The portal answered 4xx (unknown or expired credentials).
        PortalUnavailableError
            Network failure, timeout or 5xx.
        """
        url = self._settings.oauth_profile_url
        if not url:
            raise PortalUnavailableError("OAUTH_PROFILE_URL is not configured")
        try:
            response = self._session.get(
                url, headers={"Authorization": authorization}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise PortalUnavailableError(f"portal profile request failed: {exc}") from exc
        if 400 <= response.status_code < 500:
            raise PortalRejectedError(f"portal refused the credentials ({response.status_code})")
        if response.status_code != 200:
            raise PortalUnavailableError(f"portal profile answered {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise PortalUnavailableError("portal profile is not JSON") from exc
        return PortalProfile.from_json(data)

    def password_grant(self, username: str, password: str) -> str:
        """Exchange a username and password for a portal OAuth access token.

        Raises
        ------
        PortalRejectedError
            Wrong credentials (or any non-200 answer from the token endpoint).
        PortalUnavailableError
            Network failure or timeout.
        """
        url = self._settings.oauth_token_url
        if not url:
            raise PortalUnavailableError("OAUTH_TOKEN_URL is not configured")
        try:
            response = self._session.post(
                url,
                data={
                    "grant_type": "password",
                    "username": username,
                    "password": password,
                    "client_id": self._settings.oauth_client_id,
                    "client_secret": self._settings.oauth_client_secret,
                },
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise PortalUnavailableError(f"portal token request failed: {exc}") from exc
        if response.status_code >= 500:
            raise PortalUnavailableError(f"portal token endpoint answered {response.status_code}")
        if response.status_code != 200:
            raise PortalRejectedError("portal refused the username and password")
        try:
            token = response.json().get("access_token")
        except (ValueError, AttributeError) as exc:
            raise PortalUnavailableError("portal token answer is not a JSON object") from exc
        if not isinstance(token, str) or not token:
            raise PortalUnavailableError("portal token answer has no access_token")
        return token


_clients: dict[AccountSettings, PortalClient] = {}
_clients_lock = threading.Lock()


def portal_client(settings: AccountSettings) -> PortalClient:
    """The process-wide client for ``settings`` (created on first use)."""
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            client = PortalClient(settings)
            _clients[settings] = client
        return client
