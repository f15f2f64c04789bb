"""SIA 2.0 ``{query}``: parameters to frames (SIA 2.0 section 2, DALI 1.1 section 3).

Different parameters combine with AND, repeated values of one parameter with OR; a row whose
constrained column is NULL never matches. Constraints on stored columns become database
filters; ``POS`` goes through the frames API's sky index and exact refine
(:func:`obsarchive.server.frames.sky.matching_ids`), so SIA and ``/frames/`` agree on every
footprint; the few constraints on derived values (``FOV``, ``SPATRES`` and the exposure end
of ``TIME``) are checked on candidate rows in order, after a database pre-filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q, QuerySet

from obsarchive import sky
from obsarchive.server.frames.models import Frame
from obsarchive.server.frames.sky import id_in, matching_ids
from obsarchive.server.vo.bandpasses import BandpassTable
from obsarchive.server.vo.config import VoSettings
from obsarchive.server.vo.footprints import spatial_columns
from obsarchive.server.vo.obscore import (
    basename_from_did,
    calib_level_q,
    datetime_from_mjd,
    image_q,
    mjd,
    spatial_resolution,
)
from obsarchive.server.vo.params import ParameterError, VoParams, parse_interval
from obsarchive.server.vo.services import frames_by_basename

__all__ = ["SIA_PARAMETERS", "SiaQuery", "parse_query", "select_ids"]

#: The SIA 2.0 query parameters this service understands (others are ignored).
SIA_PARAMETERS = (
    "POS", "BAND", "TIME", "POL", "FOV", "SPATRES", "EXPTIME", "TIMERES", "SPECRP", "ID",
    "COLLECTION", "FACILITY", "INSTRUMENT", "DPTYPE", "CALIB", "TARGET", "FORMAT",
    "MAXREC", "RESPONSEFORMAT",
)  # fmt: skip
#: Candidates examined at most when a constraint must be checked row by row; beyond, the
#: result is cut and flagged OVERFLOW rather than scanning the whole archive.
SCAN_LIMIT = 100_000
# MJD of 0001-01-02 and 9999-12-30: bounds outside are beyond any storable date.
_MIN_MJD = -678_574.0
_MAX_MJD = 2_973_482.0
_SECONDS_PER_DAY = 86400.0
Interval = tuple[float, float]


@dataclass
class SiaQuery:
    """A validated SIA query: database conditions plus checks on derived values."""

    condition: Q = field(default_factory=Q)
    regions: list[Any] = field(default_factory=list)
    times: list[Interval] = field(default_factory=list)
    fov: list[Interval] = field(default_factory=list)
    spatres: list[Interval] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    nothing: bool = False

    @property
    def checks_rows(self) -> bool:
        """Whether rows must be checked one by one (derived-value constraints)."""
        return bool(self.times or self.fov or self.spatres)


def _intervals(params: VoParams, name: str) -> list[Interval]:
    return [parse_interval(value, name) for value in params.values(name)]


def _in_any(value: float | None, intervals: Iterable[Interval]) -> bool:
    return value is not None and any(low <= value <= high for low, high in intervals)


def _range_q(column: str, intervals: list[Interval]) -> Q:
    condition = Q(pk__in=[])
    for low, high in intervals:
        term = Q(**{f"{column}__isnull": False})
        if math.isfinite(low):
            term &= Q(**{f"{column}__gte": low})
        if math.isfinite(high):
            term &= Q(**{f"{column}__lte": high})
        condition |= term
    return condition


def _integers(params: VoParams, name: str) -> list[int]:
    values = []
    for text in params.values(name):
        word = text.strip()
        if not word.lstrip("+-").isdigit() or len(word) > 4:
            raise ParameterError(f"{name} must be an integer, not {text[:32]!r}")
        values.append(int(word))
    return values


def parse_query(params: VoParams, config: VoSettings, bandpasses: BandpassTable) -> SiaQuery:
    """Validate the SIA parameters of a request.

    Raises
    ------
    ParameterError
        A malformed value (the message names the parameter).
    """
    query = SiaQuery()
    condition = Q()

    for text in params.values("POS"):
        try:
            query.regions.append(sky.parse_pos(text))
        except sky.SkyGeometryError as exc:
            raise ParameterError(f"POS: {exc}") from exc

    bands = _intervals(params, "BAND")
    if bands:
        names: set[str] = set()
        for low, high in bands:
            names.update(bandpasses.overlapping(low, high))
        condition &= Q(primary_optical_element__in=sorted(names))

    for low, high in _intervals(params, "TIME"):
        query.times.append((low, high))

    exptimes = _intervals(params, "EXPTIME")
    if exptimes:
        condition &= _range_q("exposure_time", exptimes)
    query.fov = _intervals(params, "FOV")
    query.spatres = _intervals(params, "SPATRES")
    # Columns this archive never fills (t_resolution, em_res_power, pol_states): a valid
    # constraint on them matches nothing, as a NULL never matches.
    for name in ("TIMERES", "SPECRP"):
        if _intervals(params, name):
            query.nothing = True
    if params.values("POL"):
        query.nothing = True

    query.ids = params.values("ID")
    for name, column in (("INSTRUMENT", "instrument_id"), ("TARGET", "target_name")):
        values = params.values(name)
        if values:
            condition &= Q(**{f"{column}__in": values})
    collections = params.values("COLLECTION")
    if collections:
        condition &= config.collection_template.filter_q(collections)
    facilities = params.values("FACILITY")
    if facilities:
        condition &= config.facility_template.filter_q(facilities)
    dptypes = params.values("DPTYPE")
    if dptypes and "image" not in dptypes:
        query.nothing = True  # SIA serves images only
    formats = params.values("FORMAT")
    if formats and "application/fits" not in {f.strip().lower() for f in formats}:
        query.nothing = True
    levels = _integers(params, "CALIB")
    if levels:
        level_condition = Q(pk__in=[])
        for level in sorted(set(levels)):
            level_condition |= calib_level_q(level)
        condition &= level_condition
    query.condition = condition
    return query


def _moment(value: float) -> datetime | None:
    """An MJD bound as a datetime; None for a bound beyond any stored date (no limit)."""
    if math.isinf(value) or not _MIN_MJD < value < _MAX_MJD:
        return None
    return datetime_from_mjd(value)


def _time_prefilter(times: list[Interval]) -> Q:
    """A database filter containing every frame whose exposure overlaps one of ``times``."""
    longest: float | None = None
    condition = Q(pk__in=[])
    for low, high in times:
        if high < _MIN_MJD or low > _MAX_MJD:
            continue  # before the first or after the last representable date
        term = Q()
        end = _moment(high)
        if end is not None:
            term &= Q(observation_date__lte=end)
        start = _moment(low)
        if start is not None:
            if longest is None:
                # An exposure starting up to the longest exposure time before the interval
                # may still overlap it; the exact test runs on the rows. The archive-wide
                # maximum is an index lookup, and a larger window only costs a few rows.
                longest = float(
                    Frame.objects.aggregate(longest=Max("exposure_time"))["longest"] or 0
                )
            term &= Q(observation_date__gte=start - timedelta(seconds=max(longest, 0.0) + 1))
        if not term:
            return Q()
        condition |= term
    return condition


def _overlaps_time(
    observation_date: datetime, exposure: float | None, times: list[Interval]
) -> bool:
    start = mjd(observation_date)
    end = start + max(exposure or 0.0, 0.0) / _SECONDS_PER_DAY
    return any(start <= high and end >= low for low, high in times)


def _row_check(query: SiaQuery) -> Callable[[tuple[Any, ...]], bool]:
    def check(row: tuple[Any, ...]) -> bool:
        _pk, observation_date, exposure, area, fwhm, pixscale = row
        if query.times and not _overlaps_time(observation_date, exposure, query.times):
            return False
        if query.fov:
            # The same computation as the s_fov column, so a row matches its own value.
            spatial = spatial_columns([area])[0]
            size = None if spatial is None else spatial.s_fov
            if not _in_any(size, query.fov):
                return False
        return not query.spatres or _in_any(spatial_resolution(fwhm, pixscale), query.spatres)

    return check


def select_ids(
    query: SiaQuery, base: QuerySet[Frame], config: VoSettings, maxrec: int
) -> tuple[list[int], bool]:
    """Ids of the matching images in result order, at most ``maxrec``, and the overflow flag.

    ``base`` is :func:`~obsarchive.server.vo.services.vo_frames` of the caller. Results are
    ordered by start time, then frame id, so a truncated answer is reproducible.
    """
    if maxrec == 0:
        return [], True
    if query.nothing:
        return [], False
    queryset = base.filter(image_q(config.spectrographs)).filter(query.condition)
    if query.ids:
        names = [basename_from_did(config, did) for did in query.ids]
        frames = frames_by_basename(queryset, [n for n in names if n])
        queryset = queryset.filter(pk__in=sorted({f.pk for f in frames.values()}))
    if query.times:
        queryset = queryset.filter(_time_prefilter(query.times))
    if query.regions:
        found: set[int] = set()
        for region in query.regions:
            found.update(matching_ids(queryset, region))
        queryset = id_in(queryset, sorted(found))
    queryset = queryset.order_by("observation_date", "pk")
    if not query.checks_rows:
        ids = list(queryset.values_list("pk", flat=True)[: maxrec + 1])
        return ids[:maxrec], len(ids) > maxrec
    check = _row_check(query)
    candidates = queryset.values_list(
        "pk",
        "observation_date",
        "exposure_time",
        "area",
        "headers__data__L1FWHM",
        "headers__data__PIXSCALE",
    )
    selected: list[int] = []
    for examined, row in enumerate(candidates.iterator(chunk_size=500), start=1):
        if check(row):
            selected.append(row[0])
            if len(selected) > maxrec:
                return selected[:maxrec], True
        if examined >= SCAN_LIMIT:
            return selected, True
    return selected, False
