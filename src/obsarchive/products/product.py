"""Data products: what was read from a file, and the kinds of product the archive knows.

A :class:`DataProduct` is built once by :func:`obsarchive.products.open_product` (which reads
and validates the file) and is immutable afterwards: its headers, record and storage key are
plain values, and its properties do no I/O. The subclasses are the upstream ``DataFile``
classes under their obsarchive names; each differs only in a few hooks:

======================  ==================  ===============================================
class                   default extension   reads
======================  ==================  ===============================================
``DataProduct``         ``.pdf``            caller metadata only
``FitsProduct``         ``.fits``           FITS headers (+ metadata over them)
``LcoFitsProduct``      ``.fits.fz``        as FITS, plus the LCO repairs
``TarProduct``          ``.tar.gz``         the headers of the first ``*.fits*`` member
``LcoTarProduct``       (override only)     the first ``e00/e90/e91.fits`` member + LCO
``ThumbnailProduct``    ``.jpg``/``.jpeg``  caller metadata only
======================  ==================  ===============================================
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, BinaryIO, ClassVar

from obsarchive.config import HeaderKeys, ProductSettings
from obsarchive.products import lco
from obsarchive.products.errors import (
    InvalidHeaderError,
    MissingHeadersError,
    ProductConfigurationError,
    ProductError,
)
from obsarchive.products.fits import read_headers
from obsarchive.products.footprint import PointingError, footprint
from obsarchive.products.headers import (
    frame_fields,
    is_set,
    json_safe,
    missing_keys,
    normalise_null_values,
    normalise_related_frames,
    parse_reduction_level,
    remove_blacklisted,
    repair_observation_day,
)
from obsarchive.products.public_date import parse_observation_date, public_date
from obsarchive.products.record import FrameRecord
from obsarchive.products.streams import ProductSource
from obsarchive.products.tar import (
    GENERIC_MEMBER_PATTERNS,
    LCO_MEMBER_PATTERNS,
    read_member_headers,
)
from obsarchive.storage.keys import object_key, object_kind

__all__ = [
    "DataProduct",
    "FitsProduct",
    "LcoFitsProduct",
    "LcoTarProduct",
    "ProposalTagsLookup",
    "TarProduct",
    "ThumbnailProduct",
]

ProposalTagsLookup = Callable[[str], Sequence[str] | None]


@dataclass(frozen=True)
class ReadRequest:
    """Everything one read needs, so the hooks share one argument instead of nine."""

    source: ProductSource
    filename: str
    basename: str
    extension: str
    metadata: Mapping[str, Any]
    settings: ProductSettings
    required_headers: tuple[str, ...]
    blacklist_headers: tuple[str, ...]
    proposal_tags: ProposalTagsLookup | None

    @property
    def keys(self) -> HeaderKeys:
        return self.settings.keys


def _key_component(value: Any) -> Any:
    """Header values usable in a storage key: text as is, integers as text, the rest refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _aware_utc(value: dt.datetime) -> dt.datetime:
    # A DATE-OBS without an offset is UTC by the FITS standard.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _check_numeric_fields(fields: Mapping[str, Any], keys: HeaderKeys, filename: str) -> None:
    """Refuse values the archive's numeric columns would refuse, before anything is stored.

    The record keeps the raw values (``'0000296263'`` stays a string, as upstream sends it);
    only their meaning is checked: a finite number of seconds, non-negative integer ids.
    """
    exposure = fields["exposure_time"]
    if is_set(exposure):
        try:
            valid = not isinstance(exposure, bool) and math.isfinite(float(exposure))
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise InvalidHeaderError(
                filename, f"{keys.exposure_time} {exposure!r} is not a number of seconds"
            )
    for field, key in (("observation_id", keys.observation_id), ("request_id", keys.request_id)):
        value = fields[field]
        if not is_set(value):
            continue
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
            raise InvalidHeaderError(filename, f"{key} {value!r} is not a non-negative integer")


