"""The sky index: HEALPix cells (nested scheme, NUNIQ numbers) for footprints and queries.

Storage
    :func:`index_cells` gives each footprint a handful of cells (at most ``max_cells``) as
    NUNIQ integers ``4 * 4**depth + ipix``: the cells of the finest depth, capped at
    :data:`INDEX_MAX_DEPTH`, whose multi-order coverage still fits the budget. Small footprints
    get fine cells, big ones coarse cells; together the cells always cover the footprint.

Query
    :func:`query_plan` turns a region into NUNIQ values and inclusive NUNIQ ranges. A stored
    footprint can intersect the region only if one of its cells is among the values or inside
    a range, so ``cell IN values OR cell BETWEEN lo AND hi ...`` over an indexed integer column
    finds every candidate on SQLite and PostgreSQL alike; :func:`obsarchive.sky.refine.refine`
    then decides exactly.

Why it has no false negatives: two nested HEALPix cells either nest or have disjoint
interiors. The plan covers a neighbourhood of the region with query cells ``Q`` (the region's
cells at a finer depth, grown by one ring of neighbours, then taken to their parents), and
lists every ancestor of a ``Q`` cell and every descendant down to :data:`INDEX_MAX_DEPTH`.
If a footprint meets the region at a point ``p``, a stored cell ``s`` contains ``p``; points of
``s``'s interior close to ``p`` lie in some ``q`` of ``Q``; so ``s`` and ``q`` nest, and ``s``
is in the plan. The ring of neighbours is what makes touching regions (and the last bits of
floating-point error in cell searches) safe.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested
from numpy.typing import ArrayLike, NDArray

from obsarchive.sky.geometry import Circle, Point, Polygon, Range, Region
from obsarchive.sky.vectors import angle_between, vectors_to_lonlat

__all__ = [
    "DEFAULT_MAX_TERMS",
    "INDEX_MAX_CELLS",
    "INDEX_MAX_DEPTH",
    "QueryPlan",
    "index_cells",
    "query_plan",
    "uniq",
    "uniq_depth",
    "uniq_to_depth_ipix",
]

#: Finest depth stored (cells of about 3.4 arcmin). Index and queries must agree on it.
INDEX_MAX_DEPTH = 10
#: Cell budget per stored footprint.
INDEX_MAX_CELLS = 16
#: Default budget of SQL terms (values + ranges) per query.
DEFAULT_MAX_TERMS = 256

# cdshealpix's approximate cone search drops cells for radii near 180 degrees (measured at
# 170); caps this large are treated as the whole sky, which is always correct.
_WIDEST_CONE = 120.0
# A query depth whose finer search would return more cells than this is not tried.
_MAX_FINE_CELLS = 300_000
_FINE_STEPS = 2  # the region is searched this many depths finer than the query depth
_SKY = 4.0 * math.pi
_U64 = np.uint64


def uniq(depth: int, ipix: int) -> int:
    """NUNIQ number of cell ``ipix`` at ``depth``: ``4 * 4**depth + ipix``."""
    if not 0 <= depth <= 29 or not 0 <= ipix < 12 * 4**depth:
        raise ValueError(f"no HEALPix cell {ipix} at depth {depth}")
    return 4 * 4**depth + ipix


def uniq_depth(value: int) -> int:
    """Depth of a NUNIQ number."""
    if value < 4:
        raise ValueError(f"{value} is not a NUNIQ number")
    return (int(value).bit_length() - 3) // 2


def uniq_to_depth_ipix(value: int) -> tuple[int, int]:
    """``(depth, ipix)`` of a NUNIQ number."""
    depth = uniq_depth(value)
    return depth, int(value) - 4 * 4**depth


@dataclass(frozen=True)
class QueryPlan:
    """Which stored NUNIQ cells can belong to footprints meeting a region.

    Attributes
    ----------
    uniq_values
        Sorted exact values (``cell IN (...)``).
    uniq_ranges
        Sorted, disjoint, inclusive ``(low, high)`` ranges (``cell BETWEEN low AND high``).
    depth
        The query depth chosen (0 for a whole-sky plan).
    """

    uniq_values: tuple[int, ...]
    uniq_ranges: tuple[tuple[int, int], ...]
    depth: int

    @property
    def term_count(self) -> int:
        """Number of SQL terms: one per value and one per range."""
        return len(self.uniq_values) + len(self.uniq_ranges)

    @property
    def whole_sky(self) -> bool:
        """True when the plan selects every cell of depths 0 to some depth (no restriction).

        Callers may then skip the cell filter altogether.
        """
        if self.uniq_values or len(self.uniq_ranges) != 1:
            return False
        low, high = self.uniq_ranges[0]
        end = high + 1  # one past the last cell of a depth d is 4 ** (d + 2)
        return low == 4 and end & (end - 1) == 0 and (end.bit_length() - 1) % 2 == 0

    def matches(self, cells: Iterable[int]) -> bool:
        """Whether any of a footprint's stored cells is selected by this plan."""
        values = set(self.uniq_values)
        lows = [low for low, _ in self.uniq_ranges]
        for cell in cells:
            if cell in values:
                return True
            position = bisect.bisect_right(lows, cell) - 1
            if position >= 0 and cell <= self.uniq_ranges[position][1]:
                return True
        return False

    @classmethod
    def everything(cls, max_depth: int = INDEX_MAX_DEPTH) -> QueryPlan:
        """The plan selecting every cell of depth 0 to ``max_depth``."""
        return cls((), ((4, 4 ** (max_depth + 2) - 1),), 0)


