"""Account services: proposal membership, tokens and portal user synchronisation.

Views and commands call these functions; they hold the rules, the views only translate HTTP.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from rest_framework.authtoken.models import Token

from obsarchive.server.accounts.config import AccountSettings, current_account_settings
from obsarchive.server.accounts.models import Membership, Profile, Proposal
from obsarchive.server.accounts.portal import (
    PortalError,
    PortalProfile,
    PortalRejectedError,
    portal_client,
)

__all__ = [
    "AccountError",
    "MembershipChange",
    "UnknownUserError",
    "add_members",
    "ensure_user",
    "list_memberships",
    "load_proposals",
    "portal_proposals",
    "profile_of",
    "remove_members",
    "rotate_token",
    "token_for",
    "upsert_portal_user",
    "user_for_token_key",
]

logger = logging.getLogger(__name__)

# Upstream keeps an empty proposal list cached but re-asks the portal on every request; a short
# negative cache bounds that load while still picking up a new membership within a minute.
EMPTY_PROPOSALS_CACHE_SECONDS = 60


class AccountError(Exception):
    """Base of account-service errors."""


class UnknownUserError(AccountError):
    """A named user does not exist."""


def profile_of(user: Any) -> Profile:
    """The user's :class:`Profile`, created if a user predates the accounts app."""
    try:
        profile: Profile = user.archive_profile
        return profile
    except Profile.DoesNotExist:
        profile, _ = Profile.objects.get_or_create(user=user)
        return profile


def token_for(user: Any) -> Token:
    """The user's DRF token (created if missing)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def rotate_token(user: Any) -> Token:
    """Delete the user's DRF token and issue a new one (the portal api_token is unaffected)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def user_for_token_key(key: str) -> Any | None:
    """The user owning ``key`` as a DRF token or, failing that, as a portal API token."""
    if not key:
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is not None:
        return token.user
    profile = Profile.objects.select_related("user").filter(api_token=key).first()
    return profile.user if profile is not None else None


def _cache_key(user_id: int) -> str:
    return f"accounts:proposals:{user_id}"


def forget_cached_proposals(user_id: int) -> None:
    """Drop the cached portal proposals of a user."""
    cache.delete(_cache_key(user_id))


def portal_proposals(user: Any, settings: AccountSettings | None = None) -> frozenset[str]:
    """The proposals the Observation Portal lists for ``user`` (cached; empty when off).

    Asks the portal profile URL with the user's portal API token (or, lacking one, the last
    bearer seen). Portal failures are logged and give an empty set that is not cached.
    """
    config = settings or current_account_settings()
    if not config.portal_enabled:
        return frozenset()
    key = _cache_key(user.pk)
    cached = cache.get(key)
    if isinstance(cached, list | tuple | frozenset):
        return frozenset(cached)
    profile = profile_of(user)
    if profile.api_token:
        authorization = f"Token {profile.api_token}"
    elif profile.access_token:
        authorization = f"Bearer {profile.access_token}"
    else:
        return frozenset()
    try:
        portal = portal_client(config).profile(authorization)
    except PortalError as exc:
        logger.warning("no portal proposals for user %s: %s", user.pk, exc)
        return frozenset()
    proposals = frozenset(portal.proposals)
    ttl = config.proposals_cache_seconds if proposals else EMPTY_PROPOSALS_CACHE_SECONDS
    cache.set(key, sorted(proposals), ttl)
    return proposals


def load_proposals(user: Any) -> frozenset[str]:
    """Local memberships of ``user`` united with their portal proposals."""
    local = Membership.objects.filter(user_id=user.pk).values_list(
        "proposal__proposal_id", flat=True
    )
    return frozenset(local) | portal_proposals(user)


# --- portal users ----------------------------------------------------------------------------


def upsert_portal_user(
    portal: PortalProfile, *, access_token: str | None = None, password: str | None = None
) -> Any:
    """Create or update the local user described by a portal profile.

    Copies name, e-mail and the staff/superuser flags (the portal is authoritative for them),
    stores the portal API token and ``staff_view``, and optionally the bearer and a local
    password (so later password logins succeed without the portal).
    """
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model.objects.get_or_create(username=portal.username)
        user.first_name = portal.first_name
        user.last_name = portal.last_name
        user.email = portal.email
        user.is_staff = portal.is_staff
        user.is_superuser = portal.is_superuser
        if password is not None:
            user.set_password(password)
        user.save()
        profile = profile_of(user)
        profile.staff_view = portal.staff_view
        if portal.api_token:
            profile.api_token = portal.api_token
        if access_token is not None:
            profile.access_token = access_token[:255]
        profile.save()
    if portal.proposals:
        config = current_account_settings()
        cache.set(_cache_key(user.pk), sorted(portal.proposals), config.proposals_cache_seconds)
    return user


