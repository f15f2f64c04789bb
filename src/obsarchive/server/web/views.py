"""Views of the web interface (``/ui/``) and the name resolver (``/resolve/``).

Views parse the request, call :mod:`.search` (which calls the frames API's own code) and
render templates. Every HTML page is ``Cache-Control: no-store``: pages can hold proprietary
rows, and after a logout the Back button must fetch them again rather than show a copy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from obsarchive.server.accounts.services import rotate_token
from obsarchive.server.accounts.visibility import is_superuser, proposals_for
from obsarchive.server.downloads.config import current_download_settings
from obsarchive.server.frames.conf import frames_settings
from obsarchive.server.frames.filters import ordering_from
from obsarchive.server.frames.models import Version
from obsarchive.server.frames.pagination import order_by
from obsarchive.server.frames.storage import archive_store
from obsarchive.server.web import search as services
from obsarchive.server.web.config import current_web_settings
from obsarchive.server.web.coords import format_dec, format_degrees, format_ra
from obsarchive.server.web.exports import (
    EXPORT_FORMATS,
    csv_chunks,
    json_chunks,
    votable_chunks,
)
from obsarchive.server.web.headers import ordered_header, stored_card_order
from obsarchive.server.web.query import (
    DEFAULT_RADIUS_DEG,
    PAGE_PARAMETERS,
    canonical_query,
    encode,
    same_query,
    without,
)
from obsarchive.server.web.resolver import ResolverUnavailableError, resolve
from obsarchive.server.web.skyplot import sky_plot

__all__ = [
    "ResolveView",
    "count",
    "download",
    "export",
    "frame_detail",
    "profile",
    "root",
    "search",
]

logger = logging.getLogger(__name__)

# Parameters the search form shows as fields; any other parameter of the query is carried
# along in hidden inputs, so a shared link keeps its constraints when the form is used.
FORM_FIELDS = (
    "start",
    "end",
    "ra",
    "dec",
    "radius",
    "site_id",
    "telescope_id",
    "instrument_id",
    "primary_optical_element",
    "configuration_type",
    "proposal_id",
    "reduction_level",
    "target_name",
    "basename",
    "request_id",
    "observation_id",
    "exposure_time",
    "exclude_calibrations",
    "public",
    "public_only",
    "ordering",
    "limit",
    "offset",
)
FACET_LABELS = (
    ("site_id", "Site"),
    ("telescope_id", "Telescope"),
    ("instrument_id", "Instrument"),
    ("primary_optical_element", "Filter"),
    ("configuration_type", "Configuration type"),
)
REDUCTION_LEVELS = (
    ("0", "0 — raw"),
    ("10", "10 — processed"),
    ("90", "90 — ORAC"),
    ("91", "91 — BANZAI"),
    ("92", "92 — BANZAI-NRES"),
)
# Results columns: (label, ordering field or "", row key, first-click direction descending?).
COLUMNS = (
    ("Observed (UTC)", "observation_date", "observation_date", True),
    ("Basename", "basename", "basename", False),
    ("Target", "target_name", "target_name", False),
    ("Proposal", "proposal_id", "proposal_id", False),
    ("Telescope", "", "telescope_id", False),
    ("Instrument", "instrument_id", "instrument_id", False),
    ("Filter", "primary_optical_element", "primary_optical_element", False),
    ("Type", "configuration_type", "configuration_type", False),
    ("Exp. (s)", "exposure_time", "exposure_time", True),
    ("Level", "reduction_level", "reduction_level", False),
)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _url(name: str, params: QueryDict | None = None, **kwargs: Any) -> str:
    base = reverse(name, kwargs=kwargs or None)
    query = encode(params) if params is not None else ""
    return f"{base}?{query}" if query else base


def _api_url(path: str, params: QueryDict) -> str:
    query = encode(params)
    return f"{path}?{query}" if query else path


def _date_value(text: str) -> str:
    """A date parameter as the form shows it (ISO, space instead of T); raw when unparsable."""
    moment = parse_datetime(text) if "T" in text or " " in text else None
    if moment is not None:
        shown = moment.strftime("%Y-%m-%d %H:%M:%S")
        return shown[:-3] if shown.endswith(":00") else shown
    day = parse_date(text)
    return day.isoformat() if day is not None else text


# -- / ----------------------------------------------------------------------------------------


def root(request: HttpRequest) -> HttpResponseBase:
    """``/``: browsers asking for HTML go to the search page; API clients get the API root."""
    if (
        "format" not in request.GET
        and request.get_preferred_type(["application/json", "text/html"]) == "text/html"
    ):
        return redirect("web:search")
    from obsarchive.server.frames.urls import router

    return router.get_api_root_view()(request)


# -- search ---------------------------------------------------------------------------------------


def _resolve_into(query: Any, request: HttpRequest, now: datetime) -> str:
    """Resolve ``query.name`` into the query's ra/dec (and a default radius); a note or ""."""
    try:
        found = resolve(query.name, user=request.user, now=now)
    except (ValueError, ResolverUnavailableError) as exc:
        query.errors.setdefault("name", []).append(str(exc))
        return ""
    if found is None:
        # The coordinates already in the form stay as they are.
        query.errors.setdefault("name", []).append(f"No match found for {query.name!r}.")
        return ""
    for name in ("ra", "dec"):
        query.errors.pop(name, None)
    query.params["ra"] = format_degrees(found.ra)
    query.params["dec"] = format_degrees(found.dec)
    if not query.params.get("radius"):
        query.params["radius"] = format_degrees(DEFAULT_RADIUS_DEG)
    source = {
        "local": "the local catalogue",
        "archive": f"the OBJECT of {found.frames} archived frame(s)",
        "remote": "the remote resolver",
    }[found.source]
    matched = f" ({found.matched})" if found.matched.lower() != query.name.lower() else ""
    return (
        f"{query.name}{matched} resolved by {source} to RA {format_ra(found.ra)} "
        f"Dec {format_dec(found.dec)} ({format_degrees(found.ra, 5)}°, "
        f"{format_degrees(found.dec, 5)}°)."
    )


