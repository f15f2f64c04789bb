"""Exceptions of the events app."""

from __future__ import annotations


class EventError(Exception):
    """Base class of event-publishing problems."""


class BrokerUnavailableError(EventError):
    """The broker could not be reached or did not confirm a message: retry later.

    The events concerned stay pending in the outbox.
    """


class EventsDisabledError(EventError):
    """No broker is configured (``QUEUE_BROKER_URL``) or ``PROCESSED_EXCHANGE_ENABLED`` is off."""
