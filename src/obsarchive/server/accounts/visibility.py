"""Who may see which frames: the one place proprietary-data rules live.

Every read path (frame list, detail, headers, related, thumbnails, aggregate, zip and the
funpack/catalog routes) filters with :func:`visible_frames_q`, so the rules of reference §2.2 /
§3.4 are written once:

* superuser: every frame, including frames whose ``public_date`` is NULL;
* authenticated user (staff included — ``is_staff`` grants no extra visibility): frames of
  their proposals (any public date) **or** frames already public;
* anonymous: frames already public.

"Public" means ``public_date`` strictly earlier than *now*; a NULL ``public_date`` is never
public. The Q object only involves the ``proposal_id`` and ``public_date`` columns of
``Frame``; pass ``prefix`` to apply it across a relation (e.g. ``prefix="frame__"`` from
``Thumbnail``). Placeholder/version-less exclusions are the caller's business.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from django.db.models import Q

__all__ = ["is_superuser", "proposals_for", "visible_frames_q"]

# Attribute under which the proposal set is memoised on the user object. Django builds one user
# object per request (request.user), so this is a per-request cache with no global state.
_CACHE_ATTRIBUTE = "_obsarchive_proposals"


def is_superuser(user: Any) -> bool:
    """True for an active, authenticated superuser."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_superuser", False)
    )


def proposals_for(user: Any) -> frozenset[str]:
    """The proposal ids whose proprietary frames ``user`` may see.

    Local memberships (admin, ``obsarchive proposals``) united with the proposals the
    Observation Portal reports for the user when the portal integration is configured. The
    result is memoised on the user object, i.e. computed at most once per request.

    Parameters
    ----------
    user
        ``request.user``: a ``User`` or ``AnonymousUser`` (``None`` is treated as anonymous).

    Returns
    -------
    frozenset of str
        Empty for anonymous or inactive users.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if not getattr(user, "is_active", False):
        return frozenset()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if isinstance(cached, frozenset):
        return cached
    # Imported lazily: this module is imported by the frames app at load time and must not
    # pull models in before the app registry is ready.
    from obsarchive.server.accounts.services import load_proposals

    proposals = load_proposals(user)
    with contextlib.suppress(AttributeError):  # exotic user objects without __dict__
        setattr(user, _CACHE_ATTRIBUTE, proposals)
    return proposals


def forget_proposals(user: Any) -> None:
    """Drop the per-request memo (after memberships of ``user`` changed)."""
    if user is not None and hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def public_q(now: datetime, prefix: str = "") -> Q:
    """Frames already public at ``now`` (``public_date < now``; NULL is never public)."""
    return Q(**{f"{prefix}public_date__lt": now})


def visible_frames_q(user: Any, now: datetime, prefix: str = "") -> Q:
    """A filter selecting the frames ``user`` may see at ``now``.

    Parameters
    ----------
    user
        ``request.user`` (``User``, ``AnonymousUser`` or ``None``).
    now
        Timezone-aware current time (passed in so tests can freeze it).
    prefix
        Lookup prefix for use from a related model, e.g. ``"frame__"``.

    Returns
    -------
    django.db.models.Q
        An empty ``Q()`` (no restriction) for superusers.
    """
    if now.tzinfo is None:
        raise ValueError("visible_frames_q needs a timezone-aware 'now'")
    if is_superuser(user):
        return Q()
    visible = public_q(now, prefix)
    proposals = proposals_for(user)
    if proposals:
        visible |= Q(**{f"{prefix}proposal_id__in": sorted(proposals)})
    return visible
