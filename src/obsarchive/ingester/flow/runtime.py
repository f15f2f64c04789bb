"""Wiring the flow from :class:`~obsarchive.config.Settings`: queue, ledger, ingest, probe."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import requests

from obsarchive.config import Settings
from obsarchive.ingester.flow.ledger import Ledger
from obsarchive.ingester.flow.messages import Message
from obsarchive.ingester.flow.queues import IngestQueue, open_queue
from obsarchive.ingester.flow.retry import RetryPolicy
from obsarchive.ingester.flow.worker import IngestFunction

__all__ = [
    "archive_ingest",
    "archive_probe",
    "install_stop_handlers",
    "load_ingest_factory",
    "open_ledger",
    "open_queue_from",
    "retry_policy",
]

logger = logging.getLogger(__name__)


def open_queue_from(settings: Settings) -> IngestQueue:
    """The queue named by ``QUEUE_URL`` and ``QUEUE_NAME`` (opened lazily)."""
    flow = settings.flow
    return open_queue(flow.queue_url, flow.queue_name, prefetch=flow.prefetch)


def open_ledger(settings: Settings) -> Ledger:
    """The ledger at ``LEDGER_URL`` (opened lazily)."""
    return Ledger(settings.flow.ledger_url)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry policy from the ``INGEST_*`` variables."""
    flow = settings.flow
    return RetryPolicy(
        max_attempts=flow.max_attempts,
        unexpected_max_attempts=flow.unexpected_max_attempts,
        backoff_base=flow.backoff_base,
        backoff_cap=flow.backoff_cap,
        retry_delay=flow.retry_delay,
    )


def archive_ingest(settings: Settings) -> IngestFunction:
    """The standard ingest: :class:`obsarchive.ingester.IngestPipeline` built once.

    One pipeline (one object-store client, one HTTP session) serves every message; the archive
    address and token are resolved when the worker starts (``API_ROOT``, ``AUTH_TOKEN`` or
    ``$OBSARCHIVE_HOME/token``).

    Raises
    ------
    DoNotRetryError
        The store or archive configuration is invalid.
    """
    from obsarchive.ingester.pipeline import IngestPipeline

    pipeline = IngestPipeline.from_settings(settings)

    def ingest(fileobj: BinaryIO, message: Message) -> Mapping[str, Any]:
        result = pipeline.ingest(
            fileobj,
            message.archive_name,
            dict(message.file_metadata) if message.file_metadata is not None else None,
            is_thumbnail=message.is_thumbnail,
            thumbnail_size=message.thumbnail_size,
        )
        return result.response

    return ingest


def archive_probe(api_root: str, timeout: float = 3.0) -> Callable[[], bool]:
    """A probe that is True when the archive answers HTTP below 500 at ``api_root``."""

    def probe() -> bool:
        try:
            response = requests.get(api_root, timeout=timeout)
        except requests.RequestException as exc:
            logger.info("archive at %s not reachable: %s", api_root, exc)
            return False
        return response.status_code < 500

    return probe


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT call ``stop`` once (finish the current work, then exit 0); a second
    signal restores the default behaviour, so a second Ctrl-C interrupts at once."""
    import signal

    def handler(signum: int, frame: object) -> None:
        logger.info("received signal %d: finishing the current file, then stopping", signum)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def load_ingest_factory(spec: str) -> Callable[[Settings], IngestFunction]:
    """Import ``module:callable``: a factory taking :class:`Settings`, returning an ingest
    function (a site may wrap the standard ingest, e.g. to add metadata).

    Raises
    ------
    FlowConfigurationError
        The spec is malformed or names nothing callable.
    """
    import importlib

    from obsarchive.ingester.flow.errors import FlowConfigurationError

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise FlowConfigurationError(f"--ingest {spec!r}: expected module:callable")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise FlowConfigurationError(f"--ingest {spec!r}: {exc}") from exc
    if not callable(target):
        raise FlowConfigurationError(f"--ingest {spec!r} is not callable")
    return target


def run_guarded(name: str, body: Callable[[], int]) -> int:
    """Run a flow command's body; a flow error becomes a one-line message and an exit status.

    An unreachable queue or ledger is temporary (75, ``EX_TEMPFAIL``: try again later); any
    other flow error (a bad URL, a missing driver) is a failure (1).
    """
    import sys

    from obsarchive.ingester.flow.errors import FlowError, LedgerError, QueueUnavailableError

    try:
        return body()
    except (QueueUnavailableError, LedgerError) as exc:
        print(f"obsarchive {name}: unavailable, try again later: {exc}", file=sys.stderr)
        return 75
    except FlowError as exc:
        print(f"obsarchive {name}: {exc}", file=sys.stderr)
        return 1