def _sort_headers(params: QueryDict, ordering: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    primary, descending = ordering[0]
    base = without(params, "offset")
    headers = []
    for label, field, key, first_descending in COLUMNS:
        entry: dict[str, Any] = {"label": label, "key": key, "sort": "", "href": ""}
        if field:
            if field == primary:
                entry["sort"] = "descending" if descending else "ascending"
                flip = not descending
            else:
                flip = first_descending
            entry["href"] = _url(
                "web:search", without(base, ordering=("-" if flip else "") + field)
            )
        headers.append(entry)
    return headers


def _position_note(params: QueryDict) -> str:
    try:
        ra, dec = float(params.get("ra", "")), float(params.get("dec", ""))
    except ValueError:
        return ""
    return f"{format_ra(ra)} {format_dec(dec)}"


def _form_context(request: HttpRequest, params: QueryDict, raw: QueryDict) -> dict[str, Any]:
    facets = services.facets_for(request)
    values = {name: params.get(name, "") for name in FORM_FIELDS}
    for name in ("start", "end"):
        values[name] = _date_value(values[name])
    values["name"] = raw.get("name", "").strip()
    if params.get("public_only", "").lower() in ("true", "1"):
        values["public"] = "only"
    selects = []
    for param, label in FACET_LABELS:
        options = list(facets.values.get(param, []))
        current = values[param]
        if current and current not in options:
            options.append(current)
        selects.append({"param": param, "label": label, "options": options, "value": current})
    public_proposals = [
        p for p in facets.values.get("proposal_id", []) if p not in facets.my_proposals
    ]
    current_proposal = values["proposal_id"]
    if current_proposal and current_proposal not in public_proposals + facets.my_proposals:
        public_proposals.append(current_proposal)
    levels = list(REDUCTION_LEVELS)
    if values["reduction_level"] and values["reduction_level"] not in dict(levels):
        levels.append((values["reduction_level"], values["reduction_level"]))
    hidden = [
        (key, value) for key, items in params.lists() if key not in FORM_FIELDS for value in items
    ]
    config = current_web_settings()
    limit = values["limit"] or str(frames_settings().default_limit)
    sizes = [str(size) for size in config.page_sizes]
    if limit not in sizes:
        sizes.append(limit)
    return {
        "values": values,
        "facets": facets,
        "selects": selects,
        "public_proposals": public_proposals,
        "levels": levels,
        "hidden": hidden,
        "page_sizes": sizes,
        "limit": limit,
        "position_note": _position_note(params),
        "is_superuser": is_superuser(request.user),
    }


def _cone(params: QueryDict) -> tuple[float, float, float] | None:
    try:
        return (
            float(params.get("ra", "")),
            float(params.get("dec", "")),
            float(params.get("radius", "")),
        )
    except ValueError:
        return None


@never_cache
@require_http_methods(["GET", "HEAD"])
def search(request: HttpRequest) -> HttpResponse:
    """``/ui/``: the search form and the first page of results (the URL is the API query)."""
    raw = request.GET
    query = canonical_query(raw, default_limit=frames_settings().default_limit)
    note = ""
    if query.wants_resolution:
        note = _resolve_into(query, request, timezone.now())
    params = query.params
    if not query.errors and not same_query(raw, params) and not _is_htmx(request):
        # Make the address bar hold the API query (one redirect after a form submission).
        if note:
            messages.info(request, note)
        return redirect(_url("web:search", params))

    context: dict[str, Any] = _form_context(request, params, raw)
    context["note"] = note
    context["errors"] = query.errors
    page = None
    if not query.errors:
        try:
            page = services.page_of_results(request, params)
        except services.SearchError as exc:
            query.errors.update(exc.errors)
    context["other_errors"] = {
        k: v for k, v in query.errors.items() if k not in FORM_FIELDS and k != "name"
    }
    if page is not None:
        context.update(_results_context(params, page))
    response = render(request, "web/search.html", context)
    if _is_htmx(request):
        response["HX-Push-Url"] = _url("web:search", params)
    return response


def _results_context(params: QueryDict, page: services.SearchPage) -> dict[str, Any]:
    plain = without(params, *PAGE_PARAMETERS)
    previous_url = next_url = ""
    if page.offset > 0:
        back = page.offset - page.limit
        previous_url = _url("web:search", without(params, offset=str(back) if back > 0 else ""))
    if page.has_next:
        next_url = _url("web:search", without(params, offset=str(page.offset + page.limit)))
    count_params = without(params, seen=str(page.last + (1 if page.has_next else 0)))
    # A last page that is not empty (or a first page) tells the exact count by itself.
    known = None if page.has_next or (page.offset and not page.rows) else page.last
    return {
        "known_count": known,
        "page": page,
        "sort_headers": _sort_headers(params, page.ordering),
        "previous_url": previous_url,
        "next_url": next_url,
        "count_url": _url("web:count", count_params),
        "api_url": _api_url(reverse("frame-list"), params),
        "plain_query": encode(plain),
        "script_url": _api_url(reverse("frame-download-script"), plain),
        "download_url": _url("web:download", plain),
        "exports": [
            (label, _url("web:export", plain, fmt=fmt))
            for fmt, label in (("csv", "CSV"), ("json", "JSON"), ("votable", "VOTable"))
        ],
        "plot": sky_plot(page.rows, _cone(params)),
    }


@never_cache
def count(request: HttpRequest) -> HttpResponse:
    """``/ui/count/``: the result count, as the API gives it (exact or estimated)."""
    params = canonical_query(request.GET).params
    seen = params.pop("seen", ["0"])[-1]
    result = services.count_result(request, params)
    limit = max(1, int(params.get("limit") or frames_settings().default_limit))
    last_url = ""
    if not result.estimated and not result.error and result.count > limit:
        last_offset = (result.count - 1) // limit * limit
        last_url = _url("web:search", without(params, offset=str(last_offset)))
    at_least = int(seen) if seen.isdigit() else 0
    context = {
        "result": result,
        "at_least": at_least if result.estimated and at_least > result.count else 0,
        "last_url": last_url,
        "fragment": _is_htmx(request),
        "back_url": _url("web:search", params),
    }
    return render(request, "web/count.html", context)


# -- frame page -------------------------------------------------------------------------------


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "web/not_found.html", {"message": message}, status=404)


