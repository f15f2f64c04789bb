"""Models of the accounts app: proposals, memberships and per-user profile data."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Proposal(models.Model):
    """An observing proposal whose proprietary frames its members may see.

    Frames carry the proposal id as plain text (``Frame.proposal_id``, from ``PROPID``), so a
    frame may name a proposal that has no row here; a row is needed only to grant membership.
    """

    proposal_id = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=500, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="proposals", blank=True
    )

    class Meta:
        ordering = ["proposal_id"]

    def __str__(self) -> str:
        return self.proposal_id


class Membership(models.Model):
    """A user's membership of a proposal (managed in the admin or by ``obsarchive proposals``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="memberships")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["proposal__proposal_id", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "proposal"], name="accounts_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.proposal}"


class Profile(models.Model):
    """Observation-Portal data kept for a user (upstream ``Profile`` + ``AuthProfile``).

    ``api_token`` is the user's portal API token: it authenticates ``Authorization: Token`` and
    zip ``auth_token`` requests just like the DRF token. ``access_token`` is the last portal
    OAuth bearer seen for the user.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archive_profile"
    )
    api_token = models.CharField(max_length=255, blank=True, default="", db_index=True)
    access_token = models.CharField(max_length=255, blank=True, default="")
    staff_view = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"profile of {self.user}"
