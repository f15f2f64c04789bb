"""Las Cumbres Observatory header repairs (upstream ``LcoFitsFile``), as pure functions.

LCO names carry information the headers sometimes lack: ``cpt1m010-kb70-20151219-0073-e10``
is site+telescope, instrument, night, frame number, then a type letter and the reduction
level. These functions infer the configuration type, the reduction level, catalogue links and
bad-pixel-mask status from names and headers, exactly by the upstream rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obsarchive.config import HeaderKeys

__all__ = [
    "CATALOGUE_MARKER",
    "infer_configuration_type",
    "infer_reduction_level",
    "is_bpm",
    "needs_configuration_type",
    "repair_catalogue",
]

CATALOGUE_MARKER = "_cat"

# The type letter (first character of the fifth dash field) → OBSTYPE.
_LETTER_TYPES = {
    "b": "BIAS",
    "d": "DARK",
    "f": "SKYFLAT",
    "g": "GUIDE",
    "s": "STANDARD",
    "w": "LAMPFLAT",
    "x": "EXPERIMENTAL",
}


def repair_catalogue(headers: Mapping[str, Any], basename: str, keys: HeaderKeys) -> dict[str, Any]:
    """For a ``…_cat`` product: link it to its frame (``L1IDCAT``) and set ``OBSTYPE=CATALOG``."""
    result = dict(headers)
    if CATALOGUE_MARKER in basename:
        if not result.get(keys.catalog_target_frame):
            result[keys.catalog_target_frame] = basename.replace(CATALOGUE_MARKER, "")
        result[keys.configuration_type] = "CATALOG"
    return result


def needs_configuration_type(headers: Mapping[str, Any], keys: HeaderKeys) -> bool:
    """True when ``OBSTYPE`` is empty, null or ``UNKNOWN`` and must be inferred."""
    value = headers.get(keys.configuration_type)
    return not value or str(value).strip() == "UNKNOWN"


def infer_configuration_type(
    basename: str, headers: Mapping[str, Any], keys: HeaderKeys
) -> str | None:
    """The configuration type an LCO basename implies, or ``None`` when it implies none.

    Examples
    --------
    >>> from obsarchive.config import HeaderKeys
    >>> infer_configuration_type("tst1m005-en20-20150511-1234-e00", {}, HeaderKeys())
    'SPECTRUM'
    >>> infer_configuration_type("tst1m005-fa10-20150511-1234-w00", {}, HeaderKeys())
    'LAMPFLAT'
    """
    parts = basename.split("-")
    if len(parts) < 5 or not parts[4]:
        return None
    letter = parts[4][0]
    # NRES: the enclosure is an "igloo" (ENCID igla) or the telescope id says so.
    nres = "igl" in str(headers.get("ENCID") or "") or "igl" in str(
        headers.get(keys.telescope_id) or ""
    )
    if parts[0] == "trace":
        return "TRACE"
    if parts[0] == "arc":
        return "ARC"
    if parts[3] == "bias":
        return "BIAS"
    if parts[3] == "bpm":
        return "BPM"
    if letter == "e":
        if nres:
            return "TARGET"
        return "SPECTRUM" if "en" in parts[1] else "EXPOSE"
    if letter == "a":
        return "DOUBLE" if nres else "ARC"
    return _LETTER_TYPES.get(letter)


def infer_reduction_level(basename: str, extension: str) -> int:
    """The reduction level an LCO name implies: ``.tar.gz`` → 90, else its last two digits.

    ``…-e91_cat`` → 91, ``…-e00`` → 0; a name that does not end in two ASCII digits → 0.
    """
    if extension == ".tar.gz":
        return 90
    digits = basename.replace(CATALOGUE_MARKER, "")[-2:]
    if len(digits) == 2 and digits.isascii() and digits.isdigit():
        return int(digits)
    return 0


def is_bpm(basename: str, headers: Mapping[str, Any], keys: HeaderKeys) -> bool:
    """True for a bad-pixel mask: ``OBSTYPE=BPM``, ``EXTNAME=BPM`` or a ``bpm`` name field."""
    if headers.get(keys.configuration_type) == "BPM" or headers.get("EXTNAME") == "BPM":
        return True
    name = basename.replace("_", "-")
    return name.startswith("bpm-") or "-bpm-" in name or name.endswith("-bpm")
