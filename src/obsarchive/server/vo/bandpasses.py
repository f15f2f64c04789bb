"""The filter table: ObsCore ``em_min``/``em_max`` for each filter name (data, not code).

The archive stores a filter *name* per frame (FITS ``FILTER``, column
``primary_optical_element``); ObsCore and SIA ``BAND`` need the wavelength range it passes.
The table ships with approximate limits for the LCO broadband filters
(``data/filters.csv``) and can be replaced with ``VO_FILTER_TABLE``. Names match exactly and
case-sensitively (``I`` is Cousins I, ``ip`` is SDSS i'); an unknown name has no range, so a
``BAND`` constraint never matches it -- a guess would be worse than no answer.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["Bandpass", "BandpassTable", "FilterTableError", "load_bandpasses"]

_SHIPPED = "filters.csv"
_COLUMNS = ("name", "em_min_nm", "em_max_nm")


class FilterTableError(ValueError):
    """The filter table cannot be read or has a malformed row; the message says where."""


@dataclass(frozen=True)
class Bandpass:
    """One filter: its name and vacuum wavelength limits in metres."""

    name: str
    em_min: float
    em_max: float
    description: str = ""


class BandpassTable:
    """Filter names to wavelength ranges.

    Parameters
    ----------
    bandpasses
        The rows; names must be unique.
    source
        Where they came from (for messages).
    """

    def __init__(self, bandpasses: Iterable[Bandpass], source: str = "") -> None:
        self._by_name: dict[str, Bandpass] = {}
        for bandpass in bandpasses:
            if bandpass.name in self._by_name:
                raise FilterTableError(f"{source}: filter {bandpass.name!r} is listed twice")
            self._by_name[bandpass.name] = bandpass
        self.source = source

    def __iter__(self) -> Iterator[Bandpass]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def bounds(self, name: str | None) -> tuple[float, float] | None:
        """``(em_min, em_max)`` in metres for a filter name, or None when it is not listed."""
        bandpass = self._by_name.get(name or "")
        return None if bandpass is None else (bandpass.em_min, bandpass.em_max)

    def overlapping(self, low: float, high: float) -> list[str]:
        """Names whose range overlaps ``[low, high]`` metres (bounds inclusive, may be inf)."""
        return sorted(b.name for b in self if b.em_min <= high and low <= b.em_max)


def _number(value: str, where: str, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FilterTableError(f"{where}: {column} {value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise FilterTableError(f"{where}: {column} must be a positive number, not {value!r}")
    return number


def _parse(lines: Iterable[str], source: str) -> BandpassTable:
    content = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(content)
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise FilterTableError(f"{source}: missing column(s) {', '.join(missing)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        where = f"{source}, data row {number - 1}"
        name = (row.get("name") or "").strip()
        if not name:
            raise FilterTableError(f"{where}: empty filter name")
        low = _number((row.get("em_min_nm") or "").strip(), where, "em_min_nm")
        high = _number((row.get("em_max_nm") or "").strip(), where, "em_max_nm")
        if not low < high:
            raise FilterTableError(f"{where}: em_min_nm must be below em_max_nm")
        rows.append(
            Bandpass(
                name=name,
                em_min=low * 1e-9,
                em_max=high * 1e-9,
                description=(row.get("description") or "").strip(),
            )
        )
    return BandpassTable(rows, source)


@functools.cache
def load_bandpasses(path: Path | None = None) -> BandpassTable:
    """Read a filter table (CSV: ``name,em_min_nm,em_max_nm[,description]``; ``#`` comments).

    Parameters
    ----------
    path
        A CSV file; ``None`` reads the table shipped with obsarchive.

    Raises
    ------
    FilterTableError
        Unreadable file, missing columns, duplicate names or bad numbers.
    """
    if path is None:
        text = resources.files("obsarchive.server.vo").joinpath("data", _SHIPPED).read_text()
        return _parse(text.splitlines(), f"obsarchive:{_SHIPPED}")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return _parse(handle.read().splitlines(), str(path))
    except OSError as exc:
        raise FilterTableError(f"{path}: cannot read the filter table ({exc})") from exc
