"""Request throttles (reference §3.5); rates from ``THROTTLE_ANON_RATE``/``THROTTLE_USER_RATE``.

Counters live in the default cache: configure a shared cache (``CACHE_URL=redis://…``) when
several server processes run, or each process counts separately.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from obsarchive.server.accounts.config import current_account_settings

__all__ = ["ArchiveAnonThrottle", "ArchiveUserThrottle"]


class ArchiveAnonThrottle(AnonRateThrottle):
    """Anonymous callers: ``1000/day`` per client address by default."""

    def get_rate(self) -> str | None:
        return current_account_settings().throttle_anon_rate


class ArchiveUserThrottle(UserRateThrottle):
    """Per user (per address for anonymous callers): ``50000/day``; staff are never throttled."""

    def get_rate(self) -> str | None:
        return current_account_settings().throttle_user_rate

    def allow_request(self, request: Request, view: Any) -> bool:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            return True
        return super().allow_request(request, view)
