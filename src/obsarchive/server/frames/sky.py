"""Sky search for frames: footprints in, candidate cells out, exact refine on the sphere.

A frame's footprint is indexed by the HEALPix cells (NUNIQ) :mod:`obsarchive.sky` chooses for
it (table ``frames_skycell``). A search region (``covers``/``intersects`` WKT, or a cone)
becomes a query plan of cell values and ranges; the frames owning such a cell are the
candidates, and the exact spherical test over their packed footprints (vectorised) keeps the
true matches. The main query is then restricted to the surviving ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from obsarchive import sky
from obsarchive.server.frames.models import SkyCell

__all__ = [
    "AreaError",
    "ParsedArea",
    "SkyQueryError",
    "candidate_ids",
    "cone_region",
    "footprint_bytes",
    "id_in",
    "matching_ids",
    "parse_area",
    "restrict_to_region",
    "sky_cells_of",
    "wkt_region",
]

POINT_FORMAT_MESSAGE = "Point must be specified with exact format 'POINT(RA DEC)'"
# Below this many ids a plain ``IN (...)`` list is used; above, one array/JSON parameter.
INLINE_ID_LIMIT = 500


class AreaError(ValueError):
    """An ingested ``area`` is not a usable GeoJSON polygon."""


class SkyQueryError(ValueError):
    """A search geometry cannot be parsed; the message is the client-facing text."""


@dataclass(frozen=True)
class ParsedArea:
    """A validated footprint: the GeoJSON as sent, and the polygon on the sphere."""

    geojson: dict[str, Any]
    polygon: Any


def parse_area(data: Any) -> ParsedArea | None:
    """Validate an ingest ``area`` (GeoJSON Polygon or null).

    Raises
    ------
    AreaError
        Not a GeoJSON polygon with valid, finite coordinates.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise AreaError("area must be a GeoJSON object")
    try:
        # Not strict: archives hold degenerate footprints (e.g. from a broken WCS) and refusing
        # them would refuse the file; they stay storable and searchable by their boundary.
        polygon = sky.polygon_from_geojson(data, strict=False)
    except (sky.SkyGeometryError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise AreaError(str(exc)) from exc
    return ParsedArea(geojson=data, polygon=polygon)


def footprint_bytes(area: ParsedArea) -> bytes:
    """The polygon's vertices as packed little-endian float64 unit vectors (k x 3)."""
    vertices = np.ascontiguousarray(area.polygon.vectors, dtype="<f8")
    return vertices.tobytes()


def sky_cells_of(area: ParsedArea) -> list[int]:
    """The NUNIQ cells to store for a footprint."""
    return sorted({int(cell) for cell in sky.index_cells(area.polygon)})


def wkt_region(text: str, parameter: str) -> Any:
    """A ``covers``/``intersects`` WKT value as a region; errors read like upstream's."""
    try:
        return sky.parse_geometry(text)
    except (sky.SkyGeometryError, ValueError) as exc:
        shaped_like_polygon = text.strip().upper().startswith("POLYGON")
        detail = str(exc) if shaped_like_polygon else POINT_FORMAT_MESSAGE
        raise SkyQueryError(f"Error with {parameter} query: {detail}") from exc


def cone_region(ra: float, dec: float, radius: float) -> Any:
    """A cone search region (degrees).

    Raises
    ------
    SkyQueryError
        The cone is not valid (e.g. a zero radius).
    """
    try:
        return sky.Circle(ra % 360.0, dec, radius)
    except (sky.SkyGeometryError, ValueError) as exc:
        raise SkyQueryError(str(exc)) from exc


def _cell_condition(region: Any) -> Q | None:
    plan = sky.query_plan(region)
    condition = Q(pk__in=[])
    if plan.uniq_values:
        condition |= Q(uniq__in=sorted({int(v) for v in plan.uniq_values}))
    for low, high in plan.uniq_ranges:
        condition |= Q(uniq__range=(int(low), int(high)))
    return condition if (plan.uniq_values or plan.uniq_ranges) else None


def candidate_ids(region: Any) -> list[int]:
    """Ids of the frames owning a HEALPix cell of ``region``'s query plan, ascending.

    A query on the sky-cell index alone (``frames_skycell (uniq, frame_id)``): the planner
    cannot turn it into a scan of ``frames_frame``, as it did with the cell condition as a
    sub-query of the frame query (it over-estimates cell matches by orders of magnitude).
    """
    condition = _cell_condition(region)
    if condition is None:
        return []
    cells = SkyCell.objects.filter(condition).order_by().values_list("frame_id", flat=True)
    return sorted(set(cells))


def matching_ids(queryset: QuerySet, region: Any) -> list[int]:
    """Ids of the frames of ``queryset`` whose footprint meets ``region``, exactly.

    Two queries: the candidate ids from the cell index (:func:`candidate_ids`), then the
    candidates that ``queryset`` keeps (visibility and every other filter), by primary key,
    with their packed footprints; the refine runs vectorised per vertex count.
    """
    candidates = candidate_ids(region)
    if not candidates:
        return []
    rows = list(
        id_in(queryset.order_by(), candidates)
        .filter(footprint__isnull=False)
        .values_list("pk", "footprint")
    )
    if not rows:
        return []
    rings = [np.frombuffer(bytes(blob), dtype="<f8").reshape(-1, 3) for _, blob in rows]
    width = max(len(ring) for ring in rings)
    stacked = np.empty((len(rings), width, 3))
    for position, ring in enumerate(rings):
        # Shorter footprints repeat their last vertex: a zero-length edge changes nothing.
        stacked[position, : len(ring)] = ring
        stacked[position, len(ring) :] = ring[-1]
    mask = sky.refine(stacked, region)
    survivors = [pk for (pk, _), keep in zip(rows, mask, strict=True) if keep]
    return survivors


def id_in(queryset: QuerySet, ids: list[int]) -> QuerySet:
    """``queryset`` restricted to ``ids``, as one parameter when the list is long.

    SQLite refuses more than 32766 bound variables; a JSON array read with ``json_each``
    (SQLite) or an integer array (PostgreSQL) keeps any number of ids to one parameter.
    """
    if len(ids) <= INLINE_ID_LIMIT:
        return queryset.filter(pk__in=ids)
    vendor = connections[queryset.db].vendor
    if vendor == "postgresql":
        expression = RawSQL("SELECT unnest(%s::bigint[])", [ids])
    elif vendor == "sqlite":
        expression = RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])
    else:
        return queryset.filter(pk__in=ids)
    return queryset.filter(pk__in=expression)


def restrict_to_region(queryset: QuerySet, region: Any) -> QuerySet:
    """``queryset`` limited to frames whose footprint meets ``region``."""
    ids = matching_ids(queryset, region)
    if not ids:
        return queryset.filter(pk__in=[])
    return id_in(queryset, sorted(ids))
