"""SODA 1.0 ``{sync}`` requests: parameters, authorisation and the filters an image can satisfy.

SODA's error words and codes differ from DALI's (SODA 1.0 section 5.2): errors are
``text/plain`` starting with ``UsageError``, ``MultiValuedParamNotSupported``,
``AuthenticationError``, ``AuthorizationError``, ``ServiceUnavailable`` or ``Error``. One
dataset and one region per request (multi-valued parameters are refused); a region without a
pixel in the dataset is a 204.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obsarchive import sky
from obsarchive.server.vo.params import (
    MultipleValuesError,
    ParameterError,
    VoParams,
    parse_interval,
)

__all__ = ["SodaError", "SodaRequest", "overlaps_filters", "parse_soda"]

_SHAPES = ("CIRCLE", "POLYGON", "POS")
_FITS_FORMATS = ("application/fits", "image/fits")


class SodaError(Exception):
    """A refused SODA request: HTTP ``status`` and the text/plain ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SodaRequest:
    """A validated cutout request."""

    id: str
    region: sky.Circle | sky.Polygon | sky.Range | None
    band: tuple[float, float] | None = None
    time: tuple[float, float] | None = None
    pol: tuple[str, ...] = ()
    expires: str = ""
    signature: str = ""


def _single(params: VoParams, name: str) -> str | None:
    try:
        return params.single(name)
    except MultipleValuesError as exc:
        raise SodaError(400, f"MultiValuedParamNotSupported: {exc.name}") from exc


def _region(name: str, text: str) -> sky.Circle | sky.Polygon | sky.Range:
    try:
        if name == "CIRCLE":
            return sky.parse_dali_circle(text)
        if name == "POLYGON":
            return sky.parse_dali_polygon(text)
        return sky.parse_pos(text)
    except sky.SkyGeometryError as exc:
        raise SodaError(400, f"UsageError: {name}: {exc}") from exc


def _interval(params: VoParams, name: str) -> tuple[float, float] | None:
    text = _single(params, name)
    if text is None:
        return None
    try:
        return parse_interval(text, name)
    except ParameterError as exc:
        raise SodaError(400, f"UsageError: {exc}") from exc


def parse_soda(params: VoParams) -> SodaRequest:
    """Validate the parameters of a SODA sync request.

    Raises
    ------
    SodaError
        400 ``UsageError`` (missing ID, malformed value, unsupported format) or
        ``MultiValuedParamNotSupported`` (a parameter given twice).
    """
    did = _single(params, "ID")
    if did is None:
        raise SodaError(400, "UsageError: the ID parameter is required")
    given = [name for name in _SHAPES if name in params]
    for name in given:
        _single(params, name)
    if len(given) > 1:
        raise SodaError(400, f"UsageError: give only one of {', '.join(_SHAPES)}")
    region = None
    if given:
        region = _region(given[0], params.values(given[0])[0])
    response_format = _single(params, "RESPONSEFORMAT")
    if response_format is not None:
        kind = response_format.split(";", 1)[0].strip().lower()
        if kind not in _FITS_FORMATS:
            raise SodaError(400, f"UsageError: RESPONSEFORMAT {response_format!r} is not supported")
    return SodaRequest(
        id=did,
        region=region,
        band=_interval(params, "BAND"),
        time=_interval(params, "TIME"),
        pol=tuple(params.values("POL")),
        expires=_single(params, "EXPIRES") or "",
        signature=_single(params, "SIGNATURE") or "",
    )


def overlaps_filters(request: SodaRequest, row: dict[str, Any]) -> bool:
    """Whether BAND, TIME and POL select the image (an imager's frame is all or nothing).

    ``row`` is the frame's ObsCore row; a NULL column never matches a constraint on it.
    """
    if request.band is not None:
        low, high = request.band
        em_min, em_max = row.get("em_min"), row.get("em_max")
        if em_min is None or em_max is None or not (em_min <= high and low <= em_max):
            return False
    if request.time is not None:
        low, high = request.time
        t_min, t_max = row.get("t_min"), row.get("t_max")
        if t_min is None or t_max is None or not (t_min <= high and low <= t_max):
            return False
    return not request.pol
