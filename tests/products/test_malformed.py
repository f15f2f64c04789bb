"""Bad input always surfaces as a ProductError subclass whose message names the file."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsarchive.products import (
    InvalidHeaderError,
    InvalidNameError,
    InvalidProductError,
    MissingHeadersError,
    ProductError,
    UnsupportedProductError,
    open_product,
)
from obsarchive.products.synthetic import write_fits, write_tar_bundle

PDF = b"%PDF-1.3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FULL_METADATA = {
    "PROPID": "LCO2026A-001",
    "DATE-OBS": "2026-01-15T03:00:00",
    "DAY-OBS": "20260115",
    "INSTRUME": "fa14",
    "SITEID": "cpt",
    "TELID": "1m0a",
    "OBSTYPE": "EXPOSE",
    "BLKUID": "1",
}


def _fits_bytes(**kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    write_fits(buffer, **kwargs)
    return buffer.getvalue()


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _replace_card(content: bytes, keyword: str, value: str) -> bytes:
    """Rewrite one header card in place (FITS cards are 80 fixed columns)."""
    start = content.index(keyword.ljust(8).encode() + b"= ")
    card = f"{keyword:<8}= {value:>20}".ljust(80).encode()
    return content[:start] + card + content[start + 80 :]


# Each case: a name, a function building the file in tmp_path, keyword arguments for
# open_product, and the exact error class expected.
Case = tuple[str, Callable[[Path], Path], dict[str, Any], type[ProductError]]

CASES: list[Case] = [
    ("unsupported extension", lambda d: _write(d, "notes.txt", b"hi"), {}, UnsupportedProductError),
    ("upper-case extension", lambda d: _write(d, "X.FITS", b"x"), {}, UnsupportedProductError),
    ("no extension", lambda d: _write(d, "README", b"x"), {}, UnsupportedProductError),
    ("empty .fits", lambda d: _write(d, "empty.fits", b""), {}, InvalidProductError),
    ("PDF named .fits", lambda d: _write(d, "doc.fits", PDF), {}, InvalidProductError),
    (
        "PDF named .fits with full metadata",
        lambda d: _write(d, "doc2.fits", PDF),
        {"metadata": FULL_METADATA},
        InvalidProductError,
    ),
    ("PDF named .fits.fz", lambda d: _write(d, "doc.fits.fz", PDF), {}, InvalidProductError),
    (
        "gzip-compressed FITS named .fits",
        lambda d: _write(d, "zipped.fits", gzip.compress(_fits_bytes())),
        {},
        InvalidProductError,
    ),
    (
        "truncated data unit",
        lambda d: _write(d, "short-data.fits", _fits_bytes()[:-3000]),
        {},
        InvalidProductError,
    ),
    (
        "truncated header",
        lambda d: _write(d, "short-header.fits", _fits_bytes()[:1000]),
        {},
        InvalidProductError,
    ),
    (
        "truncated compressed HDU header",
        lambda d: _write(d, "short.fits.fz", _fits_bytes(compressed=True)[:5000]),
        {},
        InvalidProductError,
    ),
    (
        "header without END card",
        lambda d: _write(d, "no-end.fits", b"SIMPLE  =                    T".ljust(2880 * 3)),
        {},
        InvalidProductError,
    ),
    (
        "malformed BITPIX",
        lambda d: _write(d, "bitpix.fits", _replace_card(_fits_bytes(), "BITPIX", "12")),
        {},
        InvalidProductError,
    ),
    (
        "non-integer NAXIS1",
        lambda d: _write(d, "naxis.fits", _replace_card(_fits_bytes(), "NAXIS1", "'wide'")),
        {},
        InvalidProductError,
    ),
    (
        "missing required header",
        lambda d: write_fits(d / "no-propid.fits", omit=["PROPID"]),
        {},
        MissingHeadersError,
    ),
    (
        "RLEVEL not an integer",
        lambda d: write_fits(d / "rlevel.fits", rlevel=None, extra_headers={"RLEVEL": "abc"}),
        {},
        InvalidHeaderError,
    ),
    (
        "RLEVEL N/A on plain FITS (checklist 45)",
        lambda d: write_fits(d / "rlevel-na.fits", rlevel=None, extra_headers={"RLEVEL": "N/A"}),
        {},
        InvalidHeaderError,
    ),
    (
        "RLEVEL N/A on a PDF (checklist 45)",
        lambda d: _write(d, "summary.pdf", PDF),
        {"metadata": FULL_METADATA | {"RLEVEL": "N/A"}},
        InvalidHeaderError,
    ),
    (
        "EXPTIME not a number",
        lambda d: write_fits(d / "exptime.fits", extra_headers={"EXPTIME": "long"}),
        {},
        InvalidHeaderError,
    ),
    (
        "REQNUM not an integer (an unnormalised null in PDF metadata)",
        lambda d: _write(d, "reqnum.pdf", PDF),
        {"metadata": FULL_METADATA | {"REQNUM": "UNSPECIFIED"}},
        InvalidHeaderError,
    ),
    (
        "negative BLKUID",
        lambda d: write_fits(d / "blkuid.fits", observation_id="-5"),
        {},
        InvalidHeaderError,
    ),
    (
        "unparsable DATE-OBS",
        lambda d: write_fits(d / "date.fits", extra_headers={"DATE-OBS": "yesterday"}),
        {},
        InvalidHeaderError,
    ),
    (
        "unparsable L1PUBDAT",
        lambda d: write_fits(d / "pubdate.fits", public_date="soon"),
        {},
        InvalidHeaderError,
    ),
    (
        "DATE-OBS missing when a public date must be computed",
        lambda d: write_fits(d / "nodate.fits", omit=["DATE-OBS"]),
        {"required_headers": []},
        MissingHeadersError,
    ),
    (
        "unreadable fibre pointing",
        lambda d: write_tar_bundle(d, extra_headers={"DEC": "north"}),
        {},
        InvalidHeaderError,
    ),
    (
        "uninferable OBSTYPE",
        lambda d: write_fits(
            d, basename="cpt1m001-fa14-20260115-0001-q00", obstype="N/A", compressed=True
        ),
        {},
        InvalidHeaderError,
    ),
    ("not a tar archive", lambda d: _write(d, "bundle.tar.gz", PDF), {}, InvalidProductError),
    (
        "truncated tar.gz",
        lambda d: _write(d, "cut.tar.gz", _tar_gz({"x-e91.fits": _fits_bytes()})[:-200]),
        {},
        InvalidProductError,
    ),
    (
        "tar without a FITS member or metadata",
        lambda d: write_tar_bundle(d, basename="nometa-e91", include_meta=False),
        {"settings": None},
        MissingHeadersError,
    ),
    (
        "tar with a corrupt FITS member",
        lambda d: _write(d, "corrupt.tar.gz", _tar_gz({"x-e91.fits": _fits_bytes()[:4000]})),
        {},
        InvalidProductError,
    ),
    (
        "thumbnail without metadata",
        lambda d: _write(d, "preview.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"),
        {},
        MissingHeadersError,
    ),
    (
        "metadata with a non-string key",
        lambda d: _write(d, "keys.pdf", PDF),
        {"metadata": {1: "x"}},
        InvalidHeaderError,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("case", "build", "kwargs", "error"), CASES, ids=[c[0] for c in CASES])
def test_malformed_input(
    tmp_path: Path,
    case: str,
    build: Callable[[Path], Path],
    kwargs: dict[str, Any],
    error: type[ProductError],
) -> None:
    path = build(tmp_path)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    with pytest.raises(ProductError) as caught:
        open_product(path, **kwargs)
    assert type(caught.value) is error, f"{case}: {caught.value!r}"
    assert path.name in str(caught.value)
    assert caught.value.problem  # says what is wrong, not just which file


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a/..", InvalidNameError),
        ("..", InvalidNameError),
        ("x\x00.fits", InvalidNameError),
        ("dir/", InvalidNameError),
        ("C:\\upload\\x.fits", InvalidNameError),
    ],
)
def test_hostile_names(name: str, error: type[ProductError]) -> None:
    with pytest.raises(error) as caught:
        open_product(io.BytesIO(_fits_bytes()), name)
    assert repr(name) in str(caught.value)


def test_a_stream_without_a_name() -> None:
    with pytest.raises(InvalidNameError, match="no file name"):
        open_product(io.BytesIO(_fits_bytes()))


def test_unusable_storage_key_is_reported_when_asked(tmp_path: Path) -> None:
    path = write_fits(tmp_path, site_id="../../etc")
    product = open_product(path)  # the record is fine ...
    with pytest.raises(InvalidHeaderError, match="storage key") as caught:
        product.storage_key  # noqa: B018 - ... but no key can be built from SITEID
    assert path.name in str(caught.value)


def test_text_streams_are_refused() -> None:
    with pytest.raises(TypeError, match="binary"):
        open_product(io.StringIO("SIMPLE"), "x.fits")  # type: ignore[arg-type]


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_product(tmp_path / "absent.fits")


_GOOD = _fits_bytes(shape=(8, 8), rlevel=91)
_GOOD_FZ = _fits_bytes(shape=(8, 8), rlevel=91, compressed=True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([(_GOOD, "fuzz.fits"), (_GOOD_FZ, "fuzz.fits.fz")]),
    st.integers(0, len(_GOOD_FZ)),
    st.lists(st.tuples(st.integers(0, len(_GOOD_FZ) - 1), st.integers(0, 255)), max_size=6),
)
def test_damaged_files_never_escape_as_raw_errors(
    original: tuple[bytes, str], cut: int, flips: list[tuple[int, int]]
) -> None:
    """Truncate and corrupt real FITS bytes anywhere: open or ProductError, nothing else."""
    content, name = original
    damaged = bytearray(content[:cut])
    for offset, value in flips:
        if offset < len(damaged):
            damaged[offset] = value
    try:
        product = open_product(io.BytesIO(bytes(damaged)), name)
    except ProductError as exc:
        assert name in str(exc)
    else:
        product.record().to_payload()
