"""The base querysets of every frame read path: what a caller may see, and what is searchable.

``GET /frames/`` (list, detail, related) and the Virtual Observatory interfaces (``/vo/``)
start from these, so a frame is visible through one exactly when it is visible through the
other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from obsarchive.server.accounts.visibility import visible_frames_q
from obsarchive.server.frames.models import Frame, Version

__all__ = ["archived_frames", "searchable_frames", "visible_frames"]


def visible_frames(user: Any, now: datetime) -> QuerySet[Frame]:
    """Frames ``user`` may see at ``now``; never placeholders (frames without a date).

    Parameters
    ----------
    user
        ``request.user`` (``User``, ``AnonymousUser`` or ``None``).
    now
        Timezone-aware current time, one per request.
    """
    return Frame.objects.filter(observation_date__isnull=False).filter(visible_frames_q(user, now))


def searchable_frames(user: Any, now: datetime) -> QuerySet[Frame]:
    """Visible frames with at least one stored version: the rows of a frame search."""
    return visible_frames(user, now).filter(_has_version())


def archived_frames() -> QuerySet[Frame]:
    """Every frame with a date and a stored version, whoever may see it.

    For finding a frame before deciding what to tell the caller about it (e.g. a signed link
    standing in for the visibility check); never return its rows unchecked.
    """
    return Frame.objects.filter(observation_date__isnull=False).filter(_has_version())


def _has_version() -> Exists:
    return Exists(Version.objects.filter(frame=OuterRef("pk")))
