"""The one template for object-store keys (the OCS layout).

Every product is stored under::

    {SITEID}/{INSTRUME}/{DAY-OBS}/{raw|processed|thumbnails}/{basename}{extension}
    {SITEID}/{INSTRUME}/bpm/{basename}{extension}            (bad-pixel masks)

Keys are built here and nowhere else, so the layout cannot drift between the library, the
ingester and the archive, and so that no header value can make a key escape its prefix.
"""

from __future__ import annotations

__all__ = ["KINDS", "object_key", "object_kind"]

KINDS: tuple[str, ...] = ("raw", "processed", "thumbnails", "bpm")


def _check_component(what: str, value: object) -> str:
    """Refuse anything that could change the shape of a key or escape its prefix."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if value in ("", ".") or ".." in value:
        raise ValueError(f"{what} {value!r} is empty or a relative path element")
    if "/" in value or "\\" in value:
        raise ValueError(f"{what} {value!r} contains a path separator")
    # NUL and other control characters break filesystems, logs and HTTP headers alike.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError(f"{what} {value!r} contains a control character")
    return value


def object_kind(
    reduction_level: int = 0, *, bad_pixel_mask: bool = False, thumbnail: bool = False
) -> str:
    """The kind of a product's key: the OCS rule the library and the archive both follow.

    Parameters
    ----------
    reduction_level : int, default 0
        0 for raw data, anything else (90, 91, ...) for processed data.
    bad_pixel_mask : bool
        The product is an LCO bad-pixel mask (see :func:`obsarchive.products.lco.is_bpm`).
    thumbnail : bool
        The product is a preview image.

    Returns
    -------
    str
        ``thumbnails``, ``bpm``, ``raw`` or ``processed``, in that order of precedence.
    """
    if thumbnail:
        return "thumbnails"
    if bad_pixel_mask:
        return "bpm"
    return "raw" if reduction_level == 0 else "processed"


def object_key(
    site_id: str,
    instrument_id: str,
    observation_day: str | None,
    kind: str,
    basename: str,
    extension: str,
) -> str:
    """Build the object-store key of a product.

    Parameters
    ----------
    site_id, instrument_id : str
        The ``SITEID`` and ``INSTRUME`` header values, e.g. ``"coj"`` and ``"kb05"``.
    observation_day : str or None
        The ``DAY-OBS`` value (``"20150219"``); ignored (and may be None) for ``kind="bpm"``.
    kind : {"raw", "processed", "thumbnails", "bpm"}
        ``raw`` for reduction level 0, ``processed`` otherwise; ``thumbnails`` for previews;
        ``bpm`` for bad-pixel masks, which are stored per instrument rather than per night.
    basename, extension : str
        The product name split as the archive splits it (``"x-e90"``, ``".fits.fz"``).

    Returns
    -------
    str
        For example ``"coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz"``.

    Raises
    ------
    ValueError
        ``kind`` is unknown, or a component is empty, ``.``, contains ``..``, a ``/`` or ``\\``,
        a NUL or another control character, so that no key can escape its prefix.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(extension, str):
        raise ValueError(f"extension must be a string, got {type(extension).__name__}")
    if extension and not extension.startswith("."):
        raise ValueError(f"extension {extension!r} must be empty or start with '.'")
    parts = [
        _check_component("site id", site_id),
        _check_component("instrument id", instrument_id),
    ]
    if kind == "bpm":
        parts.append("bpm")
    else:
        parts.append(_check_component("observation day", observation_day))
        parts.append(kind)
    _check_component("basename", basename)
    parts.append(_check_component("file name", basename + extension))
    return "/".join(parts)
