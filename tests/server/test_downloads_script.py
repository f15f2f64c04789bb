"""Download scripts: content, limits, and real runs under dash and bash with curl or wget
against a live archive on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obsarchive.server.accounts.services import profile_of, token_for
from obsarchive.server.frames.models import Frame, Version
from obsarchive.server.frames.storage import reset_store
from tests.server.factories import FUTURE, PAST
from tests.server.test_downloads import fz_bytes

SH = shutil.which("dash") or "/bin/sh"


@pytest.fixture(scope="module")
def archive_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """A live archive bound to 127.0.0.1 on an ephemeral port (never a fixed one), sharing
    the test database (created first, so an in-memory SQLite one is handed to its threads)."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("127.0.0.1:0")
    try:
        yield server
    finally:
        # Let request threads of closed connections finish first: they close their database
        # connection on the way out, which must happen while it is still shared with them.
        for thread in threading.enumerate():
            if "process_request_thread" in thread.name:
                thread.join(timeout=5)
        server.stop()


@pytest.fixture
def frames(download_archive: Any, world: Any) -> dict[str, Frame]:
    return {
        "public": download_archive.add(fz_bytes(seed=1), proposal_id="PROP-B", public_date=PAST),
        "own": download_archive.add(fz_bytes(seed=2), proposal_id="PROP-A", public_date=FUTURE),
        "other": download_archive.add(fz_bytes(seed=3), proposal_id="PROP-B", public_date=FUTURE),
    }


def script_of(response: Any) -> str:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/x-shellscript; charset=utf-8"
    assert response["Content-Disposition"] == "attachment; filename=archivedownload.sh"
    return response.content.decode()


def test_the_script_lists_signed_links_and_md5s(world: Any, frames: dict[str, Frame]) -> None:
    profile = profile_of(world.member)
    profile.api_token = "portal-secret-of-alice"
    profile.save()
    member = world.client(world.member)
    ids = ",".join(str(frame.pk) for frame in frames.values())
    script = script_of(member.get(f"/frames/download-script/?frame_ids={ids}"))
    assert script.startswith("#!/bin/sh\n") and "set -eu" in script
    gets = [line for line in script.splitlines() if line.startswith("get ")]
    assert len(gets) == 2
    for key in ("public", "own"):
        frame = frames[key]
        md5 = Version.objects.get(frame=frame).md5
        assert any(f"./{frame.basename}.fits.fz" in line and md5 in line for line in gets)
    assert frames["other"].basename not in script
    assert all("signature=" in line and "expires=" in line for line in gets)
    for secret in (token_for(world.member).key, "portal-secret-of-alice", "Authorization"):
        assert secret not in script
    check = subprocess.run([SH, "-n"], input=script, text=True, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_selection_by_search_filters_and_ordering(world: Any, frames: dict[str, Frame]) -> None:
    script = script_of(world.su.get("/frames/download-script/?proposal_id=PROP-B&ordering=id"))
    names = re.findall(r"\./(\S+)\.fits\.fz", script)
    assert names == [frames["public"].basename, frames["other"].basename]
    bad = world.su.get("/frames/download-script/?start=notadate")
    assert bad.status_code == 400 and "start" in bad.json()
    bad = world.su.get("/frames/download-script/?frame_ids=abc")
    assert bad.status_code == 400 and "frame_ids" in bad.json()
    posted = world.su.post(
        "/frames/download-script/", {"frame_ids": [frames["own"].pk]}, format="json"
    )
    assert re.findall(r"\./(\S+)\.fits\.fz", script_of(posted)) == [frames["own"].basename]
    unknown = world.anon.post("/frames/download-script/", {"auth_token": "nope"})
    assert unknown.status_code == 404


def test_the_selection_size_is_capped(world: Any, frames: dict[str, Frame], settings: Any) -> None:
    settings.OBSARCHIVE_DOWNLOADS = dataclasses.replace(
        settings.OBSARCHIVE_DOWNLOADS, script_max_frames=2
    )
    response = world.su.get("/frames/download-script/")
    assert response.status_code == 400
    assert "more than 2 files" in response.json()["non_field_errors"][0]
    assert world.su.get("/frames/download-script/?proposal_id=PROP-B").status_code == 200


def _only_these_tools(tmp_path: Path, tools: list[str]) -> str:
    """A PATH holding only ``tools`` (so a script cannot find curl when testing wget)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, tool
        (directory / tool).symlink_to(found)
    return str(directory)


@pytest.mark.parametrize(
    ("shell", "fetcher"), [("dash", "curl"), ("dash", "wget"), ("bash", "curl")]
)
def test_running_the_script_downloads_and_checks_every_file(
    transactional_db: Any,
    archive_server: Any,
    download_archive: Any,
    world: Any,
    settings: Any,
    tmp_path: Path,
    shell: str,
    fetcher: str,
) -> None:
    # Links must point at the live server, so the store signs with its address.
    settings.ARCHIVE = dataclasses.replace(
        settings.ARCHIVE,
        store=dataclasses.replace(settings.ARCHIVE.store, base_url=archive_server.url + "/"),
    )
    reset_store()
    contents = {seed: fz_bytes(seed=seed) for seed in (11, 12, 13)}
    frames = [
        download_archive.add(data, proposal_id="PROP-A", public_date=FUTURE)
        for data in contents.values()
    ]
    member = world.client(world.member)
    ids = ",".join(str(frame.pk) for frame in frames)
    script = tmp_path / "archivedownload.sh"
    script.write_text(script_of(member.get(f"/frames/download-script/?frame_ids={ids}")))
    path = _only_these_tools(tmp_path, [fetcher, "md5sum", "cut", "mv", "rm", "mkdir"])
    shell_path = shutil.which(shell)
    assert shell_path is not None
    target = tmp_path / "data"
    env = {"PATH": path, "HOME": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shell_path, str(script), str(target)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    for frame, data in zip(frames, contents.values(), strict=True):
        downloaded = target / f"{frame.basename}.fits.fz"
        assert downloaded.read_bytes() == data
        assert hashlib.md5(downloaded.read_bytes()).hexdigest() == (
            Version.objects.get(frame=frame).md5
        )
    assert sorted(os.listdir(target)) == sorted(f"{f.basename}.fits.fz" for f in frames)
    second = run()
    assert second.returncode == 0 and second.stdout.count("already here") == 3

    # A corrupted local copy is fetched again; a link that no longer verifies fails loudly.
    (target / f"{frames[0].basename}.fits.fz").write_bytes(b"damaged")
    lines = script.read_text().splitlines(keepends=True)
    (number,) = [i for i, line in enumerate(lines) if f"./{frames[0].basename}." in line]
    lines[number] = re.sub(r"(signature=)([A-Za-z0-9_-]{5})", r"\1AAAAA", lines[number])
    script.write_text("".join(lines))
    third = run()
    assert third.returncode == 1
    assert "FAILED" in third.stderr and "1 file(s) failed" in third.stderr
    assert not any(name.endswith(".part") for name in os.listdir(target))
