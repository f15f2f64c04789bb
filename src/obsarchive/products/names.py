"""Product names: the archive's basename/extension split and the refusal of hostile names."""

from __future__ import annotations

import os
import posixpath
from typing import Any

from obsarchive.products.errors import InvalidNameError

__all__ = ["MAX_NAME_BYTES", "name_of", "product_name", "split_name"]

# One path component on every common filesystem; longer names cannot be stored as files.
MAX_NAME_BYTES = 255


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """Split a file name into the archive's ``(basename, extension)``.

    The directory part is dropped; the basename is everything before the *first* dot and the
    extension everything from it (so ``x.fits.fz`` gives ``(".fits.fz")``). A name whose first
    dot is its first character has no extension. This is exactly the upstream rule, so that
    frame basenames match the archive's.

    Examples
    --------
    >>> split_name("/a/b/coj0m405-kb84-20160325-0095-e00.fits.fz")
    ('coj0m405-kb84-20160325-0095-e00', '.fits.fz')
    >>> split_name("a.b.c.fits.fz")
    ('a', '.b.c.fits.fz')
    >>> split_name("noext")
    ('noext', '')
    >>> split_name(None)
    (None, None)
    """
    if name is None:
        return None, None
    base = posixpath.basename(name)
    dot = base.find(".")
    if dot > 0:
        return base[:dot], base[dot:]
    return base, ""


def product_name(name: str) -> tuple[str, str]:
    """Validate a product name and split it into ``(basename, extension)``.

    The directory part is ignored (``../x.fits`` and ``/abs/x.fits`` name ``x.fits``), but the
    remaining file name must be usable as one path component of a storage key.

    Raises
    ------
    InvalidNameError
        The name contains a NUL or another control character, its file name is empty, ``.``
        or ``..``, still contains a path separator (``\\``), or is longer than 255 bytes.
    """
    shown = repr(name)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        # Control characters (NUL, CR, LF, ...) corrupt file systems, logs and HTTP headers.
        raise InvalidNameError(shown, "the file name contains a NUL or control character")
    base = posixpath.basename(name)
    if base in ("", ".", ".."):
        raise InvalidNameError(shown, "the name has no file name part")
    if "\\" in base:
        raise InvalidNameError(shown, "the file name contains a path separator")
    if len(base.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidNameError(shown, f"the file name is longer than {MAX_NAME_BYTES} bytes")
    basename, extension = split_name(base)
    assert basename is not None and extension is not None  # a str name always splits
    return basename, extension


def name_of(source: Any) -> str | None:
    """The name a file object carries (``.name``, else ``.filename``), if it is a path string.

    File objects opened on a descriptor have an integer ``name``; those do not count.
    """
    for attribute in ("name", "filename"):
        value = getattr(source, attribute, None)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, str):
            return value
    return None
