"""Who is calling, and the links handed out to them: authentication, throttling, signatures.

The VO endpoints are plain Django views (DALI, not DRF content negotiation), but a caller
authenticates exactly as with the frames API -- ``Authorization: Token``, the login cookie or
a portal bearer -- and is throttled by the same rates. Links to files and cutouts are signed
and expire (``VO_URL_EXPIRY_SECONDS``) because pyvo does not send the caller's credentials
with DataLink ``#this`` downloads or SODA calls.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings

from obsarchive.server.frames.storage import download_signing_key
from obsarchive.storage.signing import sign_download, verify_download

__all__ = [
    "AccessDeniedError",
    "Caller",
    "identify",
    "sign_cutout",
    "verify_cutout",
]


class AccessDeniedError(Exception):
    """Authentication failed or the caller is throttled; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class _SessionWithoutCsrf(SessionAuthentication):
    """The login cookie, without DRF's CSRF check.

    DALI services must accept form POSTs from any client (pyvo's DataLink batches POST without
    a CSRF token); the VO endpoints only read, so a forged cross-site POST gains nothing.
    """

    def enforce_csrf(self, request: Request) -> None:
        return None


@dataclass(frozen=True)
class Caller:
    """The authenticated user (or ``AnonymousUser``) and the one "now" of the request."""

    user: Any
    now: datetime

    @property
    def authenticated(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False))


def _authenticators() -> list[Any]:
    authenticators = []
    # DRF has imported the configured dotted paths into classes; the stubs say "str".
    classes: list[type[Any]] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)  # type: ignore[arg-type]
    for authentication_class in classes:
        chosen = (
            _SessionWithoutCsrf
            if issubclass(authentication_class, SessionAuthentication)
            else authentication_class
        )
        authenticators.append(chosen())
    return authenticators


def identify(request: HttpRequest, *, throttle: bool = True) -> Caller:
    """Authenticate ``request`` with the archive's authentication classes and throttle it.

    Raises
    ------
    AccessDeniedError
        Invalid credentials (401), an unreachable portal (503) or too many requests (429).
    """
    drf_request = Request(request, authenticators=_authenticators())
    try:
        user = drf_request.user
    except APIException as exc:
        raise AccessDeniedError(exc.status_code, str(exc.detail)) from exc
    if throttle:
        throttles: list[type[Any]] = list(api_settings.DEFAULT_THROTTLE_CLASSES)  # type: ignore[arg-type]
        for throttle_class in throttles:
            limiter = throttle_class()
            if not limiter.allow_request(drf_request, None):
                wait = limiter.wait()
                seconds = None if wait is None else max(1, int(wait + 0.999))
                raise AccessDeniedError(429, str(Throttled(wait).detail), retry_after=seconds)
    return Caller(user=user, now=timezone.now())


def _cutout_key() -> bytes:
    # A key of its own: no download signature can pass for a cutout signature, or back.
    return hmac.new(download_signing_key(), b"obsarchive vo cutouts", hashlib.sha256).digest()


def cutout_expiry(now: datetime, validity: timedelta) -> int:
    """The expiry (epoch seconds) of cutout signatures issued at ``now``."""
    return int((now + validity).timestamp())


def sign_cutout(frame_id: int, expires: int) -> str:
    """The signature letting its holder cut out frame ``frame_id`` until ``expires``."""
    return sign_download(f"vo-cutout/{frame_id}", "", expires, _cutout_key())


def verify_cutout(frame_id: int, expires: str, signature: str, now: datetime) -> bool:
    """True when ``signature`` authorises cutouts of ``frame_id`` and has not expired."""
    return verify_download(f"vo-cutout/{frame_id}", "", expires, signature, _cutout_key(), now=now)
