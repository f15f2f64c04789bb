"""Template helpers of the web interface."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def site_title() -> str:
    """The archive's name (``NAVBAR_TITLE_TEXT``, as the API's browsable pages use)."""
    return str(getattr(settings, "NAVBAR_TITLE_TEXT", "") or "Science Archive")


@register.filter
def field(row: dict[str, Any], key: str) -> Any:
    """``row[key]`` (templates cannot index by a variable)."""
    return row.get(key) if isinstance(row, dict) else None


@register.filter
def utc_text(value: Any) -> str:
    """An API date (``2026-01-15T03:00:00Z``) as ``2026-01-15 03:00:00``; "—" when empty."""
    if not value:
        return "—"
    text = str(value).replace("T", " ")
    return text[:-1] if text.endswith("Z") else text


@register.filter
def shown(value: Any) -> str:
    """A value for a table cell: "—" for missing values."""
    if value is None or value == "":
        return "—"
    return str(value)
