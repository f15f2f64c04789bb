"""``obsarchive worker``: ingest what arrives on the queue until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["add_arguments", "run"]


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-messages", type=_positive_int, help="stop after this many messages")
    parser.add_argument(
        "--idle-exit",
        type=_seconds,
        metavar="SECONDS",
        help="stop once the queue is empty this long",
    )
    parser.add_argument(
        "--ingest",
        metavar="MODULE:FACTORY",
        help="ingest function factory, called with the settings (default: the standard ingester)",
    )
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="after a temporary failure, only pause; do not poll the archive before resuming",
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")


def run(args: argparse.Namespace) -> int:
    from obsarchive.ingester.flow.runtime import run_guarded

    return run_guarded("worker", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_FAILURE, EXIT_OK
    from obsarchive.config import load_settings
    from obsarchive.ingester.exceptions import DoNotRetryError
    from obsarchive.ingester.flow.errors import FlowError
    from obsarchive.ingester.flow.runtime import (
        archive_ingest,
        archive_probe,
        install_stop_handlers,
        load_ingest_factory,
        open_ledger,
        open_queue_from,
        retry_policy,
    )
    from obsarchive.ingester.flow.worker import Worker

    if not args.quiet and logging.getLogger().level > logging.INFO:
        # A worker is a daemon: one line per file is what an operator wants to see.
        logging.getLogger("obsarchive.ingester.flow").setLevel(logging.INFO)
    settings = load_settings()
    factory = load_ingest_factory(args.ingest) if args.ingest else archive_ingest
    try:
        ingest = factory(settings)
    except (DoNotRetryError, FlowError) as exc:  # bad store/archive settings: say which
        print(f"obsarchive worker: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    probe = None
    if not args.no_probe:
        from obsarchive.ingester.settings import resolve_api_root

        probe = archive_probe(resolve_api_root(settings))
    worker = Worker(
        open_queue_from(settings),
        open_ledger(settings),
        ingest,
        policy=retry_policy(settings),
        lease=settings.flow.lease_seconds,
        probe=probe,
    )
    install_stop_handlers(worker.request_stop)
    print(
        f"obsarchive worker: consuming {settings.flow.queue_name!r} on "
        f"{_safe(settings.flow.queue_url)}",
        file=sys.stderr,
        flush=True,
    )
    stats = worker.run(max_messages=args.max_messages, idle_exit=args.idle_exit)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items())) or "nothing"
    print(f"obsarchive worker: stopped ({summary})", file=sys.stderr, flush=True)
    return EXIT_OK


def _safe(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
