"""The three object-store backends, built so one contract suite can drive them all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from obsarchive.storage import FilesystemStore, MemoryStore, ObjectStore, verify_download

SIGNING_KEY = b"storage-tests-signing-key"
BASE_URL = "http://archive.test/"
MiB = 1024 * 1024


class FrozenClock:
    """A settable UTC clock for stores and signature checks."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 4, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class DownloadRefused(Exception):
    """A signed download URL did not verify (expired or tampered)."""


@dataclass
class Backend:
    """One store under test, plus how to follow the URLs it hands out."""

    name: str
    store: ObjectStore
    fetch: Callable[[str], bytes]
    clock: FrozenClock | None = None


def local_fetcher(store: ObjectStore, clock: FrozenClock) -> Callable[[str], bytes]:
    """What the archive's download view does for a filesystem or memory store URL."""

    def fetch(url: str) -> bytes:
        parts = urlsplit(url)
        assert url.startswith(BASE_URL + "download/"), url
        key = unquote(parts.path[len(urlsplit(BASE_URL).path + "download/") :])
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        if not verify_download(
            key,
            query["version"],
            query["expires"],
            query["signature"],
            SIGNING_KEY,
            now=clock(),
        ):
            raise DownloadRefused(url)
        with store.open(key, query["version"]) as stream:
            return stream.read()

    return fetch


def s3_fetch(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    if response.status_code != 200:
        raise DownloadRefused(f"{response.status_code} for {url}")
    return response.content


def make_filesystem(root: Path) -> Backend:
    clock = FrozenClock()
    store = FilesystemStore(root, base_url=BASE_URL, signing_key=SIGNING_KEY, clock=clock)
    return Backend("filesystem", store, local_fetcher(store, clock), clock)


def make_memory() -> Backend:
    clock = FrozenClock()
    store = MemoryStore(base_url=BASE_URL, signing_key=SIGNING_KEY, clock=clock)
    return Backend("memory", store, local_fetcher(store, clock), clock)


@pytest.fixture(params=["memory", "filesystem", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield make_memory()
    elif request.param == "filesystem":
        yield make_filesystem(tmp_path / "store")
    else:
        server = request.getfixturevalue("s3_server")
        # Small multipart settings so moderately sized test objects take the multipart path.
        store = server.store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        yield Backend("s3", store, s3_fetch)


@pytest.fixture(params=["memory", "filesystem"])
def local_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The stores whose download URLs the archive itself signs and verifies."""
    if request.param == "memory":
        return make_memory()
    return make_filesystem(tmp_path / "store")