def index_cells(
    region: Region, *, max_cells: int = INDEX_MAX_CELLS, max_depth: int = INDEX_MAX_DEPTH
) -> list[int]:
    """NUNIQ cells to store for a footprint (or any region): they cover it completely.

    Parameters
    ----------
    region
        Normally a footprint :class:`Polygon`; points, circles and ranges work too.
    max_cells
        Cell budget; the finest depth (up to ``max_depth``) whose coverage fits is used.
    max_depth
        Finest depth; must equal the ``max_depth`` given to :func:`query_plan`.

    Returns
    -------
    list of int
        Sorted NUNIQ numbers, possibly of mixed depths (four sibling cells merge).
    """
    _check_depth(max_depth)
    if _is_whole_sky(region):
        return [uniq(0, i) for i in range(12)]
    if isinstance(region, Point):
        cell = nested.lonlat_to_healpix(*_lonlat(region.lon, region.lat), max_depth)
        return [uniq(max_depth, int(cell[0]))]
    depth = min(_start_depth(region), max_depth)
    best = _moc(region, depth)
    if len(best) <= max_cells:
        while depth < max_depth:
            finer = _moc(region, depth + 1)
            if len(finer) > max_cells:
                break
            best, depth = finer, depth + 1
    else:
        while depth > 0 and len(best) > max_cells:
            depth -= 1
            best = _moc(region, depth)
    return sorted(best)


def query_plan(
    region: Region, *, max_terms: int = DEFAULT_MAX_TERMS, max_depth: int = INDEX_MAX_DEPTH
) -> QueryPlan:
    """NUNIQ values and ranges selecting every footprint that may intersect ``region``.

    The query depth is chosen as fine as possible while the plan has at most ``max_terms``
    terms; when even depth 0 does not fit, the whole-sky plan is returned.

    Parameters
    ----------
    region
        A :class:`Point` (``covers``), :class:`Polygon`, :class:`Circle` or :class:`Range`.
    max_terms
        Budget of SQL terms (values + ranges).
    max_depth
        Finest stored depth; must equal the one used by :func:`index_cells`.
    """
    _check_depth(max_depth)
    if max_terms < 1:
        raise ValueError("max_terms must be positive")
    if _is_whole_sky(region):
        return QueryPlan.everything(max_depth)
    depth = _start_query_depth(region, max_terms, max_depth)
    best = _plan_at(region, depth, max_depth)
    if best is not None and best.term_count <= max_terms:
        while depth < max_depth:
            finer = _plan_at(region, depth + 1, max_depth)
            if finer is None or finer.term_count > max_terms:
                break
            best, depth = finer, depth + 1
        return best
    while depth > 0:
        depth -= 1
        plan = _plan_at(region, depth, max_depth)
        if plan is not None and plan.term_count <= max_terms:
            return plan
    return QueryPlan.everything(max_depth)


def _check_depth(max_depth: int) -> None:
    if not 0 <= max_depth <= 27:
        raise ValueError("max_depth must be within [0, 27]")


def _lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[Longitude, Latitude]:
    return Longitude(np.atleast_1d(lon) * u.deg), Latitude(np.atleast_1d(lat) * u.deg)


