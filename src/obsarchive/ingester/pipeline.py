"""The ingest pipeline: validate → checksum → already archived? → upload → record, with an undo.

The upstream ``ocs_ingester.ingester`` functions are here under their own names, argument names
and order, returning the same "ingester response" dict; :class:`IngestPipeline` is the reusable
form behind them (one object store client and one HTTP session for many files and threads).

Differences from upstream (docs/compatibility.md): configuration is read when a function is
called, not frozen at import; every failure is one of the four ingester exceptions; files are
streamed, never read whole; the caller's ``file_metadata`` is never modified; a record the
archive refuses for good leaves no uploaded object behind.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO, Concatenate, NoReturn, ParamSpec, TypeVar, cast

from obsarchive.config import (
    ConfigurationError,
    ProductSettings,
    Settings,
    StoreSettings,
    load_settings,
)
from obsarchive.ingester.archive import ArchiveService
from obsarchive.ingester.exceptions import (
    INGEST_ERRORS,
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
)
from obsarchive.ingester.previews import ingest_previews
from obsarchive.ingester.settings import resolve_api_root, resolve_auth_token
from obsarchive.products import (
    DataProduct,
    ProductError,
    ProposalLookupUnavailableError,
    Version,
    open_product,
)
from obsarchive.products.names import name_of
from obsarchive.storage import (
    InvalidKeyError,
    ObjectStore,
    StoreConfigurationError,
    StoredObject,
    StoreError,
    md5_of,
    open_store,
)

__all__ = [
    "IngestPipeline",
    "IngestPlan",
    "IngestResult",
    "frame_exists",
    "ingest_archive_record",
    "upload_file_and_ingest_to_archive",
    "upload_file_to_file_store",
    "validate_fits_and_create_archive_record",
]

logger = logging.getLogger(__name__)

ALREADY_ARCHIVED = "Version with this md5 already exists"
MD5_MISMATCH = "S3 md5 did not match ours"
THUMBNAIL_SIZE_MISSING = "thumbnail_size must be provided for thumbnail files"

Source = IO[bytes]


@dataclass(frozen=True, eq=False)
class IngestResult:
    """What one successful ingest did.

    Attributes
    ----------
    filename : str
        The product's name as given (path or ``path=`` override).
    md5 : str
        Hex md5 of the product's bytes.
    stored : StoredObject
        The object-store version that holds them.
    response : dict
        The OCS "ingester response": the record that was POSTed (``version_set`` included)
        plus ``frameid``, ``filename`` and ``url`` (frames) or ``thumbnail_id`` (thumbnails).
    """

    filename: str
    md5: str
    stored: StoredObject
    response: dict[str, Any]

    @property
    def basename(self) -> str:
        return str(self.response.get("basename", ""))

    @property
    def frame_id(self) -> Any:
        """The archive's frame id (``None`` for a thumbnail)."""
        return self.response.get("frameid")

    @property
    def url(self) -> str | None:
        return self.response.get("url")


@dataclass(frozen=True, eq=False)
class IngestPlan:
    """What :meth:`IngestPipeline.ingest` would do with a product (a dry run).

    Attributes
    ----------
    filename, md5 : str
        The product's name and the hex md5 of its bytes.
    storage_key, content_type : str
        Where and how the bytes would be stored.
    record : dict
        The archive record that would be POSTed, without ``version_set``.
    """

    filename: str
    md5: str
    storage_key: str
    content_type: str
    record: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Translating every failure into one of the four ingester exceptions


def _fail(
    cls: type[Exception], message: str, filename: str | None, cause: BaseException
) -> NoReturn:
    error = cls(message, filename=filename)  # type: ignore[call-arg]
    raise error from cause


