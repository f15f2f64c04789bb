"""HTTP views of the VO interfaces: VOSI, SIA 2.0, DataLink 1.1 and SODA 1.0 (docs/vo.md).

Plain Django views, CSRF-exempt and answering GET and POST alike (DALI 1.1 section 2):
parameter names are case-insensitive, repeated parameters are kept, and nothing redirects.
Errors are protocol documents with 4xx codes -- a VOTable with ``QUERY_STATUS=ERROR`` for SIA
and DataLink, ``text/plain`` for SODA -- never a 500 for bad input.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator

from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from obsarchive.server.downloads.files import open_seekable
from obsarchive.server.frames.models import Frame
from obsarchive.server.frames.storage import archive_store
from obsarchive.server.vo.access import AccessDeniedError, Caller, identify, verify_cutout
from obsarchive.server.vo.config import VoSettings, current_vo_settings
from obsarchive.server.vo.cutout import CutoutError, NoImageError, plan_cutout
from obsarchive.server.vo.datalink import LINK_FIELDS, build_links
from obsarchive.server.vo.descriptors import (
    DATALINK_STANDARD_ID,
    datalink_descriptor,
    sia_self_description,
    soda_descriptor,
)
from obsarchive.server.vo.obscore import (
    basename_from_did,
    footprint_polygon,
    obscore_fields,
)
from obsarchive.server.vo.params import (
    ParameterError,
    VoParams,
    parse_maxrec,
    response_format,
)
from obsarchive.server.vo.services import (
    RowBuilder,
    all_vo_frames,
    bandpasses_for,
    frames_by_basename,
    newest_versions,
    vo_frames,
)
from obsarchive.server.vo.sia import parse_query, select_ids
from obsarchive.server.vo.soda import SodaError, SodaRequest, overlaps_filters, parse_soda
from obsarchive.server.vo.vosi import availability_document, capabilities_document
from obsarchive.server.vo.votable import (
    DATALINK_MIME,
    VOTABLE_MIME,
    Info,
    error_document,
    results_document,
)
from obsarchive.storage.base import ObjectNotFoundError, StoreError, attachment_disposition

__all__ = ["availability", "capabilities", "index", "links", "not_found", "sia", "soda"]

logger = logging.getLogger(__name__)

_METHODS = ("GET", "HEAD", "POST")
_XML = "text/xml; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


def _url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse(name))


def _urls(request: HttpRequest) -> dict[str, str]:
    return {
        "capabilities": _url(request, "vo-capabilities"),
        "availability": _url(request, "vo-availability"),
        "sia": _url(request, "vo-sia2"),
        "links": _url(request, "vo-links"),
        "soda": _url(request, "vo-soda"),
    }


def _method_not_allowed() -> HttpResponse:
    response = HttpResponse("Only GET and POST are supported.\n", status=405, content_type=_TEXT)
    response["Allow"] = ", ".join(_METHODS)
    return response


def _votable_error(
    message: str, status: int, *, retry_after: int | None = None, content_type: str = VOTABLE_MIME
) -> HttpResponse:
    response = HttpResponse(error_document(message), status=status, content_type=content_type)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _denied(exc: AccessDeniedError, content_type: str = VOTABLE_MIME) -> HttpResponse:
    fault = "UsageFault" if exc.status < 429 else "TransientFault"
    response = _votable_error(
        f"{fault}: {exc.message}", exc.status, retry_after=exc.retry_after,
        content_type=content_type,
    )  # fmt: skip
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


def _vary(response: HttpResponseBase) -> HttpResponseBase:
    # Answers depend on the caller (visibility, signatures): shared caches must not mix them.
    response["Vary"] = "Authorization, Cookie"
    response["Cache-Control"] = "private, no-store"
    return response


def _database_unavailable(service: str, exc: DatabaseError) -> HttpResponse:
    logger.error("%s query failed: %s", service, exc)
    return _votable_error("TransientFault: the database is not available", 503)


def _requested_format(params: VoParams) -> str | None:
    """RESPONSEFORMAT, checked to ask for a VOTable (DALI 1.1 section 3.4.3).

    Raises
    ------
    ParameterError
        Another format was asked for, or RESPONSEFORMAT was given more than once.
    """
    requested = params.single("RESPONSEFORMAT")
    if not response_format(requested):
        raise ParameterError(f"RESPONSEFORMAT {requested!r} is not supported (use votable)")
    return requested


_ServiceView = Callable[[HttpRequest, Caller, VoSettings, VoParams], HttpResponseBase]


def _dali_service(
    denied: Callable[[AccessDeniedError], HttpResponse],
) -> Callable[[_ServiceView], Callable[[HttpRequest], HttpResponseBase]]:
    """What every DALI service does first: GET/HEAD/POST only, then who is calling.

    The decorated view receives the caller, the VO settings and the request's parameters;
    a refused caller gets ``denied(exc)``, in the service's own error format.
    """

    def decorate(view: _ServiceView) -> Callable[[HttpRequest], HttpResponseBase]:
        @csrf_exempt
        @functools.wraps(view)
        def service(request: HttpRequest) -> HttpResponseBase:
            if request.method not in _METHODS:
                return _method_not_allowed()
            config = current_vo_settings()
            try:
                caller = identify(request)
            except AccessDeniedError as exc:
                return denied(exc)
            return view(request, caller, config, VoParams.from_request(request))

        return service

    return decorate


# -- VOSI -------------------------------------------------------------------------------------


def capabilities(request: HttpRequest) -> HttpResponse:
    """``GET /vo/capabilities``: the VOSI capabilities (anonymous)."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed()
    document = capabilities_document(_urls(request), current_vo_settings())
    return HttpResponse(document, content_type=_XML)