@never_cache
@require_http_methods(["GET", "HEAD"])
def frame_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """``/ui/frames/<id>/``: metadata, preview, header, related frames, versions, downloads."""
    detail = services.call_api(request, "frame-detail", QueryDict("include_thumbnails=true"), pk=pk)
    if detail.status_code != 200:
        return _not_found(request, f"There is no frame {pk} that you may see.")
    row: dict[str, Any] = detail.data
    related_response = services.call_api(request, "frame-related", pk=pk)
    related = related_response.data if related_response.status_code == 200 else []
    headers_response = services.call_api(request, "frame-headers", pk=pk)
    header_data = (
        headers_response.data.get("data", {}) if headers_response.status_code == 200 else {}
    )
    versions = row.get("version_set", [])
    order: list[str] = []
    newest = Version.objects.filter(frame_id=pk).order_by("-created", "-id").first()
    if newest is not None and header_data:
        order = stored_card_order(archive_store(), newest.object_key, newest.key)
    header = ordered_header(header_data, order)
    header_filter = request.GET.get("header", "").strip()
    if header_filter:
        needle = header_filter.lower()
        header = [(k, v) for k, v in header if needle in k.lower() or needle in str(v).lower()]
    thumbnails = sorted(
        row.get("thumbnails", []),
        key=lambda t: (services.size_rank(t["size"]), t["id"]),
    )
    preview = next((t for t in reversed(thumbnails) if t.get("url")), None)
    extension = versions[0]["extension"] if versions else ""
    downloads = []
    if row.get("url"):
        downloads.append((f"Download {row['filename']}", row["url"]))
    if extension == ".fits.fz":
        downloads.append(
            ("Download uncompressed FITS", reverse("frame-funpack-funpack", kwargs={"pk": pk}))
        )
    if row.get("reduction_level") == 91 and row.get("configuration_type") == "EXPOSE":
        downloads.append(
            ("Download catalogue", reverse("frame-catalog-catalog", kwargs={"pk": pk}))
        )
    thumbnails_query = QueryDict(mutable=True)
    thumbnails_query["frame_basename"] = row["basename"]
    api_links = [
        ("Frame", reverse("frame-detail", kwargs={"pk": pk})),
        ("Headers", reverse("frame-headers", kwargs={"pk": pk})),
        ("Related frames", reverse("frame-related", kwargs={"pk": pk})),
        ("Thumbnails", _api_url(reverse("thumbnail-list"), thumbnails_query)),
    ]
    public_date = parse_datetime(row.get("public_date") or "")
    context = {
        "frame": row,
        "row": row,
        "metadata": _metadata(row),
        "header": header,
        "header_filter": header_filter,
        "header_ordered": bool(order),
        "related": related,
        "versions": versions,
        "preview": preview,
        "downloads": downloads,
        "api_links": api_links,
        "plot": sky_plot([row, *[r for r in related if r.get("area")]]),
        "proprietary": public_date is None or public_date > timezone.now(),
    }
    return render(request, "web/frame.html", context)


