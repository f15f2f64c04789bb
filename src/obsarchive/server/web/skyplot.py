"""A small sky plot of search results, drawn as SVG on the server.

Footprints are projected gnomonically (tangent plane) about the search centre, or about the mean
of the footprints when there is no cone; east is to the left, north up, as on the sky. When the
results spread over more than a hemisphere's worth of sky the plot switches to an all-sky
equirectangular map (RA 360 to 0 from left to right). No background image, no external
request, no licence question: the numbers come from the rows already on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from obsarchive.server.web.coords import format_dec, format_ra
from obsarchive.server.web.sphere import footprint_ring, mean_direction, unit_vector

__all__ = ["PlotShape", "SkyPlot", "sky_plot"]

SIZE = 300.0  # the SVG view box is SIZE x SIZE
MARGIN = 14.0
# Beyond this distance from the centre the tangent plane distorts too much: use the map.
GNOMONIC_LIMIT_DEG = 60.0
MIN_VISIBLE = 4.0  # view-box units


@dataclass(frozen=True)
class PlotShape:
    """One frame's footprint: SVG ``points`` strings (several when a map wraps in RA)."""

    frame_id: int
    label: str
    polygons: tuple[str, ...]
    # A dot where the footprint is too small to see at the plot's scale.
    marker: tuple[float, float] | None = None


@dataclass(frozen=True)
class SkyPlot:
    """What the template draws."""

    mode: str  # "tangent" or "allsky"
    shapes: tuple[PlotShape, ...]
    centre_label: str
    scale_label: str
    scale_length: float  # of the scale bar, in view-box units
    circle: tuple[float, float, float] | None = None  # cx, cy, r of the search cone
    centre: tuple[float, float] = (SIZE / 2, SIZE / 2)
    grid: tuple[tuple[float, float, float, float], ...] = field(default_factory=tuple)
    size: float = SIZE


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _ring(area: Any) -> list[tuple[float, float]]:
    # Wrapped RA: the all-sky projection places x by RA in [0, 360).
    return [(ra % 360.0, dec) for ra, dec in footprint_ring(area)]


def _nice_angle(limit: float) -> float:
    """The largest 1/2/5 x 10^k angle (degrees) not above ``limit``."""
    if limit <= 0:
        return 0.0
    exponent = math.floor(math.log10(limit))
    for step in (5.0, 2.0, 1.0):
        value = step * 10**exponent
        if value <= limit:
            return value
    return 10**exponent


def _angle_label(degrees: float) -> str:
    if degrees >= 1:
        return f"{degrees:g}°"
    if degrees * 60 >= 1:
        return f"{degrees * 60:g}\u2032"
    return f"{degrees * 3600:g}\u2033"


def _points(coords: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)