def availability(request: HttpRequest) -> HttpResponse:
    """``GET /vo/availability``: whether the database answers (VOSI availability)."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed()
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        available, note = True, "The service is accepting queries."
    except DatabaseError as exc:
        logger.warning("VO availability: database unavailable: %s", exc)
        available, note = False, "The database is not available."
    return HttpResponse(availability_document(available, note), content_type=_XML)


def index(request: HttpRequest) -> HttpResponse:
    """``GET /vo/``: where the services are, for people."""
    urls = _urls(request)
    lines = [
        "obsarchive Virtual Observatory services (documentation: docs/vo.md)",
        "",
        f"VOSI capabilities  {urls['capabilities']}",
        f"VOSI availability  {urls['availability']}",
        f"SIA 2.0 query      {urls['sia']}",
        f"DataLink links     {urls['links']}",
        f"SODA sync          {urls['soda']}",
        "",
        "pyvo: pyvo.dal.SIA2Service("
        + repr(request.build_absolute_uri(reverse("vo-index")))
        + ").search(pos=(ra, dec, radius))",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type=_TEXT)


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under ``/vo/``: a plain 404 (pyvo then tries the sibling capabilities)."""
    return HttpResponse("Not found.\n", status=404, content_type=_TEXT)


# -- SIA --------------------------------------------------------------------------------------


def _sia_content_type(requested: str | None) -> str:
    if requested is None:
        return VOTABLE_MIME
    kind = requested.split(";", 1)[0].strip().lower()
    return kind if kind in (VOTABLE_MIME, "text/xml") else VOTABLE_MIME


@_dali_service(_denied)
def sia(
    request: HttpRequest, caller: Caller, config: VoSettings, params: VoParams
) -> HttpResponseBase:
    """``/vo/sia2``: SIA 2.0 image search over the ObsCore view of frames."""
    try:
        requested = _requested_format(params)
        maxrec, _ = parse_maxrec(
            params.single("MAXREC"), config.maxrec_default, config.maxrec_limit
        )
        query = parse_query(params, config, bandpasses_for(config))
    except ParameterError as exc:
        return _votable_error(f"UsageFault: {exc}", 400)
    base = vo_frames(caller)
    try:
        ids, overflow = select_ids(query, base, config, maxrec)
    except DatabaseError as exc:
        return _database_unavailable("SIA", exc)
    rows = RowBuilder(caller, config)
    fields = obscore_fields(config)
    names = [field.name for field in fields]
    values = ([row[name] for name in names] for row in rows.rows(ids, base))
    urls = _urls(request)
    document = results_document(
        fields,
        values,
        trailing=[Info("QUERY_STATUS", "OVERFLOW")] if overflow else [],
        descriptors=[
            sia_self_description(urls["sia"], config),
            datalink_descriptor(urls["links"]),
            soda_descriptor(urls["soda"], rows.expires),
        ],
    )
    response = StreamingHttpResponse(document, content_type=_sia_content_type(requested))
    return _vary(response)


# -- DataLink ---------------------------------------------------------------------------------


@_dali_service(_denied)
def links(
    request: HttpRequest, caller: Caller, config: VoSettings, params: VoParams
) -> HttpResponseBase:
    """``/vo/links``: DataLink 1.1 links of one or many IDs."""
    try:
        _requested_format(params)
    except ParameterError as exc:
        return _votable_error(f"UsageFault: {exc}", 400)
    rows = RowBuilder(caller, config)
    try:
        linkset = build_links(
            params.values("ID"),
            queryset=vo_frames(caller),
            rows=rows,
            soda_url=_url(request, "vo-soda"),
        )
    except DatabaseError as exc:
        return _database_unavailable("DataLink", exc)
    document = "".join(
        results_document(
            LINK_FIELDS,
            (link.values() for link in linkset.links),
            leading=[Info("standardID", DATALINK_STANDARD_ID)],
            trailing=[Info("QUERY_STATUS", "OVERFLOW")] if linkset.overflow else [],
            descriptors=linkset.descriptors,
        )
    )
    return _vary(HttpResponse(document, content_type=DATALINK_MIME))


