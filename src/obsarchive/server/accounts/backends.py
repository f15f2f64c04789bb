"""Django authentication backend for Observation-Portal password logins (reference §3.2)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from obsarchive.server.accounts.services import portal_password_login

__all__ = ["PortalPasswordBackend"]


class PortalPasswordBackend:
    """Checks a username/password with the portal's OAuth password grant.

    Listed after ``ModelBackend``: local passwords are tried first, and a successful portal
    login stores the password locally, so later logins no longer need the portal. Does nothing
    unless ``OAUTH_TOKEN_URL``, ``OAUTH_PROFILE_URL`` and ``OAUTH_CLIENT_ID`` are configured.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any | None:
        if not username or not password:
            return None
        user = portal_password_login(username, password)
        if user is None or not user.is_active:
            return None
        return user

    def get_user(self, user_id: int) -> Any | None:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=user_id, is_active=True).first()
