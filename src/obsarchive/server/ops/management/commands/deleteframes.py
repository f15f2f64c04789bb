"""``manage.py deleteframes``: purge frames by age or observing-day window, plus criteria.

Exactly one time selector: ``--days-old N`` (observed more than N days ago) or
``--start YYYY-MM-DD --end YYYY-MM-DD`` (observing day strictly between the two). Frames are
deleted in batches of 1000; the stored objects of each batch are removed after its database
transaction commits, so a failure never leaves a record pointing at a deleted object.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q, QuerySet
from django.utils import timezone

BATCH_SIZE = 1000


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def select_frames(options: dict[str, Any]) -> QuerySet[Any]:
    """The frames matching the command's options (no deletion)."""
    from obsarchive.server.frames.models import Frame

    days_old = options.get("days_old")
    start: str = options.get("start") or ""
    end: str = options.get("end") or ""
    if days_old is not None and (start or end):
        raise CommandError("give either --days-old or --start/--end, not both")
    if days_old is None and not (start and end):
        raise CommandError("give --days-old N, or both --start and --end")
    frames = Frame.objects.all()
    if days_old is not None:
        if days_old < 0:
            raise CommandError("--days-old must not be negative")
        frames = frames.filter(observation_date__lt=timezone.now() - timedelta(days=days_old))
    else:
        first, last = _day(start), _day(end)
        if first >= last:
            raise CommandError("--start must be before --end")
        frames = frames.filter(observation_day__gt=first, observation_day__lt=last)
    exact = {
        "reduction_level": "reduction_level",
        "request_id": "request_id",
        "observation_id": "observation_id",
    }
    for option, field in exact.items():
        if options.get(option) is not None:
            frames = frames.filter(**{field: options[option]})
    if options.get("site"):
        frames = frames.filter(site_id__iexact=options["site"])
    if options.get("telescope"):
        frames = frames.filter(telescope_id__iexact=options["telescope"])
    lists = {
        "types": "configuration_type",
        "proposals": "proposal_id",
        "instruments": "instrument_id",
    }
    for name, field in lists.items():
        include, exclude = options.get(f"include_{name}"), options.get(f"exclude_{name}")
        if include:
            frames = frames.filter(**{f"{field}__in": include})
        if exclude:
            frames = frames.exclude(Q(**{f"{field}__in": exclude}))
    return frames


class Command(BaseCommand):
    help = "Delete frames (records and stored files) selected by age or date window and criteria."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days-old", type=int, help="observed more than N days ago")
        parser.add_argument("--start", help="observing day after this date (YYYY-MM-DD)")
        parser.add_argument("--end", help="observing day before this date (YYYY-MM-DD)")
        parser.add_argument("--reduction-level", type=int)
        parser.add_argument("--request-id", type=int)
        parser.add_argument("--observation-id", type=int)
        parser.add_argument("--site", help="site id (case-insensitive)")
        parser.add_argument("--telescope", help="telescope id (case-insensitive)")
        for name, what in (
            ("types", "configuration types"),
            ("proposals", "proposal ids"),
            ("instruments", "instrument ids"),
        ):
            group = parser.add_mutually_exclusive_group()
            group.add_argument(f"--include-{name}", nargs="+", metavar="X", help=f"only {what}")
            group.add_argument(f"--exclude-{name}", nargs="+", metavar="X", help=f"not {what}")
        parser.add_argument(
            "--dry-run", action="store_true", help="count the matching frames, delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from obsarchive.server.frames.services import delete_frames, remove_stored_objects

        frames = select_frames(options)
        if options["dry_run"]:
            self.stdout.write(f"{frames.count()} frames would be deleted")
            return
        deleted = removed = 0
        while True:
            batch = list(frames.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
            if not batch:
                break
            result = delete_frames(frames.model.objects.filter(pk__in=batch))
            removed += remove_stored_objects(result.objects)
            deleted += result.count
            if options["verbosity"] > 1:
                self.stdout.write(f"deleted {deleted} frames so far")
        self.stdout.write(f"deleted {deleted} frames and {removed} stored objects")
