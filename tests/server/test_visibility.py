"""``visible_frames_q`` and ``proposals_for`` on real Frame rows (reference §2.2 / §3.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from obsarchive.server.accounts.models import Profile
from obsarchive.server.accounts.services import add_members, remove_members
from obsarchive.server.accounts.visibility import (
    forget_proposals,
    proposals_for,
    visible_frames_q,
)
from obsarchive.server.frames.models import Frame, Thumbnail

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
User = get_user_model()


@pytest.fixture
def frames() -> dict[str, Frame]:
    def make(name: str, proposal: str, public_date: datetime | None) -> Frame:
        return Frame.objects.create(
            basename=name,
            proposal_id=proposal,
            public_date=public_date,
            observation_date=NOW - timedelta(days=30),
        )

    return {
        "public": make("public", "A", NOW - timedelta(days=1)),
        "public_b": make("public_b", "B", NOW - timedelta(days=1)),
        "at_now": make("at_now", "B", NOW),  # public_date == now is not public yet (strict)
        "own_future": make("own_future", "A", NOW + timedelta(days=300)),
        "own_null": make("own_null", "A", None),
        "other_future": make("other_future", "B", NOW + timedelta(days=300)),
        "other_null": make("other_null", "B", None),
    }


def _visible(user: Any, now: datetime = NOW) -> set[str]:
    return set(Frame.objects.filter(visible_frames_q(user, now)).values_list("basename", flat=True))


def test_anonymous_sees_strictly_public(frames: dict[str, Frame]) -> None:
    assert _visible(AnonymousUser()) == {"public", "public_b"}
    assert _visible(None) == {"public", "public_b"}
    # One microsecond later the frame made public "at now" becomes visible.
    assert "at_now" in _visible(AnonymousUser(), NOW + timedelta(microseconds=1))


def test_member_sees_own_proposal_whatever_the_public_date(frames: dict[str, Frame]) -> None:
    member = User.objects.create_user("member")
    add_members("A", ["member"])
    assert _visible(member) == {"public", "public_b", "own_future", "own_null"}


def test_user_without_proposals_sees_public(frames: dict[str, Frame]) -> None:
    assert _visible(User.objects.create_user("nobody")) == {"public", "public_b"}


def test_staff_is_not_privileged(frames: dict[str, Frame]) -> None:
    staff = User.objects.create_user("ops", is_staff=True)
    assert _visible(staff) == {"public", "public_b"}


def test_superuser_sees_everything(frames: dict[str, Frame]) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    assert _visible(root) == set(frames)


def test_inactive_superuser_is_not_privileged(frames: dict[str, Frame]) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    root.is_active = False
    add_members("A", ["root"])
    assert _visible(root) == {"public", "public_b"}


def test_prefix_applies_through_relation(frames: dict[str, Frame]) -> None:
    for frame in frames.values():
        Thumbnail.objects.create(
            frame=frame, size="small", basename=f"{frame.basename}-t", extension=".jpg"
        )
    thumbs = Thumbnail.objects.filter(visible_frames_q(AnonymousUser(), NOW, prefix="frame__"))
    assert set(thumbs.values_list("basename", flat=True)) == {"public-t", "public_b-t"}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        visible_frames_q(AnonymousUser(), datetime(2024, 1, 1))


def test_proposals_are_memoised_per_user_object(
    django_assert_num_queries: Any, frames: dict[str, Frame]
) -> None:
    member = User.objects.create_user("member")
    add_members("A", ["member"])
    fresh = User.objects.get(pk=member.pk)
    with django_assert_num_queries(1):
        assert proposals_for(fresh) == frozenset({"A"})
        assert proposals_for(fresh) == frozenset({"A"})
    remove_members("A", ["member"])
    assert proposals_for(fresh) == frozenset({"A"})  # same request: memo kept
    forget_proposals(fresh)
    assert proposals_for(fresh) == frozenset()


def test_portal_proposals_join_local_ones(settings: Any, fake_portal: Any) -> None:
    import dataclasses

    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, oauth_profile_url=fake_portal.profile_url
    )
    fake_portal.add_user("portal", api_token="tok-portal", proposals=("B",))
    user = User.objects.create_user("portal")
    Profile.objects.filter(user=user).update(api_token="tok-portal")
    add_members("A", ["portal"])
    assert proposals_for(User.objects.get(pk=user.pk)) == frozenset({"A", "B"})


def test_portal_failure_gives_local_only_and_is_not_cached(settings: Any, fake_portal: Any) -> None:
    import dataclasses

    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, oauth_profile_url=fake_portal.profile_url
    )
    fake_portal.add_user("portal", api_token="tok-portal", proposals=("B",))
    user = User.objects.create_user("portal")
    Profile.objects.filter(user=user).update(api_token="tok-portal")
    fake_portal.fail_with = 500
    assert proposals_for(User.objects.get(pk=user.pk)) == frozenset()
    fake_portal.fail_with = None  # the portal recovers: the next request asks again
    assert proposals_for(User.objects.get(pk=user.pk)) == frozenset({"B"})


def test_portal_timeout_is_bounded(settings: Any) -> None:
    """A portal that accepts connections but never answers costs at most the read timeout."""
    import dataclasses
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
            settings.OBSARCHIVE_ACCOUNTS,
            oauth_profile_url=f"http://127.0.0.1:{port}/api/profile/",
            portal_connect_timeout=0.5,
            portal_read_timeout=0.5,
        )
        user = User.objects.create_user("slow")
        Profile.objects.filter(user=user).update(api_token="tok")
        started = time.monotonic()
        assert proposals_for(User.objects.get(pk=user.pk)) == frozenset()
        assert time.monotonic() - started < 3.0
    finally:
        listener.close()
