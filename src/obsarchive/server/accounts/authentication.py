"""DRF authentication classes (reference §3.1), tried in the order listed in settings.

1. :class:`ArchiveTokenAuthentication` — ``Authorization: Token <key>`` where the key is the
   user's DRF token or their Observation-Portal API token.
2. DRF ``SessionAuthentication`` — Django login cookie (CSRF enforced on unsafe methods).
3. :class:`PortalBearerAuthentication` — ``Authorization: Bearer <oauth token>`` checked
   against the portal profile URL.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.request import Request

from obsarchive.server.accounts.config import current_account_settings
from obsarchive.server.accounts.portal import PortalRejectedError, PortalUnavailableError
from obsarchive.server.accounts.services import user_for_bearer, user_for_token_key

__all__ = ["ArchiveTokenAuthentication", "PortalBearerAuthentication", "PortalUnavailable"]


class PortalUnavailable(exceptions.APIException):
    """503: the portal that must vouch for a bearer token could not be asked."""

    status_code = 503
    default_detail = "The Observation Portal could not be reached to check the bearer token."
    default_code = "portal_unavailable"


class ArchiveTokenAuthentication(TokenAuthentication):
    """``Token`` authentication accepting DRF tokens and portal API tokens."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user = user_for_token_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, key)


class PortalBearerAuthentication:
    """OAuth bearer tokens issued by the Observation Portal.

    Without ``OAUTH_PROFILE_URL`` no bearer can be validated, so a bearer header is refused
    (401) rather than silently treated as anonymous.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid bearer header.")
        try:
            bearer = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid bearer header.") from None
        config = current_account_settings()
        if not config.portal_enabled:
            raise exceptions.AuthenticationFailed("No Such User")
        try:
            user = user_for_bearer(bearer, config)
        except PortalRejectedError:
            raise exceptions.AuthenticationFailed("No Such User") from None
        except PortalUnavailableError as exc:
            # Not the caller's fault: a 503 tells the client to try again.
            raise PortalUnavailable() from exc
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, bearer)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
