"""The S3 object store (``FILESTORE_TYPE=s3``): AWS S3, MinIO, Ceph RGW or any S3 protocol server.

The bucket must have versioning enabled: every upload of a key becomes a new version, and the
archive records its ``VersionId``. Uploads stream through boto3's managed transfer (multipart
above ``multipart_threshold``) while obsarchive computes the md5 in the same pass; the ETag is
never used as a checksum (it is not an md5 for multipart or KMS-encrypted objects).

Peak memory of a ``put``: boto3 buffers each request body, so a single-request upload holds
the whole object (at most ``multipart_threshold`` bytes) and a multipart one about
``multipart_chunksize`` times ``max_in_memory_chunks``, whatever the file size. When the size
of the source cannot be known in advance (a pipe), add ``multipart_threshold`` bytes more:
boto3 must buffer that much to choose between the two. ``S3_MULTIPART_THRESHOLD`` is therefore
the knob that bounds an upload's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import posixpath
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, cast
from urllib.parse import quote, urlsplit

import boto3
import boto3.s3.transfer
import boto3.session
import botocore.config
import botocore.exceptions
import s3transfer.subscribers

from obsarchive.storage.base import (
    ObjectNotFoundError,
    ObjectStore,
    StoreConfigurationError,
    StoredObject,
    StoreError,
    StoreUnavailableError,
    attachment_disposition,
    validate_key,
)
from obsarchive.storage.checksums import HashingReader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Store", "create_s3_client", "storage_class_for"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: SigV4 presigned URLs cannot outlive seven days.
MAX_PRESIGN = timedelta(days=7)
#: User metadata naming one upload, so the version it created can be found without trusting
#: "the latest version" (another writer may have put the same key a moment later).
UPLOAD_MARKER = "obsarchive-upload"

_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ...
    botocore.exceptions.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError, ...
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ChecksumError,
)
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchVersion", "NotFound", "404", "MethodNotAllowed", "405"}
_TRANSIENT_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "OperationAborted",
    "RequestTimeTooSkewed",
}


def storage_class_for(observation_date: datetime | None, now: datetime, days_to_ia: int) -> str:
    """The S3 storage class for a product observed at ``observation_date``.

    ``STANDARD_IA`` when the observation is more than ``days_to_ia`` days before ``now``
    (``S3_DAYS_TO_IA_STORAGE``), else ``STANDARD``; an unknown date gives ``STANDARD``.
    Naive datetimes are taken as UTC (FITS ``DATE-OBS`` is UTC) and aware ones are converted,
    so mixing the two works (upstream raised ``TypeError``).
    """
    if observation_date is None:
        return "STANDARD"
    age = _as_utc(now) - _as_utc(observation_date)
    return "STANDARD_IA" if age > timedelta(days=days_to_ia) else "STANDARD"


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- presigned URLs --------------------------------------------------------------------------

_PROBE_KEY = "obsarchive-presign-probe/key"
_PROBE_VERSION = "obsarchive-probe-version"
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def _encoded(value: str) -> str:
    """Percent-encoding of query values as SigV4 (and botocore) does it."""
    return quote(value, safe="-_.~")


class _Presigner:
    """SigV4 query-string signing of GET URLs, as ``generate_presigned_url`` does it, cheaper.

    ``generate_presigned_url`` costs ~0.2-0.3 ms of CPU per URL (event hooks, endpoint rules,
    request serialisation, four HMACs to derive the day's signing key), which dominates a
    1000-row page carrying a URL per row. The endpoint of a bucket does not depend on the key,
    so botocore is asked once for a probe URL; this class then builds the same URL for any
    key with one SHA-256 and one HMAC, reusing the signing key per (secret, day, region).
    :meth:`S3Store.url` uses it only after it reproduced botocore's probe URL byte for byte,
    so any configuration it does not cover (another signature version, endpoint rules that
    add parameters) falls back to botocore.
    """

    def __init__(self, base_url: str, region: str, credentials: Any) -> None:
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        host = parts.hostname or ""
        if parts.port is not None and parts.port != default_port:
            host = f"{host}:{parts.port}"
        self._host = host
        self._region = region
        self._credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 8:  # days and rotated secrets: keep only a few
                self._keys.clear()
            self._keys[(secret, day)] = cached = key
        return cached

    def url(self, key: str, version_id: str | None, seconds: int, timestamp: str) -> str:
        """The presigned GET URL of ``key`` (``version_id``) signed at ``timestamp``."""
        frozen = self._credentials.get_frozen_credentials()
        day = timestamp[:8]
        path = f"{self._base_path}/{quote(key, safe='/~')}"
        scope = f"{day}/{self._region}/s3/aws4_request"
        auth = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", _encoded(f"{frozen.access_key}/{scope}")),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", str(seconds)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if frozen.token is not None:
            auth.append(("X-Amz-Security-Token", _encoded(frozen.token)))
        operation = [("versionId", _encoded(version_id))] if version_id is not None else []
        pairs = operation + auth
        canonical_query = "&".join(f"{name}={value}" for name, value in sorted(pairs))
        canonical_request = (
            f"GET\n{path}\n{canonical_query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        string_to_sign = (
            f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n"
            + hashlib.sha256(canonical_request.encode()).hexdigest()
        )
        signature = hmac.new(
            self._signing_key(frozen.secret_key, day), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        query = "&".join(f"{name}={value}" for name, value in pairs)
        return f"{self._origin}{path}?{query}&X-Amz-Signature={signature}"


def _presigner_for(client: Any, bucket: str) -> _Presigner | None:
    """A :class:`_Presigner` that reproduces ``client``'s presigned URLs, or None.

    Signing is local (no network); None when botocore's probe URL cannot be reproduced.
    """
    # botocore has no public accessor for a client's credentials; without them (anonymous
    # clients, other signers) botocore keeps signing.
    signer = getattr(client, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    if credentials is None or not hasattr(credentials, "get_frozen_credentials"):
        return None
    probe = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": _PROBE_KEY, "VersionId": _PROBE_VERSION},
        ExpiresIn=3600,
    )
    marker = f"/{_PROBE_KEY}?"
    if marker not in probe:
        return None
    query = dict(pair.partition("=")[::2] for pair in urlsplit(probe).query.split("&"))
    scope = query.get("X-Amz-Credential", "").replace("%2F", "/").split("/")
    timestamp = query.get("X-Amz-Date", "")
    if len(scope) != 5 or scope[3:] != ["s3", "aws4_request"] or len(timestamp) != 16:
        return None
    presigner = _Presigner(probe[: probe.index(marker)], scope[2], credentials)
    if presigner.url(_PROBE_KEY, _PROBE_VERSION, 3600, timestamp) != probe:
        logger.info("S3 URLs of this configuration are presigned by botocore")
        return None
    return presigner


def create_s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    addressing_style: str = "auto",
    signature_version: str = "s3v4",
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_attempts: int = 3,
    max_pool_connections: int = 16,
    session: boto3.session.Session | None = None,
) -> S3Client:
    """A boto3 S3 client with obsarchive's timeouts and retry policy.

    Credentials come from ``session`` or the standard boto3 chain (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, profiles, instance roles). ``max_attempts`` counts the first
    try: 1 means no retry.

    Raises
    ------
    StoreConfigurationError
        The settings are not usable (bad endpoint URL, addressing style, ...).
    """
    config = botocore.config.Config(
        region_name=region,
        signature_version=signature_version,
        s3=cast(Any, {"addressing_style": addressing_style}),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
    )
    try:
        return (session or boto3.session.Session()).client(
            "s3", endpoint_url=endpoint_url, config=config
        )
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        raise StoreConfigurationError(f"cannot create the S3 client: {exc}") from exc


def _remaining_size(fileobj: BinaryIO) -> int | None:
    """Bytes left in ``fileobj`` when it is a regular file, else None (unknown)."""
    try:
        status = os.fstat(fileobj.fileno())
        position = fileobj.tell()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None
    if not stat.S_ISREG(status.st_mode):
        return None  # pipes, sockets: their size is not knowable in advance
    return max(status.st_size - position, 0)


class _KnownSize(s3transfer.subscribers.BaseSubscriber):
    """Gives s3transfer the upload size up front (it cannot measure a non-seekable stream)."""

    def __init__(self, size: int) -> None:
        self._size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)


class _TranslatingReader(io.RawIOBase):
    """A botocore StreamingBody as a raw stream whose failures are store errors."""

    def __init__(self, body: Any, describe: str) -> None:
        super().__init__()
        self._body = body
        self._describe = describe

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise StoreUnavailableError(f"reading {self._describe} from S3 failed: {exc}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store(ObjectStore):
    """A versioned S3 bucket.

    Parameters
    ----------
    bucket
        Bucket name (``BUCKET``); must exist and have versioning enabled.
    endpoint_url, region, addressing_style, signature_version
        ``S3_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``S3_ADDRESSING_STYLE``,
        ``S3_SIGNATURE_VERSION``; unlike upstream they apply to uploads too.
    connect_timeout, read_timeout
        Seconds; every call has them (upstream had none).
    max_attempts
        Tries per request including the first (botocore "standard" retry mode, with backoff).
    multipart_threshold, multipart_chunksize, max_concurrency, max_in_memory_chunks
        Managed-transfer tuning; they bound a put's memory (see the module notes).
    client
        An S3 client to use instead of creating one (shared between stores, or for tests).

    Notes
    -----
    No network I/O happens in the constructor; the client is created on first use (creating
    one may look up credentials). :meth:`check` validates the bucket at start-up.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        signature_version: str = "s3v4",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 8 * MiB,
        max_concurrency: int = 4,
        max_in_memory_chunks: int = 4,
        client: S3Client | None = None,
    ) -> None:
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise StoreConfigurationError(
                f"S3 bucket name must have 3 to 63 characters, got {bucket!r}"
            )
        if multipart_chunksize < 5 * MiB:
            raise StoreConfigurationError("S3 multipart parts must be at least 5 MiB")
        self.bucket = bucket
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region": region,
            "addressing_style": addressing_style,
            "signature_version": signature_version,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_attempts": max_attempts,
            # Room for the transfer threads plus concurrent readers.
            "max_pool_connections": max(16, 2 * max_concurrency),
        }
        self._client: S3Client | None = client
        self._client_lock = threading.Lock()
        self._presigner: _Presigner | None = None
        self._presigner_known = False
        config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            use_threads=True,
            preferred_transfer_client="classic",  # the behaviour documented above, always
        )
        # Not a constructor argument of boto3's TransferConfig, but honoured by s3transfer:
        # how many part buffers may wait in memory. It is the knob that bounds peak memory.
        config.max_in_memory_upload_chunks = max_in_memory_chunks
        self._transfer_config = config

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self._client_options['endpoint_url']!r})"

    @property
    def client(self) -> S3Client:
        """The one S3 client of this store (created on first use, then reused)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = create_s3_client(**self._client_options)
        return self._client

    # -- error translation ------------------------------------------------------------------------

    def _raise(self, exc: Exception, what: str, version_id: str | None = None) -> NoReturn:
        """Re-raise a boto3/botocore failure as the matching store error."""
        if isinstance(exc, botocore.exceptions.ClientError):
            raise self._client_error(exc, what, version_id) from exc
        if isinstance(exc, _TRANSIENT_ERRORS):
            raise StoreUnavailableError(f"S3 unreachable while {what}: {exc}") from exc
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            # Credentials, region, signature or parameter problems: fix the configuration.
            raise StoreConfigurationError(f"S3 refused {what}: {exc}") from exc
        raise StoreError(f"S3 failed while {what}: {exc}") from exc

    def _client_error(
        self, exc: botocore.exceptions.ClientError, what: str, version_id: str | None
    ) -> StoreError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"S3 {code or status} while {what} (bucket {self.bucket}): {error.get('Message')}"
        if code == "NoSuchBucket":
            return StoreConfigurationError(f"S3 bucket {self.bucket} does not exist ({what})")
        if code in _NOT_FOUND_CODES or status in {404, 405}:
            return ObjectNotFoundError(message)
        if version_id is not None and code in {"InvalidArgument", "400"}:
            # AWS answers a malformed version id with 400 InvalidArgument: no such version.
            return ObjectNotFoundError(message)
        if code in _TRANSIENT_CODES or status == 429 or status >= 500:
            return StoreUnavailableError(message)
        # AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, redirects to another
        # region, invalid storage class...: retrying will not help.
        return StoreConfigurationError(message)

    def _params(self, key: str, version_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id is not None:
            params["VersionId"] = version_id
        return params

    # -- the ObjectStore interface ----------------------------------------------------------------

    def put(
        self,
        key: str,
        fileobj: BinaryIO,
        *,
        content_type: str = "",
        content_disposition: str | None = None,
        storage_class: str | None = None,
    ) -> StoredObject:
        """Upload ``fileobj`` (current position to EOF) as a new version of ``key``.

        Uses a single PUT below ``multipart_threshold`` and a multipart upload above it; the
        md5 and size come from the bytes actually read.

        Raises
        ------
        StoreConfigurationError
            Missing or unversioned bucket, access denied, bad credentials.
        StoreUnavailableError
            Endpoint unreachable, timeout, throttling or 5xx after the retries.
        """
        validate_key(key)
        token = uuid.uuid4().hex
        extra: dict[str, Any] = {
            "Metadata": {UPLOAD_MARKER: token},
            "ContentDisposition": content_disposition
            or attachment_disposition(posixpath.basename(key)),
        }
        if content_type:
            extra["ContentType"] = content_type
        if storage_class:
            extra["StorageClass"] = storage_class
        reader = HashingReader(fileobj)
        size = _remaining_size(fileobj)
        # boto3's managed transfer (what ``upload_fileobj`` runs), told the size when it is
        # knowable: otherwise s3transfer buffers ``multipart_threshold`` bytes just to find out
        # whether to go multipart, and copies that buffer while slicing parts out of it
        # (measured: 128 MiB peak for a 200 MB file at the 64 MiB default, 43 MiB with size).
        subscribers = [_KnownSize(size)] if size is not None else []
        try:
            with boto3.s3.transfer.create_transfer_manager(
                self.client, self._transfer_config
            ) as manager:
                manager.upload(
                    cast(BinaryIO, reader),
                    self.bucket,
                    key,
                    extra_args=extra,
                    subscribers=subscribers,
                ).result()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"uploading {key}")
        head = self._find_upload(key, token)
        if head["ContentLength"] != reader.size:
            raise StoreUnavailableError(
                f"S3 stored {head['ContentLength']} bytes for {key} but {reader.size} were sent"
            )
        logger.info(
            "uploaded to S3",
            extra={
                "key": key,
                "version_id": head["VersionId"],
                "size": reader.size,
                "storage_class": storage_class or "STANDARD",
            },
        )
        return StoredObject(
            key=key,
            version_id=head["VersionId"],
            md5=reader.md5,
            size=reader.size,
            last_modified=head.get("LastModified"),
            content_type=head.get("ContentType", content_type),
        )

    def _find_upload(self, key: str, token: str) -> dict[str, Any]:
        """The HEAD response of the version our upload created (identified by its token)."""
        try:
            head: dict[str, Any] = dict(self.client.head_object(Bucket=self.bucket, Key=key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"checking the upload of {key}")
        version_id = head.get("VersionId")
        if not version_id or version_id == "null":
            raise StoreConfigurationError(
                f"bucket {self.bucket} is not versioned: enable versioning on it "
                f"(re-uploading {key} overwrote its previous content)"
            )
        if head.get("Metadata", {}).get(UPLOAD_MARKER) == token:
            return head
        # Another writer put the same key right after us: find our version among the recent.
        for candidate in self.versions(key)[:50]:
            try:
                other: dict[str, Any] = dict(
                    self.client.head_object(**self._params(key, candidate.version_id))
                )
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                self._raise(exc, f"checking the upload of {key}", candidate.version_id)
            if other.get("Metadata", {}).get(UPLOAD_MARKER) == token:
                return other
        raise StoreUnavailableError(f"the version just uploaded for {key} cannot be found")

    def open(self, key: str, version_id: str | None = None) -> AbstractContextManager[BinaryIO]:
        """A context manager streaming one version's body (nothing is downloaded up front).

        Raises
        ------
        ObjectNotFoundError
            No such key or version (or the version is a delete marker).
        """
        validate_key(key)
        try:
            response = self.client.get_object(**self._params(key, version_id))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"opening {key}", version_id)
        raw = _TranslatingReader(response["Body"], key)
        return self._streaming(io.BufferedReader(raw, buffer_size=256 * 1024))

    @staticmethod
    @contextmanager
    def _streaming(stream: io.BufferedReader) -> Iterator[BinaryIO]:
        try:
            yield stream
        finally:
            stream.close()  # also releases (or drops) the HTTP connection

    def url(
        self, key: str, version_id: str | None = None, expires: timedelta = timedelta(hours=48)
    ) -> str:
        """A presigned GET URL for one version (the latest at download time when None).

        Signing is local: the object's existence is not checked.
        """
        validate_key(key)
        seconds = int(expires.total_seconds())
        if seconds <= 0:
            raise ValueError(f"expires must be at least one second, got {expires}")
        if expires > MAX_PRESIGN:
            raise ValueError(f"S3 presigned URLs last at most {MAX_PRESIGN}, got {expires}")
        try:
            presigner = self._fast_presigner()
            if presigner is not None:
                timestamp = datetime.now(UTC).strftime(_SIGV4_TIMESTAMP)
                return presigner.url(key, version_id, seconds, timestamp)
            return self.client.generate_presigned_url(
                "get_object", Params=self._params(key, version_id), ExpiresIn=seconds
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"signing a URL for {key}", version_id)

    def _fast_presigner(self) -> _Presigner | None:
        """The store's :class:`_Presigner` (decided on first use), or None for botocore's."""
        if not self._presigner_known:
            client = self.client
            with self._client_lock:
                if not self._presigner_known:
                    self._presigner = _presigner_for(client, self.bucket)
                    self._presigner_known = True
        return self._presigner

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Permanently delete one version, or every version and delete marker of ``key``.

        Deleting what is absent is not an error (as on S3 itself).
        """
        validate_key(key)
        if version_id is not None:
            targets = [version_id]
        else:
            targets = [
                entry["VersionId"]
                for page in self._version_pages(key)
                for listing in ("Versions", "DeleteMarkers")
                for entry in page.get(listing, [])
                if entry["Key"] == key
            ]
        for target in targets:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=target)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                try:
                    self._raise(exc, f"deleting {key}", target)
                except ObjectNotFoundError:
                    continue

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """Describe one version from a HEAD request.

        ``md5`` is ``''``: S3 only offers the ETag, which is not a trustworthy md5.
        """
        validate_key(key)
        try:
            head = self.client.head_object(**self._params(key, version_id))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"reading {key}", version_id)
        return StoredObject(
            key=key,
            # "null" is S3's id for an object written while versioning was off.
            version_id=head.get("VersionId") or "null",
            md5="",
            size=head["ContentLength"],
            last_modified=head.get("LastModified"),
            content_type=head.get("ContentType", ""),
        )

    def _version_pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield dict(page)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._raise(exc, f"listing {prefix or 'the bucket'}")

    def versions(self, key: str) -> list[StoredObject]:
        """Every version of ``key``, newest first (S3's listing order); no delete markers."""
        validate_key(key)
        found: list[StoredObject] = []
        for page in self._version_pages(key):
            for entry in page.get("Versions", []):
                if entry["Key"] != key:
                    # Longer keys sharing the prefix sort after ``key``: nothing more of ours.
                    if found:
                        return found
                    continue
                found.append(
                    StoredObject(
                        key=key,
                        version_id=entry.get("VersionId") or "null",
                        md5="",
                        size=entry["Size"],
                        last_modified=entry.get("LastModified"),
                    )
                )
        return found

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` that have at least one version (not only delete markers)."""
        last: str | None = None
        for page in self._version_pages(prefix):
            for entry in page.get("Versions", []):
                key = entry["Key"]
                if key != last:
                    last = key
                    yield key

    def check(self) -> None:
        """Verify that the bucket exists, is reachable and has versioning enabled."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if (
                isinstance(exc, botocore.exceptions.ClientError)
                and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
            ):
                raise StoreConfigurationError(f"S3 bucket {self.bucket} does not exist") from exc
            self._raise(exc, f"checking bucket {self.bucket}")
        if status != "Enabled":
            raise StoreConfigurationError(
                f"bucket {self.bucket} is not versioned (versioning status: {status or 'never'})"
            )