def _metadata(row: dict[str, Any]) -> list[tuple[str, Any]]:
    labels = (
        ("Observed (UTC)", "observation_date"),
        ("Observing day", "observation_day"),
        ("Target (OBJECT)", "target_name"),
        ("Proposal", "proposal_id"),
        ("Site", "site_id"),
        ("Telescope", "telescope_id"),
        ("Instrument", "instrument_id"),
        ("Filter", "primary_optical_element"),
        ("Configuration type", "configuration_type"),
        ("Exposure time (s)", "exposure_time"),
        ("Reduction level", "reduction_level"),
        ("Request", "request_id"),
        ("Observation", "observation_id"),
        ("Public from (UTC)", "public_date"),
    )
    return [(label, row.get(key)) for label, key in labels]


# -- downloads and exports ----------------------------------------------------------------------


def _bad_query(request: HttpRequest, errors: dict[str, list[str]]) -> HttpResponse:
    return render(request, "web/bad_query.html", {"errors": errors}, status=400)


@never_cache
@require_http_methods(["GET", "HEAD"])
def download(request: HttpRequest) -> HttpResponse:
    """``/ui/download/``: download the whole result (zip, script, exports)."""
    query = canonical_query(request.GET)
    if query.errors:
        return _bad_query(request, query.errors)
    plain = without(query.params, *PAGE_PARAMETERS)
    try:
        queryset = services.searched(request, plain)
    except services.SearchError as exc:
        return _bad_query(request, exc.errors)
    cap = current_web_settings().zip_max_frames
    ordering = ordering_from(query.params.get("ordering"))
    ids = list(order_by(queryset, ordering).values_list("pk", flat=True)[: cap + 1])
    too_many = len(ids) > cap
    context = {
        "ids": ",".join(str(i) for i in ids[:cap]),
        "count": len(ids[:cap]),
        "too_many": too_many,
        "cap": cap,
        "search_url": _url("web:search", query.params),
        "script_url": _api_url(reverse("frame-download-script"), plain),
        "script_max": current_download_settings().script_max_frames,
        "exports": [
            (label, _url("web:export", plain, fmt=fmt))
            for fmt, label in (("csv", "CSV"), ("json", "JSON"), ("votable", "VOTable"))
        ],
        "zip_url": reverse("frame-zip"),
    }
    return render(request, "web/download.html", context)


