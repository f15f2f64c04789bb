"""The one error family of :mod:`obsarchive.sky`."""

from __future__ import annotations

__all__ = ["SkyGeometryError"]


class SkyGeometryError(ValueError):
    """A sky region given by a caller is malformed or not supported.

    Raised for unparsable WKT/GeoJSON/SIA text, non-finite or out-of-range coordinates,
    degenerate or self-intersecting polygons and regions too large for the library. It is a
    :class:`ValueError`, so code validating user input can catch either. The message is meant
    to be shown to the caller as is.
    """
