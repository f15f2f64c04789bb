"""Quantities derived from a footprint for ObsCore/SIA and the UI: centre, size, s_region.

Polygon strings (STC-S and DALI) list the vertices counter-clockwise *as seen from inside the
sphere* -- the way the sky looks to an observer, which is what DALI 1.1 section 3.3.7 asks for
("viewed from the origin") and the order CADC emits. On a plot with RA increasing to the right
this is clockwise. Longitudes are normalised to [0, 360).
"""

from __future__ import annotations

from dataclasses import dataclass

from obsarchive.sky.geometry import Circle, Polygon
from obsarchive.sky.vectors import vectors_to_lonlat

__all__ = [
    "ObsCoreFootprint",
    "bounding_radius",
    "obscore_footprint",
    "sky_order_vertices",
    "to_dali_circle",
    "to_dali_polygon",
    "to_stcs",
]


def sky_order_vertices(polygon: Polygon) -> list[tuple[float, float]]:
    """Distinct vertices, counter-clockwise seen from inside, longitudes in [0, 360)."""
    # ccw_vectors run counter-clockwise seen from *outside*; reversing gives the sky view.
    lon, lat = vectors_to_lonlat(polygon.ccw_vectors[::-1])
    vertices = [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
    # Degenerate polygons are padded by repeating a vertex; do not repeat it in text output.
    return [v for i, v in enumerate(vertices) if i == 0 or v != vertices[i - 1]]


def _number(value: float) -> str:
    # Shortest text that reads back to the same double; 0.0 rather than -0.0.
    return repr(float(value) + 0.0)


def to_dali_polygon(polygon: Polygon) -> list[float]:
    """DALI 1.1 polygon value: flat ``[lon1, lat1, lon2, lat2, ...]``, sky order, degrees."""
    return [value for vertex in sky_order_vertices(polygon) for value in vertex]


def to_dali_circle(circle: Circle) -> list[float]:
    """DALI 1.1 circle value ``[lon, lat, radius]`` with the longitude in [0, 360)."""
    return [circle.lon % 360.0, circle.lat, circle.radius]


def to_stcs(region: Polygon | Circle, frame: str = "ICRS") -> str:
    """STC-S text, e.g. ``POLYGON ICRS 10.5 41.1 10.5 41.4 10.9 41.4 10.9 41.1``."""
    if isinstance(region, Circle):
        values = to_dali_circle(region)
        return f"CIRCLE {frame} " + " ".join(_number(v) for v in values)
    return f"POLYGON {frame} " + " ".join(_number(v) for v in to_dali_polygon(region))


@dataclass(frozen=True)
class ObsCoreFootprint:
    """The ObsCore spatial columns of one footprint.

    Attributes
    ----------
    s_ra, s_dec
        Centre (area centroid), degrees, RA in [0, 360).
    s_fov
        Diameter of the smallest circle containing the footprint, degrees.
    s_region
        STC-S polygon (see :func:`to_stcs`); for a degenerate footprint (a line or a point,
        see :attr:`Polygon.is_degenerate`) the STC-S circle of its bounding circle, so that
        clients always receive a valid region containing the data.
    area_deg2
        Solid angle in square degrees.
    """

    s_ra: float
    s_dec: float
    s_fov: float
    s_region: str
    area_deg2: float


def obscore_footprint(polygon: Polygon) -> ObsCoreFootprint:
    """Compute the ObsCore spatial columns of a footprint."""
    centre = polygon.centroid
    return ObsCoreFootprint(
        s_ra=centre.lon % 360.0,
        s_dec=centre.lat,
        s_fov=2.0 * polygon.bounding_circle.radius,
        s_region=to_stcs(polygon.bounding_circle if polygon.is_degenerate else polygon),
        area_deg2=polygon.area_deg2,
    )


def bounding_radius(polygon: Polygon) -> float:
    """Radius in degrees of the smallest circle containing the footprint."""
    return polygon.bounding_circle.radius
