"""Fixtures shared by the server tests (frames, accounts, events, operations).

Sections are owned by different areas; add new fixtures in your own section.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

# --- common ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every test starts with an empty Django cache: throttle counters, cached proposals and
    aggregates never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- accounts: a fake Observation Portal over real HTTP ----------------------------------------


@dataclass
class FakePortal:
    """An Observation Portal stand-in on 127.0.0.1 (ephemeral port).

    ``profiles`` maps an ``Authorization`` header value (``"Token abc"``, ``"Bearer xyz"``) to the
    profile document returned for it; ``passwords`` maps ``(username, password)`` to the access
    token the OAuth password grant hands out. ``requests`` records every request path + header.
    """

    base_url: str = ""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int | None = None

    @property
    def profile_url(self) -> str:
        return f"{self.base_url}/api/profile/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/o/token/"

    def add_user(
        self,
        username: str,
        *,
        api_token: str = "",
        bearer: str = "",
        password: str = "",
        proposals: tuple[str, ...] = (),
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> dict[str, Any]:
        profile = {
            "username": username,
            "first_name": username.title(),
            "last_name": "Observer",
            "email": f"{username}@example.org",
            "is_staff": is_staff,
            "is_superuser": is_superuser,
            "profile": {"staff_view": False},
            "tokens": {"api_token": api_token},
            "proposals": [{"id": p, "title": p} for p in proposals],
        }
        if api_token:
            self.profiles[f"Token {api_token}"] = profile
        if bearer:
            self.profiles[f"Bearer {bearer}"] = profile
        if password:
            access = bearer or f"access-{username}"
            self.passwords[(username, password)] = access
            self.profiles[f"Bearer {access}"] = profile
        return profile


def _portal_handler(portal: FakePortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            authorization = self.headers.get("Authorization", "")
            portal.requests.append((self.path, authorization))
            if portal.fail_with is not None:
                self._reply(portal.fail_with, {"detail": "portal failure"})
                return
            profile = portal.profiles.get(authorization)
            if self.path.startswith("/api/profile/") and profile is not None:
                self._reply(200, profile)
            else:
                self._reply(401, {"detail": "Authentication credentials were not provided."})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            portal.requests.append((self.path, ""))
            username = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            token = portal.passwords.get((username, password))
            if self.path.startswith("/o/token/") and token and form.get("client_id"):
                self._reply(200, {"access_token": token, "token_type": "Bearer"})
            else:
                self._reply(400, {"error": "invalid_grant"})

    return Handler


@pytest.fixture
def fake_portal() -> Iterator[FakePortal]:
    """A running fake portal; configure the archive with ``portal_settings(fake_portal)``."""
    portal = FakePortal()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _portal_handler(portal))
    portal.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield portal
    finally:
        server.shutdown()
        server.server_close()


# --- frames: users, clients and ingest helpers ------------------------------------------------


@dataclass
class FramesWorld:
    """Users and API clients for frames tests: superuser, member of ``PROP-A``, anonymous."""

    superuser: Any
    member: Any
    stranger: Any
    staff: Any

    def client(self, user: Any | None = None) -> Any:
        """An API client authenticating with the user's real DRF token (None = anonymous)."""
        from rest_framework.test import APIClient

        from obsarchive.server.accounts.services import token_for

        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user).key}")
        return client

    @property
    def anon(self) -> Any:
        return self.client(None)

    @property
    def su(self) -> Any:
        return self.client(self.superuser)


@pytest.fixture
def world(db: Any) -> FramesWorld:
    from django.contrib.auth import get_user_model

    from obsarchive.server.accounts.services import add_members

    users = get_user_model().objects
    world = FramesWorld(
        superuser=users.create_superuser("root", "root@example.org", "pw"),
        member=users.create_user("alice", "alice@example.org", "pw"),
        stranger=users.create_user("bob", "bob@example.org", "pw"),
        staff=users.create_user("ops", "ops@example.org", "pw", is_staff=True),
    )
    add_members("PROP-A", ["alice"])
    return world


