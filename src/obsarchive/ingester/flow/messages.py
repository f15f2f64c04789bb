"""The ingest message: what producers put on the queue and the worker takes off it.

The seed's minimal form is kept valid as it is::

    {"filepath": "/data/incoming/coj1m011-kb05-20150219-0125-e90.fits.fz"}

Optional keys (all JSON): ``schema_version`` (absent means 1), ``message_id`` (a producer's
unique id; :func:`~obsarchive.ingester.flow.publish.publish` always sets one), ``path`` (the
product name to archive under, when the file on disk has another name), ``file_metadata``
(header values for non-FITS products such as PDFs), ``is_thumbnail`` and ``thumbnail_size``,
and ``published_at`` (ISO 8601 UTC).

Compatibility rule (decided): unknown keys are *tolerated and ignored*, so a newer producer may
add optional keys without breaking older workers; a change that older workers must not ignore
bumps ``schema_version``, and a worker dead-letters a version it does not know.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from obsarchive.ingester.flow.errors import MessageError

__all__ = ["SCHEMA_VERSION", "Message", "new_message_id"]

SCHEMA_VERSION = 1
"""The message schema version this worker understands."""

_MAX_BODY_BYTES = 1024 * 1024  # a message is a pointer to a file, never the file itself
_KNOWN_KEYS = frozenset(
    {
        "schema_version",
        "message_id",
        "filepath",
        "path",
        "file_metadata",
        "is_thumbnail",
        "thumbnail_size",
        "published_at",
    }
)


def new_message_id() -> str:
    """A fresh, unique message id (32 hex digits)."""
    return uuid.uuid4().hex


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


@dataclass(frozen=True)
class Message:
    """One request to ingest a file that is already on disk.

    Parameters
    ----------
    filepath
        Absolute path of the product on the worker's file system.
    message_id
        Unique id of this request; the ledger's key. ``None`` for a bare producer message
        (the queue then derives a stable id).
    path
        Name to archive the product under (upstream ``path`` argument); defaults to
        ``filepath``.
    file_metadata
        Header values for products without FITS headers (PDF, JPEG thumbnails).
    is_thumbnail, thumbnail_size
        Ingest as a thumbnail of ``thumbnail_size`` (upstream arguments of the same names).
    published_at
        When the producer published the message (timezone-aware UTC).
    """

    filepath: str
    message_id: str | None = None
    path: str | None = None
    file_metadata: Mapping[str, Any] | None = None
    is_thumbnail: bool = False
    thumbnail_size: str | None = None
    published_at: datetime | None = None
    schema_version: int = SCHEMA_VERSION
    extra_keys: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.filepath, str) or not self.filepath.strip():
            raise MessageError("'filepath' must be a non-empty string")
        if "\x00" in self.filepath:
            raise MessageError("'filepath' contains a NUL byte")
        if not PurePosixPath(self.filepath).is_absolute():
            # The worker may run in another directory (or on another host): a relative path
            # would silently name a different file there.
            raise MessageError(f"'filepath' must be absolute, got {self.filepath!r}")
        if self.message_id is not None and (
            not isinstance(self.message_id, str) or not 0 < len(self.message_id) <= 200
        ):
            raise MessageError("'message_id' must be a string of 1 to 200 characters")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.strip()):
            raise MessageError("'path' must be a non-empty string when given")
        if self.file_metadata is not None:
            if not isinstance(self.file_metadata, Mapping):
                raise MessageError("'file_metadata' must be an object")
            for key, value in self.file_metadata.items():
                if not isinstance(key, str) or not _is_scalar(value):
                    raise MessageError(
                        f"'file_metadata' values must be strings, numbers, booleans or null; "
                        f"{key!r} is {type(value).__name__}"
                    )
        if not isinstance(self.is_thumbnail, bool):
            raise MessageError("'is_thumbnail' must be true or false")
        if self.thumbnail_size is not None and not isinstance(self.thumbnail_size, str):
            raise MessageError("'thumbnail_size' must be a string when given")
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise MessageError("'published_at' must be timezone-aware")

    @property
    def archive_name(self) -> str:
        """The name the product is archived under: ``path`` if given, else ``filepath``."""
        return self.path or self.filepath

    @property
    def basename(self) -> str:
        """The file name part of :attr:`archive_name`."""
        return PurePosixPath(self.archive_name).name

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this message (optional keys only when set)."""
        body: dict[str, Any] = {"schema_version": self.schema_version, "filepath": self.filepath}
        if self.message_id is not None:
            body["message_id"] = self.message_id
        if self.path is not None:
            body["path"] = self.path
        if self.file_metadata is not None:
            body["file_metadata"] = dict(self.file_metadata)
        if self.is_thumbnail:
            body["is_thumbnail"] = True
        if self.thumbnail_size is not None:
            body["thumbnail_size"] = self.thumbnail_size
        if self.published_at is not None:
            body["published_at"] = self.published_at.astimezone(UTC).isoformat()
        return body

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes, as put on the queue."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Message:
        """Validate a decoded message object.

        Raises
        ------
        MessageError
            A required key is missing, a value has the wrong type, or the schema version is
            newer than this worker understands.
        """
        if not isinstance(body, Mapping):
            raise MessageError(f"a message must be a JSON object, not {type(body).__name__}")
        version = body.get("schema_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise MessageError(f"'schema_version' must be a positive integer, got {version!r}")
        if version > SCHEMA_VERSION:
            raise MessageError(
                f"message schema version {version} is newer than this worker understands "
                f"({SCHEMA_VERSION}); upgrade obsarchive"
            )
        if "filepath" not in body:
            raise MessageError("the message has no 'filepath'")
        published_raw = body.get("published_at")
        published_at = None
        if published_raw is not None:
            try:
                published_at = datetime.fromisoformat(str(published_raw))
            except ValueError:
                raise MessageError(f"'published_at' is not ISO 8601: {published_raw!r}") from None
            if published_at.tzinfo is None:
                published_at = published_at.replace(tzinfo=UTC)
        return cls(
            filepath=body["filepath"],
            message_id=body.get("message_id"),
            path=body.get("path"),
            file_metadata=body.get("file_metadata"),
            is_thumbnail=body.get("is_thumbnail", False),
            thumbnail_size=body.get("thumbnail_size"),
            published_at=published_at,
            schema_version=version,
            extra_keys=tuple(sorted(set(body) - _KNOWN_KEYS)),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Message:
        """Decode and validate queue bytes.

        Raises
        ------
        MessageError
            The bytes are not UTF-8 JSON, or :meth:`from_dict` refuses the object.
        """
        if len(raw) > _MAX_BODY_BYTES:
            raise MessageError(f"message of {len(raw)} bytes is too large")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageError(f"message is not valid JSON: {exc}") from exc
        return cls.from_dict(body)