class DataProduct:
    """One data product read and validated, ready to be stored and archived.

    Built by :func:`obsarchive.products.open_product`; do not instantiate directly. Used as
    is for products described entirely by caller metadata (``.pdf``).

    Attributes
    ----------
    filename : str
        The name the product was opened under (a path, possibly with directories).
    basename, extension : str
        The archive's split of the name: ``coj1m011-kb05-20150219-0125-e90``, ``.fits.fz``.
    content_type : str
        ``image/fits``, ``application/x-tar``, ``image/jpg``/``image/jpeg`` or ``''`` (PDF), as
        upstream sends them to the object store.
    size : int
        The number of bytes.
    """

    #: Extensions this class accepts when a file-type override maps others to it (None: any).
    extensions: ClassVar[tuple[str, ...] | None] = None
    #: True for previews, which the archive keeps under ``thumbnails/``.
    is_thumbnail: ClassVar[bool] = False
    _content_type: ClassVar[str] = ""

    def __init__(
        self,
        *,
        source: ProductSource,
        filename: str,
        basename: str,
        extension: str,
        size: int,
        headers: Mapping[str, Any],
        record: FrameRecord,
        observation_date: dt.datetime | None,
        storage_key: str | None,
        storage_key_problem: str | None,
    ) -> None:
        self._source = source
        self.filename = filename
        self.basename = basename
        self.extension = extension
        self.size = size
        self.content_type = self._content_type_for(extension)
        self._headers = MappingProxyType(dict(headers))
        self._record = record
        self._observation_date = observation_date
        self._storage_key = storage_key
        self._storage_key_problem = storage_key_problem

    # -- public API -------------------------------------------------------------------------

    @property
    def headers(self) -> Mapping[str, Any]:
        """The normalised headers (read-only), exactly as the archive record carries them."""
        return self._headers

    @property
    def observation_date(self) -> dt.datetime | None:
        """``DATE-OBS`` as an aware UTC datetime (naive values are UTC), or None when unset."""
        return self._observation_date

    @property
    def storage_key(self) -> str:
        """The object-store key: ``SITEID/INSTRUME/DAY-OBS/{raw|processed|thumbnails}/name``.

        Raises
        ------
        InvalidHeaderError
            A component (site, instrument, day) is missing or unusable in a key.
        """
        if self._storage_key is None:
            raise InvalidHeaderError(
                self.filename, f"cannot build a storage key: {self._storage_key_problem}"
            )
        return self._storage_key

    def record(self) -> FrameRecord:
        """The archive record (the ``POST /frames/`` payload without ``version_set``)."""
        return self._record

    def open(self) -> BinaryIO:
        """The product's bytes as a binary stream positioned at 0; close it when done.

        For a product opened from a file object this is a view of that object: closing the
        view leaves the caller's object open.
        """
        return self._source.open()

    def close(self) -> None:
        """Release resources this product owns (a spooled copy of a non-seekable stream)."""
        self._source.close()

    def __enter__(self) -> DataProduct:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.basename}{self.extension}>"

    # -- hooks for the kinds of product -----------------------------------------------------

    @classmethod
    def _content_type_for(cls, extension: str) -> str:
        return cls._content_type

    @classmethod
    def default_required_headers(cls, settings: ProductSettings) -> tuple[str, ...]:
        """The required keys when the caller passes none."""
        return settings.required_headers

    @classmethod
    def _initial_headers(cls, request: ReadRequest) -> dict[str, Any]:
        """The raw headers: here the caller's metadata, which must hold every required key."""
        missing = missing_keys(request.metadata, request.required_headers)
        if missing:
            raise MissingHeadersError(
                request.filename,
                "could not find required keywords in the metadata: " + ", ".join(missing),
            )
        return dict(request.metadata)

    @classmethod
    def _normalise(cls, headers: dict[str, Any], request: ReadRequest) -> dict[str, Any]:
        """Normalisation after the public date (none for metadata-only products, as upstream)."""
        return headers

    @classmethod
    def _repair(cls, headers: dict[str, Any], request: ReadRequest) -> dict[str, Any]:
        """Instrument-specific repairs (the LCO ones in the LCO classes)."""
        return headers

    @classmethod
    def _is_bad_pixel_mask(cls, headers: Mapping[str, Any], request: ReadRequest) -> bool:
        """Whether the key goes under ``bpm/`` (only the LCO classes know such masks)."""
        return False

    # -- the reading pipeline ---------------------------------------------------------------

    @classmethod
    def read(cls, request: ReadRequest) -> DataProduct:
        """Read, validate and normalise one product (the upstream constructor order).

        DAY-OBS and the public date are derived from the raw values *before* null
        normalisation and the LCO repairs, as upstream does, so records match its records.
        """
        if cls.extensions is not None and request.extension not in cls.extensions:
            raise ProductConfigurationError(
                request.filename,
                f"{cls.__name__} products must have extension "
                f"{' or '.join(cls.extensions)}, not {request.extension or 'none'}",
            )
        keys = request.keys
        try:
            headers = cls._initial_headers(request)
            headers = repair_observation_day(headers, keys)
            headers[keys.public_date] = cls._public_date(headers, request)
            headers = cls._normalise(headers, request)
            headers = cls._repair(headers, request)
            headers = {key: json_safe(value) for key, value in headers.items()}
            return cls._build(headers, request)
        except ProductError as exc:
            if exc.filename == request.filename:
                raise
            # Pure helpers name the basename; report the file as the caller named it.
            raise type(exc)(request.filename, exc.problem) from exc

    @classmethod
    def _public_date(cls, headers: Mapping[str, Any], request: ReadRequest) -> str | None:
        keys = request.keys
        tags: Sequence[str] | None = None
        if not headers.get(keys.public_date) and request.proposal_tags is not None:
            proposal = headers.get(keys.proposal_id)
            if proposal:
                # At most one lookup per product, and only when the rules need it (upstream).
                tags = request.proposal_tags(str(proposal))
        return public_date(request.settings.public_date, headers, request.basename, tags, keys=keys)

    @classmethod
    def _build(cls, headers: dict[str, Any], request: ReadRequest) -> DataProduct:
        keys = request.keys
        filename = request.filename
        raw_level = headers.get(keys.reduction_level, 0)
        try:
            reduction_level = parse_reduction_level(raw_level)
        except ValueError as exc:
            raise InvalidHeaderError(
                filename, f"{keys.reduction_level} {raw_level!r} is not an integer"
            ) from exc

        observation_date = None
        date_obs = headers.get(keys.observation_date)
        if is_set(date_obs):
            try:
                observation_date = _aware_utc(parse_observation_date(date_obs))
            except ValueError as exc:
                raise InvalidHeaderError(filename, f"{keys.observation_date}: {exc}") from exc
        published = headers.get(keys.public_date)
        if is_set(published):
            try:
                parse_observation_date(published)
            except ValueError as exc:
                raise InvalidHeaderError(filename, f"{keys.public_date}: {exc}") from exc

        try:
            area = footprint(headers, keys, strict=True)
        except PointingError as exc:
            raise InvalidHeaderError(filename, f"unusable pointing: {exc}") from exc

        fields = frame_fields(headers, keys, request.settings.related_frame_keys)
        _check_numeric_fields(fields, keys, filename)
        record = FrameRecord(
            basename=request.basename,
            reduction_level=reduction_level,
            area=area,
            headers=MappingProxyType(headers),
            **fields,
        )
        try:
            json.dumps(record.to_payload(), allow_nan=False)
        except (TypeError, ValueError) as exc:  # pragma: no cover - json_safe guarantees this
            raise InvalidHeaderError(
                filename, f"the record is not JSON-serialisable: {exc}"
            ) from exc

        storage_key: str | None = None
        problem: str | None = None
        try:
            storage_key = object_key(
                _key_component(headers.get(keys.site_id)),
                _key_component(headers.get(keys.instrument_id)),
                _key_component(headers.get(keys.observation_day)),
                object_kind(
                    reduction_level,
                    bad_pixel_mask=cls._is_bad_pixel_mask(headers, request),
                    thumbnail=cls.is_thumbnail,
                ),
                request.basename,
                request.extension,
            )
        except ValueError as exc:
            problem = str(exc)
        return cls(
            source=request.source,
            filename=filename,
            basename=request.basename,
            extension=request.extension,
            size=request.source.size(),
            headers=headers,
            record=record,
            observation_date=observation_date,
            storage_key=storage_key,
            storage_key_problem=problem,
        )


