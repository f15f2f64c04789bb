"""``obsarchive events publish|status``: drain the post-ingest event outbox."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    publish = actions.add_parser("publish", help="publish pending events to the broker")
    publish.add_argument("--limit", type=int, default=None, help="publish at most N events")
    publish.add_argument(
        "--now",
        action="store_true",
        help="also publish events still waiting for their retry backoff",
    )
    publish.add_argument(
        "--follow",
        type=float,
        metavar="SECONDS",
        default=None,
        help="keep running, publishing every SECONDS",
    )
    actions.add_parser("status", help="count pending and published events")


def run(args: argparse.Namespace) -> int:
    from obsarchive.server.ops.bootstrap import setup_django

    setup_django()

    from obsarchive.server.events.errors import EventsDisabledError
    from obsarchive.server.events.models import OutboxEvent
    from obsarchive.server.events.publisher import publish_pending

    if args.action == "status":
        pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
        published = OutboxEvent.objects.filter(published_at__isnull=False).count()
        print(f"pending {pending}\npublished {published}")
        return 0
    while True:
        try:
            report = publish_pending(limit=args.limit, include_delayed=args.now)
        except EventsDisabledError as exc:
            print(f"obsarchive events: {exc}", file=sys.stderr)
            return 1
        print(
            f"published {report.published}, failed {report.failed}, pending {report.pending}",
            flush=True,
        )
        if args.follow is None:
            # Exit status 75 (try again later) when the broker refused: cron/systemd can retry.
            return 75 if report.failed else 0
        time.sleep(max(args.follow, 0.1))
