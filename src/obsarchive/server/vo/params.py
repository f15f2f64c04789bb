"""DALI request parameters: case-insensitive names, repeated values, intervals, MAXREC.

DALI 1.1 section 3: parameter names are case-insensitive, values are not; a parameter may be
repeated; GET query strings and POSTed forms are equivalent. Numbers follow DALI/VOTable
syntax, including ``inf``, ``+Inf``, ``-Inf`` (pyvo sends lower-case ``inf``) and exponents.
Errors are :class:`ParameterError`; each protocol maps it to its own fault word (SIA and
DataLink ``UsageFault``, SODA ``UsageError`` / ``MultiValuedParamNotSupported``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from django.http import HttpRequest

__all__ = [
    "MultipleValuesError",
    "ParameterError",
    "VoParams",
    "parse_interval",
    "parse_maxrec",
    "parse_number",
    "response_format",
]

# A DALI/VOTable real: digits with optional fraction and exponent, or an infinity. Stricter
# than float(), which would also accept "1_000", "nan" and surrounding whitespace.
_NUMBER = re.compile(
    r"^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?)$",
    re.IGNORECASE | re.ASCII,
)
_INTEGER = re.compile(r"^\+?[0-9]{1,18}$", re.ASCII)
# MIME types naming a VOTable; a MIME parameter (";content=datalink") is ignored.
_VOTABLE_FORMATS = ("votable", "application/x-votable+xml", "text/xml")
_MAX_VALUE_LENGTH = 100_000


class ParameterError(ValueError):
    """A parameter value is malformed; the message is meant for the caller."""


class MultipleValuesError(ParameterError):
    """A single-valued parameter was given more than once."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} must be given at most once")


class VoParams:
    """The parameters of one request: names upper-cased, values in order, empty ones dropped.

    Empty values (``POS=``) are treated as absent, as the archive's other search parameters
    are: web forms send them for fields left blank.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            if value.strip() == "":
                continue
            self._values.setdefault(name.upper(), []).append(value)

    @classmethod
    def from_request(cls, request: HttpRequest) -> VoParams:
        """GET query parameters, then (for POST) the form body's, as one parameter list."""
        pairs = [(name, value) for name, values in request.GET.lists() for value in values]
        if request.method == "POST":
            pairs += [(name, value) for name, values in request.POST.lists() for value in values]
        return cls(pairs)

    def __contains__(self, name: str) -> bool:
        return name.upper() in self._values

    def names(self) -> set[str]:
        return set(self._values)

    def values(self, name: str) -> list[str]:
        """Every value of ``name`` (any case), in request order."""
        return list(self._values.get(name.upper(), ()))

    def single(self, name: str) -> str | None:
        """The value of a single-valued parameter, or None.

        Raises
        ------
        MultipleValuesError
            The parameter was given more than once.
        """
        values = self.values(name)
        if len(values) > 1:
            raise MultipleValuesError(name.upper())
        return values[0] if values else None


def parse_number(text: str, what: str) -> float:
    """A DALI real (infinities allowed, NaN refused)."""
    word = text.strip()
    if len(word) > 64 or not _NUMBER.match(word):
        raise ParameterError(f"{what}: {text[:64]!r} is not a number")
    return float(word)


def parse_interval(text: str, name: str) -> tuple[float, float]:
    """A DALI interval ``lower upper`` or a single value ``v`` (meaning ``[v, v]``).

    Bounds are inclusive and may be infinite (``-inf 4e-7``).

    Raises
    ------
    ParameterError
        Not one or two numbers, or ``lower > upper``.
    """
    if len(text) > _MAX_VALUE_LENGTH:
        raise ParameterError(f"{name} value is too long")
    words = text.split()
    if len(words) not in (1, 2):
        raise ParameterError(f"{name} must be an interval 'lower upper' or a single value")
    numbers = [parse_number(word, name) for word in words]
    low, high = (numbers[0], numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    if len(numbers) == 1 and math.isinf(low):
        raise ParameterError(f"{name}: a single value must be finite")
    if low > high:
        raise ParameterError(f"{name}: the lower bound {words[0]} exceeds the upper bound")
    return low, high


def parse_maxrec(text: str | None, default: int, limit: int) -> tuple[int, bool]:
    """The row limit and whether the caller chose it (MAXREC above ``limit`` is ``limit``).

    Raises
    ------
    ParameterError
        Not a non-negative integer.
    """
    if text is None:
        return default, False
    word = text.strip()
    if not _INTEGER.match(word):
        raise ParameterError(f"MAXREC must be a non-negative integer, not {text[:32]!r}")
    return min(int(word), limit), True


def response_format(text: str | None) -> bool:
    """Whether RESPONSEFORMAT asks for a VOTable (absent, ``votable`` or its MIME types)."""
    if text is None:
        return True
    kind = text.split(";", 1)[0].strip().lower()
    return kind in _VOTABLE_FORMATS
