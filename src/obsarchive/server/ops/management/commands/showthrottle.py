"""``manage.py showthrottle``: configured request rates and each user's current usage.

Usage counts live in the Django cache; with the default per-process memory cache a separate
command process sees none, so configure a shared cache (``CACHE_URL=redis://…``) to use this.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandParser

from obsarchive.server.accounts.config import current_account_settings

CHUNK = 1000


class Command(BaseCommand):
    help = "Print throttle rates and the number of requests per user in the current window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="also list users with no requests")

    def handle(self, *args: Any, **options: Any) -> None:
        config = current_account_settings()
        self.stdout.write(f"anonymous rate: {config.throttle_anon_rate or 'unlimited'}")
        self.stdout.write(f"user rate: {config.throttle_user_rate or 'unlimited'} (staff exempt)")
        users = get_user_model().objects.order_by("pk").values_list("pk", "username", "is_staff")
        batch: list[tuple[int, str, bool]] = []
        for row in users.iterator(chunk_size=CHUNK):
            batch.append(row)
            if len(batch) == CHUNK:
                self._report(batch, options["all"])
                batch = []
        self._report(batch, options["all"])

    def _report(self, users: list[tuple[int, str, bool]], show_all: bool) -> None:
        # DRF's cache key for the user scope: throttle_user_<user id>.
        histories: dict[str, Any] = cache.get_many([f"throttle_user_{pk}" for pk, _, _ in users])
        for pk, username, is_staff in users:
            count = len(histories.get(f"throttle_user_{pk}") or [])
            if count or show_all:
                note = " (staff, not throttled)" if is_staff else ""
                self.stdout.write(f"{username}: {count} requests{note}")
