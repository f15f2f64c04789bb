"""Serializers of the account endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from obsarchive.server.accounts.portal import PortalProfile


class _Tokens(serializers.Serializer):
    api_token = serializers.CharField(max_length=255, required=False, allow_blank=True)


class _PortalFlags(serializers.Serializer):
    staff_view = serializers.BooleanField(required=False, default=False)


class AddUpdateUserSerializer(serializers.Serializer):
    """The portal's user-sync payload for ``/authprofile/addupdateuser/``."""

    username = serializers.CharField(max_length=150)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    is_staff = serializers.BooleanField(required=False, default=False)
    is_superuser = serializers.BooleanField(required=False, default=False)
    tokens = _Tokens(required=False)
    profile = _PortalFlags(required=False)

    def to_portal_profile(self) -> PortalProfile:
        data: dict[str, Any] = self.validated_data
        return PortalProfile(
            username=data["username"],
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            email=data.get("email", ""),
            is_staff=data.get("is_staff", False),
            is_superuser=data.get("is_superuser", False),
            staff_view=(data.get("profile") or {}).get("staff_view", False),
            api_token=(data.get("tokens") or {}).get("api_token", ""),
        )


class ProfileSerializer(serializers.Serializer):
    """Shape of ``GET /profile/`` (for the OpenAPI document)."""

    username = serializers.CharField()
    profile = serializers.DictField()
    is_staff = serializers.BooleanField()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
