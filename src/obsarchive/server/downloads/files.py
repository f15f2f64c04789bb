"""Reading stored objects for responses: chunked, ranged, and seekable when astropy needs it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from obsarchive.storage.base import ObjectStore

__all__ = ["CHUNK", "object_chunks", "open_object_chunks", "open_seekable", "read_chunks"]

CHUNK = 1024 * 1024


def read_chunks(stream: IO[bytes], length: int | None = None) -> Iterator[bytes]:
    """``length`` bytes (all when None) from the stream's position, in 1 MiB chunks."""
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            if remaining is not None:
                raise OSError(f"the stored object ended {remaining} bytes early")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def object_chunks(
    store: ObjectStore, key: str, version_id: str | None, start: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """One stored version's bytes, opened only when the first chunk is wanted.

    Lazy on purpose: a zip of 10 000 members queues 10 000 of these, and only the one being
    sent may hold an open file.
    """
    with store.open(key, version_id) as stream:
        if start:
            if stream.seekable():
                stream.seek(start)
            else:  # skip forward on a stream that cannot seek (rare: S3 serves ranges itself)
                for _ in read_chunks(stream, start):
                    pass
        yield from read_chunks(stream, length)


def open_object_chunks(
    store: ObjectStore, key: str, version_id: str | None, start: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """Like :func:`object_chunks`, but the object is opened now, so a missing object or a store
    failure raises here, before a response has started; the file closes when the returned
    iterator is exhausted or closed.

    Raises
    ------
    StoreError
        ``ObjectNotFoundError`` and the rest of the family, from the store.
    """
    stack = contextlib.ExitStack()
    try:
        stream = stack.enter_context(store.open(key, version_id))
        if start:
            if stream.seekable():
                stream.seek(start)
            else:
                for _ in read_chunks(stream, start):
                    pass
    except BaseException:
        stack.close()
        raise

    def chunks() -> Iterator[bytes]:
        with stack:
            yield from read_chunks(stream, length)

    return chunks()


def open_seekable(
    store: ObjectStore, key: str, version_id: str | None
) -> tuple[IO[bytes], Callable[[], None]]:
    """One stored version as a seekable file, and the function that releases it.

    A store stream that cannot seek (S3) is first copied to a temporary file on disk, so
    memory does not grow with the object.
    """
    stack = contextlib.ExitStack()
    try:
        stream = stack.enter_context(store.open(key, version_id))
        seekable = False
        with contextlib.suppress(AttributeError, OSError, ValueError):
            seekable = bool(stream.seekable())
        if seekable:
            return stream, stack.close
        with tempfile.TemporaryFile(prefix="obsarchive-download-") as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
            spool.flush()
            # A read-only handle on the same (already unlinked) file: astropy refuses to open
            # a file object whose mode is "rb+" for reading.
            reader = os.fdopen(os.dup(spool.fileno()), "rb")
        stack.close()
        reader.seek(0)
        return reader, reader.close
    except BaseException:
        stack.close()
        raise