@contextlib.contextmanager
def _classified(filename: str | None) -> Iterator[None]:
    """Turn anything raised inside into DoNotRetry/Backoff/NonFatal, naming ``filename``.

    This is the ingester's process edge for library callers (the queue worker, a TCS script):
    D1 promises them that nothing else escapes.
    """
    try:
        yield
    except INGEST_ERRORS as exc:
        if getattr(exc, "filename", None) is None:
            exc.filename = filename  # type: ignore[attr-defined]
        raise
    except ProductError as exc:
        _fail(DoNotRetryError, str(exc), filename, exc)
    except ProposalLookupUnavailableError as exc:
        _fail(BackoffRetryError, str(exc), filename, exc)
    except ConfigurationError as exc:
        _fail(DoNotRetryError, f"configuration error: {exc}", filename, exc)
    # Store errors before OSError: ObjectNotFoundError is also a FileNotFoundError.
    except (StoreConfigurationError, InvalidKeyError) as exc:
        _fail(DoNotRetryError, f"object store: {exc}", filename, exc)
    except StoreError as exc:  # StoreUnavailableError, ObjectNotFoundError mid-upload, ...
        _fail(BackoffRetryError, f"object store: {exc}", filename, exc)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        _fail(DoNotRetryError, f"cannot read the product: {exc}", filename, exc)
    except OSError as exc:  # EIO, a stale NFS handle...: the file may be readable later
        _fail(BackoffRetryError, f"cannot read the product: {exc}", filename, exc)
    except TypeError as exc:
        # A text-mode file object or a wrongly typed argument: the call itself is wrong.
        _fail(DoNotRetryError, f"cannot ingest: {exc}", filename, exc)
    except Exception as exc:
        logger.exception("unexpected error while ingesting %s", filename)
        _fail(
            DoNotRetryError,
            f"unexpected error while ingesting (please report it): {type(exc).__name__}: {exc}",
            filename,
            exc,
        )


def _name(fileobj: object, path: str | None) -> str | None:
    """The product's name as the caller gave it: ``path``, a path string, or the file's name."""
    if path is not None:
        return path
    return fileobj if isinstance(fileobj, str) else name_of(fileobj)


# ---------------------------------------------------------------------------------------------
# Shared clients


_stores: dict[StoreSettings, ObjectStore] = {}
_stores_lock = threading.Lock()


