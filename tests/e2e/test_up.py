"""``obsarchive up`` as a new user runs it: a fresh home, frames in /frames/ within a minute,
the ledger filled, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ingester.test_flow_fixtures import (
    REPO,
    flow_env,
    free_port,
    obsarchive_cli,
)


def child_pid(home, command: str) -> int:
    """The pid of `obsarchive <command>` started by `up` for this home (read from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[2:4] == [b"obsarchive.cli", command.encode()] and (
            f"OBSARCHIVE_HOME={home}".encode() in environ
        ):
            return int(proc.name)
    raise AssertionError(f"no obsarchive {command} process for {home}")


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s")


@pytest.mark.slow
def test_up_shows_frames_and_the_ledger_then_stops_cleanly(tmp_path):
    home = tmp_path / "new-user-home"
    port = free_port()
    env = flow_env(home)
    for name in ("AUTH_TOKEN", "FILESTORE_TYPE"):  # a new user sets nothing
        env.pop(name)
    output = tmp_path / "up.out"
    with open(output, "wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "obsarchive.cli", "up", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
        )
    api_root = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        anonymous = 0
        while time.monotonic() < deadline:
            assert up.poll() is None, output.read_text()
            try:
                anonymous = requests.get(f"{api_root}frames/", timeout=5).json()["count"]
            except (requests.RequestException, ValueError, KeyError):
                anonymous = 0
            if anonymous > 0:
                break
            time.sleep(0.5)
        assert anonymous > 0, output.read_text()

        token = (home / "token").read_text().strip()
        assert len(token) >= 20
        banner = output.read_text()
        assert token in banner
        assert f"{api_root}frames/" in banner

        # The admin token sees the proprietary frames too.
        auth = {"Authorization": f"Token {token}"}
        everything = requests.get(f"{api_root}frames/", headers=auth, timeout=5).json()["count"]
        assert everything >= anonymous

        # The ledger, as the banner tells the user to look at it, agrees with the archive.
        rows = json.loads(obsarchive_cli(flow_env(home), "ledger", "--json"))
        ingested = [row for row in rows if row["status"] == "ingested"]
        assert ingested
        for row in ingested[:5]:
            frame = requests.get(f"{api_root}frames/{row['frame_id']}/", headers=auth, timeout=5)
            assert frame.status_code == 200
            assert frame.json()["basename"] == row["basename"].removesuffix(".fits.fz")
        assert (home / "incoming").is_dir()
        assert any((home / "incoming").glob("*.fits.fz"))

        # A crashed worker is restarted and the night keeps flowing into the archive.
        def ingested() -> int:
            rows = json.loads(obsarchive_cli(flow_env(home), "ledger", "--json"))
            return sum(row["status"] == "ingested" for row in rows)

        before = ingested()
        os.kill(child_pid(home, "worker"), signal.SIGKILL)
        wait_until(lambda: "worker exited (-9); restarting" in output.read_text(), 30)
        wait_until(lambda: ingested() >= min(before + 3, 84), 60)
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
        status = up.wait(90)
    assert status == 0, output.read_text()[-3000:]
    assert "obsarchive up: stopped" in output.read_text()
    with socket.socket() as sock:  # the web server is gone too
        assert sock.connect_ex(("127.0.0.1", port)) != 0
