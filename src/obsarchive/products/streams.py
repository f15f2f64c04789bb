"""Where a product's bytes come from: a path, or a binary file object the caller owns."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

__all__ = ["CHUNK", "SPOOL_IN_MEMORY", "BorrowedStream", "ProductSource"]

CHUNK = 1024 * 1024
# A non-seekable stream is copied aside so it can be read more than once; small products stay
# in memory, larger ones spill to a temporary file.
SPOOL_IN_MEMORY = 16 * 1024 * 1024


class BorrowedStream(io.BufferedIOBase, BinaryIO):
    """A view of someone else's binary stream whose ``close()`` leaves that stream open.

    It is both an :class:`io.BufferedIOBase` and a :class:`typing.BinaryIO`, so it can be
    handed to anything that wants a binary file.

    astropy closes any file object it is given, and callers of :meth:`DataProduct.open` are
    expected to close what they get; handing out this view keeps the caller's own file usable.
    It has no ``fileno()`` on purpose, so astropy never memory-maps through it.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw

    @property
    def name(self) -> str:
        """The underlying stream's name, or ``''`` when it has none."""
        value = getattr(self._raw, "name", "")
        return value if isinstance(value, str) else ""

    @property
    def mode(self) -> str:
        return "rb"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        return self._raw.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        self._check_open()
        return self._raw.tell()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed stream")


class ProductSource:
    """The bytes of one product, readable from the start as often as needed.

    A path is reopened for each reader. A file object is shared: readers get a
    :class:`BorrowedStream` view rewound to 0, and the caller keeps ownership. A stream that
    cannot seek is first copied (in chunks) into a spooled temporary file that this object owns.
    """

    def __init__(self, path: Path | None, stream: IO[bytes] | None, *, owned: bool) -> None:
        self._path = path
        self._stream = stream
        self._owned = owned

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ProductSource:
        return cls(Path(path), None, owned=False)

    @classmethod
    def from_stream(cls, stream: IO[bytes]) -> ProductSource:
        """Wrap a binary file object, spooling it aside first when it cannot seek.

        Raises
        ------
        TypeError
            ``stream`` is a text stream.
        """
        if isinstance(stream, io.TextIOBase):
            raise TypeError("products must be opened in binary mode ('rb'), not text mode")
        seekable = getattr(stream, "seekable", None)
        if callable(seekable) and seekable():
            return cls(None, stream, owned=False)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - kept
        shutil.copyfileobj(stream, spool, CHUNK)
        spool.seek(0)
        return cls(None, cast(IO[bytes], spool), owned=True)

    @property
    def path(self) -> Path | None:
        """The file's path, when the product was opened from one."""
        return self._path

    def size(self) -> int:
        """The number of bytes (the stream's length, wherever it is positioned)."""
        if self._path is not None:
            return self._path.stat().st_size
        assert self._stream is not None
        end = self._stream.seek(0, io.SEEK_END)
        self._stream.seek(0)
        return end

    def open(self) -> BinaryIO:
        """A binary stream positioned at byte 0; the caller closes it."""
        if self._path is not None:
            return open(self._path, "rb")  # handed to the caller, who closes it
        assert self._stream is not None
        self._stream.seek(0)
        return BorrowedStream(self._stream)

    def close(self) -> None:
        """Release what this object owns (a spooled copy); a caller's stream stays open."""
        if self._owned and self._stream is not None:
            self._stream.close()
