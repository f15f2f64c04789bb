"""``manage.py cacheaggregates``: precompute the unfiltered ``/frames/aggregate/`` answers.

Run it periodically (cron, systemd timer): until it has run, the unfiltered aggregate has
nothing to answer with.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Precompute the all-frames and public-frames aggregates into the cache."

    def handle(self, *args: Any, **options: Any) -> None:
        from obsarchive.server.frames.services import compute_aggregates

        answers = compute_aggregates()
        for key, answer in answers.items():
            counts = ", ".join(
                f"{name} {len(values)}"
                for name, values in answer.items()
                if isinstance(values, list)
            )
            self.stdout.write(f"{key}: {counts} (generated {answer.get('generated_at')})")
