"""The operator commands run as a user runs them: ``obsarchive token|proposals|serve|manage``.

Each test uses its own OBSARCHIVE_HOME (embedded SQLite) in tmp_path.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "QUEUE_BROKER_URL", "SECRET_KEY"}
    }
    env["OBSARCHIVE_HOME"] = str(home)
    env.update(extra)
    return env


def obsarchive(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obsarchive.cli", *args],
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


@pytest.mark.slow
def test_token_creates_user_and_is_stable(tmp_path: Path) -> None:
    first = obsarchive(tmp_path, "token", "ingester", "--superuser")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    assert "created superuser 'ingester'" in first.stderr
    # The embedded database and secret live under OBSARCHIVE_HOME.
    assert (tmp_path / "archive.sqlite3").is_file()
    assert (tmp_path / "secret_key").is_file()
    again = obsarchive(tmp_path, "token", "ingester")
    assert again.returncode == 0 and again.stdout.strip() == token
    assert "created" not in again.stderr
    rotated = obsarchive(tmp_path, "token", "ingester", "--rotate")
    assert rotated.stdout.strip() != token


@pytest.mark.slow
def test_token_flags_and_empty_name(tmp_path: Path) -> None:
    staff = obsarchive(tmp_path, "token", "operator", "--staff")
    assert staff.returncode == 0 and "created staff user 'operator'" in staff.stderr
    check = (
        "from django.contrib.auth.models import User as U;"
        "u=U.objects.get(username='operator');print(u.is_staff, u.is_superuser)"
    )
    shown = obsarchive(tmp_path, "manage", "shell", "-v0", "-c", check)
    assert shown.stdout.strip() == "True False"
    empty = obsarchive(tmp_path, "token", "  ")
    assert empty.returncode == 2 and "NAME" in empty.stderr


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = obsarchive(tmp_path, "token", "x", DATABASE_URL="nosuchdb://somewhere")
    assert result.returncode == 1
    assert "configuration error" in result.stderr and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_proposals_add_list_remove(tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        assert obsarchive(tmp_path, "token", name).returncode == 0
    added = obsarchive(tmp_path, "proposals", "add", "LCO2024A-001", "alice", "bob")
    assert added.returncode == 0, added.stderr
    assert "added alice to LCO2024A-001" in added.stdout
    again = obsarchive(tmp_path, "proposals", "add", "LCO2024A-001", "alice")
    assert "alice already in LCO2024A-001" in again.stdout
    unknown = obsarchive(tmp_path, "proposals", "add", "LCO2024A-001", "carol")
    assert unknown.returncode == 1 and "no such user: carol" in unknown.stderr
    created = obsarchive(tmp_path, "proposals", "add", "KEY-2", "carol", "--create-users")
    assert created.returncode == 0
    listing = obsarchive(tmp_path, "proposals", "list")
    assert listing.stdout.splitlines() == ["KEY-2\tcarol", "LCO2024A-001\talice bob"]
    removed = obsarchive(tmp_path, "proposals", "remove", "LCO2024A-001", "bob")
    assert "removed bob from LCO2024A-001" in removed.stdout
    one = obsarchive(tmp_path, "proposals", "list", "LCO2024A-001")
    assert one.stdout.splitlines() == ["LCO2024A-001\talice"]
    dropped = obsarchive(tmp_path, "proposals", "remove", "KEY-2")
    assert "deleted proposal KEY-2" in dropped.stdout
    missing = obsarchive(tmp_path, "proposals", "list", "KEY-2")
    assert missing.returncode == 1


@pytest.mark.slow
def test_serve_migrates_and_serves(tmp_path: Path) -> None:
    token = obsarchive(tmp_path, "token", "alice").stdout.strip()
    assert obsarchive(tmp_path, "proposals", "add", "P1", "alice").returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "obsarchive.cli", "serve", "--port", str(port), "--workers", "1"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body, _ = _get(f"{base}/health/")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        assert status == 200, "server did not come up"
        assert body == b'"ok"'
        status, body, _ = _get(f"{base}/profile/", token)
        assert status == 200 and b'"proposals":["P1"]' in body
        # Admin static files are served (WhiteNoise) without a front web server.
        status, body, _ = _get(f"{base}/static/admin/css/base.css")
        assert status == 200 and len(body) > 1000
        status, body, _ = _get(f"{base}/admin/login/")
        assert status == 200 and b"csrfmiddlewaretoken" in body
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output


def test_serve_rejects_bad_port(tmp_path: Path) -> None:
    result = obsarchive(tmp_path, "serve", "--port", "99999")
    assert result.returncode == 2 and "port out of range" in result.stderr
