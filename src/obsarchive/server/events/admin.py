"""Admin page of the event outbox: inspect pending events and publish them on demand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet

from obsarchive.server.events.errors import EventError
from obsarchive.server.events.models import OutboxEvent


class PendingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("pending", "pending"), ("published", "published")]

    def queryset(self, request: Any, queryset: QuerySet[OutboxEvent]) -> QuerySet[OutboxEvent]:
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["id", "exchange", "frame_id", "created", "published_at", "attempts"]
    list_filter = [PendingFilter, "exchange"]
    search_fields = ["frame_id"]
    readonly_fields = [
        "exchange", "routing_key", "body", "frame_id", "created", "available_at",
        "published_at", "attempts", "last_error",
    ]  # fmt: skip
    actions = ["publish_selected"]
    show_full_result_count = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Publish selected pending events now")
    def publish_selected(self, request: Any, queryset: QuerySet[OutboxEvent]) -> None:
        from obsarchive.server.events.publisher import publish_selected

        ids = list(queryset.filter(published_at__isnull=True).values_list("pk", flat=True))
        try:
            count = publish_selected(ids)
        except EventError as exc:
            self.message_user(request, f"Not published: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Published {count} of {len(ids)} pending events.")
