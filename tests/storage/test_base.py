"""Key validation and the Content-Disposition helper shared by every store."""

from __future__ import annotations

import pytest

from obsarchive.storage import InvalidKeyError, StoreError, attachment_disposition, validate_key


@pytest.mark.parametrize(
    "key",
    [
        "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz",
        "a",
        "tfn/sq32/20240426/thumbnails/tfn0m419-sq32-20240426-0097-e91-small.jpg",
        "ünïcode/ключ/名前.fits",
        "dots.in..name/x",  # '..' inside a segment is just characters
        "x" * 1024,
    ],
)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a/", "a//b", "./a", "a/./b", "../a", "a/..", "a\\b", "a\x00b", "a\tb", "a\x7fb",
     "é" * 513, "\ud800"],
)  # fmt: skip
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key(key)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, StoreError)


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(None)  # type: ignore[arg-type]


def test_plain_names_keep_upstreams_exact_header() -> None:
    assert (
        attachment_disposition("coj1m011-kb05-20150219-0125-e90.fits.fz")
        == "attachment; filename=coj1m011-kb05-20150219-0125-e90.fits.fz"
    )


def test_awkward_names_are_quoted_and_encoded() -> None:
    header = attachment_disposition('my "best" frame ö.fits')
    assert header == (
        'attachment; filename="my _best_ frame o.fits"; '
        "filename*=UTF-8''my%20%22best%22%20frame%20%C3%B6.fits"
    )
    assert "\n" not in attachment_disposition("a\nb")
