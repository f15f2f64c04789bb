"""HTTP views of downloads (reference §2.8, §2.9, §4; web-client download script).

* ``GET download/<key>?version&expires&signature`` — one stored version behind a signed,
  expiring URL (filesystem and memory stores), with single-range requests.
* ``POST frames/zip/`` — a zip of visible frames, streamed by the archive (``ZIP_MODE=stream``)
  or as an nginx mod_zip manifest (``ZIP_MODE=nginx``).
* ``GET frame-funpack/<id>/funpack/`` and ``GET frame-catalog/<id>/catalog/`` — the
  uncompressed file / the catalogue of a frame the caller may see (or holding a signature
  from a manifest).
* ``GET|POST frames/download-script/`` — a POSIX shell script fetching a selection.

Every path enforces the archive's visibility rule; refusals and failures are JSON
``{"detail": ...}`` bodies, never tracebacks.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import http_date
from django.views.decorators.clickjacking import xframe_options_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from obsarchive.server.accounts.services import user_for_token_key
from obsarchive.server.downloads.config import current_download_settings
from obsarchive.server.downloads.files import open_object_chunks
from obsarchive.server.downloads.fitsfiles import FitsStreamError, NoCatalogueError
from obsarchive.server.downloads.ranges import RangeNotSatisfiableError, parse_range
from obsarchive.server.downloads.scripts import ScriptEntry, render_script
from obsarchive.server.downloads.selection import (
    SelectedFile,
    frames_by_ids,
    newest_versions,
    select_files,
    verify_derived,
    visible_frames,
)
from obsarchive.server.downloads.zips import (
    MemberKind,
    derived_file,
    nginx_manifest,
    plan_members,
    stream_zip,
    zip_filename,
)
from obsarchive.server.frames.filters import FrameFilterSet, drop_empty_values, ordering_from
from obsarchive.server.frames.models import Version
from obsarchive.server.frames.pagination import order_by
from obsarchive.server.frames.storage import archive_store, download_signing_key
from obsarchive.storage.base import (
    InvalidKeyError,
    ObjectNotFoundError,
    StoreError,
    attachment_disposition,
)
from obsarchive.storage.signing import verify_download

__all__ = [
    "CatalogueView",
    "DownloadScriptView",
    "UncompressedView",
    "ZipView",
    "signed_download",
]

logger = logging.getLogger(__name__)

INT64_MAX = 2**63 - 1
DOWNLOAD_PROBLEM = (
    "There was a problem downloading your files. Please try again later or select fewer files."
)
NO_FRAME = "No Frame matches the given query."
INVALID_LINK = "This download link is invalid or has expired."
NO_TOKEN = "No Token matches the given query."  # noqa: S105 - a message, not a secret
SCRIPT_NAME = "archivedownload.sh"


def _detail(status: int, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _pk(value: Any) -> int:
    """A URL id as an integer; anything else is 404 "Not found." as upstream."""
    try:
        pk = int(str(value))
    except ValueError:
        raise NotFound() from None
    if not 0 < pk <= INT64_MAX:
        raise NotFound()
    return pk


# -- one stored object behind a signed URL -----------------------------------------------------


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [item.strip() for item in header.split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


def signed_download(request: HttpRequest, key: str) -> HttpResponseBase:
    """Serve one stored object version named by a signed, expiring URL.

    The signature (:mod:`obsarchive.storage.signing`) binds key, version and expiry; anything
    else — a past expiry, an edited key, version or expiry, a missing signature — is refused
    with 403 before the store is touched. ``Range: bytes=a-b`` (one range) gives 206, a range
    outside the file 416.
    """
    if request.method not in ("GET", "HEAD"):
        return _detail(405, f'Method "{request.method}" not allowed.', Allow="GET, HEAD")
    version = request.GET.get("version", "")
    if not verify_download(
        key,
        version,
        request.GET.get("expires", ""),
        request.GET.get("signature", ""),
        download_signing_key(),
        now=timezone.now(),
    ):
        return _detail(403, INVALID_LINK)
    store = archive_store()
    try:
        info = store.stat(key, version or None)
    except (ObjectNotFoundError, InvalidKeyError):
        return _detail(404, "No such file.")
    except StoreError as exc:
        logger.error("download of %s failed: %s", key, exc)
        return _detail(503, "The file store is unavailable; please try again later.")

    filename = posixpath.basename(key)
    etag = f'"{info.md5 or info.version_id}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Content-Disposition": attachment_disposition(filename),
        # The bytes of a version never change, but they may be proprietary: no shared caches.
        "Cache-Control": "private, max-age=3600",
    }
    if info.last_modified is not None:
        headers["Last-Modified"] = http_date(info.last_modified.timestamp())
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _etag_matches(if_none_match, etag):
        return HttpResponse(status=304, headers=headers)

    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if range_header and if_range and if_range.strip() not in (etag, headers.get("Last-Modified")):
        range_header = None  # the client's copy is stale: send the whole file
    try:
        wanted = parse_range(range_header, info.size)
    except RangeNotSatisfiableError:
        return _detail(
            416,
            "The requested range is not satisfiable.",
            Content_Range=f"bytes */{info.size}",
            Accept_Ranges="bytes",
        )
    status, start, length = 200, 0, info.size
    if wanted is not None:
        status, start, length = 206, wanted.start, wanted.length
        headers["Content-Range"] = wanted.content_range(info.size)
    content_type = (
        info.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    )
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return HttpResponse(status=status, content_type=content_type, headers=headers)
    try:
        chunks = open_object_chunks(store, key, info.version_id, start, length)
    except ObjectNotFoundError:
        return _detail(404, "No such file.")
    except StoreError as exc:
        logger.error("download of %s failed: %s", key, exc)
        return _detail(503, "The file store is unavailable; please try again later.")
    return StreamingHttpResponse(chunks, status=status, content_type=content_type, headers=headers)


# -- zip -------------------------------------------------------------------------------------


class FrameIdsField(serializers.ListField):
    """A list of frame ids: JSON list, repeated form keys, ``frame_ids[0]=`` (jQuery) keys,
    or one comma-separated value."""

    child = serializers.IntegerField(min_value=1, max_value=INT64_MAX)

    def to_internal_value(self, data: Any) -> list[int]:
        if isinstance(data, str):
            data = [part for part in data.split(",") if part.strip()]
        elif isinstance(data, list) and all(isinstance(item, str) for item in data):
            data = [part for item in data for part in item.split(",") if part.strip()]
        result: list[int] = super().to_internal_value(data)
        return result


class ZipRequestSerializer(serializers.Serializer):
    """Body of ``POST /frames/zip/`` (JSON, form-encoded or multipart), as upstream."""

    frame_ids = FrameIdsField()
    uncompress = serializers.BooleanField(default=False)
    catalog_only = serializers.BooleanField(default=False)
    auth_token = serializers.CharField(required=False, allow_blank=True, default="")


def _caller(request: Request, auth_token: str) -> Any:
    """The user a download is made for: the ``auth_token`` owner when one is given (404 when
    unknown, as upstream), else the authenticated caller."""
    if not auth_token:
        return request.user
    user = user_for_token_key(auth_token.strip())
    if user is None or not user.is_active:
        raise NotFound(NO_TOKEN)
    return user


@method_decorator(xframe_options_exempt, name="dispatch")
class ZipView(APIView):
    """``POST /frames/zip/``: the visible frames among ``frame_ids``, in one zip."""

    @extend_schema(
        operation_id="getZipArchive",
        tags=["Frames"],
        request=ZipRequestSerializer,
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the zip (ZIP_MODE=stream)"
            ),
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="an nginx mod_zip manifest (ZIP_MODE=nginx)"
            ),
            400: OpenApiResponse(description="invalid body"),
            404: OpenApiResponse(description="no visible frame, or unknown auth_token"),
        },
    )
    def post(self, request: Request) -> HttpResponseBase:
        body = ZipRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        config = current_download_settings()
        ids: list[int] = list(dict.fromkeys(data["frame_ids"]))
        cap = config.zip_max_uncompressed_files
        if data["uncompress"] and cap and len(ids) > cap:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"A maximum of {cap} frames can be downloaded with the uncompress flag. "
                        "Please try again with fewer frame_ids."
                    ]
                }
            )
        if config.zip_max_files and len(ids) > config.zip_max_files:
            raise ValidationError(
                {"frame_ids": [f"A maximum of {config.zip_max_files} frames fit in one zip."]}
            )
        user = _caller(request, data["auth_token"])
        now = timezone.now()
        files = select_files(frames_by_ids(ids, user, now))
        if not files:
            return HttpResponse(status=404)  # upstream: 404 with an empty body
        members = plan_members(
            files, uncompress=data["uncompress"], catalog_only=data["catalog_only"]
        )
        store = archive_store()
        if config.zip_mode == "nginx":
            return self._manifest(members, now, config.zip_filename_base)
        directory = zip_filename(config.zip_filename_base, now, len(members))[: -len(".zip")]
        try:
            streamed = stream_zip(store, members, directory)
        except StoreError as exc:
            logger.error("zip of %d frames failed: %s", len(members), exc)
            return _detail(503, DOWNLOAD_PROBLEM)
        response = StreamingHttpResponse(streamed.chunks, content_type="application/zip")
        if streamed.size is not None:
            response["Content-Length"] = str(streamed.size)
        response["Content-Disposition"] = attachment_disposition(directory + ".zip")
        response.set_cookie("fileDownload", "true", path="/")
        return response

    def _manifest(self, members: list[Any], now: datetime, base: str) -> HttpResponseBase:
        config = current_download_settings()
        directory = zip_filename(base, now, len(members))[: -len(".zip")]

        def derived_path(kind: MemberKind, frame_id: int) -> str:
            name = (
                "frame-funpack-funpack"
                if kind is MemberKind.UNCOMPRESSED
                else "frame-catalog-catalog"
            )
            return reverse(name, kwargs={"pk": frame_id})

        manifest, count = nginx_manifest(
            archive_store(),
            members,
            directory,
            now=now,
            expiry=config.zip_manifest_url_expiry,
            url_for_derived=derived_path,
        )
        if count == 0:
            return HttpResponse(status=404)
        if count != len(members):
            # The name carries the number of files, as upstream; rename the folder to match.
            final = zip_filename(base, now, count)[: -len(".zip")]
            manifest = manifest.replace(f" {directory}/", f" {final}/")
            directory = final
        response = HttpResponse(manifest, content_type="text/plain")
        response["X-Archive-Files"] = "zip"
        response["Content-Disposition"] = attachment_disposition(directory + ".zip")
        response.set_cookie("fileDownload", "true", path="/")
        return response


# -- uncompressed and catalogue files --------------------------------------------------------


class _DerivedFileView(APIView):
    """A file the archive derives from a frame's stored product."""

    kind: MemberKind = MemberKind.UNCOMPRESSED

    def _selected(self, request: Request, frame_id: int) -> SelectedFile | HttpResponseBase:
        now = timezone.now()
        params = request.query_params
        if "signature" in params:
            # A manifest's sub-request: the signature stands for the visibility check made when
            # the manifest was built.
            version_key = params.get("version", "")
            if not verify_derived(
                self.kind.value,
                frame_id,
                version_key,
                params.get("expires", ""),
                params.get("signature", ""),
                now,
            ):
                return _detail(403, INVALID_LINK)
            version = (
                Version.objects.select_related("frame")
                .filter(frame_id=frame_id, key=version_key)
                .first()
            )
            if version is None:
                return _detail(404, NO_FRAME)
            return SelectedFile(frame=version.frame, version=version)
        frame = visible_frames(request.user, now).filter(pk=frame_id).first()
        if frame is None:
            return _detail(404, NO_FRAME)
        selected = select_files([frame])
        if not selected:
            return _detail(404, "This frame has no stored file.")
        return selected[0]

    def _filename(self, selected: SelectedFile) -> str:
        if self.kind is MemberKind.UNCOMPRESSED:
            return selected.frame.basename + ".fits"
        return selected.frame.basename + "-catalog.fits"

    @extend_schema(
        tags=["Frames"],
        parameters=[
            OpenApiParameter("version", OpenApiTypes.STR, description="with a signature"),
            OpenApiParameter("expires", OpenApiTypes.INT, description="with a signature"),
            OpenApiParameter(
                "signature", OpenApiTypes.STR, description="from an nginx zip manifest"
            ),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            403: OpenApiResponse(description="invalid or expired signature"),
            404: OpenApiResponse(description="unknown or invisible frame, or nothing to derive"),
        },
    )
    def get(self, request: Request, pk: str) -> HttpResponseBase:
        selected = self._selected(request, _pk(pk))
        if isinstance(selected, HttpResponseBase):
            return selected
        if not selected.version.extension.startswith(".fits"):
            return _detail(404, "This frame's file is not a FITS file.")
        try:
            derived = derived_file(archive_store(), selected, self.kind)
        except NoCatalogueError:
            return _detail(404, "This frame has no catalog.")
        except ObjectNotFoundError:
            logger.error("frame %s: stored file missing", selected.frame.pk)
            return _detail(404, "The stored file of this frame is missing.")
        except FitsStreamError as exc:
            logger.error("frame %s: %s", selected.frame.pk, exc)
            return _detail(500, DOWNLOAD_PROBLEM)
        except StoreError as exc:
            logger.error("frame %s: file store failed: %s", selected.frame.pk, exc)
            return _detail(503, DOWNLOAD_PROBLEM)
        response = StreamingHttpResponse(
            _logged(derived.chunks(), selected), content_type="application/octet-stream"
        )
        response["Content-Length"] = str(derived.size)
        response["Content-Disposition"] = attachment_disposition(self._filename(selected))
        return response


