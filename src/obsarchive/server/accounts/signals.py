"""Every new user gets a profile and a DRF token (as upstream's post-save signals)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from obsarchive.server.accounts.models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_user_created")
def _create_profile_and_token(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw", False):
        Profile.objects.get_or_create(user=instance)
        Token.objects.get_or_create(user=instance)