def _store_for(settings: StoreSettings) -> ObjectStore:
    """One store (and so one S3 client and connection pool) per store configuration."""
    with _stores_lock:
        store = _stores.get(settings)
        if store is None:
            store = _stores[settings] = open_store(settings)
        return store


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _load(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise DoNotRetryError(f"configuration error: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# The pipeline

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _validating(
    reader: Callable[Concatenate[IngestPipeline, _P], DataProduct],
) -> Callable[
    [Callable[[IngestPipeline, DataProduct, bool], _R]],
    Callable[Concatenate[IngestPipeline, _P], _R],
]:
    """Make a step on a validated product callable with the arguments of ``reader``.

    :meth:`IngestPipeline.plan` and :meth:`IngestPipeline.ingest` take exactly the (upstream)
    arguments of :meth:`IngestPipeline.validate` and start by validating: one parameter list
    serves all three. The step gets the product and ``is_thumbnail`` (where to post it); the
    decorated method shows ``reader``'s signature to ``help()`` and documentation tools.
    """

    def decorate(
        step: Callable[[IngestPipeline, DataProduct, bool], _R],
    ) -> Callable[Concatenate[IngestPipeline, _P], _R]:
        # Name and docstring from the step; parameters and annotations from the reader.
        @functools.wraps(step, assigned=("__module__", "__name__", "__qualname__", "__doc__"))
        def method(self: IngestPipeline, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            product = reader(self, *args, **kwargs)
            # is_thumbnail is keyword-only in validate, so it can only be among the kwargs.
            return step(self, product, bool(kwargs.get("is_thumbnail", False)))

        returns = step.__annotations__.get("return", inspect.Signature.empty)
        method.__annotations__ = {**reader.__annotations__, "return": returns}
        cast(Any, method).__signature__ = inspect.signature(reader).replace(
            return_annotation=returns
        )
        return method

    return decorate


class IngestPipeline:
    """Ingests products into one object store and one archive; safe to share between threads.

    Parameters
    ----------
    archive : ArchiveService
        The archive client (its HTTP session is shared and thread-safe).
    store : ObjectStore
        Where the bytes go.
    product_settings : ProductSettings, optional
        Header keys, required headers, blacklist, public-date policy (OCS defaults).
    days_to_ia : int, optional
        ``S3_DAYS_TO_IA_STORAGE``: S3 objects observed longer ago go to ``STANDARD_IA``.
    clock : callable, optional
        Returns the current aware UTC time (injected in tests).
    make_previews : bool, optional
        ``MAKE_PREVIEWS``: after a frame is recorded, ingest JPEG previews of its image
        (:mod:`obsarchive.ingester.previews`; a preview failure never fails the ingest).

    Examples
    --------
    >>> pipeline = IngestPipeline.from_settings()  # doctest: +SKIP
    >>> with open("coj1m011-kb05-20150219-0125-e90.fits.fz", "rb") as f:  # doctest: +SKIP
    ...     result = pipeline.ingest(f)
    >>> result.frame_id  # doctest: +SKIP
    42
    """

    def __init__(
        self,
        archive: ArchiveService,
        store: ObjectStore,
        product_settings: ProductSettings | None = None,
        *,
        days_to_ia: int = 60,
        clock: Callable[[], datetime] = _utc_now,
        make_previews: bool = True,
    ) -> None:
        self.archive = archive
        self.store = store
        self.product_settings = product_settings or ProductSettings()
        self.days_to_ia = days_to_ia
        self._clock = clock
        self.make_previews = make_previews

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        api_root: str | None = None,
        auth_token: str | None = None,
        bucket: str | None = None,
        store: ObjectStore | None = None,
    ) -> IngestPipeline:
        """A pipeline configured from the environment, explicit arguments winning.

        Parameters
        ----------
        settings : Settings, optional
            Parsed configuration; by default :func:`~obsarchive.config.load_settings` now.
        api_root, auth_token : str, optional
            Override ``API_ROOT`` and ``AUTH_TOKEN`` (see
            :func:`~obsarchive.ingester.settings.resolve_auth_token` for the token file).
        bucket : str, optional
            Override ``BUCKET``.
        store : ObjectStore, optional
            Use this store instead of the configured one.

        Raises
        ------
        DoNotRetryError
            The configuration is invalid (the message names the variable).
        """
        settings = _load(settings)
        with _classified(None):
            if store is None:
                store_settings = settings.store
                if bucket is not None:
                    store_settings = _replace_bucket(store_settings, bucket)
                store = _store_for(store_settings)
            archive = ArchiveService(
                resolve_api_root(settings, api_root),
                resolve_auth_token(settings, auth_token),
                timeout=(settings.ingester.connect_timeout, settings.ingester.read_timeout),
            )
        return cls(
            archive,
            store,
            settings.products,
            days_to_ia=settings.store.s3_days_to_ia_storage,
            make_previews=settings.ingester.make_previews,
        )

    # -- steps ------------------------------------------------------------------------------

    def validate(
        self,
        fileobj: Source | str,
        path: str | None = None,
        file_metadata: Mapping[str, Any] | None = None,
        required_headers: Sequence[str] | None = None,
        blacklist_headers: Sequence[str] | None = None,
        *,
        is_thumbnail: bool = False,
        thumbnail_size: str | None = None,
    ) -> DataProduct:
        """Read and validate a product (headers only, no network); close it when done.

        ``fileobj`` may also be a path. Raises ``DoNotRetryError`` for a bad product, or
        ``BackoffRetryError`` when the Observation Portal is unreachable.
        """
        with _classified(_name(fileobj, path)):
            metadata = dict(file_metadata or {})  # the caller's dict is never modified (D2)
            if is_thumbnail:
                if thumbnail_size is None:
                    raise DoNotRetryError(THUMBNAIL_SIZE_MISSING)
                metadata[self.product_settings.keys.thumbnail_size] = thumbnail_size
                if required_headers is None:
                    required_headers = self.product_settings.required_thumbnail_metadata
            product = open_product(
                fileobj,
                path,
                metadata=metadata,
                settings=self.product_settings,
                required_headers=required_headers,
                blacklist_headers=blacklist_headers,
            )
            if product.is_thumbnail and not is_thumbnail:
                product.close()
                # Upstream posts such files to frames/, where they become broken frames.
                raise DoNotRetryError(
                    f"{product.filename} is a thumbnail: ingest it with is_thumbnail=True and "
                    "a thumbnail_size (obsarchive ingest --thumbnail SIZE)"
                )
            return product

    @_validating(validate)
    def plan(self, product: DataProduct, is_thumbnail: bool) -> IngestPlan:
        """Validate and checksum a product and say where it would go; no network, no upload.

        Takes the arguments of :meth:`validate`. Raises ``DoNotRetryError`` exactly when
        :meth:`ingest` would refuse the product itself.
        """
        with product, _classified(product.filename):
            return IngestPlan(
                filename=product.filename,
                md5=self.checksum(product),
                storage_key=product.storage_key,
                content_type=product.content_type,
                record=product.record().to_payload(),
            )

    def checksum(self, product: DataProduct) -> str:
        """The hex md5 of a product's bytes, streamed."""
        with _classified(product.filename), product.open() as stream:
            return md5_of(stream)[0]

    def _storage_class(self, product: DataProduct) -> str | None:
        # Storage classes only mean something on S3. If the S3 module was never imported the
        # store cannot be an S3Store, and a local-store process never has to import boto3.
        s3 = sys.modules.get("obsarchive.storage.s3")
        if s3 is None or not isinstance(self.store, s3.S3Store):
            return None
        storage_class: str = s3.storage_class_for(
            product.observation_date, self._clock(), self.days_to_ia
        )
        return storage_class

    def upload(self, product: DataProduct) -> StoredObject:
        """Store the product's bytes as a new version of its key (md5 computed on the way)."""
        with _classified(product.filename):
            key = product.storage_key
            with product.open() as stream:
                return self.store.put(
                    key,
                    stream,
                    content_type=product.content_type,
                    storage_class=self._storage_class(product),
                )

    def _undo_upload(self, stored: StoredObject, why: str) -> None:
        """Remove a version no record will point to; on failure, reconcile will find it."""
        try:
            self.store.delete(stored.key, stored.version_id)
        except StoreError as exc:
            logger.error(
                "could not remove %s version %s after %s: %s; `obsarchive reconcile` will",
                stored.key,
                stored.version_id,
                why,
                exc,
            )
        else:
            logger.info("removed %s version %s after %s", stored.key, stored.version_id, why)

    def record(
        self, product: DataProduct, stored: StoredObject, md5: str, *, is_thumbnail: bool = False
    ) -> dict[str, Any]:
        """POST the product's record for a stored version to ``frames/`` (``thumbnails/``).

        Each ``version_set`` item carries, besides the OCS ``key``/``md5``/``extension``, the
        ``object_key`` it is stored under and its ``size``: an obsarchive archive then serves
        exactly that object (instead of re-deriving the key from metadata that a later version
        may have changed); an OCS archive ignores the two extra fields.
        """
        version = Version(key=stored.version_id, md5=md5, extension=product.extension)
        payload = product.record().to_payload([version])
        payload["version_set"] = [
            {**version.to_payload(), "object_key": stored.key, "size": stored.size}
        ]
        with _classified(product.filename):
            if is_thumbnail:
                return self.archive.post_thumbnail(payload)
            return self.archive.post_frame(payload)

    # -- the whole ingest -------------------------------------------------------------------

    @_validating(validate)
    def ingest(self, product: DataProduct, is_thumbnail: bool) -> IngestResult:
        """Validate, de-duplicate, upload and record one product.

        Parameters
        ----------
        fileobj : binary file object or str
            The product (any position; read from byte 0), or its path.
        path : str, optional
            The product's name when ``fileobj`` has none (a ``BytesIO``) or another one.
        file_metadata : mapping, optional
            Header values overriding the file's (FITS) or describing it (PDF, thumbnails).
        required_headers, blacklist_headers : sequence of str, optional
            ``REQUIRED_HEADERS`` / ``HEADER_BLACKLIST`` by default.
        is_thumbnail : bool
            Ingest a preview image to ``thumbnails/``; needs ``thumbnail_size``.
        thumbnail_size : str, optional
            ``small``, ``medium`` or ``large``.

        Returns
        -------
        IngestResult

        Raises
        ------
        NonFatalDoNotRetryError
            The md5 is already archived; nothing was uploaded.
        DoNotRetryError
            Bad product, refused record (4xx) or bad configuration; nothing is left stored.
        BackoffRetryError
            Archive or store unavailable, or the bytes changed while being read.
        """
        with product, _classified(product.filename):
            md5 = self.checksum(product)
            if self.archive.version_exists(md5):
                raise NonFatalDoNotRetryError(ALREADY_ARCHIVED)
            stored = self.upload(product)
            if stored.md5 != md5:
                # The file changed between the two reads (still being written?): retry later.
                self._undo_upload(stored, "an md5 mismatch")
                raise BackoffRetryError(MD5_MISMATCH)
            try:
                response = self.record(product, stored, md5, is_thumbnail=is_thumbnail)
            except DoNotRetryError:
                # A 4xx means the archive stored nothing: our version would be an orphan.
                self._undo_upload(stored, "the archive refused the record")
                if self._archived_meanwhile(md5):
                    raise NonFatalDoNotRetryError(ALREADY_ARCHIVED) from None
                raise
            except BackoffRetryError:
                # The record may or may not have been committed (a timeout after the commit):
                # keep the object so no record can point at nothing; a retry finds the md5
                # archived, or `obsarchive reconcile` removes the unreferenced version.
                logger.warning(
                    "recording %s failed temporarily; keeping %s version %s",
                    product.filename,
                    stored.key,
                    stored.version_id,
                )
                raise
            if not is_thumbnail:
                ingest_previews(self, product)  # logs its own failures; never raises
            return IngestResult(
                filename=product.filename, md5=md5, stored=stored, response=response
            )

    def _archived_meanwhile(self, md5: str) -> bool:
        """Did another ingester archive the same bytes between our check and our POST?"""
        try:
            return self.archive.version_exists(md5)
        except (BackoffRetryError, DoNotRetryError):
            return False

    def exists(self, fileobj: Source | str, path: str | None = None) -> bool:
        """True when the product's md5 is already archived (no validation, no upload)."""
        with _classified(_name(fileobj, path)):
            if isinstance(fileobj, str):
                with open(fileobj, "rb") as stream:
                    md5 = md5_of(stream)[0]
            else:
                fileobj.seek(0)
                md5 = md5_of(cast(BinaryIO, fileobj))[0]
            return self.archive.version_exists(md5)


def _replace_bucket(store: StoreSettings, bucket: str) -> StoreSettings:
    from dataclasses import replace

    if store.filestore_type == "s3" and len(bucket) < 3:
        raise ConfigurationError("--bucket", "an S3 bucket name needs at least 3 characters")
    return replace(store, bucket=bucket)


# ---------------------------------------------------------------------------------------------
# The upstream-compatible functions (ocs_ingester.ingester)


def frame_exists(
    fileobj: Source,
    api_root: str | None = None,
    auth_token: str | None = None,
    *,
    settings: Settings | None = None,
) -> bool:
    """True when a version with this file's md5 is already archived.

    Parameters
    ----------
    fileobj : binary file object
        Read from byte 0; needs no name (a ``BytesIO`` works).
    api_root, auth_token : str, optional
        Override ``API_ROOT`` / ``AUTH_TOKEN`` (read when called).
    settings : Settings, optional
        Use instead of the environment.

    Raises
    ------
    BackoffRetryError
        The archive is unreachable, slow, overloaded or answered garbage.
    DoNotRetryError
        The archive refused the request (bad token, 4xx) or ``api_root`` is malformed.
    """
    settings = _load(settings)
    archive = ArchiveService(
        resolve_api_root(settings, api_root),
        resolve_auth_token(settings, auth_token),
        timeout=(settings.ingester.connect_timeout, settings.ingester.read_timeout),
    )
    with _classified(name_of(fileobj)):
        fileobj.seek(0)
        md5 = md5_of(cast(BinaryIO, fileobj))[0]
        return archive.version_exists(md5)


def validate_fits_and_create_archive_record(
    fileobj: Source,
    path: str | None = None,
    file_metadata: Mapping[str, Any] | None = None,
    required_headers: Sequence[str] | None = None,
    blacklist_headers: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Validate a product and return its archive record (no md5, no network, no upload).

    Parameters are those of :func:`upload_file_and_ingest_to_archive`. The record has no
    ``version_set``.

    Raises
    ------
    DoNotRetryError
        The product is not acceptable; the message says why.
    """
    settings = _load(settings)
    with _classified(_name(fileobj, path)):
        product = open_product(
            fileobj,
            path,
            metadata=dict(file_metadata or {}),
            settings=settings.products,
            required_headers=required_headers,
            blacklist_headers=blacklist_headers,
        )
        with product:
            return product.record().to_payload()


def upload_file_to_file_store(
    fileobj: Source,
    path: str | None = None,
    file_metadata: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    store: ObjectStore | None = None,
) -> dict[str, str]:
    """Validate a product (default required headers) and store it; no archive call.

    Returns
    -------
    dict
        The version: ``{'key': <store version id>, 'md5': <md5>, 'extension': <extension>}``.

    Raises
    ------
    DoNotRetryError
        A bad product or store configuration (unversioned bucket, ...).
    BackoffRetryError
        The store is unavailable.
    """
    settings = _load(settings)
    with _classified(_name(fileobj, path)):
        pipeline = IngestPipeline(
            ArchiveService(settings.ingester.api_root, ""),  # never called here
            store if store is not None else _store_for(settings.store),
            settings.products,
            days_to_ia=settings.store.s3_days_to_ia_storage,
        )
        product = pipeline.validate(fileobj, path, file_metadata)
        with product:
            stored = pipeline.upload(product)
            return Version(stored.version_id, stored.md5, product.extension).to_payload()


def ingest_archive_record(
    version: Mapping[str, Any] | Version,
    record: dict[str, Any],
    api_root: str | None = None,
    auth_token: str | None = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """POST ``record`` with ``version`` as its only version to ``frames/``.

    As upstream, ``record['version_set']`` is set in place, and the returned dict is ``record``
    with ``frameid``, ``filename`` and ``url`` added.

    Raises
    ------
    DoNotRetryError, BackoffRetryError
        As for :func:`upload_file_and_ingest_to_archive`.
    """
    settings = _load(settings)
    with _classified(str(record.get("basename")) if isinstance(record, Mapping) else None):
        payload = version.to_payload() if isinstance(version, Version) else dict(version)
        record["version_set"] = [payload]
        archive = ArchiveService(
            resolve_api_root(settings, api_root),
            resolve_auth_token(settings, auth_token),
            timeout=(settings.ingester.connect_timeout, settings.ingester.read_timeout),
        )
        return archive.post_frame(record)


def upload_file_and_ingest_to_archive(
    fileobj: Source,
    path: str | None = None,
    file_metadata: Mapping[str, Any] | None = None,
    required_headers: Sequence[str] | None = None,
    blacklist_headers: Sequence[str] | None = None,
    api_root: str | None = None,
    auth_token: str | None = None,
    is_thumbnail: bool = False,
    thumbnail_size: str | None = None,
    *,
    settings: Settings | None = None,
    store: ObjectStore | None = None,
) -> dict[str, Any]:
    """Validate a product, store its bytes and record it in the archive.

    Parameters
    ----------
    fileobj : binary file object
        The product, read from byte 0 (non-seekable streams are spooled aside first).
    path : str, optional
        The product's name, when ``fileobj`` has none or another one.
    file_metadata : mapping, optional
        Header values that override the file's, or describe a non-FITS product (PDF,
        thumbnail). Never modified.
    required_headers, blacklist_headers : sequence of str, optional
        Default ``REQUIRED_HEADERS`` (``REQUIRED_THUMBNAIL_METADATA`` for thumbnails) and
        ``HEADER_BLACKLIST``, read when called.
    api_root, auth_token : str, optional
        Override ``API_ROOT`` and ``AUTH_TOKEN``.
    is_thumbnail : bool
        Ingest a preview image to ``thumbnails/``.
    thumbnail_size : str, optional
        Required with ``is_thumbnail``.
    settings : Settings, optional
        Use instead of the environment.
    store : ObjectStore, optional
        Use instead of the configured store.

    Returns
    -------
    dict
        The OCS ingester response: the record's fields, ``headers``, ``area``, ``basename``,
        ``version_set`` and ``frameid``/``filename``/``url`` (or ``thumbnail_id``).

    Raises
    ------
    NonFatalDoNotRetryError
        Already archived (same md5); nothing was uploaded.
    DoNotRetryError
        Bad product, refused record, bad configuration. Nothing is left stored.
    BackoffRetryError
        Archive or store unavailable, or a checksum mismatch: retry later.
    """
    with _classified(_name(fileobj, path)):  # configuration errors name the file too
        pipeline = IngestPipeline.from_settings(
            settings, api_root=api_root, auth_token=auth_token, store=store
        )
    result = pipeline.ingest(
        fileobj,
        path,
        file_metadata,
        required_headers,
        blacklist_headers,
        is_thumbnail=is_thumbnail,
        thumbnail_size=thumbnail_size,
    )
    return result.response
