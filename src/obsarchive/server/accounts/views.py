"""Account endpoints: ``/profile/``, ``/api-token-auth/``, ``/revoke_token/``, portal sync."""

from __future__ import annotations

import hmac
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from obsarchive.server.accounts.config import current_account_settings
from obsarchive.server.accounts.serializers import (
    AddUpdateUserSerializer,
    MessageSerializer,
    ProfileSerializer,
    TokenSerializer,
)
from obsarchive.server.accounts.services import (
    forget_cached_proposals,
    rotate_token,
    token_for,
    upsert_portal_user,
)
from obsarchive.server.accounts.visibility import proposals_for


class ProfileView(APIView):
    """The current user: name, proposals and staff flag (anonymous callers get empty values)."""

    permission_classes = [AllowAny]

    @extend_schema(tags=["Users"], operation_id="getProfile", responses=ProfileSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        if not user or not user.is_authenticated:
            return Response({"username": "", "profile": {}, "is_staff": False})
        return Response(
            {
                "username": user.get_username(),
                "profile": {"proposals": sorted(proposals_for(user))},
                "is_staff": bool(user.is_staff),
            }
        )


class ObtainTokenView(APIView):
    """Exchange a username and password (or an existing login) for the user's API token."""

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    serializer_class = AuthTokenSerializer

    @extend_schema(
        tags=["Authentication"],
        operation_id="getAuthToken",
        request=AuthTokenSerializer,
        responses={200: TokenSerializer},
    )
    def post(self, request: Request) -> Response:
        user = request.user
        if not (user and user.is_authenticated):
            serializer = AuthTokenSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            user = serializer.validated_data["user"]
        return Response({"token": token_for(user).key})


class RevokeTokenView(APIView):
    """Replace the caller's API token with a new one; the old token stops working."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["Authentication"],
        operation_id="revokeApiToken",
        request=None,
        responses={200: MessageSerializer},
    )
    def post(self, request: Request) -> Response:
        rotate_token(request.user)
        return Response({"message": "API token revoked."})


class HasServerKey(BasePermission):
    """``Authorization: Server <OAUTH_SERVER_KEY>``; an unset key refuses everyone."""

    message = "Invalid or missing API Key."

    def has_permission(self, request: Request, view: Any) -> bool:
        configured = current_account_settings().oauth_server_key
        if not configured:
            return False
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme != "Server" or not key:
            return False
        return hmac.compare_digest(key.strip().encode(), configured.encode())


class AddUpdateUserView(APIView):
    """The Observation Portal pushes a user account (and its API token) to the archive."""

    authentication_classes: list[Any] = []
    permission_classes = [HasServerKey]
    throttle_classes: list[Any] = []

    @extend_schema(
        tags=["Users"],
        operation_id="addUpdateUser",
        request=AddUpdateUserSerializer,
        responses={200: MessageSerializer, 403: OpenApiResponse(description="wrong server key")},
    )
    def post(self, request: Request) -> Response:
        serializer = AddUpdateUserSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = upsert_portal_user(serializer.to_portal_profile())
        forget_cached_proposals(user.pk)
        return Response({"message": "User account updated"})