def _logged(chunks: Iterator[bytes], selected: SelectedFile) -> Iterator[bytes]:
    """Pass chunks through; a failure after the response started can only be logged (the
    client sees a short body, which its Content-Length check reports)."""
    try:
        yield from chunks
    except (FitsStreamError, StoreError, OSError) as exc:
        logger.error("frame %s: download broken off: %s", selected.frame.pk, exc)
        raise


@extend_schema_view(get=extend_schema(operation_id="getFunpackedFile"))
class UncompressedView(_DerivedFileView):
    """``GET /frame-funpack/<id>/funpack/``: the frame's file with images decompressed."""

    kind = MemberKind.UNCOMPRESSED


@extend_schema_view(get=extend_schema(operation_id="getCatalogFile"))
class CatalogueView(_DerivedFileView):
    """``GET /frame-catalog/<id>/catalog/``: SCI header + CAT table of the frame's file."""

    kind = MemberKind.CATALOGUE


# -- download script -------------------------------------------------------------------------


class DownloadScriptView(APIView):
    """``GET|POST /frames/download-script/``: a shell script for a selection.

    The selection is ``frame_ids`` (query or body) and/or the ``/frames/`` search filters in the
    query string, among the frames the caller may see; a POST may name the caller with
    ``auth_token`` in its body, as the zip form does (never in the URL).
    """

    @extend_schema(
        operation_id="getDownloadScript",
        tags=["Frames"],
        parameters=[
            OpenApiParameter("frame_ids", OpenApiTypes.STR, description="ids, comma-separated"),
            OpenApiParameter("ordering", OpenApiTypes.STR),
        ],
        responses={(200, "text/x-shellscript"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponseBase:
        return self._script(request, auth_token="")

    @extend_schema(
        operation_id="postDownloadScript",
        tags=["Frames"],
        request=ZipRequestSerializer,
        responses={(200, "text/x-shellscript"): OpenApiTypes.STR},
    )
    def post(self, request: Request) -> HttpResponseBase:
        token = request.data.get("auth_token", "") if hasattr(request.data, "get") else ""
        return self._script(request, auth_token=str(token or ""))

    def _frame_ids(self, request: Request) -> list[int] | None:
        values: list[Any] = request.query_params.getlist("frame_ids")
        data = request.data
        if request.method == "POST" and isinstance(data, Mapping):
            field = FrameIdsField()
            field.field_name = "frame_ids"
            raw = field.get_value(data)
            if raw is not serializers.empty and raw not in (None, "", []):
                values = [*values, *(raw if isinstance(raw, list) else [raw])]
        if not values:
            return None
        field = FrameIdsField()
        try:
            return list(dict.fromkeys(field.run_validation(values)))
        except ValidationError as exc:
            raise ValidationError({"frame_ids": exc.detail}) from None

    def _script(self, request: Request, *, auth_token: str) -> HttpResponseBase:
        config = current_download_settings()
        user = _caller(request, auth_token)
        now = timezone.now()
        params = drop_empty_values(request.query_params)
        for own in ("frame_ids", "auth_token"):
            params.pop(own, None)
        base = visible_frames(user, now).filter(
            Exists(Version.objects.filter(frame=OuterRef("pk")))
        )
        ids = self._frame_ids(request)
        if ids is not None:
            base = base.filter(pk__in=ids[: config.script_max_frames + 1])
        filterset = FrameFilterSet(data=params, queryset=base, request=request, now=now)
        if not filterset.is_valid():
            raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
        queryset = order_by(filterset.qs, ordering_from(params.get("ordering"))).only(
            "id", "basename", "observation_date"
        )
        frames = list(queryset[: config.script_max_frames + 1])
        if len(frames) > config.script_max_frames:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"The selection has more than {config.script_max_frames} files; "
                        "narrow it down."
                    ]
                }
            )
        newest = newest_versions([frame.pk for frame in frames])
        store = archive_store()
        expiry = config.url_expiry
        entries: list[ScriptEntry] = []
        unavailable: list[str] = []
        for frame in frames:
            version = newest.get(frame.pk)
            if version is None:
                continue
            filename = frame.basename + version.extension
            try:
                if not version.object_key:
                    raise ObjectNotFoundError("no stored file")
                url = store.url(version.object_key, version.key or None, expiry)
            except (StoreError, ValueError) as exc:
                logger.warning("download script: no URL for %s: %s", filename, exc)
                unavailable.append(filename)
                continue
            entries.append(ScriptEntry(url=url, filename=filename, md5=version.md5))
        text = render_script(
            entries,
            archive=request.build_absolute_uri("/"),
            generated_at=now,
            expires_at=now + expiry,
            unavailable=unavailable,
        )
        response = HttpResponse(text, content_type="text/x-shellscript; charset=utf-8")
        response["Content-Disposition"] = attachment_disposition(SCRIPT_NAME)
        return response
