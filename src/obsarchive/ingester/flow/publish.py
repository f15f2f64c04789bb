"""Producers: put an ingest message on the queue (the seed's ``{"filepath": ...}``).

A telescope control system calls :func:`publish` (or keeps a :class:`Publisher` open when it
publishes often); ``obsarchive publish PATH...`` and ``obsarchive watch DIR`` use the same code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obsarchive.config import FlowSettings, Settings, load_settings
from obsarchive.ingester.flow.errors import FlowError, MessageError
from obsarchive.ingester.flow.ledger import Ledger
from obsarchive.ingester.flow.messages import Message, new_message_id
from obsarchive.ingester.flow.queues import IngestQueue, open_queue

__all__ = ["Publisher", "publish"]

logger = logging.getLogger(__name__)


class Publisher:
    """Publishes ingest messages to one queue and notes them in the ledger.

    Parameters
    ----------
    queue
        Where messages go.
    ledger
        Where each published message is recorded as ``queued`` (None: not recorded; the worker
        creates the row when it starts).
    """

    def __init__(self, queue: IngestQueue, ledger: Ledger | None = None) -> None:
        self.queue = queue
        self.ledger = ledger

    @classmethod
    def from_settings(cls, flow: FlowSettings) -> Publisher:
        """A publisher on the configured ``QUEUE_URL``/``QUEUE_NAME`` and ``LEDGER_URL``."""
        return cls(open_queue(flow.queue_url, flow.queue_name), Ledger(flow.ledger_url))

    def close(self) -> None:
        self.queue.close()
        if self.ledger is not None:
            self.ledger.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publish_message(self, message: Message) -> str:
        """Publish a ready :class:`Message` (an id is added if it has none); return the id."""
        if message.message_id is None:
            message = Message.from_dict({**message.to_dict(), "message_id": new_message_id()})
        assert message.message_id is not None
        # Queue first, then ledger: a failure in between leaves a message with no "queued"
        # row (the worker writes the row), never a "queued" row with no message.
        self.queue.publish(message.to_json(), message_id=message.message_id)
        if self.ledger is not None:
            try:
                self.ledger.record_queued(message.message_id, message)
            except FlowError as exc:
                logger.warning("published %s but could not note it in the ledger: %s",
                               message.message_id, exc)  # fmt: skip
        logger.info("published %s as %s", message.filepath, message.message_id)
        return message.message_id

    def publish(
        self,
        filepath: str | os.PathLike[str],
        *,
        path: str | None = None,
        file_metadata: Mapping[str, Any] | None = None,
        is_thumbnail: bool = False,
        thumbnail_size: str | None = None,
        must_exist: bool = True,
    ) -> str:
        """Publish one file; see :func:`publish`."""
        resolved = Path(filepath).expanduser().absolute()
        if must_exist and not resolved.is_file():
            raise MessageError(f"{resolved}: no such file")
        message = Message(
            filepath=str(resolved),
            message_id=new_message_id(),
            path=path,
            file_metadata=dict(file_metadata) if file_metadata is not None else None,
            is_thumbnail=is_thumbnail,
            thumbnail_size=thumbnail_size,
            published_at=datetime.now(UTC),
        )
        return self.publish_message(message)


def publish(
    filepath: str | os.PathLike[str],
    *,
    path: str | None = None,
    file_metadata: Mapping[str, Any] | None = None,
    is_thumbnail: bool = False,
    thumbnail_size: str | None = None,
    must_exist: bool = True,
    settings: Settings | None = None,
) -> str:
    """Queue a product for ingestion by ``obsarchive worker``; return the message id.

    This is the call a telescope control system makes once a product is completely written.
    The message survives a crash of the worker, the broker or this process once the call
    returns.

    Parameters
    ----------
    filepath
        The product on disk (made absolute: the worker may run elsewhere).
    path
        Name to archive the product under, when the file on disk is named differently.
    file_metadata
        Header values for products without FITS headers (PDF, thumbnails).
    is_thumbnail, thumbnail_size
        Ingest as a thumbnail (``thumbnail_size`` is then required by the ingester).
    must_exist
        Refuse a path that is not an existing file (default). Turn off when the worker sees a
        file system this process does not.
    settings
        Configuration (``QUEUE_URL``, ``QUEUE_NAME``, ``LEDGER_URL``); read from the
        environment when None.

    Returns
    -------
    str
        The message id, the key of the message's row in the ingestion ledger.

    Raises
    ------
    MessageError
        The file does not exist or an option has the wrong type.
    QueueUnavailableError
        The queue cannot be reached; nothing was published.
    """
    settings = settings or load_settings()
    with Publisher.from_settings(settings.flow) as publisher:
        return publisher.publish(
            filepath,
            path=path,
            file_metadata=file_metadata,
            is_thumbnail=is_thumbnail,
            thumbnail_size=thumbnail_size,
            must_exist=must_exist,
        )
