"""HTTP views of frames, thumbnails and versions (reference §2.2 to 2.7, 2.10, 2.11).

Views parse and authorise; querying and writing happen in :mod:`.services`, shapes in
:mod:`.representation`. Every list issues a fixed number of queries whatever its page size:
count, page, and one bulk query each for versions, related ids and thumbnails.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from obsarchive.server.accounts.permissions import IsStaff, IsSuperuserOrReadOnly
from obsarchive.server.accounts.visibility import is_superuser, proposals_for, visible_frames_q
from obsarchive.server.frames import querysets, services
from obsarchive.server.frames.conf import frames_settings
from obsarchive.server.frames.filters import (
    FrameFilterSet,
    ThumbnailFilterSet,
    drop_empty_values,
    ordering_from,
)
from obsarchive.server.frames.models import Frame, Headers, Thumbnail, Version
from obsarchive.server.frames.pagination import (
    CountResult,
    count_queryset,
    cursor_page,
    limit_offset,
    order_by,
    page_links,
    statement_timeout,
)
from obsarchive.server.frames.representation import (
    frame_row,
    frame_serializer_shape,
    group_by_frame,
    thumbnail_dict,
    version_dict,
)
from obsarchive.server.frames.serializers import (
    FrameIngestSerializer,
    FrameUpdateSerializer,
    ThumbnailIngestSerializer,
    ThumbnailUpdateSerializer,
)
from obsarchive.server.frames.storage import url_maker

__all__ = ["FrameViewSet", "ThumbnailViewSet", "VersionViewSet"]

logger = logging.getLogger(__name__)

SMALL_QUERY_TIMEOUT_MS = 1500
FORCED_COUNT_TIMEOUT_MS = 5000
# Parameters whose mere presence makes a frame search "small" (exact count), as upstream,
# plus their upper-case aliases.
SMALL_QUERY_KEYS = ("request_id", "observation_id", "basename_exact", "REQNUM", "BLKUID")
INT64_MAX = 2**63 - 1


def _now(request: Request) -> datetime:
    """One "now" per request, so every visibility test in it agrees."""
    now = getattr(request, "_archive_now", None)
    if now is None:
        now = timezone.now()
        request._archive_now = now  # type: ignore[attr-defined]
    return now


def _wants(params: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if default:
        return str(value).strip().lower() != "false"
    return str(value).strip().lower() == "true"


def _pk(value: Any) -> int:
    """A URL id as an integer; anything else is 404 "Not found." as upstream."""
    try:
        pk = int(str(value))
    except ValueError:
        raise NotFound() from None
    if not 0 < pk <= INT64_MAX:
        raise NotFound()
    return pk


def _base_url(request: Request) -> str:
    return request.build_absolute_uri(request.path)


def _validated_filterset(request: Request, queryset: QuerySet) -> FrameFilterSet:
    filterset = FrameFilterSet(
        data=drop_empty_values(request.query_params),
        queryset=queryset,
        request=request,
        now=_now(request),
    )
    if not filterset.is_valid():
        raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
    return filterset


# -- bulk loading for a page of frames -----------------------------------------------------


def versions_by_frame(frame_ids: Sequence[int]) -> Mapping[int, list[Version]]:
    """The versions of each frame, newest first, in one query."""
    if not frame_ids:
        return {}
    versions = Version.objects.filter(frame_id__in=list(frame_ids)).order_by(
        "frame_id", "-created", "-id"
    )
    return group_by_frame(versions)


def thumbnails_by_frame(frame_ids: Sequence[int]) -> Mapping[int, list[Thumbnail]]:
    """The thumbnails of each frame, in one query."""
    if not frame_ids:
        return {}
    return group_by_frame(Thumbnail.objects.filter(frame_id__in=list(frame_ids)).order_by("id"))


def render_rows(
    frames: Sequence[Frame], *, include_related: bool, include_thumbnails: bool
) -> list[dict[str, Any]]:
    """Search rows for ``frames``, with one bulk query per kind of related data."""
    ids = [frame.pk for frame in frames]
    versions = versions_by_frame(ids)
    related = services.related_ids_by_frame(ids) if include_related else {}
    thumbnails = thumbnails_by_frame(ids) if include_thumbnails else {}
    make_url = url_maker()
    return [
        frame_row(
            frame,
            versions.get(frame.pk, []),
            make_url,
            related_ids=related.get(frame.pk, []) if include_related else None,
            thumbnails=thumbnails.get(frame.pk, []) if include_thumbnails else None,
        )
        for frame in frames
    ]


def render_serializer_shapes(frames: Sequence[Frame]) -> list[dict[str, Any]]:
    ids = [frame.pk for frame in frames]
    versions = versions_by_frame(ids)
    related = services.related_ids_by_frame(ids)
    make_url = url_maker()
    return [
        frame_serializer_shape(frame, versions.get(frame.pk, []), make_url, related[frame.pk])
        for frame in frames
    ]


def _list_columns(queryset: QuerySet) -> QuerySet:
    # The packed footprint is only for the sky refine; never load it for display.
    return queryset.defer("footprint", "modified", "created")


def frame_search_is_small(
    request: Request, params: Mapping[str, Any], filterset: FrameFilterSet
) -> tuple[bool, int]:
    """Whether a frame search gets an exact count, and the time allowed for it (§2.2.2 (R))."""
    user = request.user
    if "force_count" in params and getattr(user, "is_authenticated", False):
        return True, FORCED_COUNT_TIMEOUT_MS
    if any(key in params for key in SMALL_QUERY_KEYS):
        return True, SMALL_QUERY_TIMEOUT_MS
    data = filterset.form.cleaned_data
    if any(data.get(name) not in (None, "") for name in FrameFilterSet.SKY_PARAMETERS):
        # A sky search is already narrowed to an explicit id list: counting it is cheap.
        return True, SMALL_QUERY_TIMEOUT_MS
    start, end = data.get("start"), data.get("end")
    if start is not None and end is not None:
        span = end - start
        if span <= timedelta(days=7):
            return True, SMALL_QUERY_TIMEOUT_MS
        narrowing = data.get("proposal_id") or data.get("PROPID") or data.get("target_name_exact")
        if span <= timedelta(weeks=9) and narrowing:
            return True, SMALL_QUERY_TIMEOUT_MS
    return False, SMALL_QUERY_TIMEOUT_MS


def limit_offset_envelope(
    request: Request,
    count: CountResult,
    results: list[dict[str, Any]],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    next_url, previous_url = page_links(
        _base_url(request),
        dict(request.query_params.lists()),
        limit=limit,
        offset=offset,
        count=count,
        shown=len(results),
    )
    return {
        "count": count.count,
        "next": next_url,
        "previous": previous_url,
        "results": results,
        "count_estimated": count.estimated,
    }


class AggregateParameters(serializers.Serializer):
    """Query parameters of ``/frames/aggregate/``."""

    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    public = serializers.BooleanField(required=False, allow_null=True, default=None)
    site_id = serializers.CharField(required=False)
    telescope_id = serializers.CharField(required=False)
    primary_optical_element = serializers.CharField(required=False)
    instrument_id = serializers.CharField(required=False)
    configuration_type = serializers.CharField(required=False)
    proposal_id = serializers.CharField(required=False)
    query_timeout = serializers.IntegerField(
        required=False, min_value=0, max_value=20000, default=2000
    )
    aggregate_field = serializers.CharField(required=False)  # documented upstream, ignored


# -- frames --------------------------------------------------------------------------------


class FrameViewSet(viewsets.GenericViewSet):
    """Frame search, detail, related frames, headers, facets and ingest."""

    queryset = Frame.objects.all()
    serializer_class = FrameIngestSerializer
    permission_classes = [IsSuperuserOrReadOnly]
    filter_backends = [DjangoFilterBackend]  # documents the parameters; applied by hand
    filterset_class = FrameFilterSet

    # -- querysets ---------------------------------------------------------------------

    def visible_frames(self) -> QuerySet:
        """Frames the caller may see; never placeholders (no observation date)."""
        return querysets.visible_frames(self.request.user, _now(self.request))

    def searched_frames(self) -> tuple[QuerySet, FrameFilterSet]:
        """Visible frames with at least one version, filtered by the query parameters."""
        base = querysets.searchable_frames(self.request.user, _now(self.request))
        filterset = _validated_filterset(self.request, base)
        return filterset.qs, filterset

    def detail_frame(self) -> Frame:
        """The frame of the URL, if visible and matching the query parameters, else 404."""
        pk = _pk(self.kwargs.get("pk"))
        # Narrowed to the one id first, so a sky filter refines one candidate at most.
        filterset = _validated_filterset(self.request, self.visible_frames().filter(pk=pk))
        frame = _list_columns(filterset.qs).first()
        if frame is None:
            raise Http404("No Frame matches the given query.")
        return frame

    # -- reads -------------------------------------------------------------------------

    @extend_schema(
        parameters=[
            OpenApiParameter("ordering", OpenApiTypes.STR, description="e.g. -observation_date"),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
            OpenApiParameter("pagination_style", OpenApiTypes.STR, enum=["cursor"]),
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("force_count", OpenApiTypes.STR),
            OpenApiParameter("include_related_frames", OpenApiTypes.BOOL),
            OpenApiParameter("include_thumbnails", OpenApiTypes.BOOL),
        ],
        operation_id="listFrames",
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request: Request, **kwargs: Any) -> Response:
        params = request.query_params
        queryset, filterset = self.searched_frames()
        queryset = _list_columns(queryset)
        ordering = ordering_from(params.get("ordering"))
        config = frames_settings()
        limit, offset = limit_offset(params, config.default_limit, config.max_limit)
        include_related = _wants(params, "include_related_frames", default=True)
        include_thumbnails = _wants(params, "include_thumbnails", default=False)

        if params.get("pagination_style") == "cursor":
            page = cursor_page(queryset, ordering, limit=limit, token=params.get("cursor"))
            results = render_rows(
                page.rows, include_related=include_related, include_thumbnails=include_thumbnails
            )
            base = _base_url(request)
            kept = [(k, v) for k, vs in params.lists() if k != "cursor" for v in vs]

            def link(token: str | None) -> str | None:
                if token is None:
                    return None
                return f"{base}?{urlencode([*kept, ('cursor', token)])}"

            return Response(
                {
                    "next": link(page.next_cursor),
                    "previous": link(page.previous_cursor),
                    "results": results,
                }
            )

        small, timeout_ms = frame_search_is_small(request, params, filterset)
        count = count_queryset(queryset, exact=small, timeout_ms=timeout_ms)
        frames = list(order_by(queryset, ordering)[offset : offset + limit])
        results = render_rows(
            frames, include_related=include_related, include_thumbnails=include_thumbnails
        )
        return Response(limit_offset_envelope(request, count, results, limit, offset))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        frame = self.detail_frame()
        params = request.query_params
        rows = render_rows(
            [frame],
            include_related=_wants(params, "include_related_frames", default=True),
            include_thumbnails=_wants(params, "include_thumbnails", default=False),
        )
        return Response(rows[0])

    @extend_schema(operation_id="getRelatedFrames", responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def related(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        frame = self.detail_frame()
        through = Frame.related_frames.through
        linked = through.objects.filter(from_frame_id=frame.pk).values("to_frame_id")
        related = list(
            _list_columns(self.visible_frames().filter(pk__in=linked)).order_by(
                "-observation_date", "-id"
            )
        )
        return Response(render_serializer_shapes(related))

    @extend_schema(operation_id="getHeaders", responses={200: OpenApiTypes.OBJECT})
    # Not named ``headers``: that attribute of every DRF view holds the response headers.
    @action(detail=True, methods=["get"], url_path="headers", url_name="headers")
    def frame_headers(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        frame = self.detail_frame()
        data = Headers.objects.filter(frame_id=frame.pk).values_list("data", flat=True).first()
        if data is None:
            raise Http404("No Headers matches the given query.")
        return Response({"data": data})

    # -- writes ------------------------------------------------------------------------

    @extend_schema(request=FrameIngestSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request, **kwargs: Any) -> Response:
        serializer = FrameIngestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = services.ingest_frame(serializer.validated_data)
        except services.DuplicateVersionError:
            # Lost a race with an identical ingest: validating again names the duplicate.
            FrameIngestSerializer(data=request.data).is_valid(raise_exception=True)
            raise ValidationError(
                {"version_set": ["A version of this file was stored concurrently."]}
            ) from None
        shape = render_serializer_shapes([result.frame])[0]
        return Response(shape, status=status.HTTP_201_CREATED)

    def _update(self, request: Request, *, partial: bool) -> Response:
        frame = self.detail_frame()
        serializer = FrameUpdateSerializer(frame, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.update_frame(frame, serializer.validated_data)
        frame.refresh_from_db()
        return Response(render_serializer_shapes([frame])[0])

    @extend_schema(request=FrameUpdateSerializer, responses={200: OpenApiTypes.OBJECT})
    def update(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=FrameUpdateSerializer, responses={200: OpenApiTypes.OBJECT})
    def partial_update(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._update(request, partial=True)

    def destroy(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        frame = self.detail_frame()
        deleted = services.delete_frames(Frame.objects.filter(pk=frame.pk))
        # Store deletes cannot be rolled back, so they wait for the commit.
        transaction.on_commit(lambda: services.remove_stored_objects(deleted.objects))
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- aggregate ---------------------------------------------------------------------

    @extend_schema(
        operation_id="aggregateFields",
        parameters=[AggregateParameters],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def aggregate(self, request: Request, **kwargs: Any) -> Response | HttpResponse:
        return aggregate_response(request, _now(request))


# -- aggregate -----------------------------------------------------------------------------


AGGREGATE_FILTERS = (
    "site_id",
    "telescope_id",
    "primary_optical_element",
    "instrument_id",
    "configuration_type",
    "proposal_id",
)
AGGREGATE_TIMEOUT_DETAIL = (
    "Aggregation query timed out. Either try narrowing the search space by adding more "
    "filters or increase the timeout."
)
NOT_GENERATED = "Aggregate over everything have not been generated yet. Try again later."


def _cache_key(kind: str, params: Mapping[str, Any], user_id: int | None = None) -> str:
    text = repr((settings.SECRET_KEY, sorted((k, str(v)) for k, v in params.items()), user_id))
    return f"agg_{kind}_{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"


def _generated_at(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def _timed_aggregate(queryset: QuerySet, timeout_ms: int) -> dict[str, list[str]]:
    with statement_timeout(queryset.db, timeout_ms):
        return services.aggregate_values(queryset)


def _precomputed_aggregate(request: Request, now: datetime, timeout_ms: int) -> Response:
    """The unfiltered facets: all frames for superusers, public ones (+ own proposals) else."""
    user = request.user
    superuser = is_superuser(user)
    key = services.ALL_FRAMES_AGGREGATES if superuser else services.PUBLIC_FRAMES_AGGREGATES
    answer = cache.get(key)
    if answer is None:
        # (R) compute on first use (bounded by the query timeout) instead of failing until the
        # precompute job has run; a timeout keeps upstream's answer.
        try:
            computed = _compute_all(now, timeout_ms)
        except DatabaseError:
            return Response(NOT_GENERATED, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        answer = computed[key]
    answer = dict(answer)
    if not superuser and getattr(user, "is_authenticated", False):
        own = proposals_for(user)
        answer["proposals"] = sorted(set(answer.get("proposals", [])) | own)
    return Response(answer)


def _compute_all(now: datetime, timeout_ms: int) -> dict[str, dict[str, Any]]:
    with statement_timeout("default", timeout_ms):
        return services.compute_aggregates(now)


def aggregate_response(request: Request, now: datetime) -> Response:
    params = drop_empty_values(request.query_params)
    parameters = AggregateParameters(data={k: params.get(k) for k in params})
    parameters.is_valid(raise_exception=True)
    data = parameters.validated_data
    timeout_ms = int(data.get("query_timeout", 2000))
    filters = {name: data[name] for name in AGGREGATE_FILTERS if data.get(name)}
    start, end, public = data.get("start"), data.get("end"), data.get("public")
    if start is None and end is None and public is None and not filters:
        response = _precomputed_aggregate(request, now, timeout_ms)
        patch_vary_headers(response, ("Cookie", "Authorization"))
        return response
    if start is None or end is None:
        return Response("both start & end must be specified", status=status.HTTP_400_BAD_REQUEST)
    start = start.replace(second=0, microsecond=0)
    end = end.replace(second=0, microsecond=0)
    if end - start > timedelta(days=365):
        return Response(
            "time range must be less than or equal to a year (365 days)",
            status=status.HTTP_400_BAD_REQUEST,
        )
    candidates = Frame.objects.filter(
        observation_date__gte=start, observation_date__lt=end, **filters
    )
    cache_params = {**filters, "start": start, "end": end, "public": public}
    public_ttl = 3600 if end >= now else 86400
    empty: dict[str, list[str]] = {name: [] for name in services.AGGREGATE_FIELDS}
    try:
        if public:
            public_key = _cache_key("public", cache_params)
            public_part = cache.get(public_key)
            if public_part is None:
                public_part = {
                    **_timed_aggregate(candidates.filter(public_date__lt=now), timeout_ms),
                    "generated_at": _generated_at(now),
                }
                cache.set(public_key, public_part, timeout=public_ttl)
        else:
            public_part = {**empty, "generated_at": _generated_at(now)}
        user = request.user
        if not getattr(user, "is_authenticated", False):
            response = Response(public_part)
            response["Cache-Control"] = f"max-age={public_ttl}"
            response["Expires"] = http_date((now + timedelta(seconds=public_ttl)).timestamp())
        else:
            private_key = _cache_key("private", cache_params, user.pk)
            private_part = cache.get(private_key)
            if private_part is None:
                private = candidates.filter(public_date__gt=now)
                if not is_superuser(user):
                    private = private.filter(proposal_id__in=sorted(proposals_for(user)))
                private_part = {
                    **_timed_aggregate(private, timeout_ms),
                    "generated_at": _generated_at(now),
                }
                cache.set(private_key, private_part, timeout=300)
            merged: dict[str, Any] = {
                name: sorted(set(public_part[name]) | set(private_part[name]))
                for name in services.AGGREGATE_FIELDS
            }
            merged["generated_at"] = private_part["generated_at"]
            response = Response(merged)
            response["Cache-Control"] = "max-age=300"
    except DatabaseError as exc:
        logger.warning("aggregate gave up: %s", exc)
        return Response(
            {"detail": AGGREGATE_TIMEOUT_DETAIL}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    patch_vary_headers(response, ("Cookie", "Authorization"))
    return response


# -- thumbnails ----------------------------------------------------------------------------


class ThumbnailViewSet(viewsets.GenericViewSet):
    """Thumbnail list/detail (visibility of the parent frame) and ingest."""

    queryset = Thumbnail.objects.all()
    serializer_class = ThumbnailIngestSerializer
    permission_classes = [IsSuperuserOrReadOnly]
    filter_backends = [DjangoFilterBackend]
    filterset_class = ThumbnailFilterSet

    def visible_thumbnails(self) -> QuerySet:
        request = self.request
        return Thumbnail.objects.filter(
            visible_frames_q(request.user, _now(request), prefix="frame__")
        )

    def _thumbnail(self) -> Thumbnail:
        pk = _pk(self.kwargs.get("pk"))
        thumbnail = self.visible_thumbnails().filter(pk=pk).first()
        if thumbnail is None:
            raise Http404("No Thumbnail matches the given query.")
        return thumbnail

    @extend_schema(operation_id="listThumbnails", responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request, **kwargs: Any) -> Response:
        params = request.query_params
        cleaned = drop_empty_values(params)
        filterset = ThumbnailFilterSet(
            data=cleaned, queryset=self.visible_thumbnails(), request=request
        )
        if not filterset.is_valid():
            raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
        queryset = filterset.qs.order_by("id")
        config = frames_settings()
        limit, offset = limit_offset(params, config.default_limit, config.max_limit)
        if "force_count" in params and request.user.is_authenticated:
            small, timeout_ms = True, FORCED_COUNT_TIMEOUT_MS
        else:
            small = any(k in params for k in ("frame_basename", "observation_id", "request_id"))
            timeout_ms = SMALL_QUERY_TIMEOUT_MS
        count = count_queryset(queryset, exact=small, timeout_ms=timeout_ms)
        make_url = url_maker()
        results = [thumbnail_dict(t, make_url) for t in queryset[offset : offset + limit]]
        return Response(limit_offset_envelope(request, count, results, limit, offset))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return Response(thumbnail_dict(self._thumbnail(), url_maker()))

    @extend_schema(request=ThumbnailIngestSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request, **kwargs: Any) -> Response:
        serializer = ThumbnailIngestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.ingest_thumbnail(serializer.validated_data)
        thumbnail = result.thumbnail
        make_url = url_maker()
        body = {
            "frame": render_serializer_shapes([result.frame])[0],
            "size": thumbnail.size,
            "basename": thumbnail.basename,
            "url": make_url(thumbnail.object_key, thumbnail.key),
            "key": thumbnail.key,
            "extension": thumbnail.extension,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    def _update(self, request: Request, *, partial: bool) -> Response:
        thumbnail = self._thumbnail()
        serializer = ThumbnailUpdateSerializer(thumbnail, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        for name, value in serializer.validated_data.items():
            setattr(thumbnail, name, value)
        thumbnail.save()
        return Response(thumbnail_dict(thumbnail, url_maker()))

    @extend_schema(request=ThumbnailUpdateSerializer, responses={200: OpenApiTypes.OBJECT})
    def update(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=ThumbnailUpdateSerializer, responses={200: OpenApiTypes.OBJECT})
    def partial_update(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._update(request, partial=True)

    def destroy(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        thumbnail = self._thumbnail()
        ref = services.StoredObjectRef(object_key=thumbnail.object_key, version_id=thumbnail.key)
        thumbnail.delete()
        if ref.object_key:
            transaction.on_commit(lambda: services.remove_stored_objects([ref]))
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- versions ------------------------------------------------------------------------------


class VersionViewSet(viewsets.GenericViewSet):
    """Stored versions, for staff: the ingester's duplicate check is ``?md5=``."""

    queryset = Version.objects.all()
    permission_classes = [IsStaff]

    def _versions(self) -> QuerySet:
        # Always the writer: a duplicate check must see an ingest of a second ago.
        return Version.objects.using("default").all()

    @extend_schema(
        parameters=[OpenApiParameter("md5", OpenApiTypes.STR, description="exact md5")],
        operation_id="listVersions",
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request: Request, **kwargs: Any) -> Response:
        params = request.query_params
        queryset = self._versions().order_by("-id")
        md5 = params.get("md5", "")
        if md5 != "":
            if "\x00" in md5:
                raise ValidationError({"md5": ["Null characters are not allowed."]})
            queryset = queryset.filter(md5=md5)
        frame = params.get("frame", "")
        if frame != "":
            try:
                frame_id = int(frame)
            except ValueError:
                raise ValidationError({"frame": ["Enter a whole number."]}) from None
            if not 0 < frame_id <= INT64_MAX:
                raise ValidationError({"frame": ["Enter a whole number."]})
            queryset = queryset.filter(frame_id=frame_id)
        config = frames_settings()
        limit, offset = limit_offset(params, config.default_limit, config.max_limit)
        # An exact md5 or frame filter selects a handful of indexed rows: count them exactly.
        small = (
            md5 != "" or frame != "" or ("force_count" in params and request.user.is_authenticated)
        )
        count = count_queryset(queryset, exact=small, timeout_ms=FORCED_COUNT_TIMEOUT_MS)
        make_url = url_maker()
        results = [version_dict(v, make_url) for v in queryset[offset : offset + limit]]
        return Response(limit_offset_envelope(request, count, results, limit, offset))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        version = self._versions().filter(pk=_pk(pk)).first()
        if version is None:
            raise Http404("No Version matches the given query.")
        return Response(version_dict(version, url_maker()))


# -- plumbing ------------------------------------------------------------------------------


def robots_txt(request: Any) -> HttpResponse:
    """``/robots.txt``: the API is not for crawlers."""
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")
