"""Memory-store specifics (the contract suite covers the interface)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from obsarchive.storage import MemoryStore


def test_concurrent_puts_and_deletes_stay_consistent() -> None:
    store = MemoryStore()
    keys = [f"site/inst/2024010{n % 3}/raw/frame-{n}.fits" for n in range(40)]

    def work(n: int) -> str:
        stored = store.put(keys[n], io.BytesIO(b"v1-%d" % n))
        store.put(keys[n], io.BytesIO(b"v2-%d" % n))
        if n % 4 == 0:
            store.delete(keys[n], stored.version_id)
        return keys[n]

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(40)))

    assert sorted(store.keys()) == sorted(keys)
    for n, key in enumerate(keys):
        versions = store.versions(key)
        assert len(versions) == (1 if n % 4 == 0 else 2)
        with store.open(key) as stream:
            assert stream.read() == b"v2-%d" % n


def test_stored_bytes_are_isolated_from_the_source_and_readers() -> None:
    store = MemoryStore()
    source = io.BytesIO(b"original")
    store.put("k", source)
    source.seek(0)
    source.write(b"CHANGED!")
    with store.open("k") as stream:
        assert stream.read() == b"original"
