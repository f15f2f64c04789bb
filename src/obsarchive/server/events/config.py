"""Configuration of post-ingest events (upstream ``QUEUE_BROKER_URL``, ``PROCESSED_EXCHANGE_*``).

Unlike upstream (default broker ``memory://localhost``, which silently drops every message),
no broker is configured by default: embedded installations publish nothing and write no outbox
rows. Set ``QUEUE_BROKER_URL`` (e.g. ``amqp://guest:guest@127.0.0.1:5672//``) to announce each
archived frame on the fan-out exchange ``PROCESSED_EXCHANGE_NAME``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from obsarchive.config import ConfigurationError

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


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(name, f"expected true or false, got {raw!r}")


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"expected a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(name, f"must be positive, got {value}")
    return value


def load_event_settings(environ: Mapping[str, str]) -> EventSettings:
    """Read :class:`EventSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    broker = (environ.get("QUEUE_BROKER_URL") or "").strip() or None
    name = (environ.get("PROCESSED_EXCHANGE_NAME") or "archived_fits").strip()
    if not name:
        raise ConfigurationError("PROCESSED_EXCHANGE_NAME", "must not be empty")
    return EventSettings(
        broker_url=broker,
        exchange_enabled=_bool(environ, "PROCESSED_EXCHANGE_ENABLED", True),
        exchange_name=name,
        connect_timeout=_float(environ, "QUEUE_BROKER_CONNECT_TIMEOUT", 2.0),
        publish_timeout=_float(environ, "QUEUE_BROKER_PUBLISH_TIMEOUT", 5.0),
    )


def current_event_settings() -> EventSettings:
    """The settings in force: ``settings.OBSARCHIVE_EVENTS`` (built from the environment)."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_EVENTS", None)
    if isinstance(configured, EventSettings):
        return configured
    return EventSettings()
