"""``manage.py publishevents``: publish pending outbox events (= ``obsarchive events publish``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from obsarchive.server.events.errors import EventsDisabledError
from obsarchive.server.events.publisher import publish_pending


class Command(BaseCommand):
    help = "Publish the post-ingest events still pending in the outbox (broker was down)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="publish at most N events")
        parser.add_argument(
            "--now", action="store_true", help="ignore the retry backoff of failed events"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = publish_pending(limit=options["limit"], include_delayed=options["now"])
        except EventsDisabledError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"published {report.published}, failed {report.failed}, pending {report.pending}"
        )
        if report.failed:
            raise CommandError("the broker is unavailable; pending events were kept", returncode=75)