def _marker(coords: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The centre of a polygon smaller than a few view-box units, else None."""
    xs = [x for x, _ in coords]
    ys = [y for _, y in coords]
    if max(xs) - min(xs) >= MIN_VISIBLE or max(ys) - min(ys) >= MIN_VISIBLE:
        return None
    return sum(xs) / len(xs), sum(ys) / len(ys)


def _tangent(
    rings: list[tuple[int, str, list[tuple[float, float]]]],
    centre: tuple[float, float],
    cone: tuple[float, float, float] | None,
) -> SkyPlot:
    c = unit_vector(*centre)
    ra0, dec0 = math.radians(centre[0]), math.radians(centre[1])
    east = (-math.sin(ra0), math.cos(ra0), 0.0)
    north = (-math.sin(dec0) * math.cos(ra0), -math.sin(dec0) * math.sin(ra0), math.cos(dec0))

    def project(ra: float, dec: float) -> tuple[float, float]:
        p = unit_vector(ra, dec)
        w = max(_dot(p, c), 1e-6)
        return math.degrees(_dot(p, east) / w), math.degrees(_dot(p, north) / w)

    projected = [(fid, label, [project(ra, dec) for ra, dec in ring]) for fid, label, ring in rings]
    extent = max((max(abs(x), abs(y)) for _, _, pts in projected for x, y in pts), default=0.0)
    if cone is not None:
        extent = max(extent, math.degrees(math.tan(math.radians(min(cone[2], 80.0)))))
    extent = max(extent, 1.0 / 60.0) * 1.1  # at least an arcminute, plus a little air
    scale = (SIZE / 2 - MARGIN) / extent

    def to_svg(x: float, y: float) -> tuple[float, float]:
        # East is left on the sky: x grows to the east, so it is mirrored.
        return SIZE / 2 - x * scale, SIZE / 2 - y * scale

    shapes = []
    for fid, label, pts in projected:
        coords = [to_svg(x, y) for x, y in pts]
        shapes.append(
            PlotShape(
                frame_id=fid, label=label, polygons=(_points(coords),), marker=_marker(coords)
            )
        )
    circle = None
    if cone is not None:
        radius = math.degrees(math.tan(math.radians(min(cone[2], 80.0)))) * scale
        cx, cy = to_svg(*project(cone[0], cone[1]))
        circle = (cx, cy, radius)
    bar = _nice_angle(extent * 0.6)
    return SkyPlot(
        mode="tangent",
        shapes=tuple(shapes),
        centre_label=f"centre {format_ra(centre[0])} {format_dec(centre[1])}",
        scale_label=_angle_label(bar),
        scale_length=bar * scale,
        circle=circle,
    )


def _allsky(rings: list[tuple[int, str, list[tuple[float, float]]]]) -> SkyPlot:
    width = SIZE - 2 * MARGIN
    height = width / 2
    top = (SIZE - height) / 2

    def to_svg(ra: float, dec: float) -> tuple[float, float]:
        return MARGIN + (360.0 - ra) / 360.0 * width, top + (90.0 - dec) / 180.0 * height

    shapes = []
    for fid, label, ring in rings:
        # Unwrap RA along the ring so a footprint across RA = 0 stays in one piece, then draw
        # the copies shifted by 360 degrees that the map edges cut.
        unwrapped = [ring[0]]
        for ra, dec in ring[1:]:
            previous = unwrapped[-1][0]
            ra += 360.0 * round((previous - ra) / 360.0)
            unwrapped.append((ra, dec))
        low = min(ra for ra, _ in unwrapped)
        high = max(ra for ra, _ in unwrapped)
        copies = [0.0]
        if low < 0:
            copies.append(360.0)
        if high >= 360:
            copies.append(-360.0)
        shifted = [[to_svg(ra + shift, dec) for ra, dec in unwrapped] for shift in copies]
        shapes.append(
            PlotShape(
                frame_id=fid,
                label=label,
                polygons=tuple(_points(coords) for coords in shifted),
                marker=_marker(shifted[0]),
            )
        )
    grid = []
    for ra in range(0, 361, 60):
        x, _ = to_svg(ra, 0)
        grid.append((x, top, x, top + height))
    for dec in range(-60, 61, 30):
        _, y = to_svg(0, dec)
        grid.append((MARGIN, y, MARGIN + width, y))
    return SkyPlot(
        mode="allsky",
        shapes=tuple(shapes),
        centre_label="whole sky, RA 360° to 0° left to right",
        scale_label="60°",
        scale_length=width / 6,
        centre=(SIZE / 2, SIZE / 2),
        grid=tuple(grid),
    )


def sky_plot(
    rows: Sequence[dict[str, Any]], cone: tuple[float, float, float] | None = None
) -> SkyPlot | None:
    """The plot of the footprints (``area``) of ``rows``; None when nothing can be drawn.

    Parameters
    ----------
    rows
        Frame rows with ``id``, ``basename`` and a GeoJSON ``area`` (rows without are skipped).
    cone
        The search cone (ra, dec, radius in degrees), drawn and used as the centre.
    """
    rings = [
        (int(row["id"]), str(row.get("basename", "")), ring)
        for row in rows
        if (ring := _ring(row.get("area")))
    ]
    if not rings and cone is None:
        return None
    if cone is not None:
        centre = (cone[0] % 360.0, cone[1])
    else:
        # Footprints spread so evenly that they cancel out have no centre: look at (0, 0).
        centre = mean_direction(point for _, _, ring in rings for point in ring) or (0.0, 0.0)
    c = unit_vector(*centre)
    widest = max(
        (
            math.degrees(math.acos(max(-1.0, min(1.0, _dot(unit_vector(ra, dec), c)))))
            for _, _, ring in rings
            for ra, dec in ring
        ),
        default=0.0,
    )
    if widest > GNOMONIC_LIMIT_DEG or (cone is not None and cone[2] > GNOMONIC_LIMIT_DEG):
        return _allsky(rings)
    return _tangent(rings, centre, cone)
