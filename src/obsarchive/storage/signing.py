"""Signed, time-limited download URLs for stores the archive serves itself (filesystem, memory).

S3 hands out presigned URLs; a filesystem store has nobody to sign for it, so the archive
server does: :func:`signed_download_url` builds
``{base_url}download/{key}?version={vid}&expires={epoch}&signature={hmac}`` and the server's
download view calls :func:`verify_download` with the same key. This module imports no web
framework, so the library and the server share one implementation of the scheme.

The signature is HMAC-SHA256 over a canonical JSON array ``["obsarchive-download-v1", key,
version_id, expires]`` (JSON keeps the encoding unambiguous whatever the key contains), encoded
as unpadded URL-safe base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote

__all__ = ["sign_download", "signed_download_url", "verify_download"]

_SCHEME = "obsarchive-download-v1"
# Epoch seconds up to year 33658: anything longer is garbage, refuse it before int().
_MAX_EXPIRES_DIGITS = 12


def _epoch(expires_at: datetime | int) -> int:
    if isinstance(expires_at, datetime):
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware (UTC)")
        return int(expires_at.timestamp())
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at < 0:
        raise ValueError(f"expires_at must be an aware datetime or epoch seconds: {expires_at!r}")
    return expires_at


def _check_signing_key(signing_key: bytes) -> None:
    if not isinstance(signing_key, bytes | bytearray) or not signing_key:
        raise ValueError("signing_key must be non-empty bytes")


def sign_download(key: str, version_id: str, expires_at: datetime | int, signing_key: bytes) -> str:
    """The signature authorising a download of one version of ``key`` until ``expires_at``.

    Parameters
    ----------
    key, version_id
        The object and the version the URL is for.
    expires_at
        End of validity: an aware datetime or epoch seconds (UTC).
    signing_key
        The server's secret; the same bytes must be given to :func:`verify_download`.

    Returns
    -------
    str
        URL-safe base64 HMAC-SHA256 (43 characters).
    """
    _check_signing_key(signing_key)
    message = json.dumps(
        [_SCHEME, key, version_id, _epoch(expires_at)], separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")
    digest = hmac.new(bytes(signing_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_download(
    key: str,
    version_id: str,
    expires_at: int | str,
    signature: str,
    signing_key: bytes,
    *,
    now: datetime,
) -> bool:
    """True when ``signature`` is valid for these parameters and ``now`` is before expiry.

    Parameters
    ----------
    key, version_id
        As found in the request (already URL-decoded).
    expires_at
        The ``expires`` query value: epoch seconds, as an int or the raw string.
    signature
        The ``signature`` query value.
    signing_key
        The secret the URL was signed with.
    now
        The current time, aware (injected so tests and the server control the clock).

    Notes
    -----
    Never raises for malformed request values (they simply do not verify); the comparison is
    constant-time.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if isinstance(expires_at, str):
        text = expires_at.strip()
        if not text.isascii() or not text.isdigit() or len(text) > _MAX_EXPIRES_DIGITS:
            return False
        expires = int(text)
    elif isinstance(expires_at, int) and not isinstance(expires_at, bool) and expires_at >= 0:
        expires = expires_at
    else:
        return False
    if now.timestamp() >= expires:
        return False
    expected = sign_download(key, version_id, expires, signing_key)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def signed_download_url(
    base_url: str, key: str, version_id: str, expires_at: datetime | int, signing_key: bytes
) -> str:
    """``{base_url}download/{key}?version=…&expires=…&signature=…`` for one object version.

    ``base_url`` is the archive's public root (``FILESYSTEM_STORAGE_BASE_URL``); a missing
    trailing ``/`` is added so no path segment is lost.
    """
    epoch = _epoch(expires_at)
    root = base_url if base_url.endswith("/") else base_url + "/"
    signature = sign_download(key, version_id, epoch, signing_key)
    return (
        f"{root}download/{quote(key, safe='/')}"
        f"?version={quote(version_id, safe='')}&expires={epoch}&signature={signature}"
    )
