"""Admin pages for users, proposals and memberships."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from obsarchive.server.accounts.models import Membership, Profile, Proposal


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["proposal"]
    verbose_name = "proposal membership"


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    verbose_name = "portal profile"
    verbose_name_plural = "portal profile"
    fields = ["api_token", "staff_view"]


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["proposal_id", "title", "member_count", "created"]
    search_fields = ["proposal_id", "title"]
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, obj: Proposal) -> int:
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["proposal", "user", "created"]
    list_filter = ["proposal"]
    search_fields = ["proposal__proposal_id", "user__username"]
    autocomplete_fields = ["user", "proposal"]


User = get_user_model()


class ArchiveUserAdmin(UserAdmin):
    inlines = [ProfileInline, UserMembershipInline]

    def get_inline_instances(self, request: Any, obj: Any = None) -> list[Any]:
        # On the "add user" page the post-save signal creates the profile; an inline would
        # try to create a second one.
        return super().get_inline_instances(request, obj) if obj is not None else []


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ArchiveUserAdmin)
