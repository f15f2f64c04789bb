"""Name parsing (checklist 2), hostile names and the storage-key template."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obsarchive.products.errors import InvalidNameError
from obsarchive.products.names import name_of, product_name, split_name
from obsarchive.storage.keys import KINDS, object_key, object_kind


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/a/b/coj0m405-kb84-e00.fits.fz", ("coj0m405-kb84-e00", ".fits.fz")),
        ("a.b.c.fits.fz", ("a", ".b.c.fits.fz")),
        ("noext", ("noext", "")),
        (".hidden", (".hidden", "")),
        ("file.", ("file", ".")),
        ("/x/y/coj-e00.fits", ("coj-e00", ".fits")),
        (None, (None, None)),
    ],
)  # fmt: skip
def test_split_name_is_upstreams(name: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["../../etc/x.fits", "/abs/path/x.fits", "dir/sub/x.fits", "x.fits"],
)
def test_directories_are_dropped(name: str) -> None:
    assert product_name(name) == ("x", ".fits")


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../",
        "dir/",
        "x\x00.fits",
        "dir\x00/x.fits",
        "x\n.fits",
        "x\r\nSet-Cookie: a.fits",
        "C:\\data\\x.fits",
        "a" * 300 + ".fits",
    ],
)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError) as caught:
        product_name(name)
    assert repr(name) in str(caught.value)


def test_name_of_reads_name_then_filename() -> None:
    class Named(io.BytesIO):
        filename = "from-filename.fits"

    assert name_of(Named()) == "from-filename.fits"
    stream = io.BytesIO()
    stream.name = "given.fits"  # type: ignore[attr-defined]
    assert name_of(stream) == "given.fits"
    assert name_of(io.BytesIO()) is None


def test_name_of_ignores_descriptor_names(tmp_path) -> None:
    path = tmp_path / "x.fits"
    path.write_bytes(b"")
    with open(os.open(path, os.O_RDONLY), "rb") as by_descriptor:
        assert isinstance(by_descriptor.name, int)
        assert name_of(by_descriptor) is None


# -- object keys -------------------------------------------------------------------------------


def test_object_key_layout() -> None:
    assert (
        object_key("coj", "kb05", "20150219", "processed", "x-e90", ".fits.fz")
        == "coj/kb05/20150219/processed/x-e90.fits.fz"
    )
    assert object_key("coj", "kb05", "20150219", "raw", "x-e00", ".fits") == (
        "coj/kb05/20150219/raw/x-e00.fits"
    )
    assert object_key("tfn", "sq32", "20240426", "thumbnails", "t-small", ".jpg") == (
        "tfn/sq32/20240426/thumbnails/t-small.jpg"
    )
    assert object_key("coj", "kb05", None, "bpm", "bpm-kb05_bin2x2", ".fits.fz") == (
        "coj/kb05/bpm/bpm-kb05_bin2x2.fits.fz"
    )


@pytest.mark.parametrize(
    ("level", "flags", "kind"),
    [
        (0, {}, "raw"),
        (90, {}, "processed"),
        (91, {"bad_pixel_mask": True}, "bpm"),
        (0, {"bad_pixel_mask": True}, "bpm"),
        (91, {"thumbnail": True}, "thumbnails"),
        (0, {"thumbnail": True, "bad_pixel_mask": True}, "thumbnails"),
    ],
)
def test_object_kind_rule(level: int, flags: dict[str, bool], kind: str) -> None:
    assert object_kind(level, **flags) == kind
    assert kind in KINDS


@pytest.mark.parametrize(
    "args",
    [
        ("", "kb05", "20150219", "raw", "x", ".fits"),
        ("coj", "", "20150219", "raw", "x", ".fits"),
        ("coj", "kb05", "", "raw", "x", ".fits"),
        ("coj", "kb05", None, "raw", "x", ".fits"),
        ("..", "kb05", "20150219", "raw", "x", ".fits"),
        ("coj", "kb/05", "20150219", "raw", "x", ".fits"),
        ("coj", "kb05", "2015..", "raw", "x", ".fits"),
        ("coj", "kb05", "20150219", "raw", "../x", ".fits"),
        ("coj", "kb05", "20150219", "raw", "x\x00", ".fits"),
        ("coj", "kb05", "20150219", "raw", "x", "/.fits"),
        ("coj", "kb05", "20150219", "raw", "x", "fits"),
        ("coj", "kb\\05", "20150219", "raw", "x", ".fits"),
        ("coj", "kb05", "20150219", "sideways", "x", ".fits"),
        ("coj", 5, "20150219", "raw", "x", ".fits"),
        ("coj", "kb05", "20150219", "raw", ".", ""),
    ],
)
def test_object_key_refuses_escaping_components(args: tuple) -> None:
    with pytest.raises(ValueError):
        object_key(*args)


_component = st.text(min_size=1, max_size=12)


@given(_component, _component, _component, st.sampled_from(KINDS), _component, _component)
def test_no_object_key_escapes_its_prefix(site, instrument, day, kind, basename, ext) -> None:
    """Whatever the header values, an accepted key has exactly the template's shape."""
    try:
        key = object_key(site, instrument, day, kind, basename, "." + ext)
    except ValueError:
        return
    parts = key.split("/")
    assert len(parts) == (4 if kind == "bpm" else 5)
    assert parts[0] == site and parts[1] == instrument
    assert all(part not in ("", ".", "..") and "\x00" not in part for part in parts)
    assert parts[-1] == basename + "." + ext
