"""``obsarchive watch DIR``: publish each new product once it is completely written."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["add_arguments", "run"]


def _seconds(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="folder to watch (recursively)")
    parser.add_argument(
        "--settle",
        type=_seconds,
        metavar="SECONDS",
        help="how long a file must stay unchanged (default WATCH_SETTLE_SECONDS or 2)",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        metavar="SECONDS",
        help="seconds between scans (default WATCH_INTERVAL_SECONDS or 1)",
    )
    parser.add_argument(
        "--pattern",
        action="append",
        metavar="GLOB",
        help="file names to publish (repeatable; default *.fits, *.fits.fz, *.tar.gz)",
    )
    parser.add_argument("--once", action="store_true", help="scan until nothing is pending, exit")
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")


def run(args: argparse.Namespace) -> int:
    from obsarchive.ingester.flow.runtime import run_guarded

    return run_guarded("watch", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_OK
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.publish import Publisher
    from obsarchive.ingester.flow.runtime import install_stop_handlers
    from obsarchive.ingester.flow.watch import DEFAULT_PATTERNS, Watcher

    if not args.quiet and logging.getLogger().level > logging.INFO:
        logging.getLogger("obsarchive.ingester.flow").setLevel(logging.INFO)
    settings = load_settings()
    flow = settings.flow
    with Publisher.from_settings(flow) as publisher:
        assert publisher.ledger is not None
        watcher = Watcher(
            args.directory,
            publisher,
            publisher.ledger,
            settle=flow.watch_settle_seconds if args.settle is None else args.settle,
            interval=flow.watch_interval_seconds if args.interval is None else args.interval,
            patterns=args.pattern or DEFAULT_PATTERNS,
        )
        if args.once:
            return _once(watcher)
        install_stop_handlers(watcher.request_stop)
        print(f"obsarchive watch: watching {watcher.directory}", file=sys.stderr, flush=True)
        total = watcher.run()
    print(f"obsarchive watch: stopped ({total} published)", file=sys.stderr, flush=True)
    return EXIT_OK


def _once(watcher: object) -> int:
    """Scan until every matching file is published (settled) or nothing changes."""
    import time

    from obsarchive.ingester.flow.watch import Watcher

    assert isinstance(watcher, Watcher)
    watcher.directory.mkdir(parents=True, exist_ok=True)
    total = len(watcher.scan_once())
    while watcher.pending:
        time.sleep(watcher.interval)
        total += len(watcher.scan_once())
    print(f"obsarchive watch: {total} published", file=sys.stderr)
    return 0
