"""Configuration of post-ingest events (upstream ``QUEUE_BROKER_URL``, ``PROCESSED_EXCHANGE_*``).

Unlike upstream (default broker ``memory://localhost``, which silently drops every message),
no broker is configured by default: embedded installations publish nothing and write no outbox
rows. Set ``QUEUE_BROKER_URL`` (e.g. ``amqp://guest:guest@127.0.0.1:5672//``) to announce each
archived frame on the fan-out exchange ``PROCESSED_EXCHANGE_NAME``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from obsarchive.config import ConfigurationError, EnvReader

__all__ = ["EventSettings", "load_event_settings"]


@dataclass(frozen=True)
class EventSettings:
    """How and where archive events are published."""

    broker_url: str | None = None
    exchange_enabled: bool = True
    exchange_name: str = "archived_fits"
    connect_timeout: float = 2.0
    publish_timeout: float = 5.0
    # After a failed immediate publish, skip immediate attempts for this long so that a down
    # broker does not add a connect timeout to every ingest; the outbox keeps the events.
    failure_cooldown: float = 30.0
    max_backoff: float = 600.0
    batch_size: int = 100

    @property
    def enabled(self) -> bool:
        """True when events are recorded and published at all."""
        return self.exchange_enabled and bool(self.broker_url)


def load_event_settings(environ: Mapping[str, str]) -> EventSettings:
    """Read :class:`EventSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    env = EnvReader(environ)
    name = env.stripped("PROCESSED_EXCHANGE_NAME", "archived_fits")
    if not name:
        raise ConfigurationError("PROCESSED_EXCHANGE_NAME", "must not be empty")
    return EventSettings(
        broker_url=env.stripped("QUEUE_BROKER_URL", "") or None,
        exchange_enabled=env.flag("PROCESSED_EXCHANGE_ENABLED", True),
        exchange_name=name,
        connect_timeout=env.positive("QUEUE_BROKER_CONNECT_TIMEOUT", 2.0),
        publish_timeout=env.positive("QUEUE_BROKER_PUBLISH_TIMEOUT", 5.0),
    )


def current_event_settings() -> EventSettings:
    """The settings in force: ``settings.OBSARCHIVE_EVENTS`` (built from the environment)."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_EVENTS", None)
    if isinstance(configured, EventSettings):
        return configured
    return EventSettings()
