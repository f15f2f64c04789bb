"""GeoJSON input and output for footprints (the archive's ``area`` field).

Positions are ``[lon, lat]`` = ``[RA, Dec]`` in degrees. Output echoes the vertices exactly as
they were given (closing the ring), so a footprint posted as ``[350, -10]`` comes back as
``[350, -10]`` rather than normalised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.geometry import Point, Polygon

__all__ = ["geometry_from_geojson", "polygon_from_geojson", "to_geojson"]


def _document(value: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise SkyGeometryError("invalid GeoJSON text") from exc
    if not isinstance(value, Mapping):
        raise SkyGeometryError("a GeoJSON geometry must be an object")
    return value


def _position(value: Any, where: str) -> tuple[Any, Any]:
    # GeoJSON allows a third (altitude) number; it means nothing on the sky and is ignored.
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        raise SkyGeometryError(f"{where} must be a [lon, lat] position, not {value!r}")
    return value[0], value[1]


def geometry_from_geojson(value: Mapping[str, Any] | str) -> Point | Polygon:
    """Read a GeoJSON ``Point`` or ``Polygon`` (object or JSON text).

    Raises
    ------
    SkyGeometryError
        Not a GeoJSON point or single-ring polygon, or an invalid one.
    """
    document = _document(value)
    kind = document.get("type")
    if kind == "Point":
        lon, lat = _position(document.get("coordinates"), "Point coordinates")
        return Point(lon, lat)
    if kind == "Polygon":
        return polygon_from_geojson(document)
    raise SkyGeometryError(f"unsupported GeoJSON geometry type {kind!r}: use Point or Polygon")


def polygon_from_geojson(value: Mapping[str, Any] | str, *, strict: bool = True) -> Polygon:
    """Read a GeoJSON ``Polygon`` with one closed ring of at least four positions.

    Use ``strict=False`` for stored footprints: degenerate ones (see
    :class:`~obsarchive.sky.geometry.Polygon`) are then accepted and flagged.

    Raises
    ------
    SkyGeometryError
        Wrong type, holes, unclosed or short ring, non-numeric or out-of-range coordinates,
        or an invalid polygon (see :class:`~obsarchive.sky.geometry.Polygon`).
    """
    document = _document(value)
    if document.get("type") != "Polygon":
        raise SkyGeometryError(f"expected a GeoJSON Polygon, not type {document.get('type')!r}")
    rings = document.get("coordinates")
    if not isinstance(rings, (list, tuple)) or not rings:
        raise SkyGeometryError("Polygon coordinates must be a non-empty list of rings")
    if len(rings) > 1:
        raise SkyGeometryError("polygons with holes are not supported")
    ring = rings[0]
    if not isinstance(ring, (list, tuple)):
        raise SkyGeometryError("a Polygon ring must be a list of positions")
    positions = [_position(p, f"position {i}") for i, p in enumerate(ring)]
    if len(positions) < 4:
        raise SkyGeometryError("a polygon ring needs at least 4 positions (closed triangle)")
    if positions[0] != positions[-1]:
        raise SkyGeometryError("a polygon ring must be closed (last position = first)")
    return Polygon(positions, strict=strict)


def to_geojson(geometry: Point | Polygon) -> dict[str, Any]:
    """GeoJSON object for a point or polygon, with the vertices as given and the ring closed."""
    if isinstance(geometry, Point):
        return {"type": "Point", "coordinates": [geometry.lon, geometry.lat]}
    ring = [[lon, lat] for lon, lat in geometry.vertices]
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}
