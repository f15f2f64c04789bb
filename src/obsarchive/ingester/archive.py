"""HTTP client for an OCS-shaped science archive: ``versions/``, ``frames/``, ``thumbnails/``.

This is the only place the ingester talks to the archive, and the boundary where every
``requests`` failure becomes one of the ingester's exceptions (decision D1):

* connection refused, DNS failure, timeouts, broken responses, HTTP 5xx and 429 →
  :class:`~obsarchive.ingester.exceptions.BackoffRetryError`;
* HTTP 4xx other than 429, a redirected POST, a malformed ``api_root`` or a record that cannot be
  serialised → :class:`~obsarchive.ingester.exceptions.DoNotRetryError`.

Every request has a finite timeout, and connections are reused: one :class:`requests.Session`
per ``(api_root, auth_token)`` is shared by all threads of the process (its connection pool is
thread-safe and the client never mutates session state after creation).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError

__all__ = ["DEFAULT_TIMEOUT", "ArchiveService", "obs_end_time_from_dict"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 60.0)
"""(connect, read) seconds; the OCS client waits for ever, which wedges a worker."""

# Enough pooled connections for `obsarchive ingest --workers N` with any sensible N; beyond the
# pool size urllib3 still works but opens throw-away connections.
_POOL_SIZE = 32
_ERROR_BODY_CHARS = 500

_sessions: dict[tuple[str, str], requests.Session] = {}
_sessions_lock = threading.Lock()


def _session_for(api_root: str, auth_token: str) -> requests.Session:
    """The shared session for one archive and token, created on first use."""
    cache_key = (api_root, auth_token)
    with _sessions_lock:
        session = _sessions.get(cache_key)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["Accept"] = "application/json"
            _sessions[cache_key] = session
        return session


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# urllib3 prefixes its reasons with the connection object: "HTTPConnection(host=..., port=1): "
# or "<urllib3.connection.HTTPConnection object at 0x...>: ". The user needs what follows.
_CONNECTION_PREFIX = re.compile(r"^(?:<[^>]*>|\w+\([^)]*\)):\s*")


def _transport_reason(exc: requests.exceptions.RequestException) -> str:
    """The root cause of a transport failure in a few words (not urllib3's whole chain)."""
    reason: object = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError -> the real error
    return _CONNECTION_PREFIX.sub("", str(reason)) or type(exc).__name__


def _body_excerpt(response: requests.Response) -> str:
    # One line, bounded: an HTML error page from a proxy must not flood a log or a terminal.
    text = " ".join(response.text.split())
    if len(text) > _ERROR_BODY_CHARS:
        text = text[:_ERROR_BODY_CHARS] + "…"
    return text


class ArchiveService:
    """Client of the science archive's ingest endpoints.

    Parameters
    ----------
    api_root : str
        Root URL of the archive API, e.g. ``http://archive.example.org/``. A missing trailing
        ``/`` is added (upstream silently builds wrong URLs without it).
    auth_token : str
        API token sent as ``Authorization: Token <auth_token>``; ingest needs a superuser's.
    timeout : tuple of float, optional
        ``(connect, read)`` timeouts in seconds for every request.
    session : requests.Session, optional
        Session to use; by default one shared per ``(api_root, auth_token)``.

    Notes
    -----
    The constructor does no I/O. Every method raises only
    :class:`~obsarchive.ingester.exceptions.BackoffRetryError` or
    :class:`~obsarchive.ingester.exceptions.DoNotRetryError`.
    """

    def __init__(
        self,
        api_root: str,
        auth_token: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.auth_token = auth_token
        self.timeout = timeout
        self._session = session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _session_for(self.api_root, self.auth_token)
        return self._session

    def __repr__(self) -> str:
        return f"ArchiveService({self.api_root!r})"

    # -----------------------------------------------------------------------------------------
    # Transport and error mapping

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        """Send one request; translate transport failures. HTTP status is checked by the caller."""
        url = path_or_url if "://" in path_or_url else self.api_root + path_or_url
        data: bytes | None = None
        headers: dict[str, str] = {}
        if self.auth_token:
            # Per request rather than on the session, so an injected session works too.
            headers["Authorization"] = f"Token {self.auth_token}"
        if json_body is not None:
            try:
                # allow_nan=False: NaN is not JSON and the archive would refuse it anyway.
                data = json.dumps(json_body, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise DoNotRetryError(
                    f"the archive record cannot be sent as JSON ({exc}); "
                    "check HEADER_BLACKLIST (COMMENT and HISTORY cards are not JSON values)"
                ) from exc
            headers["Content-Type"] = "application/json"
        try:
            return self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                # A redirected POST turns into a GET that "succeeds" without storing anything.
                allow_redirects=method == "GET",
            )
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidHeader,
        ) as exc:
            raise DoNotRetryError(
                f"cannot reach the archive at {self.api_root!r}: {exc} (check API_ROOT and "
                "AUTH_TOKEN)"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise BackoffRetryError(
                f"the archive did not answer {method} {url} in time "
                f"(connect/read timeouts {self.timeout[0]:g}/{self.timeout[1]:g} s): "
                f"{_transport_reason(exc)}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            # Connection refused, DNS failure, reset connections, broken chunked bodies, ...
            raise BackoffRetryError(
                f"cannot reach the archive ({method} {url}): {_transport_reason(exc)}"
            ) from exc

    def handle_response(self, response: requests.Response) -> Any:
        """Map an HTTP status to an exception, else return the decoded JSON body.

        Raises
        ------
        BackoffRetryError
            5xx, 429, or a 2xx body that is not JSON.
        DoNotRetryError
            Any other 4xx, or a 3xx the client did not follow.
        """
        status = response.status_code
        where = f"{response.request.method} {response.url}"
        if status == 429 or status >= 500:
            raise BackoffRetryError(
                f"the archive is unavailable ({status} {response.reason} for {where}): "
                f"{_body_excerpt(response)}",
                retry_after=_retry_after(response),
            )
        if status >= 400:
            hint = ""
            if status in {401, 403}:
                hint = " (check AUTH_TOKEN: ingest needs a superuser's token)"
            raise DoNotRetryError(
                f"the archive refused the request ({status} {response.reason} for {where}): "
                f"{_body_excerpt(response)}{hint}"
            )
        if status >= 300:
            raise DoNotRetryError(
                f"the archive redirected {where} to {response.headers.get('Location')!r}; "
                "set API_ROOT to the final URL"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise BackoffRetryError(
                f"the archive answered {where} with a body that is not JSON: "
                f"{_body_excerpt(response)!r}"
            ) from exc

    def _get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.handle_response(self._request("GET", path_or_url, params=params))

    # -----------------------------------------------------------------------------------------
    # Endpoints

    def version_exists(self, md5: str) -> bool:
        """True when a version with this md5 is archived (``GET versions/?md5=``)."""
        result = self._get_json("versions/", {"md5": md5})
        try:
            return int(result["count"]) > 0
        except (KeyError, TypeError, ValueError) as exc:
            # Upstream treats a malformed answer as transient too: a proxy's error page, say.
            raise BackoffRetryError(
                f"the archive's versions/ answer has no usable 'count': {result!r:.200}"
            ) from exc

    def find_versions(self, md5: str) -> list[dict[str, Any]]:
        """Archived versions with this md5 (normally zero or one)."""
        return list(self._paginate("versions/", {"md5": md5}))

    def iter_versions(self, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every archived version (needs a staff token), page by page."""
        return self._paginate("versions/", {"limit": page_size})

    def iter_thumbnails(self, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every thumbnail the token may see (all of them for a superuser), page by page."""
        return self._paginate("thumbnails/", {"limit": page_size})

    def profile(self) -> dict[str, Any]:
        """The token's user (``GET profile/``): username, is_staff, proposals."""
        result = self._get_json("profile/")
        if not isinstance(result, dict):
            raise BackoffRetryError(f"unexpected profile/ answer: {result!r:.200}")
        return result

    def _paginate(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Follow ``next`` links of a DRF list (or accept a bare JSON list)."""
        page: Any = self._get_json(path, params)
        while True:
            if isinstance(page, list):
                yield from page
                return
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise BackoffRetryError(f"unexpected {path} answer: {page!r:.200}")
            yield from page["results"]
            next_url = page.get("next")
            if not next_url:
                return
            page = self._get_json(str(next_url))

    def post_frame(self, record: dict[str, Any]) -> dict[str, Any]:
        """POST a frame record to ``frames/``.

        As upstream, ``record`` is updated in place with ``frameid``, ``filename`` and ``url``
        from the archive's answer, and returned.
        """
        response = self.handle_response(self._request("POST", "frames/", json_body=record))
        answer = response if isinstance(response, dict) else {}
        logger.info(
            "Ingester posted frame to archive",
            extra={
                "tags": {
                    "filename": record.get("basename"),
                    "request_id": record.get("request_id"),
                    "proposal_id": answer.get("proposal_id"),
                    "id": answer.get("id"),
                }
            },
        )
        record["frameid"] = answer.get("id")
        record["filename"] = answer.get("filename")
        record["url"] = answer.get("url")
        self._log_ingest_lag(record)
        return record

    def post_thumbnail(self, record: dict[str, Any]) -> dict[str, Any]:
        """POST a thumbnail record to ``thumbnails/``; sets ``record['thumbnail_id']``."""
        response = self.handle_response(self._request("POST", "thumbnails/", json_body=record))
        answer = response if isinstance(response, dict) else {}
        logger.info(
            "Ingester posted thumbnail to archive",
            extra={
                "tags": {
                    "filename": record.get("basename"),
                    "request_id": record.get("request_id"),
                    "proposal_id": record.get("proposal_id"),
                    "id": answer.get("id"),
                }
            },
        )
        record["thumbnail_id"] = answer.get("id")
        self._log_ingest_lag(record)
        return record

    @staticmethod
    def _log_ingest_lag(record: Mapping[str, Any]) -> None:
        """Log how long after the end of the observation the product was archived.

        Runs after a successful POST, so it must never fail the ingest (upstream raises a
        ``TypeError`` here for timezone-aware dates, after the frame was stored).
        """
        try:
            lag = datetime.now(UTC) - obs_end_time_from_dict(record)
        except (KeyError, TypeError, ValueError, OverflowError):
            logger.debug("no ingest lag for %s: no usable observation time", record.get("basename"))
            return
        logger.debug(
            "ingest lag %.1f s for %s",
            lag.total_seconds(),
            record.get("basename"),
            extra={"tags": {"ingest_lag": lag.total_seconds()}},
        )


def _parse_datetime(value: Any) -> datetime:
    """An ISO date or datetime (``Z`` allowed) as an aware UTC datetime; naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        parsed = datetime.fromisoformat(str(value).strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def obs_end_time_from_dict(record: Mapping[str, Any], end_time_key: str = "UTSTOP") -> datetime:
    """When the observation of a record ended, as an aware UTC datetime.

    Parameters
    ----------
    record : mapping
        An archive record: ``observation_date``, optionally ``exposure_time`` and ``headers``.
    end_time_key : str
        Header holding the end time of day (``OBSERVATION_END_TIME_KEY``, ``UTSTOP``).

    Returns
    -------
    datetime
        The observation date combined with the end time of day (on the next day when the two
        hours are more than 12 apart, i.e. the exposure crossed midnight); else the observation
        date plus the exposure time; else the observation date.

    Raises
    ------
    KeyError, TypeError, ValueError
        No observation date, or one that cannot be parsed.
    """
    start = _parse_datetime(record["observation_date"])
    headers = record.get("headers") or {}
    end_value = headers.get(end_time_key) if isinstance(headers, Mapping) else None
    if end_value:
        text = str(end_value).strip()
        end_time = (
            _parse_datetime(text).time() if "T" in text else time.fromisoformat(text)
        ).replace(tzinfo=None)
        day = start.date()
        if abs(start.hour - end_time.hour) > 12:
            day += timedelta(days=1)
        return datetime.combine(day, end_time, tzinfo=UTC)
    exposure = record.get("exposure_time")
    if exposure:
        seconds = float(exposure)
        if math.isfinite(seconds):
            return start + timedelta(seconds=seconds)
    return start
