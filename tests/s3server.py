"""An S3-protocol server for tests: moto's server mode, in a subprocess, on an ephemeral port.

Use the ``s3_server`` fixture (re-exported by tests/conftest.py)::

    def test_upload(s3_server):
        bucket = s3_server.create_bucket()              # fresh, versioned, unique name
        store = s3_server.store(bucket)                 # an S3Store talking HTTP to it
        ...
        subprocess.run([...], env={**os.environ, **s3_server.env(bucket)})   # for CLIs

The server runs in its own process (not a thread of the test process) so that it behaves like
a remote service and so that memory measurements of the test process do not include it. It
never patches boto3. Buckets are unique per call, so tests (and engineers running tests in
parallel) never see each other's objects.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from obsarchive.storage.s3 import S3Store

# Run inside the child: bind port 0, report the real port on stdout, serve until stdin closes
# (so the server also dies when the test process dies, whatever the way).
_LAUNCHER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

ACCESS_KEY = "obsarchive-test"
SECRET_KEY = "obsarchive-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running S3-protocol endpoint with helpers to make buckets, clients and stores."""

    endpoint_url: str
    region: str = REGION
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    _buckets: list[str] = field(default_factory=list)

    def session(self) -> Any:
        import boto3.session

        return boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    @cached_property
    def client(self) -> Any:
        """One shared client (boto3 clients are thread-safe)."""
        from obsarchive.storage.s3 import create_s3_client

        return create_s3_client(
            endpoint_url=self.endpoint_url,
            region=self.region,
            addressing_style="path",
            max_attempts=2,
            session=self.session(),
        )

    def create_bucket(self, *, versioned: bool = True, name: str | None = None) -> str:
        bucket = name or f"obsarchive-test-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=bucket)
        if versioned:
            self.client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        self._buckets.append(bucket)
        return bucket

    def store(self, bucket: str | None = None, **options: Any) -> S3Store:
        """An S3Store on ``bucket`` (a new versioned one by default) using the shared client."""
        from obsarchive.storage.s3 import S3Store

        if "client" not in options:
            options["client"] = self.client
        return S3Store(
            bucket or self.create_bucket(),
            endpoint_url=self.endpoint_url,
            region=self.region,
            addressing_style="path",
            **options,
        )

    def env(self, bucket: str) -> dict[str, str]:
        """Environment variables that point an obsarchive process at this server and bucket."""
        return {
            "FILESTORE_TYPE": "s3",
            "BUCKET": bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_ADDRESSING_STYLE": "path",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def _unavailable(message: str) -> None:
    # Same rule as tests/conftest.require_service (not imported: conftest imports this module).
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message} (CI=true: the S3 test server must start)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server in a subprocess for the whole test session."""
    try:
        import moto.server  # noqa: F401  (only to fail early with a clear reason)
    except ImportError:
        _unavailable("moto[server] is not installed; pip install 'obsarchive[dev]'")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None and process.stdin is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line.isdigit():
        process.kill()
        process.wait()
        _unavailable(f"the moto S3 server did not start (got {line!r})")
    try:
        yield S3Server(endpoint_url=f"http://127.0.0.1:{int(line)}")
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