def _bearer_cache_key(bearer: str) -> str:
    return "accounts:bearer:" + hashlib.sha256(bearer.encode()).hexdigest()


def user_for_bearer(bearer: str, settings: AccountSettings | None = None) -> Any:
    """The local user for a portal OAuth bearer token, validated against the portal.

    Validations are cached for ``bearer_cache_seconds`` (upstream calls the portal on every
    request).

    Raises
    ------
    PortalRejectedError
        The portal does not know the token.
    PortalUnavailableError
        The portal could not be asked.
    """
    config = settings or current_account_settings()
    key = _bearer_cache_key(bearer)
    user_id = cache.get(key)
    if isinstance(user_id, int):
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            return user
    portal = portal_client(config).profile(f"Bearer {bearer}")
    user = upsert_portal_user(portal, access_token=bearer)
    if config.bearer_cache_seconds:
        cache.set(key, user.pk, config.bearer_cache_seconds)
    return user


def portal_password_login(username: str, password: str) -> Any | None:
    """Authenticate against the portal's OAuth password grant; the local user or ``None``."""
    config = current_account_settings()
    if not config.portal_login_enabled:
        return None
    client = portal_client(config)
    try:
        access_token = client.password_grant(username, password)
    except PortalRejectedError:
        return None
    except PortalError as exc:
        logger.warning("portal password login unavailable: %s", exc)
        return None
    try:
        portal = client.profile(f"Bearer {access_token}")
    except PortalError as exc:
        logger.warning("portal profile after password login failed: %s", exc)
        return None
    return upsert_portal_user(portal, access_token=access_token, password=password)


# --- memberships -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipChange:
    """Outcome of adding or removing members."""

    proposal_id: str
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


def ensure_user(username: str, *, superuser: bool = False, staff: bool = False) -> tuple[Any, bool]:
    """Get or create a user by name; raise the staff/superuser flags when asked.

    Returns the user and whether it was created. Flags are only ever raised, never lowered.
    """
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        changed = created
        if superuser and not (user.is_superuser and user.is_staff):
            user.is_superuser = True
            user.is_staff = True
            changed = True
        if staff and not user.is_staff:
            user.is_staff = True
            changed = True
        if created:
            user.set_unusable_password()
        if changed:
            user.save()
    return user, created


def _users(usernames: Iterable[str]) -> list[Any]:
    names = list(dict.fromkeys(usernames))
    found = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise UnknownUserError(f"no such user: {', '.join(missing)}")
    return [found[n] for n in names]


def add_members(proposal_id: str, usernames: Iterable[str]) -> MembershipChange:
    """Create the proposal if needed and make the named (existing) users members.

    Raises
    ------
    UnknownUserError
        A username does not exist (nothing is changed).
    """
    proposal_id = proposal_id.strip()
    if not proposal_id:
        raise AccountError("a proposal id must not be empty")
    users = _users(usernames)
    added: list[str] = []
    kept: list[str] = []
    with transaction.atomic():
        proposal, _ = Proposal.objects.get_or_create(proposal_id=proposal_id)
        for user in users:
            _, created = Membership.objects.get_or_create(user=user, proposal=proposal)
            (added if created else kept).append(user.username)
    return MembershipChange(proposal_id, tuple(added), tuple(kept))


def remove_members(proposal_id: str, usernames: Iterable[str]) -> MembershipChange:
    """Remove memberships; with no usernames, delete the proposal and all its memberships."""
    names = list(dict.fromkeys(usernames))
    with transaction.atomic():
        proposal = Proposal.objects.filter(proposal_id=proposal_id).first()
        if proposal is None:
            return MembershipChange(proposal_id, (), tuple(names))
        if not names:
            members = tuple(proposal.memberships.values_list("user__username", flat=True))
            proposal.delete()
            return MembershipChange(proposal_id, members, ())
        users = _users(names)
        removed: list[str] = []
        absent: list[str] = []
        for user in users:
            deleted, _ = Membership.objects.filter(user=user, proposal=proposal).delete()
            (removed if deleted else absent).append(user.username)
    return MembershipChange(proposal_id, tuple(removed), tuple(absent))


def list_memberships(proposal_id: str | None = None) -> dict[str, list[str]]:
    """Proposal id → sorted member usernames (all proposals, or just one)."""
    proposals = Proposal.objects.all()
    if proposal_id:
        proposals = proposals.filter(proposal_id=proposal_id)
    result: dict[str, list[str]] = {p.proposal_id: [] for p in proposals}
    rows = Membership.objects.filter(proposal__in=proposals).values_list(
        "proposal__proposal_id", "user__username"
    )
    for pid, username in rows:
        result.setdefault(pid, []).append(username)
    return {pid: sorted(names) for pid, names in sorted(result.items())}
