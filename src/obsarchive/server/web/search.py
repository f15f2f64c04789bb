"""What the pages show, computed with the frames API's own code.

The page never re-implements a search rule: frames come from
:meth:`FrameViewSet.searched_frames` / :meth:`~FrameViewSet.detail_frame` (visibility, the
filter set, "has a stored version"), ordering and paging from the API's pagination helpers,
counts and facets from the API views themselves, and rows in the API's row shape
(:func:`~obsarchive.server.frames.representation.frame_row`). A page and ``/frames/?<same
query>`` therefore list the same frames.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.urls import resolve, reverse
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from obsarchive.server.accounts.visibility import is_superuser, proposals_for
from obsarchive.server.frames.conf import frames_settings
from obsarchive.server.frames.filters import ordering_from
from obsarchive.server.frames.models import Frame, Thumbnail
from obsarchive.server.frames.pagination import count_queryset, cursor_page, limit_offset, order_by
from obsarchive.server.frames.representation import frame_row
from obsarchive.server.frames.services import AGGREGATE_FIELDS
from obsarchive.server.frames.storage import url_maker

# The API's own helpers, so the page cannot drift from it: the rule for which searches get an
# exact count (tests/web/test_views.py compares the two counts) and the bulk loads of a page's
# versions (newest first) and thumbnails.
from obsarchive.server.frames.views import (
    FrameViewSet,
    frame_search_is_small,
    thumbnails_by_frame,
    versions_by_frame,
)
from obsarchive.server.web.query import PAGE_PARAMETERS

__all__ = [
    "FACET_FIELDS",
    "Count",
    "Facets",
    "SearchError",
    "SearchPage",
    "api_request",
    "call_api",
    "count_result",
    "facets_for",
    "frame_view",
    "iter_rows",
    "page_of_results",
    "preview_url",
]

logger = logging.getLogger(__name__)

#: Facet parameter (a Frame column) -> key of the aggregate answer: the API's own mapping.
FACET_FIELDS: dict[str, str] = {column: key for key, column in AGGREGATE_FIELDS.items()}
# The page asks for facets with a short budget: they must never hold the results back.
FACET_TIMEOUT_MS = 300
EXPORT_BATCH = 500


class SearchError(Exception):
    """The query was refused: ``errors`` maps parameters to messages (the API's 400 body)."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = dict(errors)


def api_request(request: HttpRequest, params: QueryDict) -> Request:
    """A DRF request for the API's code: this request's user, with ``params`` as its query.

    The user is the one the session middleware found (the page never takes tokens).
    """
    shadow = copy.copy(request)
    shadow.GET = params  # type: ignore[assignment]
    api = Request(shadow)
    api.user = request.user
    return api


def frame_view(request: HttpRequest, params: QueryDict, pk: Any = None) -> FrameViewSet:
    """The API's frame view set, set up for this request (to call its query methods)."""
    view = FrameViewSet()
    view.request = api_request(request, params)
    view.args = ()
    view.kwargs = {} if pk is None else {"pk": pk}
    view.format_kwarg = None
    return view


@functools.cache
def _unthrottled(url_name: str, sample_kwargs: tuple[tuple[str, Any], ...]) -> Any:
    """The API view behind a route, without the API's throttles: the page request being
    served is what a visitor asked for, and one page may need several API answers."""
    func: Any = resolve(reverse(url_name, kwargs=dict(sample_kwargs) or None)).func
    cls = func.cls
    initkwargs = {**getattr(func, "initkwargs", {}), "throttle_classes": []}
    actions = getattr(func, "actions", None)
    return cls.as_view(actions, **initkwargs) if actions else cls.as_view(**initkwargs)


def call_api(
    request: HttpRequest, url_name: str, params: QueryDict | None = None, **kwargs: Any
) -> Response:
    """``GET`` an API route in-process as this request's user; the unrendered DRF response.

    The API's own view answers (its visibility rules, validation and shapes): the page shows
    what ``GET <route>?<params>`` shows.
    """
    path = reverse(url_name, kwargs=kwargs or None)
    shadow = copy.copy(request)
    shadow.GET = params if params is not None else QueryDict()  # type: ignore[assignment]
    shadow.method = "GET"
    shadow.path = shadow.path_info = path
    sample = tuple(sorted((k, 1) for k in kwargs))
    response: Response = _unthrottled(url_name, sample)(shadow, **kwargs)
    return response


def _validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    detail = exc.detail
    if isinstance(detail, dict):
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def searched(request: HttpRequest, params: QueryDict) -> QuerySet[Frame]:
    """The frames the API's ``GET /frames/?<params>`` would list, unordered.

    Raises
    ------
    SearchError
        The API would answer 400.
    """
    try:
        queryset, _ = frame_view(request, params).searched_frames()
    except ValidationError as exc:
        raise SearchError(_validation_errors(exc)) from exc
    # The packed footprint is only for the sky refine; never load it for display.
    return queryset.defer("footprint", "modified", "created")


# -- rows ------------------------------------------------------------------------------------


def size_rank(size: str) -> int:
    sizes = frames_settings().thumbnail_sizes
    return sizes.index(size) if size in sizes else len(sizes)


def preview_url(thumbnails: Sequence[Thumbnail], make_url: Any, *, largest: bool) -> str:
    """The download URL of a frame's smallest (table) or largest (frame page) preview."""
    usable = [t for t in thumbnails if t.object_key]
    if not usable:
        return ""
    chosen = sorted(usable, key=lambda t: (size_rank(t.size), t.pk))
    thumbnail = chosen[-1] if largest else chosen[0]
    return str(make_url(thumbnail.object_key, thumbnail.key))


def _no_url(object_key: str, version_id: str) -> str:
    return ""


def table_rows(frames: Sequence[Frame]) -> list[dict[str, Any]]:
    """API-shaped rows for the results table, plus ``preview`` (a small preview's URL).

    Two bulk queries (versions, thumbnails) whatever the page size; download URLs are made
    only for the one preview shown per row, not for every version and preview size.
    """
    ids = [frame.pk for frame in frames]
    versions = versions_by_frame(ids)
    thumbnails = thumbnails_by_frame(ids)
    make_url = url_maker()
    rows = []
    for frame in frames:
        row = frame_row(frame, versions.get(frame.pk, []), _no_url)
        row["preview"] = preview_url(thumbnails.get(frame.pk, []), make_url, largest=False)
        rows.append(row)
    return rows


@dataclass
class SearchPage:
    """One page of results."""

    rows: list[dict[str, Any]]
    limit: int
    offset: int
    has_next: bool
    ordering: list[tuple[str, bool]]

    @property
    def first(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)


# Columns that hold no NULL in a search's queryset (``observation_date`` is excluded when
# NULL by the API's base queryset; the text columns default to ""). Ordering on them needs no
# NULLS FIRST/LAST clause, and without one PostgreSQL can walk the (observation_date, id)
# index for the default "newest first" page instead of sorting every match.
def page_of_results(request: HttpRequest, params: QueryDict) -> SearchPage:
    """The page ``params`` asks for (``limit``/``offset``/``ordering`` as the API reads them).

    One row more than the page is read to know whether a next page exists, so the page needs
    no count (counts come separately, see :func:`count_result`).

    Raises
    ------
    SearchError
        The API would refuse the query.
    """
    queryset = searched(request, params)
    ordering = ordering_from(params.get("ordering"))
    config = frames_settings()
    limit, offset = limit_offset(params, config.default_limit, config.max_limit)
    frames = list(order_by(queryset, ordering)[offset : offset + limit + 1])
    has_next = len(frames) > limit
    frames = frames[:limit]
    return SearchPage(
        rows=table_rows(frames),
        limit=limit,
        offset=offset,
        has_next=has_next,
        ordering=ordering,
    )


def _frame_batches(
    queryset: QuerySet[Frame], ordering: list[tuple[str, bool]]
) -> Iterator[list[Frame]]:
    """Every frame of ``queryset`` in ``ordering``, :data:`EXPORT_BATCH` at a time.

    The API's keyset cursor does the paging: it knows where NULLs sort and lets the database
    start each batch's index scan at the previous batch's last row.
    """
    token: str | None = None
    while True:
        page = cursor_page(queryset, ordering, limit=EXPORT_BATCH, token=token)
        if page.rows:
            yield page.rows
        if page.next_cursor is None:
            return
        token = page.next_cursor


def iter_rows(
    request: HttpRequest, params: QueryDict, *, with_urls: bool = True
) -> Iterator[list[dict[str, Any]]]:
    """Every row of the whole result, in batches, in the query's ordering (for exports).

    Keyset paging (the API's cursor pagination) keeps each batch as cheap as the first.
    The query is validated before the first batch is produced.

    Raises
    ------
    SearchError
        The API would refuse the query (raised by the call, not by the iteration).
    """
    query = params.copy()
    for name in PAGE_PARAMETERS:
        if name != "ordering":
            query.pop(name, None)
    queryset = searched(request, query)
    ordering = ordering_from(query.get("ordering"))

    def batches() -> Iterator[list[dict[str, Any]]]:
        make_url = url_maker() if with_urls else _no_url
        for frames in _frame_batches(queryset, ordering):
            versions = versions_by_frame([frame.pk for frame in frames])
            yield [frame_row(f, versions.get(f.pk, []), make_url) for f in frames]

    return batches()


# -- counts and facets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """What the API says about the size of a result."""

    count: int
    estimated: bool
    error: str = ""

    @property
    def unknown(self) -> bool:
        # The API's "estimate failed" answer is sys.maxsize.
        return self.count >= 2**62


def count_result(request: HttpRequest, params: QueryDict) -> Count:
    """``count`` and ``count_estimated`` as ``GET /frames/?<params>`` gives them: the API's
    queryset, its rule for exact versus estimated counts and its counting function (without
    fetching a row, which the API's list would also do)."""
    query = params.copy()
    for name in PAGE_PARAMETERS:
        query.pop(name, None)
    view = frame_view(request, query)
    try:
        queryset, filterset = view.searched_frames()
    except ValidationError as exc:
        messages = [m for ms in _validation_errors(exc).values() for m in ms]
        return Count(0, True, " ".join(messages))
    small, timeout_ms = frame_search_is_small(view.request, view.request.query_params, filterset)
    result = count_queryset(queryset, exact=small, timeout_ms=timeout_ms)
    return Count(count=result.count, estimated=result.estimated)


@dataclass
class Facets:
    """Values offered for each facet, and the user's own proposals."""

    values: dict[str, list[str]] = field(default_factory=dict)
    my_proposals: list[str] = field(default_factory=list)
    available: bool = True


def facets_for(request: HttpRequest) -> Facets:
    """The facet values of ``GET /frames/aggregate/`` for this user (public frames for
    anonymous users, plus their own proposals for members, everything for superusers)."""
    user = request.user
    mine = sorted(proposals_for(user)) if not is_superuser(user) else []
    params = QueryDict(mutable=True)
    params["query_timeout"] = str(FACET_TIMEOUT_MS)
    response = call_api(request, "frame-aggregate", params)
    data = getattr(response, "data", None)
    if response.status_code != 200 or not isinstance(data, dict):
        return Facets(my_proposals=mine, available=False)
    values = {param: sorted(map(str, data.get(key, []))) for param, key in FACET_FIELDS.items()}
    return Facets(values=values, my_proposals=mine)
