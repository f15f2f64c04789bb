"""Fixtures and helpers shared by the whole test suite."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_available(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (developer machine) or fail (CI=true) when a service the test needs is down."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services must be running)")
    pytest.skip(f"{message}; start it to run this test")


def require_shared_data() -> Path:
    """The real LCO sample products in ../shared/data, or skip when they are absent."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing (CI must provide ../shared/data)")
        pytest.skip(f"{SHARED_DATA} is not present on this machine")
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


# The S3-protocol test server (moto in a subprocess), shared by storage, ingester and server
# tests: request the ``s3_server`` fixture. Imported last so the helpers above are defined.
from tests.s3server import s3_server  # noqa: E402,F401