@pytest.fixture
def ingest(db: Any) -> Any:
    """Ingest a ``POST /frames/`` payload through the real validation and service; returns
    the Frame. (The HTTP path itself is covered by the POST tests.)"""
    from obsarchive.server.frames.serializers import FrameIngestSerializer
    from obsarchive.server.frames.services import ingest_frame

    def _ingest(payload: dict[str, Any]) -> Any:
        serializer = FrameIngestSerializer(data=payload)
        assert serializer.is_valid(), serializer.errors
        return ingest_frame(serializer.validated_data).frame

    return _ingest


@pytest.fixture
def stored_version(db: Any) -> Any:
    """Store bytes for a record in the archive's store, as the ingester does before posting;
    returns the ``Version`` to put in the payload (its key is the store's version id)."""
    import io
    import uuid

    from obsarchive.products.record import Version
    from obsarchive.server.frames.storage import archive_store, frame_object_key

    def _stored(record: Any, extension: str = ".fits.fz", data: bytes | None = None) -> Version:
        key = frame_object_key(
            basename=record.basename,
            extension=extension,
            site_id=record.site_id,
            instrument_id=record.instrument_id,
            observation_day=record.observation_day,
            reduction_level=record.reduction_level,
            configuration_type=record.configuration_type,
            headers=record.headers,
        )
        content = data if data is not None else uuid.uuid4().bytes * 4
        stored = archive_store().put(key, io.BytesIO(content))
        return Version(key=stored.version_id, md5=stored.md5, extension=extension)

    return _stored


# --- downloads: a filesystem store per test, and frames whose files really are stored ---------


@dataclass
class DownloadArchive:
    """The archive's store (a fresh filesystem store) plus a helper ingesting stored files."""

    store: Any
    root: Any

    def add(
        self,
        content: bytes,
        *,
        extension: str = ".fits.fz",
        record_size: bool = True,
        **record: Any,
    ) -> Any:
        """Store ``content`` where the ingester would and ingest its frame; returns the Frame.

        ``record`` goes to :func:`tests.server.factories.frame_record`; ``record_size=False``
        leaves the version's size unrecorded (as upstream ingesters send it).
        """
        import io

        from obsarchive.products.record import Version
        from obsarchive.server.frames.serializers import FrameIngestSerializer
        from obsarchive.server.frames.services import ingest_frame
        from obsarchive.server.frames.storage import frame_object_key
        from tests.server.factories import frame_payload, frame_record

        rec = frame_record(**record)
        key = frame_object_key(
            basename=rec.basename,
            extension=extension,
            site_id=rec.site_id,
            instrument_id=rec.instrument_id,
            observation_day=rec.observation_day,
            reduction_level=rec.reduction_level,
            configuration_type=rec.configuration_type,
            headers=rec.headers,
        )
        content_type = "image/fits" if extension.startswith(".fits") else ""
        stored = self.store.put(key, io.BytesIO(content), content_type=content_type)
        payload = frame_payload(
            rec, versions=[Version(key=stored.version_id, md5=stored.md5, extension=extension)]
        )
        payload["version_set"][0]["object_key"] = stored.key
        if record_size:
            payload["version_set"][0]["size"] = stored.size
        serializer = FrameIngestSerializer(data=payload)
        assert serializer.is_valid(), serializer.errors
        return ingest_frame(serializer.validated_data).frame


@pytest.fixture
def download_archive(tmp_path: Any, settings: Any, db: Any) -> Iterator[DownloadArchive]:
    """Point the archive at a filesystem store under ``tmp_path`` for one test."""
    import dataclasses

    from obsarchive.server.frames.storage import archive_store, reset_store

    root = tmp_path / "store"
    settings.ARCHIVE = dataclasses.replace(
        settings.ARCHIVE, store=dataclasses.replace(settings.ARCHIVE.store, root_dir=root)
    )
    reset_store()
    try:
        yield DownloadArchive(store=archive_store(), root=root)
    finally:
        reset_store()


# --- VO: archives of synthetic products for /vo/ tests (tests/server/test_vo_helpers.py) ----------

from tests.server.test_vo_helpers import (  # noqa: E402,F401
    datalink_vocabulary,
    live_vo_archive,
    vo_archive,
)
