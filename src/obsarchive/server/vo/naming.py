"""Name templates: ObsCore ``obs_collection`` and ``facility_name`` built from frame columns.

A template such as ``LCO {telescope_id} {site_id}`` renders a name for each frame, and SIA's
``COLLECTION``/``FACILITY`` constraints must find the frames whose rendered name equals a given
value. :meth:`NameTemplate.invert` turns a value back into every assignment of the columns that
renders to it (more than one when a column value may itself contain a separator), so the
search is an exact database filter instead of a scan.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from django.db.models import Q

__all__ = ["TEMPLATE_FIELDS", "NameTemplate", "TemplateError"]

#: Frame columns a template may use.
TEMPLATE_FIELDS = ("site_id", "telescope_id", "instrument_id")
# Inverting a value tries at most this many assignments (a pathological value/template pair
# could otherwise produce a combinatorial number of them).
_MAX_ASSIGNMENTS = 256


class TemplateError(ValueError):
    """A template uses an unknown field, a format specification or a conversion."""


@dataclass(frozen=True)
class _Part:
    literal: str
    field: str | None


class NameTemplate:
    """A ``str.format``-style template over :data:`TEMPLATE_FIELDS`.

    Parameters
    ----------
    text
        For example ``"LCO/{instrument_id}"``; a template without fields names everything
        with the same constant.

    Raises
    ------
    TemplateError
        Unknown fields, format specifications (``{site_id:>5}``) or conversions (``!r``).
    """

    def __init__(self, text: str) -> None:
        parts: list[_Part] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise TemplateError(f"malformed template {text!r}: {exc}") from exc
        for literal, field, spec, conversion in parsed:
            if field is not None:
                if field not in TEMPLATE_FIELDS:
                    allowed = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
                    raise TemplateError(f"unknown field {{{field}}} (allowed: {allowed})")
                if spec or conversion:
                    raise TemplateError(f"{{{field}}} must not carry a format or conversion")
            parts.append(_Part(literal, field))
        self.text = text
        self._parts = tuple(parts)

    def __repr__(self) -> str:
        return f"NameTemplate({self.text!r})"

    @property
    def fields(self) -> tuple[str, ...]:
        """The distinct fields used, in order of first use."""
        return tuple(dict.fromkeys(p.field for p in self._parts if p.field is not None))

    def render(self, values: Mapping[str, str]) -> str:
        """The name for a frame's column values (missing values render empty)."""
        return "".join(
            part.literal + ("" if part.field is None else str(values.get(part.field) or ""))
            for part in self._parts
        )

    def invert(self, value: str) -> list[dict[str, str]]:
        """Every assignment of the template's fields that renders exactly to ``value``."""
        found: list[dict[str, str]] = []
        for assignment in self._match(0, value, 0, {}):
            if assignment not in found:
                found.append(assignment)
            if len(found) >= _MAX_ASSIGNMENTS:
                break
        return found

    def _match(
        self, index: int, text: str, position: int, bound: dict[str, str]
    ) -> Iterator[dict[str, str]]:
        if index == len(self._parts):
            if position == len(text):
                yield dict(bound)
            return
        part = self._parts[index]
        if not text.startswith(part.literal, position):
            return
        position += len(part.literal)
        if part.field is None:
            yield from self._match(index + 1, text, position, bound)
            return
        if part.field in bound:
            # A field used twice must take the same value both times.
            known = bound[part.field]
            if text.startswith(known, position):
                yield from self._match(index + 1, text, position + len(known), bound)
            return
        following = self._parts[index + 1].literal if index + 1 < len(self._parts) else None
        if following is None:
            ends: list[int] = [len(text)]
        elif following == "":
            ends = list(range(position, len(text) + 1))
        else:
            ends = []
            start = text.find(following, position)
            while start != -1:
                ends.append(start)
                start = text.find(following, start + 1)
        for end in ends:
            bound[part.field] = text[position:end]
            yield from self._match(index + 1, text, end, bound)
            del bound[part.field]

    def filter_q(self, values: list[str], prefix: str = "") -> Q:
        """A filter matching frames whose rendered name is one of ``values`` (none: nothing)."""
        condition = Q(pk__in=[])
        for value in values:
            for assignment in self.invert(value):
                if not assignment:
                    # A constant template matched: every frame has this name. (Q() | x is x
                    # in Django, so it cannot simply be OR-ed in.)
                    return Q()
                condition |= Q(**{prefix + name: v for name, v in assignment.items()})
        return condition
