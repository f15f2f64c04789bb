"""Django admin for frames: search by basename, inline headers, versions and thumbnails."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from obsarchive.server.frames.conf import configuration_types
from obsarchive.server.frames.models import Frame, Headers, Thumbnail, Version


class HeadersInline(admin.StackedInline):
    model = Headers
    extra = 0
    can_delete = False


class VersionInline(admin.TabularInline):
    model = Version
    extra = 0
    fields = ("key", "md5", "extension", "object_key", "size", "created")
    readonly_fields = ("created",)


class ThumbnailInline(admin.TabularInline):
    model = Thumbnail
    extra = 0
    fields = ("basename", "size", "extension", "key", "object_key")


class FrameForm(forms.ModelForm):
    """Offers the configured configuration types as choices, as upstream's admin does."""

    class Meta:
        model = Frame
        exclude = ("related_frames",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = getattr(self.instance, "configuration_type", "")
        choices = [(t, t) for t in configuration_types()]
        if current and current not in configuration_types():
            choices.append((current, current))
        self.fields["configuration_type"] = forms.ChoiceField(
            choices=[("", "---------"), *choices], required=False
        )


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    form = FrameForm
    list_display = (
        "basename",
        "observation_date",
        "proposal_id",
        "site_id",
        "instrument_id",
        "configuration_type",
        "reduction_level",
        "public_date",
    )
    list_filter = ("site_id", "configuration_type", "reduction_level")
    search_fields = ("=basename", "=proposal_id")
    date_hierarchy = "observation_date"
    inlines = (HeadersInline, VersionInline, ThumbnailInline)
    # The footprint feeds the sky index, which only the ingest service keeps in step.
    readonly_fields = ("area", "submitter", "created", "modified")
    # Counting every frame of a large archive for the paginator is the slow part of the page.
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Frame]:
        return super().get_queryset(request).defer("footprint")
