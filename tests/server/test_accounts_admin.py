"""The Django admin pages for users, proposals, memberships and the event outbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from obsarchive.server.accounts.models import Membership, Proposal
from obsarchive.server.accounts.services import add_members
from obsarchive.server.events.config import EventSettings
from obsarchive.server.events.models import OutboxEvent

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_client_logged_in() -> Client:
    User.objects.create_superuser("root", "root@example.org", "pw")
    client = Client()
    assert client.login(username="root", password="pw")
    return client


def test_admin_lists_and_edits_proposals(admin_client_logged_in: Client) -> None:
    client = admin_client_logged_in
    alice = User.objects.create_user("alice")
    add_members("PROP-A", ["alice"])
    listing = client.get("/admin/accounts/proposal/")
    assert listing.status_code == 200 and b"PROP-A" in listing.content
    proposal = Proposal.objects.get(proposal_id="PROP-A")
    page = client.get(f"/admin/accounts/proposal/{proposal.pk}/change/")
    assert page.status_code == 200 and b"alice" in page.content
    # Create a proposal with a member through the admin form and its membership inline.
    bob = User.objects.create_user("bob")
    response = client.post(
        "/admin/accounts/proposal/add/",
        {
            "proposal_id": "PROP-NEW",
            "title": "New",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": str(bob.pk),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Membership.objects.filter(user=bob, proposal__proposal_id="PROP-NEW").exists()
    assert Membership.objects.filter(user=alice).count() == 1


def test_admin_user_pages_show_profile_and_memberships(admin_client_logged_in: Client) -> None:
    client = admin_client_logged_in
    alice = User.objects.create_user("alice")
    add_members("PROP-A", ["alice"])
    page = client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert page.status_code == 200
    assert b"portal profile" in page.content.lower() and b"PROP-A" in page.content
    assert client.get("/admin/auth/user/add/").status_code == 200
    assert client.get("/admin/accounts/membership/").status_code == 200


def test_admin_outbox_and_publish_action(admin_client_logged_in: Client, settings: Any) -> None:
    client = admin_client_logged_in
    event = OutboxEvent.objects.create(exchange="archived_fits", body={"frameid": 1}, frame_id=1)
    listing = client.get("/admin/events/outboxevent/", {"state": "pending"})
    assert listing.status_code == 200 and b"archived_fits" in listing.content
    assert client.get(f"/admin/events/outboxevent/{event.pk}/change/").status_code == 200
    assert client.get("/admin/events/outboxevent/add/").status_code == 403
    # kombu's in-memory transport: a real publish through the action, no broker needed.
    settings.OBSARCHIVE_EVENTS = EventSettings(
        broker_url="memory://", exchange_name=f"x_{uuid.uuid4().hex}"
    )
    response = client.post(
        "/admin/events/outboxevent/",
        {"action": "publish_selected", "_selected_action": [str(event.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Published 1 of 1 pending events." in response.content
    event.refresh_from_db()
    assert event.published_at is not None
    # Without a broker the action says so instead of failing.
    settings.OBSARCHIVE_EVENTS = EventSettings()
    other = OutboxEvent.objects.create(exchange="archived_fits", body={}, frame_id=2)
    refused = client.post(
        "/admin/events/outboxevent/",
        {"action": "publish_selected", "_selected_action": [str(other.pk)]},
        follow=True,
    )
    assert b"Not published" in refused.content
