"""The error family of the ingestion flow (queue, ledger, messages).

These are infrastructure errors, separate from the ingester's four retry classes: they say
whether the *flow itself* can go on (a broker or database that is down is temporary; a bad URL
is not).
"""

from __future__ import annotations

__all__ = [
    "FlowConfigurationError",
    "FlowError",
    "LedgerError",
    "MessageError",
    "QueueError",
    "QueueUnavailableError",
]


class FlowError(Exception):
    """Base of every error raised by :mod:`obsarchive.ingester.flow`."""


class MessageError(FlowError):
    """A queue message is malformed: not JSON, no ``filepath``, wrong types, unknown version.

    Such a message can never succeed, so the worker dead-letters it at once.
    """


class QueueError(FlowError):
    """The queue refused an operation (for example an unknown message id)."""


class QueueUnavailableError(QueueError):
    """The broker or queue database cannot be reached right now; retry with backoff."""


class LedgerError(FlowError):
    """The ingestion ledger cannot be read or written."""


class FlowConfigurationError(FlowError):
    """A queue or ledger URL names an unsupported scheme or a missing driver."""