# -- SODA -------------------------------------------------------------------------------------


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message.rstrip("\n") + "\n", status=status, content_type=_TEXT)


def _soda_frame(
    did: str, caller: Caller, config: VoSettings, expires: str, signature: str
) -> Frame:
    """The archived frame named by ``did`` if the caller may cut it out, else a SodaError.

    Unlike DataLink, SODA tells "proprietary" (401/403) from "unknown" (404), as SODA 1.0
    section 5.2 asks; a valid signature from a search or links response stands for the
    caller's credentials, which pyvo does not send with SODA calls.
    """
    basename = basename_from_did(config, did)
    frame = None
    if basename is not None:
        frame = frames_by_basename(all_vo_frames(), [basename]).get(basename)
    if frame is None:
        raise SodaError(404, f"UsageError: {did} is not known to this service")
    if vo_frames(caller).filter(pk=frame.pk).exists():
        return frame
    if signature and verify_cutout(frame.pk, expires, signature, caller.now):
        return frame
    if not caller.authenticated:
        raise SodaError(
            401,
            f"AuthenticationError: {did} is proprietary; authenticate, or use the signed "
            "service descriptor of a search or links response",
        )
    raise SodaError(403, f"AuthorizationError: you may not access {did}")


def _soda_denied(exc: AccessDeniedError) -> HttpResponse:
    word = {401: "AuthenticationError"}.get(exc.status, "ServiceUnavailable")
    response = _text(exc.status, f"{word}: {exc.message}")
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@_dali_service(_soda_denied)
def soda(
    request: HttpRequest, caller: Caller, config: VoSettings, params: VoParams
) -> HttpResponseBase:
    """``/vo/soda``: SODA 1.0 synchronous cutouts of images."""
    try:
        soda_request = parse_soda(params)
        frame = _soda_frame(
            soda_request.id, caller, config, soda_request.expires, soda_request.signature
        )
        return _vary(_cutout(frame, soda_request, caller, config))
    except SodaError as exc:
        response = _text(exc.status, exc.message)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Token realm="api"'
        return _vary(response)
    except DatabaseError as exc:
        logger.error("SODA request failed: %s", exc)
        return _text(503, "ServiceUnavailable: the database is not available")


def _cutout(
    frame: Frame, request: SodaRequest, caller: Caller, config: VoSettings
) -> HttpResponseBase:
    rows = list(RowBuilder(caller, config).rows([frame.pk], all_vo_frames()))
    version = newest_versions([frame.pk]).get(frame.pk)
    if not rows or rows[0]["dataproduct_type"] != "image" or version is None:
        raise SodaError(400, f"UsageError: {request.id} is not an image")
    if not overlaps_filters(request, rows[0]):
        return HttpResponse(status=204)
    polygon = footprint_polygon(frame.area)
    region = request.region
    if region is not None and polygon is not None and not region.intersects(polygon):
        # Decided on the archived footprint, without opening the file.
        return HttpResponse(status=204)
    try:
        stream, release = open_seekable(archive_store(), version.object_key, version.key or None)
    except ObjectNotFoundError as exc:
        logger.error("frame %s: stored file missing: %s", frame.pk, exc)
        raise SodaError(404, f"Error: the file of {request.id} is missing") from exc
    except (StoreError, ValueError) as exc:
        logger.error("frame %s: file store failed: %s", frame.pk, exc)
        raise SodaError(503, "ServiceUnavailable: the file store is not available") from exc
    try:
        cutout = plan_cutout(stream, region, label=frame.basename + version.extension)
    except NoImageError as exc:
        release()
        raise SodaError(400, f"UsageError: {request.id} has no image with a celestial WCS") from exc
    except CutoutError as exc:
        release()
        logger.error("frame %s: cutout failed: %s", frame.pk, exc)
        raise SodaError(500, f"Error: the file of {request.id} cannot be read") from exc
    if cutout is None:
        release()
        return HttpResponse(status=204)

    def chunks() -> Iterator[bytes]:
        try:
            yield from cutout.chunks()
        except CutoutError as exc:
            logger.error("frame %s: cutout broken off: %s", frame.pk, exc)
            raise
        finally:
            release()

    response = StreamingHttpResponse(chunks(), content_type="application/fits")
    response["Content-Length"] = str(cutout.size)
    response["Content-Disposition"] = attachment_disposition(f"{frame.basename}-cutout.fits")
    return response
