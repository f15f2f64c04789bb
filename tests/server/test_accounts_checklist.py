"""Reference §8 checklist items about accounts, auth, throttling, profile, health and OpenAPI.

Each test is named after its checklist number (``test_c095_...`` is item 95). Items about
events (63) live in test_events_outbox.py; write-permission items (55, 101) need the frames
endpoints and are exercised here against ``POST /frames/``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from obsarchive.server.accounts.config import AccountSettings
from obsarchive.server.accounts.models import Profile
from obsarchive.server.accounts.services import add_members

pytestmark = pytest.mark.django_db

User = get_user_model()


def _portal(settings: Any, portal: Any, **extra: Any) -> AccountSettings:
    config = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS,
        oauth_profile_url=portal.profile_url,
        oauth_token_url=portal.token_url,
        oauth_client_id="archive-client",
        oauth_client_secret="archive-secret",
        **extra,
    )
    settings.OBSARCHIVE_ACCOUNTS = config
    return config


def _member(username: str = "member", proposal: str = "P") -> Any:
    user = User.objects.create_user(username, password="correct-horse")
    add_members(proposal, [username])
    return user


def _token_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    return client


# --- 1, 6: health and documentation ---------------------------------------------------------


def test_c001_health_is_ok_json_string() -> None:
    response = APIClient().get("/health/")
    assert response.status_code == 200
    assert response.json() == "ok"


def test_c001_health_is_never_throttled(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_anon_rate="2/day", throttle_user_rate="2/day"
    )
    client = APIClient()
    statuses = {client.get("/health/").status_code for _ in range(6)}
    assert statuses == {200}
    # ...while a throttled endpoint does hit the same low limit.
    assert [client.get("/profile/").status_code for _ in range(3)] == [200, 200, 429]


def test_c006_openapi_title_is_navbar_title(settings: Any) -> None:
    settings.NAVBAR_TITLE_TEXT = "Our Test Archive"
    response = APIClient().get("/openapi/")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Our Test Archive"
    assert "/profile/" in document["paths"]
    assert document["paths"]["/health/"]["get"]["operationId"] == "healthCheck"


def test_c006_redoc_page_references_openapi() -> None:
    response = APIClient().get("/redoc/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "/openapi/" in response.content.decode()


# --- 95: profile ----------------------------------------------------------------------------


def test_c095_profile_anonymous() -> None:
    response = APIClient().get("/profile/")
    assert response.status_code == 200
    assert response.json() == {"username": "", "profile": {}, "is_staff": False}


def test_c095_profile_member_lists_proposals() -> None:
    user = _member("alice", "P")
    add_members("Q2", ["alice"])
    response = _token_client(user).get("/profile/")
    assert response.status_code == 200
    assert response.json() == {
        "username": "alice",
        "profile": {"proposals": ["P", "Q2"]},
        "is_staff": False,
    }


def test_c095_profile_member_with_portal_proposals(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    fake_portal.add_user("bob", api_token="portal-bob", proposals=("LCO2024A-001",))
    user = User.objects.create_user("bob")
    Profile.objects.filter(user=user).update(api_token="portal-bob")
    add_members("LOCAL-1", ["bob"])
    body = _token_client(user).get("/profile/").json()
    assert body["profile"]["proposals"] == ["LCO2024A-001", "LOCAL-1"]
    # The portal answer is cached: a second request does not ask again.
    asked = len(fake_portal.requests)
    _token_client(user).get("/profile/")
    assert len(fake_portal.requests) == asked


# --- 96: token authentication -----------------------------------------------------------------


def test_c096_drf_token_authenticates() -> None:
    user = _member("carol")
    body = _token_client(user).get("/profile/").json()
    assert body["username"] == "carol"


def test_c096_portal_api_token_authenticates() -> None:
    user = User.objects.create_user("dave")
    Profile.objects.filter(user=user).update(api_token="portal-token-of-dave")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token portal-token-of-dave")
    assert client.get("/profile/").json()["username"] == "dave"


@pytest.mark.parametrize("path", ["/profile/", "/health/"])
def test_c096_wrong_token_is_401_even_on_health(path: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_c096_inactive_user_token_is_401() -> None:
    user = User.objects.create_user("erin", is_active=False)
    response = _token_client(user).get("/profile/")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_c096_empty_portal_token_never_matches() -> None:
    # Users without a portal token have api_token '' — "Token " must not log in as them.
    User.objects.create_user("frank")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token ")
    response = client.get("/profile/")
    assert response.status_code == 401


# --- 97: bearer tokens ----------------------------------------------------------------------


def test_c097_bearer_accepted_creates_user(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    fake_portal.add_user("grace", bearer="oauth-grace", api_token="api-grace", proposals=("P",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer oauth-grace")
    response = client.get("/profile/")
    assert response.status_code == 200
    assert response.json()["username"] == "grace"
    assert response.json()["profile"]["proposals"] == ["P"]
    user = User.objects.get(username="grace")
    assert user.email == "grace@example.org"
    assert user.archive_profile.access_token == "oauth-grace"
    assert user.archive_profile.api_token == "api-grace"


def test_c097_bearer_rejected_is_401(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-known")
    response = client.get("/profile/")
    assert response.status_code == 401
    assert response.json() == {"detail": "No Such User"}
    assert not User.objects.filter(username="not-known").exists()


def test_c097_bearer_without_portal_configured_is_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer anything")
    response = client.get("/profile/")
    assert response.status_code == 401
    assert response.json() == {"detail": "No Such User"}


def test_c097_portal_down_is_503_not_500(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    fake_portal.fail_with = 502
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer oauth-x")
    response = client.get("/profile/")
    assert response.status_code == 503
    assert "Observation Portal" in response.json()["detail"]


# --- 98: /api-token-auth/ -------------------------------------------------------------------


def test_c098_local_credentials_give_token(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    user = _member("heidi")
    response = APIClient().post(
        "/api-token-auth/", {"username": "heidi", "password": "correct-horse"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    assert token == Token.objects.get(user=user).key
    # Local password first: the portal is not consulted.
    assert fake_portal.requests == []


def test_c098_form_encoded_credentials_work() -> None:
    _member("ivan")
    response = APIClient().post(
        "/api-token-auth/", {"username": "ivan", "password": "correct-horse"}
    )
    assert response.status_code == 200


def test_c098_bad_credentials_are_400() -> None:
    _member("judy")
    response = APIClient().post(
        "/api-token-auth/", {"username": "judy", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_c098_missing_fields_are_400() -> None:
    response = APIClient().post("/api-token-auth/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_c098_already_authenticated_gets_own_token() -> None:
    user = _member("kim")
    response = _token_client(user).post("/api-token-auth/", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_c098_session_login_gets_token() -> None:
    user = _member("lena")
    client = APIClient()
    assert client.login(username="lena", password="correct-horse")
    response = client.post("/api-token-auth/", {}, format="json")
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_c098_portal_credentials_create_local_user(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    fake_portal.add_user(
        "mallory", password="portal-pass", api_token="api-mallory", proposals=("KEY-1",)
    )
    response = APIClient().post(
        "/api-token-auth/", {"username": "mallory", "password": "portal-pass"}, format="json"
    )
    assert response.status_code == 200
    user = User.objects.get(username="mallory")
    assert response.json()["token"] == Token.objects.get(user=user).key
    assert user.check_password("portal-pass")
    assert user.archive_profile.api_token == "api-mallory"
    # The next login works locally, without the portal.
    fake_portal.passwords.clear()
    asked = len(fake_portal.requests)
    again = APIClient().post(
        "/api-token-auth/", {"username": "mallory", "password": "portal-pass"}, format="json"
    )
    assert again.status_code == 200
    assert len(fake_portal.requests) == asked


def test_c098_portal_refusal_is_400(settings: Any, fake_portal: Any) -> None:
    _portal(settings, fake_portal)
    response = APIClient().post(
        "/api-token-auth/", {"username": "nobody", "password": "x"}, format="json"
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="nobody").exists()


def test_c098_token_auth_is_not_throttled(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_anon_rate="2/day"
    )
    client = APIClient()
    statuses = {
        client.post("/api-token-auth/", {"username": "x", "password": "y"}).status_code
        for _ in range(5)
    }
    assert statuses == {400}


# --- 99: /revoke_token/ ---------------------------------------------------------------------


def test_c099_revoke_rotates_token() -> None:
    user = _member("nina")
    old = Token.objects.get(user=user).key
    client = _token_client(user)
    response = client.post("/revoke_token/")
    assert response.status_code == 200
    assert response.json() == {"message": "API token revoked."}
    new = Token.objects.get(user=user).key
    assert new != old
    assert client.get("/profile/").status_code == 401  # the old token stopped working
    assert _token_client(user).get("/profile/").json()["username"] == "nina"


def test_c099_revoke_anonymous_is_401() -> None:
    response = APIClient().post("/revoke_token/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_c099_revoke_keeps_portal_token() -> None:
    user = _member("olga")
    Profile.objects.filter(user=user).update(api_token="portal-olga")
    _token_client(user).post("/revoke_token/")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token portal-olga")
    assert client.get("/profile/").json()["username"] == "olga"


# --- 100: /authprofile/addupdateuser/ -------------------------------------------------------

_SYNC = {
    "username": "peggy",
    "first_name": "Peggy",
    "last_name": "Observer",
    "email": "peggy@example.org",
    "is_staff": True,
    "is_superuser": False,
    "tokens": {"api_token": "portal-peggy"},
    "profile": {"staff_view": True},
}


@pytest.mark.parametrize("header", [None, "Server wrong-key", "Token server-key", "Server"])
def test_c100_addupdateuser_wrong_key_is_403(settings: Any, header: str | None) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, oauth_server_key="server-key"
    )
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post("/authprofile/addupdateuser/", _SYNC, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid or missing API Key."}
    assert not User.objects.filter(username="peggy").exists()


def test_c100_addupdateuser_unset_key_refuses_everyone() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Server ")
    response = client.post("/authprofile/addupdateuser/", _SYNC, format="json")
    assert response.status_code == 403


def test_c100_addupdateuser_creates_and_updates(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, oauth_server_key="server-key"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Server server-key")
    response = client.post("/authprofile/addupdateuser/", _SYNC, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "User account updated"}
    user = User.objects.get(username="peggy")
    assert user.is_staff and not user.is_superuser
    assert user.archive_profile.staff_view is True
    # The synced portal token now authenticates.
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION="Token portal-peggy")
    assert token_client.get("/profile/").json() == {
        "username": "peggy",
        "profile": {"proposals": []},
        "is_staff": True,
    }
    # A second sync updates the same user.
    changed = {**_SYNC, "is_staff": False, "tokens": {"api_token": "portal-peggy-2"}}
    assert client.post("/authprofile/addupdateuser/", changed, format="json").status_code == 200
    user.refresh_from_db()
    assert not user.is_staff
    assert User.objects.filter(username="peggy").count() == 1
    assert token_client.get("/profile/").status_code == 401


def test_c100_addupdateuser_bad_body_is_400(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, oauth_server_key="server-key"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Server server-key")
    response = client.post("/authprofile/addupdateuser/", {"email": "x"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()
    broken = client.post(
        "/authprofile/addupdateuser/", data="{not json", content_type="application/json"
    )
    assert broken.status_code == 400


# --- 102: throttling ------------------------------------------------------------------------


def test_c102_anonymous_1001st_request_is_throttled() -> None:
    client = APIClient()
    for number in range(1000):
        response = client.get("/profile/")
        assert response.status_code == 200, f"request {number + 1} was refused"
    response = client.get("/profile/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert re.fullmatch(
        r"Request was throttled\. Expected available in \d+ seconds\.", response.json()["detail"]
    )
    # Another client address has its own budget.
    assert client.get("/profile/", REMOTE_ADDR="127.0.0.2").status_code == 200


def test_c102_anonymous_identity_uses_forwarded_for(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_anon_rate="2/day"
    )
    client = APIClient()
    for _ in range(2):
        assert client.get("/profile/", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200
    assert client.get("/profile/", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429
    assert client.get("/profile/", HTTP_X_FORWARDED_FOR="192.0.2.9").status_code == 200


def test_c102_user_limit_applies_to_non_staff(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_user_rate="3/day"
    )
    client = _token_client(_member("quentin"))
    assert [client.get("/profile/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_c102_staff_never_throttled(settings: Any) -> None:
    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_user_rate="3/day", throttle_anon_rate="3/day"
    )
    staff = User.objects.create_user("rita", is_staff=True)
    client = _token_client(staff)
    assert {client.get("/profile/").status_code for _ in range(10)} == {200}


def test_c102_default_rates_are_upstream() -> None:
    defaults = AccountSettings()
    assert defaults.throttle_anon_rate == "1000/day"
    assert defaults.throttle_user_rate == "50000/day"


# --- 55, 101: write permissions on frames and thumbnails ----------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/frames/"),
        ("put", "/frames/{id}/"),
        ("patch", "/frames/{id}/"),
        ("delete", "/frames/{id}/"),
        ("post", "/thumbnails/"),
    ],
)
def test_c101_writes_need_a_superuser(method: str, path: str, world: Any, ingest: Any) -> None:
    from tests.server.factories import frame_payload

    frame = ingest(frame_payload())
    url = path.format(id=frame.pk)
    body = frame_payload()
    anonymous = getattr(world.anon, method)(url, body, format="json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    for user in (world.member, world.staff):
        refused = getattr(world.client(user), method)(url, body, format="json")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "You do not have permission to perform this action."}
    # Nothing changed: still one frame, not deleted.
    assert world.su.get(f"/frames/{frame.pk}/").status_code == 200


def test_c055_superuser_may_ingest(world: Any) -> None:
    from tests.server.factories import frame_payload

    assert world.su.post("/frames/", frame_payload(), format="json").status_code == 201


# --- 63: the archived_fits notification through the real HTTP ingest --------------------------


@pytest.fixture
def live_broker(settings: Any) -> Any:
    import uuid

    from obsarchive.server.events.config import EventSettings
    from obsarchive.server.events.publisher import reset_publishers
    from tests.conftest import require_service
    from tests.server.test_events_outbox import AMQP_URL, Consumer

    require_service("RabbitMQ", "127.0.0.1", 5672)
    reset_publishers()
    config = EventSettings(broker_url=AMQP_URL, exchange_name=f"archived_fits_{uuid.uuid4().hex}")
    settings.OBSARCHIVE_EVENTS = config
    consumer = Consumer(config.exchange_name)
    yield config, consumer
    consumer.close()
    reset_publishers()


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_c063_ingest_emits_exactly_one_notification(live_broker: Any, world: Any) -> None:
    from tests.server.factories import frame_payload

    _, consumer = live_broker
    payload = frame_payload()
    response = world.su.post("/frames/", payload, format="json")
    assert response.status_code == 201
    message = consumer.get()
    assert message is not None
    assert message["frameid"] == response.json()["id"]
    assert message["basename"] == payload["basename"]
    assert message["filename"] == response.json()["filename"]
    assert message["version_set"] == [
        {k: v[k] for k in ("key", "md5", "extension")} for v in payload["version_set"]
    ]
    assert message["PROPID"] == payload["headers"]["PROPID"]
    assert consumer.get(timeout=0.5) is None
    # An empty version_set emits nothing; a rejected payload emits nothing.
    assert world.su.post("/frames/", frame_payload(versions=[]), format="json").status_code == 201
    bad = {**frame_payload(), "observation_date": "iamnotadate"}
    assert world.su.post("/frames/", bad, format="json").status_code == 400
    assert consumer.get(timeout=0.5) is None


@pytest.mark.rabbitmq
@pytest.mark.django_db(transaction=True)
def test_c063_broker_failure_keeps_201(live_broker: Any, world: Any, settings: Any) -> None:
    import socket

    from obsarchive.server.events.models import OutboxEvent
    from obsarchive.server.events.publisher import publish_pending
    from tests.server.factories import frame_payload

    live, consumer = live_broker
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings.OBSARCHIVE_EVENTS = dataclasses.replace(
        live, broker_url=f"amqp://127.0.0.1:{closed}//"
    )
    response = world.su.post("/frames/", frame_payload(), format="json")
    assert response.status_code == 201
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1
    assert publish_pending(live, include_delayed=True).published == 1
    message = consumer.get()
    assert message is not None and message["frameid"] == response.json()["id"]


def test_c006_openapi_yaml_on_request() -> None:
    response = APIClient().get("/openapi/", {"format": "yaml"})
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")
