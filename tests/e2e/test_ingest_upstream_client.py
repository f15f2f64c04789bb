"""Interoperability: the upstream OCS ingester (PyPI ``ocs-ingester``) writes into obsarchive.

The real upstream package runs in its own virtualenv (cached under /tmp by version, so reruns
are quick) against a live ``obsarchive serve`` and moto's S3 server, configured only through
its documented environment variables. Then every frame it archived must download, byte for
byte, through the ``url`` obsarchive gives for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from tests.conftest import IN_CI
from tests.e2e.conftest import run_archive

pytestmark = [pytest.mark.s3, pytest.mark.slow]

UPSTREAM = "ocs-ingester==3.2.0"
CACHE = Path(tempfile.gettempdir()) / "obsarchive-upstream-venvs" / UPSTREAM.replace("==", "-")
PDF_METADATA = {
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

# Runs inside the upstream virtualenv: ingest each file with the upstream library, one JSON
# line per file. Upstream exceptions are reported by class name, not interpreted here.
CLIENT = r"""
import json, sys
from ocs_ingester.ingester import upload_file_and_ingest_to_archive
pdf_metadata = json.loads(sys.argv[1])
for path in sys.argv[2:]:
    metadata = dict(pdf_metadata) if path.endswith(".pdf") else None
    try:
        with open(path, "rb") as f:
            result = upload_file_and_ingest_to_archive(f, file_metadata=metadata)
    except Exception as exc:
        print(json.dumps({"path": path, "error": type(exc).__name__, "message": str(exc)}))
    else:
        print(json.dumps({"path": path, "frameid": result["frameid"], "url": result["url"],
                          "version": result["version_set"][0]}))
    sys.stdout.flush()
"""


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the upstream client must be installable)")
    pytest.skip(reason)


def _pypi_reachable() -> bool:
    try:
        return requests.get("https://pypi.org/simple/ocs-ingester/", timeout=10).ok
    except requests.RequestException:
        return False


def upstream_python() -> Path:
    """The Python of a virtualenv with the upstream ingester, built once per version."""
    python = CACHE / "bin" / "python"
    marker = CACHE / ".complete"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE.parent / f"{CACHE.name}.lock", "w") as lock:
        # Engineers run tests concurrently: one builds, the others wait for it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        # A venv's scripts hard-code its path, so it is built in place; the marker says done.
        shutil.rmtree(CACHE, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(CACHE)], check=True)
        install = subprocess.run(
            [str(CACHE / "bin" / "pip"), "install", "-q", UPSTREAM],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if install.returncode != 0:
            shutil.rmtree(CACHE, ignore_errors=True)
            if not _pypi_reachable():
                _unavailable(f"PyPI is unreachable, cannot install {UPSTREAM}")
            pytest.fail(f"pip install {UPSTREAM} failed:\n{install.stderr[-3000:]}")
        marker.write_text(UPSTREAM)
    return python


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def upstream_archive(s3_server, tmp_path_factory):
    """A fresh SQLite archive of its own: the samples are new to it whatever ran before."""
    bucket = s3_server.create_bucket()
    home = tmp_path_factory.mktemp("archive-upstream-client")
    with run_archive("sqlite", home, s3_server.env(bucket), bucket) as archive:
        yield archive


def test_upstream_ocs_ingester_ingests_into_obsarchive(upstream_archive, shared_data, s3_server):
    python = upstream_python()
    paths = sorted(str(p) for p in (shared_data / "fits").iterdir())
    paths.append(str(shared_data / "other" / "cptnrs03-fa13-20150219-0001-e92-summary.pdf"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "API_ROOT": upstream_archive.api_root,
        "AUTH_TOKEN": upstream_archive.token,
        "FILESTORE_TYPE": "s3",
        "BUCKET": upstream_archive.bucket,
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
        "OPENTSDB_PYTHON_METRICS_TEST_MODE": "True",  # no metrics server here
    }
    run = subprocess.run(
        [str(python), "-c", CLIENT, json.dumps(PDF_METADATA), *paths],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["path"] for r in results] == paths

    seen: set[str] = set()
    newest: dict[int, str] = {}  # frame id -> md5 of the last version posted for it
    for result in results:
        md5 = md5_of(Path(result["path"]).read_bytes())
        if md5 in seen:
            # An fpacked catalogue byte-identical to its .fits twin: a duplicate upstream too.
            assert result.get("error") == "NonFatalDoNotRetryError", result
            continue
        assert "error" not in result, result
        assert result["version"]["md5"] == md5
        seen.add(md5)
        newest[result["frameid"]] = md5

    for frame_id, md5 in newest.items():
        frame = upstream_archive.get(f"frames/{frame_id}/").json()
        download = requests.get(frame["url"], timeout=60)
        assert download.status_code == 200, (frame["basename"], download.text[:300])
        assert md5_of(download.content) == md5, frame["basename"]
