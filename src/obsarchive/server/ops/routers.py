"""Database router for an optional read replica (``DATABASE_READER_URL``).

As upstream (reference §1.9): reads of frame data go to ``replica`` except for rows created in
the last ten minutes (replication lag right after an ingest), everything else — writes, and all
accounts, sessions, tokens and outbox rows — goes to ``default``. Migrations run on
``default`` only (the replica is a copy of it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

__all__ = ["ReplicaRouter"]

REPLICA = "replica"
RECENT = timedelta(minutes=10)
# Apps whose reads may be served by the replica. Auth, tokens and the outbox must read the
# writer: a token created a second ago has to authenticate at once.
REPLICA_APPS = frozenset({"frames"})


class ReplicaRouter:
    """Send frame reads to the replica; everything else to the writer."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if model._meta.app_label not in REPLICA_APPS:
            return "default"
        instance = hints.get("instance")
        created = getattr(instance, "created", None)
        if created is not None and timezone.now() - created < RECENT:
            return "default"
        return REPLICA

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Both aliases hold the same data, so relations across them are fine.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"