def _is_whole_sky(region: Region) -> bool:
    if isinstance(region, Circle):
        return region.radius > _WIDEST_CONE
    if isinstance(region, Range):
        box = region.box
        return box.full_longitude and box.lat_min <= -math.pi / 2 and box.lat_max >= math.pi / 2
    return False


def _size(region: Region) -> tuple[float, float]:
    """(area in steradians, perimeter in radians), for depth estimates only."""
    if isinstance(region, Point):
        return 0.0, 0.0
    if isinstance(region, Circle):
        r = region.radius_radians
        return 2.0 * math.pi * (1.0 - math.cos(r)), 2.0 * math.pi * math.sin(r)
    if isinstance(region, Polygon):
        v = region.vectors
        return region.area, float(angle_between(v, np.roll(v, -1, axis=0)).sum())
    box = region.box
    area = box.width * (math.sin(box.lat_max) - math.sin(box.lat_min))
    width = min(box.width, 2 * math.pi)
    perimeter = 2 * (box.lat_max - box.lat_min) + width * (
        math.cos(box.lat_min) + math.cos(box.lat_max)
    )
    return area, perimeter


def _cell_area(depth: int) -> float:
    return _SKY / (12 * 4**depth)


def _estimated_cells(region: Region, depth: int) -> float:
    area, perimeter = _size(region)
    side = math.sqrt(_cell_area(depth))
    return area / _cell_area(depth) + 2.0 * perimeter / side + 4.0


def _start_depth(region: Region) -> int:
    """A depth at which the region spans a few cells (the searches refine from there)."""
    area, _ = _size(region)
    if area <= 0:
        return 29
    depth = math.floor(math.log(_SKY / (12 * area), 4))
    return max(0, min(depth, 29))


def _start_query_depth(region: Region, max_terms: int, max_depth: int) -> int:
    """The deepest depth whose estimated term count fits (the search walks on from there).

    Terms come mostly from runs of boundary cells, each giving one range per finer depth;
    the constants were fitted on cones, boxes and footprints and are only a starting guess.
    """
    _, perimeter = _size(region)
    for depth in range(max_depth, 0, -1):
        boundary = perimeter / math.sqrt(_cell_area(depth)) + 1.0
        if 0.8 * boundary * (max_depth - depth + 1) + 2 * depth <= max_terms:
            return depth
    return 0


def _search(region: Region, depth: int, flat: bool) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
    """cdshealpix cells overlapping ``region`` at ``depth`` (flat or multi-order)."""
    if isinstance(region, Polygon) and region.is_degenerate:
        # cdshealpix needs a proper polygon; a slightly larger enclosing circle is safe.
        region = _fallback(region)
    if isinstance(region, Point):
        ipix = nested.lonlat_to_healpix(*_lonlat(region.lon, region.lat), depth)
        return ipix.astype(_U64), np.full(len(ipix), depth, dtype=np.uint8)
    if isinstance(region, Circle):
        lon, lat = _lonlat(region.lon, region.lat)
        ipix, depths, _ = nested.cone_search(
            lon[0], lat[0], region.radius * u.deg, depth, flat=flat
        )
    elif isinstance(region, Polygon):
        lon, lat = vectors_to_lonlat(region.vectors)
        ipix, depths, _ = nested.polygon_search(*_lonlat(lon, lat), depth, flat=flat)
    elif isinstance(region, Range):
        ipix, depths = _zone(region, depth, flat)
    else:
        raise TypeError(f"not a sky region: {region!r}")
    return np.asarray(ipix, dtype=_U64), np.asarray(depths, dtype=np.uint8)


def _zone(region: Range, depth: int, flat: bool) -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
    box = region.box
    if box.full_longitude:
        # cdshealpix reads lon_min > lon_max as "crosses longitude 0"; a single 0..360 zone
        # would be ambiguous, so the sky is split in two halves.
        spans = [(0.0, 180.0), (180.0, 360.0)]
    else:
        start = math.degrees(box.start)
        # Zero-width boxes (a meridian arc) get a sliver of width so that they are searched.
        spans = [(start, start + max(math.degrees(box.width), 1e-9))]
    lat_lo, lat_hi = math.degrees(box.lat_min), math.degrees(box.lat_max)
    if lat_hi - lat_lo < 1e-9:
        lat_lo, lat_hi = max(lat_lo - 1e-9, -90.0), min(lat_hi + 1e-9, 90.0)
    cells: list[NDArray[np.uint64]] = []
    depths: list[NDArray[np.uint8]] = []
    for lo, hi in spans:
        ipix, d, _ = nested.zone_search(
            Longitude(lo * u.deg),
            Latitude(lat_lo * u.deg),
            Longitude(hi * u.deg),
            Latitude(lat_hi * u.deg),
            depth,
            flat=flat,
        )
        cells.append(np.asarray(ipix, dtype=_U64))
        depths.append(np.asarray(d, dtype=np.uint8))
    return np.concatenate(cells), np.concatenate(depths)


