"""Header normalisation and the header → archive-field mapping, as pure functions.

Every function takes a header mapping and returns a new dict (or a value); nothing is mutated,
so the caller's metadata is never changed and each step can be tested on its own. The rules are
the OCS ones (``ocs_archive`` ``FitsFile`` and ``HeaderData``); the header keywords come from
:class:`obsarchive.config.HeaderKeys` so that every one of them stays configurable.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from obsarchive.config import HeaderKeys
from obsarchive.products.names import split_name

__all__ = [
    "frame_fields",
    "is_set",
    "json_safe",
    "missing_keys",
    "normalise_null_values",
    "normalise_related_frames",
    "parse_reduction_level",
    "related_frames",
    "remove_blacklisted",
    "repair_observation_day",
]


def is_set(value: Any) -> bool:
    """The OCS "header is set" test: neither ``None`` nor ``''`` (``0`` and ``False`` are set)."""
    return value is not None and not (isinstance(value, str) and value == "")


def json_safe(value: Any) -> Any:
    """Turn one header or metadata value into a JSON-serialisable scalar.

    astropy's undefined values become ``None``; NaN and infinities (which JSON cannot carry)
    become ``None``; commentary cards (``COMMENT``, ``HISTORY``, blank keys) become their
    lines joined with newlines; dates become ISO strings; complex numbers and anything else
    unknown become their ``str``.
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if type(value).__name__ == "Undefined":  # astropy.io.fits.card.Undefined
        return None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return json_safe(item())
    if isinstance(value, Iterable) and type(value).__name__ == "_HeaderCommentaryCards":
        return "\n".join(str(line) for line in value)
    return str(value)


def missing_keys(headers: Mapping[str, Any], required: Iterable[str]) -> list[str]:
    """The required keys absent from ``headers`` (presence only: empty values count as present)."""
    return [key for key in required if key not in headers]


def repair_observation_day(headers: Mapping[str, Any], keys: HeaderKeys) -> dict[str, Any]:
    """Fill an empty ``DAY-OBS`` from ``DATE-OBS``'s date: ``2020-01-31T…`` gives ``20200131``.

    Upstream splits only at ``T``; a space-separated ``DATE-OBS`` is split at the space too, so
    the day never contains the time (docs/compatibility.md).
    """
    result = dict(headers)
    day = result.get(keys.observation_day)
    date = result.get(keys.observation_date)
    if not day and date:
        date_part = str(date).split("T", 1)[0].split(" ", 1)[0]
        result[keys.observation_day] = date_part.replace("-", "")
    return result


def remove_blacklisted(headers: Mapping[str, Any], blacklist: Iterable[str]) -> dict[str, Any]:
    """Drop the blacklisted keys; the blank key ``''`` (blank cards) is always dropped."""
    dropped = {"", *blacklist}
    return {key: value for key, value in headers.items() if key not in dropped}


def normalise_null_values(
    headers: Mapping[str, Any], null_values: Sequence[str], integer_keys: Sequence[str]
) -> dict[str, Any]:
    """Replace the OCS null markers (``N/A``, ``UNSPECIFIED``, ``UNKNOWN``).

    A value equal to a null marker becomes ``None`` for the integer-typed keys (``REQNUM``,
    ``TRACKNUM``, ``BLKUID``, ``MOLUID``) and ``''`` otherwise; an integer-typed value whose
    text contains ``NONE`` in any case also becomes ``None`` (upstream's rule, kept as is).
    """
    integer = set(integer_keys)
    nulls = set(null_values)
    result: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, str) and value in nulls:
            result[key] = None if key in integer else ""
        elif key in integer and value is not None and "NONE" in str(value).upper():
            result[key] = None
        else:
            result[key] = value
    return result


def normalise_related_frames(
    headers: Mapping[str, Any], related_keys: Sequence[str]
) -> dict[str, Any]:
    """Reduce related-frame values to basenames: ``/a/b/bias_x.fits.fz`` → ``bias_x``.

    A value without an extension is kept unchanged, directory included (upstream's rule).
    """
    result = dict(headers)
    for key in related_keys:
        value = result.get(key)
        if not value or value == "N/A" or not isinstance(value, str):
            continue
        basename, extension = split_name(value)
        if extension:
            result[key] = basename
    return result


def related_frames(headers: Mapping[str, Any], related_keys: Sequence[str]) -> tuple[str, ...]:
    """The truthy related-frame values, in key order (no de-duplication, as upstream)."""
    return tuple(
        value if isinstance(value, str) else str(value)
        for key in related_keys
        if (value := headers.get(key))
    )


def parse_reduction_level(value: Any) -> int:
    """The reduction level as an ``int``.

    Raises
    ------
    ValueError
        The value is missing, empty, a bool, a non-integral number or non-numeric text.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def frame_fields(
    headers: Mapping[str, Any], keys: HeaderKeys, related_keys: Sequence[str]
) -> dict[str, Any]:
    """The archive fields read from the headers (upstream ``get_archive_frame_data``).

    ``reduction_level`` is not included: it needs validation, see :func:`parse_reduction_level`.
    """
    return {
        "observation_day": headers.get(keys.observation_day),
        "observation_date": headers.get(keys.observation_date),
        "proposal_id": headers.get(keys.proposal_id, ""),
        "instrument_id": headers.get(keys.instrument_id, ""),
        "target_name": headers.get(keys.target_name, ""),
        "site_id": headers.get(keys.site_id, ""),
        "telescope_id": headers.get(keys.telescope_id, ""),
        "exposure_time": headers.get(keys.exposure_time),
        "primary_optical_element": headers.get(keys.primary_optical_element, ""),
        "public_date": headers.get(keys.public_date),
        "configuration_type": headers.get(keys.configuration_type, ""),
        "observation_id": headers.get(keys.observation_id),
        "request_id": headers.get(keys.request_id),
        "related_frame_filenames": related_frames(headers, related_keys),
        "frame_basename": headers.get(keys.thumbnail_frame_basename),
        "size": headers.get(keys.thumbnail_size, ""),
    }
