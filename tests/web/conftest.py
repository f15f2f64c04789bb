"""Browser tests of the web interface: a real archive server and a real (offline) Chromium.

``ui_archive`` (session): ``obsarchive serve`` (gunicorn) on 127.0.0.1, SQLite and a
filesystem store in a temporary ``OBSARCHIVE_HOME``, seeded with the synthetic products of
:mod:`tests.web.seed` through the real ingester; users ``alice`` (member of the proprietary
proposal), ``bob`` (no proposals) and ``root`` (superuser).

``page`` (per test): a page of Debian's Chromium driven by Playwright, in which every request
to a host other than 127.0.0.1 is aborted and recorded; a test fails if any was attempted.
Playwright's own browser downloads are never used (``executable_path``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.conftest import IN_CI
from tests.web.seed import SECRET_PROPOSAL, Spec, seed_specs

OBSARCHIVE = str(Path(sys.executable).with_name("obsarchive"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
]
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1", "root": "root-password-1"}
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")

_SETUP_USERS = f"""
from obsarchive.server.ops.bootstrap import migrate_database, setup_django
setup_django()
migrate_database()
from django.contrib.auth import get_user_model
from obsarchive.server.accounts.services import add_members, token_for
users = get_user_model().objects
root = users.create_superuser("root", "root@example.org", {PASSWORDS["root"]!r})
users.create_user("alice", "alice@example.org", {PASSWORDS["alice"]!r})
users.create_user("bob", "bob@example.org", {PASSWORDS["bob"]!r})
add_members({SECRET_PROPOSAL!r}, ["alice"])
print(token_for(root).key)
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """Debian's Chromium and the playwright package, or skip (fail in CI)."""
    path = chromium_path()
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        message = "Chromium (apt-get install chromium) and playwright are needed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    # The store's download URLs must name the server's address before it starts, so the port
    # is chosen first (an ephemeral one from the OS), then handed to the server.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class UiArchive:
    """The running archive and what tests know about its content."""

    base_url: str
    home: Path
    env: dict[str, str]
    token: str
    frames: dict[str, int] = field(default_factory=dict)
    specs: dict[str, Spec] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def api(self, path: str, token: str | None = None, **params: Any) -> Any:
        """``GET`` an API path as JSON (anonymously unless a token is given)."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        response = requests.get(self.url(path), params=params, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def api_ids(self, query: str, token: str | None = None) -> list[int]:
        """Ids of every frame ``/frames/?<query>`` lists (all pages)."""
        params = dict(parse_qsl(query))
        params.setdefault("limit", "1000")
        params["include_related_frames"] = "false"
        data = self.api("frames/", token, **params)
        return [row["id"] for row in data["results"]]

    def token_for(self, username: str) -> str:
        response = requests.post(
            self.url("api-token-auth/"),
            data={"username": username, "password": PASSWORDS[username]},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["token"])


def _start_server(env: dict[str, str], home: Path) -> tuple[subprocess.Popen[bytes], int]:
    for _attempt in range(3):
        port = _free_port()
        env["FILESYSTEM_STORAGE_BASE_URL"] = f"http://127.0.0.1:{port}/"
        log = home / "serve.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                [
                    OBSARCHIVE,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-migrate",
                    "--workers",
                    "2",
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if _LISTENING.search(text):
                return process, port
            if process.poll() is not None:
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        if "Address already in use" not in log.read_text(errors="replace"):
            pytest.fail(
                f"obsarchive serve did not start:\n{log.read_text(errors='replace')[-3000:]}"
            )
    pytest.fail("no free port for obsarchive serve after 3 attempts")


def _ingest(archive: UiArchive) -> None:
    from obsarchive.config import load_settings
    from obsarchive.ingester.pipeline import IngestPipeline

    settings = load_settings(
        {**archive.env, "API_ROOT": archive.base_url, "AUTH_TOKEN": archive.token}
    )
    with_previews = IngestPipeline.from_settings(settings)
    without_previews = IngestPipeline.from_settings(settings)
    without_previews.make_previews = False

    def ingest(item: tuple[int, Spec]) -> tuple[Spec, int]:
        seed, spec = item
        pipeline = with_previews if spec.previews else without_previews
        result = pipeline.ingest(spec.fits_bytes(seed), path=spec.filename)
        return spec, int(result.frame_id)

    # A few at a time: the pipeline is thread-safe and the server has two workers.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for spec, frame_id in pool.map(ingest, enumerate(seed_specs())):
            archive.frames[spec.key] = frame_id
            archive.specs[spec.key] = spec


@pytest.fixture(scope="session")
def ui_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiArchive]:
    require_browser()
    home = tmp_path_factory.mktemp("ui-archive")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        {
            "OBSARCHIVE_HOME": str(home),
            "DATABASE_URL": f"sqlite:///{home / 'archive.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "obsarchive.server.settings",
            "SECRET_KEY": f"web-tests-{uuid.uuid4().hex}",
            "FILESTORE_TYPE": "local",
            "XDG_RUNTIME_DIR": str(home),
            "PYTHONUNBUFFERED": "1",
            # The browser tests never reach the internet: no remote resolver.
            "RESOLVER_URL": "",
        }
    )
    env.pop("CACHE_URL", None)
    setup = subprocess.run(
        [sys.executable, "-c", _SETUP_USERS],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    token = setup.stdout.strip().splitlines()[-1]
    process, port = _start_server(env, home)
    try:
        archive = UiArchive(base_url=f"http://127.0.0.1:{port}/", home=home, env=env, token=token)
        _ingest(archive)
        yield archive
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class NetworkGuard:
    """Every request of a browser context; non-loopback ones are aborted and kept here."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture
def network_guard() -> NetworkGuard:
    return NetworkGuard()


@pytest.fixture
def context(browser: Any, network_guard: NetworkGuard) -> Iterator[Any]:
    context = browser.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.route("**/*", network_guard.route)
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()
    assert network_guard.blocked == [], f"external requests attempted: {network_guard.blocked}"


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"


def login(page: Any, archive: UiArchive, username: str) -> None:
    """Log in through the login form (CSRF-protected, session cookie)."""
    page.goto(archive.url("ui/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/ui/(\?.*)?$"))


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot of a main page for the documentation (docs/screenshots)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