def _to_uniq(ipix: NDArray[np.uint64], depths: NDArray[np.uint8]) -> NDArray[np.uint64]:
    return np.left_shift(_U64(4), 2 * depths.astype(_U64)) + ipix


def _moc(region: Region, depth: int) -> list[int]:
    ipix, depths = _search(region, depth, flat=False)
    if len(ipix) == 0:
        ipix, depths = _search(_fallback(region), depth, flat=True)
    return sorted({int(x) for x in _to_uniq(ipix, depths)})


def _fallback(region: Region) -> Region:
    """A region containing ``region`` for when a search returns no cell at all.

    That should not happen; if it ever does, a slightly larger circle keeps the index sound.
    """
    if isinstance(region, Polygon):
        cap = region.bounding_circle
        return Circle(cap.lon, cap.lat, min(cap.radius * 1.01 + 1e-6, 180.0))
    if isinstance(region, Circle):
        return Circle(region.lon, region.lat, min(region.radius * 1.01 + 1e-6, 180.0))
    if isinstance(region, Range):
        lon = math.degrees(region.box.start + region.box.width / 2)
        lat = math.degrees((region.box.lat_min + region.box.lat_max) / 2)
        return Circle(lon, lat, 90.0)
    return region


def _plan_at(region: Region, depth: int, max_depth: int) -> QueryPlan | None:
    fine = min(depth + _FINE_STEPS, 29)
    if _estimated_cells(region, fine) > _MAX_FINE_CELLS:
        return None
    cells, _ = _search(region, fine, flat=True)
    if len(cells) == 0:
        cells, _ = _search(_fallback(region), fine, flat=True)
    ring = nested.neighbours(cells, fine).ravel()  # includes the cells themselves
    ring = ring[ring >= 0].astype(_U64)
    query = np.unique(np.right_shift(ring, _U64(2 * (fine - depth))))
    return _plan_from_cells(query, depth, max_depth)


def _plan_from_cells(cells: NDArray[np.uint64], depth: int, max_depth: int) -> QueryPlan:
    """Plan for query cells (sorted, unique, all at ``depth``)."""
    query = cells.astype(np.int64)
    lows: list[NDArray[np.int64]] = []
    highs: list[NDArray[np.int64]] = []
    # The cells themselves and all their ancestors, as exact values.
    for level in range(depth + 1):
        ancestors = np.unique(np.right_shift(query, 2 * (depth - level))) + 4 * 4**level
        lows.append(ancestors)
        highs.append(ancestors)
    # Descendants: each run of consecutive cells maps to one contiguous range per finer depth.
    if depth < max_depth and len(query):
        breaks = np.flatnonzero(np.diff(query) != 1) + 1
        first = query[np.concatenate([[0], breaks])]
        last = query[np.concatenate([breaks - 1, [len(query) - 1]])]
        for level in range(depth + 1, max_depth + 1):
            shift = 2 * (level - depth)
            base = 4 * 4**level
            lows.append(base + np.left_shift(first, shift))
            highs.append(base + np.left_shift(last + 1, shift) - 1)
    low = np.concatenate(lows)
    high = np.concatenate(highs)
    order = np.argsort(low, kind="stable")
    low, high = low[order], high[order]
    # Merge overlapping or adjacent intervals: a new group starts where an interval begins
    # after everything before it has ended.
    reach = np.maximum.accumulate(high)
    starts = np.concatenate([[True], low[1:] > reach[:-1] + 1])
    group_low = low[starts]
    group_high = np.maximum.reduceat(high, np.flatnonzero(starts))
    single = group_low == group_high
    values = tuple(int(v) for v in group_low[single])
    ranges = tuple(
        (int(a), int(b)) for a, b in zip(group_low[~single], group_high[~single], strict=True)
    )
    return QueryPlan(values, ranges, depth)
