"""DRF permission classes shared by the archive's views."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

__all__ = ["IsStaff", "IsSuperuser", "IsSuperuserOrReadOnly"]


class IsSuperuser(BasePermission):
    """Only superusers (upstream: every write to frames and thumbnails)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_superuser)


class IsSuperuserOrReadOnly(BasePermission):
    """Reads for everyone (visibility filtered elsewhere), writes for superusers."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_superuser)


class IsStaff(BasePermission):
    """Only ``is_staff`` users (upstream ``/versions/``; a superuser needs is_staff too)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
