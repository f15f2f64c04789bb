"""Operational endpoints: ``/health/`` and the API documentation (``/openapi/``, ``/redoc/``)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


def connection_ok(connection: Any) -> bool:
    """True when a trivial query on ``connection`` (a Django database wrapper) succeeds."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("health check: database %r is not answering", connection.alias)
        return False
    return True


def database_ok(alias: str = "default") -> bool:
    """True when a trivial query on database ``alias`` succeeds."""
    return connection_ok(connections[alias])


class HealthView(APIView):
    """``"ok"`` when the archive and its database answer; never throttled.

    Authentication still runs (as upstream), so an invalid token header gives 401.
    """

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        tags=["Health"],
        operation_id="healthCheck",
        responses={
            200: OpenApiResponse(description='the JSON string "ok"'),
            503: OpenApiResponse(description="the database does not answer"),
        },
    )
    def get(self, request: Request) -> Response:
        if not database_ok():
            return Response({"detail": "The database is not available."}, status=503)
        return Response("ok")


class ArchiveSchemaGenerator(SchemaGenerator):
    """OpenAPI generator whose title is ``NAVBAR_TITLE_TEXT`` (checklist 6)."""

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super().get_schema(request=request, public=public)
        schema.setdefault("info", {})["title"] = getattr(
            settings, "NAVBAR_TITLE_TEXT", "Science Archive API"
        )
        return schema


class OpenApiView(SpectacularAPIView):
    """The OpenAPI 3 document (JSON by default, YAML with ``?format=yaml``)."""

    # JSON first: clients (and upstream's /openapi/) expect JSON without content negotiation.
    renderer_classes = [
        OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2,
    ]  # fmt: skip
    generator_class = ArchiveSchemaGenerator
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []


class RedocView(SpectacularRedocView):
    """A ReDoc page reading ``/openapi/``."""

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    url_name = "openapi-schema"
