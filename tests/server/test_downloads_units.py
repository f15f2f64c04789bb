"""Pure pieces of downloads: Range parsing, configuration, member planning, script quoting."""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from obsarchive.config import ConfigurationError
from obsarchive.server.downloads.config import DownloadSettings, load_download_settings
from obsarchive.server.downloads.ranges import ByteRange, RangeNotSatisfiableError, parse_range
from obsarchive.server.downloads.scripts import ScriptEntry, render_script
from obsarchive.server.downloads.zips import MemberKind, plan_members, zip_filename

# -- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-", ByteRange(0, 999)),
        ("bytes=990-", ByteRange(990, 999)),
        ("bytes=500-5000", ByteRange(500, 999)),
        ("bytes=-1", ByteRange(999, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("BYTES = 1 - 2", ByteRange(1, 2)),
        ("bytes=0-1,5-6", None),
        ("bytes=5-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("pages=1-2", None),
        ("bytes=" + "9" * 40 + "-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_range(header, 1000)


def test_ranges_of_an_empty_file() -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_range("bytes=-5", 0)
    with pytest.raises(RangeNotSatisfiableError):
        parse_range("bytes=0-", 0)


def test_content_range_header() -> None:
    assert ByteRange(5, 9).content_range(10) == "bytes 5-9/10"
    assert ByteRange(5, 9).length == 5


# -- configuration ------------------------------------------------------------------------------


def test_defaults_and_environment() -> None:
    assert load_download_settings({}) == DownloadSettings()
    assert DownloadSettings().url_expiry == timedelta(hours=48)
    configured = load_download_settings(
        {
            "ZIP_MODE": "NGINX",
            "ZIP_DOWNLOAD_FILENAME_BASE": "lco_data",
            "ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES": "10",
            "ZIP_MAX_FILES": "500",
            "DOWNLOAD_URL_EXPIRY_SECONDS": "3600",
            "DOWNLOAD_SCRIPT_MAX_FRAMES": "20",
        }
    )
    assert configured.zip_mode == "nginx"
    assert configured.zip_filename_base == "lco_data"
    assert configured.zip_max_uncompressed_files == 10
    assert configured.zip_max_files == 500
    assert configured.url_expiry == timedelta(hours=1)
    assert configured.script_max_frames == 20


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ZIP_MODE", "mod_zip"),
        ("ZIP_DOWNLOAD_FILENAME_BASE", "a/b"),
        ("ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES", "-1"),
        ("DOWNLOAD_URL_EXPIRY_SECONDS", "soon"),
        ("DOWNLOAD_URL_EXPIRY_SECONDS", "5"),
        ("DOWNLOAD_SCRIPT_MAX_FRAMES", "0"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_download_settings({variable: value})
    assert caught.value.variable == variable


# -- members ------------------------------------------------------------------------------------


def _selected(pk: int, basename: str, extension: str, level: int = 0, kind: str = "EXPOSE") -> Any:
    frame = SimpleNamespace(
        pk=pk, basename=basename, reduction_level=level, configuration_type=kind
    )
    version = SimpleNamespace(extension=extension, object_key=f"k/{basename}", key="v", size=1)
    return SimpleNamespace(frame=frame, version=version)


def test_member_names_and_kinds_follow_upstream_precedence() -> None:
    files = [
        _selected(1, "raw-e00", ".fits.fz"),
        _selected(2, "red-e91", ".fits.fz", level=91),
        _selected(3, "plain-e91", ".fits", level=91),
        _selected(4, "flat-f91", ".fits.fz", level=91, kind="SKYFLAT"),
        _selected(5, "spec-e91", ".tar.gz", level=91),
    ]
    plain = plan_members(files, uncompress=False, catalog_only=False)
    assert [(m.kind, m.name) for m in plain] == [
        (MemberKind.FILE, "raw-e00.fits.fz"),
        (MemberKind.FILE, "red-e91.fits.fz"),
        (MemberKind.FILE, "plain-e91.fits"),
        (MemberKind.FILE, "flat-f91.fits.fz"),
        (MemberKind.FILE, "spec-e91.tar.gz"),
    ]
    both = plan_members(files, uncompress=True, catalog_only=True)
    assert [(m.kind, m.name) for m in both] == [
        (MemberKind.UNCOMPRESSED, "raw-e00.fits"),
        (MemberKind.UNCOMPRESSED, "red-e91.fits"),  # uncompress wins, as upstream
        (MemberKind.CATALOGUE, "plain-e91-catalog.fits"),
        (MemberKind.UNCOMPRESSED, "flat-f91.fits"),
        (MemberKind.FILE, "spec-e91.tar.gz"),  # not FITS: no catalogue to extract
    ]


def test_member_names_are_unique() -> None:
    files = [_selected(1, "x", ".fits.fz"), _selected(2, "x-catalog", ".fits")]
    files.append(_selected(3, "x", ".fits.fz", level=91))
    names = [m.name for m in plan_members(files, uncompress=False, catalog_only=True)]
    assert len(set(names)) == 3
    assert names == ["x.fits.fz", "x-catalog.fits", "x-catalog-3.fits"]


def test_zip_filename() -> None:
    moment = datetime(2026, 1, 15, 23, 59, tzinfo=UTC)
    assert zip_filename("ocs_archive_data", moment, 7) == "ocs_archive_data-20260115-7.zip"


# -- scripts ------------------------------------------------------------------------------------


def test_script_values_cannot_inject_shell() -> None:
    evil = ScriptEntry(
        url="http://x/$(touch pwned)'; rm -rf /'", filename="a b;$(id).fits", md5="0"
    )
    hidden = ScriptEntry(url="http://x/y", filename="../../etc/passwd", md5="0")
    dash = ScriptEntry(url="http://x/z", filename="-rf.fits", md5="0")
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    text = render_script(
        [evil, hidden, dash], archive="http://x/", generated_at=moment, expires_at=moment
    )
    gets = [line for line in text.splitlines() if line.startswith("get ")]
    assert len(gets) == 2
    assert shlex.split(gets[0]) == ["get", evil.url, "./" + evil.filename, "0"]
    assert shlex.split(gets[1]) == ["get", dash.url, "./-rf.fits", "0"]
    assert "# not available for download (unsafe file name): '../../etc/passwd'" in text
    check = subprocess.run(["sh", "-n"], input=text, text=True, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr
