"""The transactional outbox: record an event with the data, publish it after commit.

The frames ingest service calls :func:`enqueue_archived_fits` inside its transaction. The
event row commits (or rolls back) together with the frame, so a rolled-back ingest announces
nothing and a committed one is never forgotten: ``transaction.on_commit`` tries to publish it at
once, and whatever could not be published (broker down) stays pending until
``obsarchive events publish`` (``--follow SECONDS`` keeps it running), ``manage.py
publishevents`` or the admin's "publish" action sends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from obsarchive.server.events.config import EventSettings, current_event_settings
from obsarchive.server.events.models import OutboxEvent

__all__ = ["archived_fits_body", "enqueue_archived_fits", "enqueue_event"]

logger = logging.getLogger(__name__)


def _area_geojson_string(frame: Any) -> str | None:
    """The frame footprint as a GeoJSON *string* (upstream sends a string, or null)."""
    geojson = getattr(frame, "area_geojson", None)
    area = geojson() if callable(geojson) else getattr(frame, "area", None)
    if area is None or area == "" or area == {}:
        return None
    if isinstance(area, str):
        return area
    if isinstance(area, Mapping):
        return json.dumps(dict(area))
    text = getattr(area, "geojson", None)  # a GEOS geometry, should anyone use one
    if isinstance(text, str):
        return text
    return json.dumps(area)


def _headers_of(frame: Any) -> dict[str, Any]:
    try:
        headers = frame.headers
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: a frame without Headers
        return {}
    data = getattr(headers, "data", headers)
    return dict(data) if isinstance(data, Mapping) else {}


def _as_versions(version: Any) -> list[Any]:
    if version is None:
        return []
    if isinstance(version, (list, tuple)):
        return list(version)
    if isinstance(version, Iterable) and not isinstance(version, (str, bytes, Mapping)):
        return list(version)
    return [version]


def _version_item(version: Any) -> dict[str, Any]:
    if isinstance(version, Mapping):
        return {k: version.get(k) for k in ("key", "md5", "extension")}
    return {"key": version.key, "md5": version.md5, "extension": version.extension}


def archived_fits_body(frame: Any, versions: Any) -> dict[str, Any]:
    """The OCS ``archived_fits`` message for ``frame`` and the versions just ingested.

    A copy of the stored FITS headers plus ``area`` (GeoJSON string or null), ``basename``,
    ``version_set`` (``[{key, md5, extension}]``), ``filename`` (basename + first version's
    extension, or ``''``) and ``frameid`` — the keys downstream pipelines (BANZAI) read.
    """
    items = [_version_item(v) for v in _as_versions(versions)]
    body: dict[str, Any] = _headers_of(frame)
    body["area"] = _area_geojson_string(frame)
    body["basename"] = frame.basename
    body["version_set"] = items
    body["filename"] = f"{frame.basename}{items[0]['extension']}" if items else ""
    body["frameid"] = frame.pk
    # Headers come from JSON already, but a non-JSON value must fail here, inside the ingest
    # transaction, rather than later in the publisher where it would block the outbox.
    json.dumps(body)
    return body


def enqueue_event(
    exchange: str,
    body: dict[str, Any],
    *,
    frame_id: int | None = None,
    routing_key: str = "",
    settings: EventSettings | None = None,
) -> OutboxEvent | None:
    """Record one event in the outbox and publish it once the transaction commits.

    Returns ``None`` (and records nothing) when events are disabled or no broker is configured.
    """
    config = settings or current_event_settings()
    if not config.enabled:
        return None
    event = OutboxEvent.objects.create(
        exchange=exchange, routing_key=routing_key, body=body, frame_id=frame_id
    )
    event_id = event.pk

    def _publish_after_commit() -> None:
        # Imported here: kombu is only needed once a broker is configured.
        from obsarchive.server.events.publisher import publish_now

        try:
            publish_now([event_id], config)
        except Exception:
            logger.exception("event %s stays pending: immediate publish failed", event_id)

    transaction.on_commit(_publish_after_commit)
    return event


def enqueue_archived_fits(frame: Any, version: Any) -> OutboxEvent | None:
    """Announce an archived frame version on the ``archived_fits`` fan-out exchange.

    Call inside the ingest transaction, after the frame, its headers and the new version(s)
    are saved. Nothing is sent if the transaction rolls back.

    Parameters
    ----------
    frame
        The saved ``Frame`` (uses ``pk``, ``basename``, ``headers.data`` and ``area`` — a
        GeoJSON mapping/string or None — or an ``area_geojson()`` method when it has one).
    version
        The ``Version`` just created, or a sequence of them (the request's ``version_set``);
        an empty sequence announces nothing, as upstream.

    Returns
    -------
    OutboxEvent or None
        The pending event, or ``None`` when nothing is to be published.
    """
    versions = _as_versions(version)
    if not versions:
        return None
    config = current_event_settings()
    if not config.enabled:
        return None
    return enqueue_event(
        config.exchange_name,
        archived_fits_body(frame, versions),
        frame_id=frame.pk,
        settings=config,
    )
