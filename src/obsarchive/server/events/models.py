"""Models of the events app: the transactional outbox of broker messages."""

from __future__ import annotations

from django.db import models


class OutboxEvent(models.Model):
    """One message to publish to a broker exchange, written in the same transaction as the data.

    ``published_at`` is NULL while the event is pending. ``available_at`` is both the retry
    backoff and a short lease: a publisher claims a pending event by moving ``available_at``
    into the future with one conditional UPDATE, so two publishers never send the same event at
    the same time and no database transaction is held open while talking to the broker.
    """

    exchange = models.CharField(max_length=200)
    routing_key = models.CharField(max_length=200, blank=True, default="")
    body = models.JSONField()
    # The frame the event is about; not a foreign key so that deleting a frame keeps the record
    # of what was announced (and never blocks on pending events).
    frame_id = models.IntegerField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["available_at", "id"],
                name="events_outbox_pending",
                condition=models.Q(published_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else f"pending ({self.attempts} attempts)"
        return f"{self.exchange} #{self.pk} frame {self.frame_id}: {state}"

    @property
    def is_pending(self) -> bool:
        return self.published_at is None
