"""Signed download URLs for the stores the archive serves itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from obsarchive.storage.signing import sign_download, signed_download_url, verify_download

SECRET = b"a-signing-key"
NOW = datetime(2024, 4, 26, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=1)
KEY = "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"
VID = "1714132800000000000-0123456789ab"


def test_a_fresh_signature_verifies() -> None:
    signature = sign_download(KEY, VID, EXPIRES, SECRET)
    assert verify_download(KEY, VID, int(EXPIRES.timestamp()), signature, SECRET, now=NOW)
    assert verify_download(KEY, VID, str(int(EXPIRES.timestamp())), signature, SECRET, now=NOW)


def test_expiry_is_exclusive() -> None:
    signature = sign_download(KEY, VID, EXPIRES, SECRET)
    epoch = int(EXPIRES.timestamp())
    assert verify_download(KEY, VID, epoch, signature, SECRET, now=EXPIRES - timedelta(seconds=1))
    assert not verify_download(KEY, VID, epoch, signature, SECRET, now=EXPIRES)
    assert not verify_download(KEY, VID, epoch, signature, SECRET, now=EXPIRES + timedelta(days=1))


@pytest.mark.parametrize(
    ("key", "version_id", "expires", "secret"),
    [
        (KEY + "x", VID, None, SECRET),
        (KEY, VID[:-1] + "c", None, SECRET),
        (KEY, VID, int(EXPIRES.timestamp()) + 3600, SECRET),  # stretched lifetime
        (KEY, VID, None, b"another-key"),
    ],
)
def test_tampering_fails(key: str, version_id: str, expires: int | None, secret: bytes) -> None:
    signature = sign_download(KEY, VID, EXPIRES, SECRET)
    epoch = expires if expires is not None else int(EXPIRES.timestamp())
    assert not verify_download(key, version_id, epoch, signature, secret, now=NOW)


def _flip_first(signature: str) -> str:
    return ("B" if signature[0] != "B" else "C") + signature[1:]


@pytest.mark.parametrize(
    "signature", ["", "x", "é" * 43, _flip_first(sign_download(KEY, VID, EXPIRES, SECRET))]
)
def test_bad_signatures_are_rejected_without_raising(signature: str) -> None:
    assert not verify_download(KEY, VID, int(EXPIRES.timestamp()), signature, SECRET, now=NOW)


@pytest.mark.parametrize("expires", ["", "abc", "-5", "1e9", "9" * 40, "١٢٣", -1, 1.5, True])
def test_malformed_expiry_values_do_not_verify(expires: object) -> None:
    signature = sign_download(KEY, VID, EXPIRES, SECRET)
    assert not verify_download(KEY, VID, expires, signature, SECRET, now=NOW)  # type: ignore[arg-type]


def test_fields_cannot_be_shifted_between_key_and_version() -> None:
    signature = sign_download("a", "b/c", EXPIRES, SECRET)
    assert not verify_download("a/b", "c", int(EXPIRES.timestamp()), signature, SECRET, now=NOW)


def test_naive_times_and_empty_keys_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        sign_download(KEY, VID, EXPIRES.replace(tzinfo=None), SECRET)
    with pytest.raises(ValueError):
        sign_download(KEY, VID, EXPIRES, b"")
    with pytest.raises(ValueError):
        verify_download(KEY, VID, 1, "x", SECRET, now=NOW.replace(tzinfo=None))


def test_signed_download_url_shape_and_round_trip() -> None:
    key = "coj/kb05/20150219/raw/name with space+plus.fits"
    url = signed_download_url("https://archive.example/api", key, VID, EXPIRES, SECRET)
    parts = urlsplit(url)
    assert url.startswith("https://archive.example/api/download/coj/kb05/20150219/raw/")
    assert unquote(parts.path.removeprefix("/api/download/")) == key
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["version"] == VID
    assert query["expires"] == str(int(EXPIRES.timestamp()))
    assert verify_download(
        key, query["version"], query["expires"], query["signature"], SECRET, now=NOW
    )
