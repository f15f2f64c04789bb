"""``obsarchive ingest`` and ``obsarchive reconcile`` run as a user runs them: subprocesses.

The archive is a live ``obsarchive serve`` (SQLite and PostgreSQL), the store moto's S3 server.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from obsarchive.ingester import upload_file_to_file_store
from tests.e2e.conftest import unique_fits
from tests.ingester.stub_archive import closed_port_url

# The command's behaviour does not depend on the archive's database: SQLite only here (the
# ingest path itself runs on both databases in test_ingest_live.py). Subprocesses are slow.
pytestmark = [
    pytest.mark.s3,
    pytest.mark.slow,
    pytest.mark.parametrize("live_archive", ["sqlite"], indirect=True),
]

OBSARCHIVE = str(Path(sys.executable).with_name("obsarchive"))


def obsarchive(live_archive, *args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run(
        [OBSARCHIVE, *args],
        env=env or live_archive.client_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_products(folder: Path, count: int, token: str) -> list[Path]:
    paths = []
    for index in range(count):
        product = unique_fits(f"{token}{index}")
        path = folder / product.name
        path.write_bytes(product.getvalue())
        paths.append(path)
    return paths


def test_ingest_a_directory_in_parallel_then_again(live_archive, tmp_path):
    token = uuid.uuid4().hex[:10]
    (tmp_path / "night").mkdir()
    write_products(tmp_path / "night", 3, token)
    (tmp_path / "night" / "notes.txt").write_text("not a product: skipped in directories")

    # As a user runs it: with the default JPEG previews of each frame.
    with_previews = live_archive.client_env(MAKE_PREVIEWS="true")
    first = obsarchive(
        live_archive,
        "ingest",
        "--workers",
        "3",
        "--json",
        str(tmp_path / "night"),
        env=with_previews,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["summary"] == {"ingested": 3}
    for result in report["results"]:
        frame = live_archive.get(f"frames/{result['frame_id']}/").json()
        assert frame["basename"] == Path(result["path"]).name.split(".", 1)[0]

    again = obsarchive(live_archive, "ingest", "--json", str(tmp_path / "night"))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["summary"] == {"already_archived": 3}


def test_summary_table_and_exit_code_for_a_permanent_failure(live_archive, tmp_path):
    (good,) = write_products(tmp_path, 1, uuid.uuid4().hex[:10])
    bad = tmp_path / "cpt1m001-fa14-20260115-0001-e00-broken.fits"
    bad.write_bytes(b"SIMPLE  = garbage" + b" " * 3000)
    result = obsarchive(live_archive, "ingest", str(good), str(bad), str(tmp_path / "missing"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ingested" in result.stdout and "failed" in result.stdout
    assert "no such file or directory" in result.stdout
    assert "3 file(s): 1 ingested, 2 failed" in result.stdout
    assert "Traceback" not in result.stderr


def test_archive_down_exits_75_and_a_rerun_completes(live_archive, tmp_path):
    (product,) = write_products(tmp_path, 1, uuid.uuid4().hex[:10])
    down = obsarchive(live_archive, "ingest", "--api-root", closed_port_url(), str(product))
    assert down.returncode == 75, down.stdout + down.stderr
    assert "retry later" in down.stdout
    assert "Connection refused" in down.stdout
    rerun = obsarchive(live_archive, "ingest", str(product))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 ingested" in rerun.stdout


def test_progress_bar_on_a_terminal(live_archive, tmp_path):
    paths = write_products(tmp_path, 2, uuid.uuid4().hex[:10])
    controller, terminal = pty.openpty()
    env = live_archive.client_env(COLUMNS="120", TERM="xterm")
    process = subprocess.Popen(
        [OBSARCHIVE, "ingest", *map(str, paths)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0, stdout.decode() + shown.decode(errors="replace")
    screen = shown.decode(errors="replace")
    assert "ingest" in screen and "2/2" in screen
    assert b"2 ingested" in stdout


def test_no_progress_bar_when_not_on_a_terminal(live_archive, tmp_path):
    (product,) = write_products(tmp_path, 1, uuid.uuid4().hex[:10])
    result = obsarchive(live_archive, "ingest", str(product))
    assert result.returncode == 0, result.stderr
    assert "1/1" not in result.stderr


def test_check_only(live_archive, tmp_path):
    archived, fresh = write_products(tmp_path, 2, uuid.uuid4().hex[:10])
    assert obsarchive(live_archive, "ingest", str(archived)).returncode == 0
    yes = obsarchive(live_archive, "ingest", "--check-only", "--json", str(archived))
    assert yes.returncode == 0
    assert json.loads(yes.stdout)["results"][0]["status"] == "archived"
    no = obsarchive(live_archive, "ingest", "--check-only", str(archived), str(fresh))
    assert no.returncode == 1
    assert "not archived" in no.stdout


def test_dry_run_prints_the_record_and_stores_nothing(live_archive, tmp_path):
    (product,) = write_products(tmp_path, 1, uuid.uuid4().hex[:10])
    result = obsarchive(live_archive, "ingest", "--dry-run", "--json", str(product))
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["results"]
    assert entry["status"] == "valid"
    assert entry["record"]["basename"] == product.name.split(".", 1)[0]
    assert entry["storage_key"].endswith(product.name)
    assert live_archive.get("versions/", md5=entry["md5"]).json()["count"] == 0
    human = obsarchive(live_archive, "ingest", "--dry-run", str(product))
    assert "basename: " in human.stdout and "valid (dry run)" in human.stdout


def test_metadata_options_describe_a_pdf(live_archive, tmp_path):
    token = uuid.uuid4().hex[:10]
    pdf = tmp_path / f"cptnrs03-fa13-20150219-0001-e92-{token}.pdf"
    pdf.write_bytes(b"%PDF-1.3\n% " + token.encode() + b"\n%%EOF\n")
    metadata_file = tmp_path / "meta.json"
    metadata_file.write_text(
        json.dumps(
            {
                "PROPID": "LCOEPO2014B-010",
                "DATE-OBS": "2015-02-19T13:56:05.261",
                "DAY-OBS": "20150219",
                "INSTRUME": "nres03",
                "SITEID": "cpt",
                "TELID": "1m0a",
                "OBSTYPE": "EXPOSE",
                "BLKUID": "1234",
                "RLEVEL": 92,
            }
        )
    )
    missing = obsarchive(live_archive, "ingest", str(pdf))
    assert missing.returncode == 1 and "PROPID" in missing.stdout
    result = obsarchive(
        live_archive,
        "ingest",
        "--json",
        "--metadata-file",
        str(metadata_file),
        "--metadata",
        "TELID=2m0a",
        str(pdf),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = json.loads(result.stdout)["results"]
    frame = live_archive.get(f"frames/{entry['frame_id']}/").json()
    assert frame["telescope_id"] == "2m0a" and frame["instrument_id"] == "nres03"
    assert entry["storage_key"] == f"cpt/nres03/20150219/processed/{pdf.name}"


def test_bucket_option_is_honoured(live_archive, s3_server, tmp_path):
    other = s3_server.create_bucket()
    (product,) = write_products(tmp_path, 1, uuid.uuid4().hex[:10])
    result = obsarchive(live_archive, "ingest", "--json", "--bucket", other, str(product))
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = json.loads(result.stdout)["results"]
    listing = s3_server.client.list_object_versions(Bucket=other)
    assert [v["Key"] for v in listing.get("Versions", [])] == [entry["storage_key"]]
    default = s3_server.client.list_object_versions(
        Bucket=live_archive.bucket, Prefix=entry["storage_key"]
    )
    assert default.get("Versions", []) == []


def test_reconcile_lists_then_removes_only_unreferenced_objects(
    live_archive, s3_server, tmp_path, aws_credentials
):
    token = uuid.uuid4().hex[:10]
    recorded, orphaned = (unique_fits(f"{token}{i}", number=4321) for i in range(2))
    assert obsarchive_ingest_in_process(live_archive, recorded)
    version = upload_file_to_file_store(orphaned, settings=live_archive.settings())
    prefix = f"cpt/fa14/20260115/raw/cpt1m001-fa14-20260115-4321-e00-{token}"

    def reconcile(*extra: str, prefix: str = prefix) -> subprocess.CompletedProcess:
        return obsarchive(live_archive, "reconcile", "--json", "--prefix", prefix, *extra)

    recent = reconcile()  # default --min-age: a fresh upload may be an ingest in progress
    assert recent.returncode == 0, recent.stderr
    report = json.loads(recent.stdout)
    assert [o["version_id"] for o in report["too_recent"]] == [version["key"]]
    assert report["orphans"] == [] and report["stored_versions"] == 2

    dry = reconcile("--min-age", "0")
    assert dry.returncode == 0, dry.stderr
    assert [o["version_id"] for o in json.loads(dry.stdout)["orphans"]] == [version["key"]]
    assert len(stored(s3_server, live_archive, prefix)) == 2  # a dry run removes nothing

    # Alone under its prefix, the orphan is 100% of what is stored: refused without --force.
    orphan_key = f"cpt/fa14/20260115/raw/{orphaned.name}"
    refused = reconcile("--min-age", "0", "--delete", prefix=orphan_key)
    assert refused.returncode == 1 and "refusing" in refused.stderr
    assert len(stored(s3_server, live_archive, prefix)) == 2

    removed = reconcile("--min-age", "0", "--delete")
    assert removed.returncode == 0, removed.stderr
    assert [o["version_id"] for o in json.loads(removed.stdout)["removed"]] == [version["key"]]
    (remaining,) = stored(s3_server, live_archive, prefix)
    frame = live_archive.get("frames/", basename=recorded.name.split(".", 1)[0]).json()
    (row,) = frame["results"]
    assert row["version_set"][0]["key"] == remaining

    human = obsarchive(live_archive, "reconcile", "--prefix", prefix, "--min-age", "0")
    assert human.returncode == 0 and "0 orphan(s)" in human.stdout


def stored(s3_server, live_archive, prefix: str) -> list[str]:
    listing = s3_server.client.list_object_versions(Bucket=live_archive.bucket, Prefix=prefix)
    return [v["VersionId"] for v in listing.get("Versions", [])]


def obsarchive_ingest_in_process(live_archive, product) -> bool:
    from obsarchive.ingester import upload_file_and_ingest_to_archive

    return bool(upload_file_and_ingest_to_archive(product, settings=live_archive.settings()))


def test_reconcile_without_a_staff_token_fails_clearly(live_archive):
    plain = live_archive.token_for("e2e-plain-user")
    result = obsarchive(live_archive, "reconcile", "--auth-token", plain)
    assert result.returncode == 1
    assert "403" in result.stderr and "Traceback" not in result.stderr