def _encoded(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


@never_cache
@require_http_methods(["GET", "HEAD"])
def export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """``/ui/export/<csv|json|votable>/``: the whole result, streamed."""
    if fmt not in EXPORT_FORMATS:
        return _not_found(request, f"There is no {fmt!r} export; use CSV, JSON or VOTable.")
    query = canonical_query(request.GET)
    if query.errors:
        return _bad_query(request, query.errors)
    try:
        batches = services.iter_rows(request, query.params)
    except services.SearchError as exc:
        return _bad_query(request, exc.errors)
    if fmt == "csv":
        chunks = csv_chunks(batches)
    elif fmt == "json":
        chunks = json_chunks(batches)
    else:
        plain = encode(without(query.params, *PAGE_PARAMETERS))
        chunks = votable_chunks(
            batches,
            description="Frames of the obsarchive science archive matching the query.",
            query=_api_url(request.build_absolute_uri(reverse("frame-list")), QueryDict(plain)),
        )
    content_type, extension = EXPORT_FORMATS[fmt]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(_encoded(chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="frames-{stamp}.{extension}"'
    return response


# -- accounts --------------------------------------------------------------------------------------


@never_cache
@login_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """``/ui/profile/``: proposals, and the API token (shown once when created; revocable)."""
    user: Any = request.user  # logged in (login_required)
    new_token = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "create":
            new_token = rotate_token(user).key
        elif action == "revoke":
            Token.objects.filter(user=user).delete()
            messages.success(request, "Your API token was revoked; it no longer works.")
            return redirect("web:profile")
    token = Token.objects.filter(user=user).first()
    context = {
        "proposals": sorted(proposals_for(request.user)),
        "is_superuser": is_superuser(request.user),
        "token": token,
        "new_token": new_token,
    }
    return render(request, "web/profile.html", context)


# -- /resolve/ -----------------------------------------------------------------------------------


class ResolveView(APIView):
    """``GET /resolve/?name=``: a target name's position (local table, our frames, remote)."""

    permission_classes = [AllowAny]

    @extend_schema(
        tags=["Search"],
        operation_id="resolveName",
        parameters=[OpenApiParameter("name", OpenApiTypes.STR, required=True)],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        name = request.query_params.get("name", "")
        try:
            found = resolve(name, user=request.user, now=timezone.now())
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=400)
        except ResolverUnavailableError as exc:
            return Response({"detail": str(exc)}, status=503)
        if found is None:
            return Response({"detail": f"No match found for {name.strip()!r}."}, status=404)
        return Response(
            {
                "name": found.name,
                "matched": found.matched,
                "source": found.source,
                "ra": round(found.ra, 7),
                "dec": round(found.dec, 7),
                "ra_sexagesimal": format_ra(found.ra),
                "dec_sexagesimal": format_dec(found.dec),
                "frames": found.frames,
            }
        )