class FitsProduct(DataProduct):
    """A FITS file (``.fits``; ``.fits.fz`` too when mapped here).

    The headers are those of the first HDU that, with the caller's metadata merged over it,
    holds every required key. After the public date, blank and blacklisted keys are dropped,
    null markers normalised and related-frame names reduced to basenames.
    """

    extensions = (".fits", ".fits.fz")
    _content_type = "image/fits"

    @classmethod
    def _hdu_headers(cls, request: ReadRequest) -> list[dict[str, Any]] | None:
        """Every HDU's header; None when the product holds no FITS file to read."""
        with request.source.open() as stream:
            return read_headers(stream, request.source.size(), request.filename)

    @classmethod
    def _initial_headers(cls, request: ReadRequest) -> dict[str, Any]:
        hdus = cls._hdu_headers(request)
        if hdus is None:
            return super()._initial_headers(request)
        fewest: list[str] | None = None
        for header in hdus:
            merged = {**header, **request.metadata}
            missing = missing_keys(merged, request.required_headers)
            if not missing:
                return merged
            if fewest is None or len(missing) < len(fewest):
                fewest = missing
        raise MissingHeadersError(
            request.filename,
            "could not find required keywords in headers: " + ", ".join(fewest or []),
        )

    @classmethod
    def _normalise(cls, headers: dict[str, Any], request: ReadRequest) -> dict[str, Any]:
        settings = request.settings
        headers = remove_blacklisted(headers, request.blacklist_headers)
        headers = normalise_null_values(
            headers, settings.null_header_values, request.keys.integer_types
        )
        return normalise_related_frames(headers, settings.related_frame_keys)


