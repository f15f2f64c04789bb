"""The search page's query: the API's own parameters, cleaned and made canonical.

The address bar of ``/ui/`` always holds a query the API understands unchanged
(``/frames/?<same query>``): empty fields are dropped, RA/Dec typed in sexagesimal and radii
with units become degrees, and the page's own helpers (the name to resolve, the "public only"
choice) become API parameters or disappear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import QueryDict

from obsarchive.server.web.coords import (
    CoordinateError,
    format_degrees,
    parse_dec,
    parse_position,
    parse_ra,
    parse_radius,
)

__all__ = [
    "DEFAULT_RADIUS_DEG",
    "PAGE_PARAMETERS",
    "UI_PARAMETERS",
    "CanonicalQuery",
    "canonical_query",
    "encode",
    "same_query",
    "without",
]

#: Parameters only the page uses; never part of the canonical query.
UI_PARAMETERS = ("name", "resolve")
#: Paging and sorting: kept in the address, left out of downloads and exports.
PAGE_PARAMETERS = ("limit", "offset", "ordering", "cursor", "pagination_style")
#: The cone radius filled in when a name is resolved and no radius was given (6 arcmin).
DEFAULT_RADIUS_DEG = 0.1

# The visibility choice "public data only" has no boolean ``public`` value in the API (``true``
# means "all I may see"); the page maps it to the API's ``public_only`` filter.
PUBLIC_ONLY = "only"


@dataclass
class CanonicalQuery:
    """The cleaned query, field errors (parameter -> messages) and notes for the user."""

    params: QueryDict
    errors: dict[str, list[str]] = field(default_factory=dict)
    name: str = ""
    wants_resolution: bool = False

    @property
    def query_string(self) -> str:
        return encode(self.params)


def encode(params: QueryDict | Iterable[tuple[str, str]]) -> str:
    """A query string, keeping repeated keys in order."""
    if isinstance(params, QueryDict):
        return urlencode([(key, value) for key, values in params.lists() for value in values])
    pairs: list[tuple[str, str]] = list(params)
    return urlencode(pairs)


def without(params: QueryDict, *names: str, **replacements: str) -> QueryDict:
    """A copy of ``params`` without ``names`` and with ``replacements`` set (empty = drop)."""
    copy = params.copy()
    for name in names:
        copy.pop(name, None)
    for name, value in replacements.items():
        if value == "":
            copy.pop(name, None)
        else:
            copy[name] = value
    return copy


def same_query(a: QueryDict, b: QueryDict) -> bool:
    """Whether two queries hold the same parameters and values (order of keys ignored)."""
    return sorted(a.lists()) == sorted(b.lists())


def canonical_query(raw: QueryDict, *, default_limit: int | None = None) -> CanonicalQuery:
    """Clean a submitted search form into the API query it stands for.

    Returns the canonical parameters; a value that cannot be converted (an RA that is not an
    angle) is kept as typed and reported in ``errors`` under its parameter name. A ``limit``
    equal to ``default_limit`` (the API's default page size) is dropped: it changes nothing.
    """
    cleaned = QueryDict(mutable=True)
    for key, values in raw.lists():
        kept = [value.strip() for value in values if value.strip() != ""]
        if kept and key not in UI_PARAMETERS:
            cleaned.setlist(key, kept)
    result = CanonicalQuery(params=cleaned)
    result.name = raw.get("name", "").strip()
    result.wants_resolution = bool(result.name) and (
        raw.get("resolve", "") != "" or not (cleaned.get("ra") or cleaned.get("dec"))
    )

    if cleaned.get("public") == PUBLIC_ONLY:
        cleaned.pop("public")
        cleaned["public_only"] = "true"
    if cleaned.get("offset") in ("0", "-0"):
        cleaned.pop("offset")
    if default_limit is not None and cleaned.get("limit") == str(default_limit):
        cleaned.pop("limit")

    ra_text = cleaned.get("ra", "")
    if ra_text and not cleaned.get("dec", ""):
        try:
            ra, dec = parse_position(ra_text)
        except CoordinateError:
            pass
        else:
            cleaned["ra"], cleaned["dec"] = format_degrees(ra), format_degrees(dec)
    for name, parse in (("ra", parse_ra), ("dec", parse_dec), ("radius", parse_radius)):
        text = cleaned.get(name, "")
        if not text:
            continue
        try:
            cleaned[name] = format_degrees(parse(text))
        except CoordinateError as exc:
            result.errors.setdefault(name, []).append(str(exc))
    return result