class LcoFitsProduct(FitsProduct):
    """An LCO FITS file (``.fits.fz`` by default): FITS plus the LCO repairs.

    Catalogues (``…_cat``) get ``OBSTYPE=CATALOG`` and an ``L1IDCAT`` link; an empty or
    ``UNKNOWN`` OBSTYPE is inferred from the name; a missing RLEVEL comes from the name's last
    two digits (90 for ``.tar.gz``); bad-pixel masks are stored under ``bpm/``.
    """

    @classmethod
    def _repair(cls, headers: dict[str, Any], request: ReadRequest) -> dict[str, Any]:
        keys = request.keys
        headers = lco.repair_catalogue(headers, request.basename, keys)
        if lco.needs_configuration_type(headers, keys):
            inferred = lco.infer_configuration_type(request.basename, headers, keys)
            if inferred is None:
                raise InvalidHeaderError(
                    request.filename,
                    f"{keys.configuration_type} is UNKNOWN and could not be inferred. "
                    "Please manually correct it",
                )
            headers[keys.configuration_type] = inferred
        if not is_set(headers.get(keys.reduction_level)):
            headers[keys.reduction_level] = lco.infer_reduction_level(
                request.basename, request.extension
            )
        return headers

    @classmethod
    def _is_bad_pixel_mask(cls, headers: Mapping[str, Any], request: ReadRequest) -> bool:
        return lco.is_bpm(request.basename, headers, request.keys)


class TarProduct(FitsProduct):
    """A tar bundle holding a FITS file (``.tar.gz``): the headers of its first FITS member.

    Without a matching member the caller's metadata must describe the product.
    """

    extensions = (".tar", ".tar.gz")
    _content_type = "application/x-tar"
    member_patterns: ClassVar[tuple[str, ...]] = GENERIC_MEMBER_PATTERNS

    @classmethod
    def _hdu_headers(cls, request: ReadRequest) -> list[dict[str, Any]] | None:
        with request.source.open() as stream:
            found = read_member_headers(stream, request.filename, cls.member_patterns)
        return None if found is None else found[1]


class LcoTarProduct(TarProduct, LcoFitsProduct):
    """An LCO spectrograph package (NRES, FLOYDS): the ``e00/e90/e91.fits`` member + LCO repairs."""

    member_patterns = LCO_MEMBER_PATTERNS


class ThumbnailProduct(DataProduct):
    """A preview image (``.jpg``/``.jpeg``) described by caller metadata.

    The image bytes are never read. The required keys default to the thumbnail metadata
    (``frame_basename``, ``size``, ``DATE-OBS``, ...); null markers are normalised.
    """

    is_thumbnail = True

    @classmethod
    def _content_type_for(cls, extension: str) -> str:
        # image/jpg for .jpg (not the IANA image/jpeg), as upstream stores it.
        return "image/" + extension[1:] if extension else ""

    @classmethod
    def default_required_headers(cls, settings: ProductSettings) -> tuple[str, ...]:
        return settings.required_thumbnail_metadata

    @classmethod
    def _normalise(cls, headers: dict[str, Any], request: ReadRequest) -> dict[str, Any]:
        return normalise_null_values(
            headers, request.settings.null_header_values, request.keys.integer_types
        )
