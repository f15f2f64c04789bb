"""Opening a product: choosing its class by extension, then reading it."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

from obsarchive.config import ProductSettings
from obsarchive.products.errors import (
    InvalidHeaderError,
    InvalidNameError,
    ProductConfigurationError,
    UnsupportedProductError,
)
from obsarchive.products.headers import json_safe
from obsarchive.products.names import name_of, product_name
from obsarchive.products.product import (
    DataProduct,
    FitsProduct,
    LcoFitsProduct,
    LcoTarProduct,
    ProposalTagsLookup,
    ReadRequest,
    TarProduct,
    ThumbnailProduct,
)
from obsarchive.products.public_date import ObservationPortal
from obsarchive.products.streams import ProductSource

__all__ = ["DEFAULT_PRODUCT_CLASSES", "UPSTREAM_CLASS_PATHS", "open_product", "product_class"]

#: Extension → product class, upstream's default map (matching is case-sensitive).
DEFAULT_PRODUCT_CLASSES: Mapping[str, type[DataProduct]] = {
    ".fits.fz": LcoFitsProduct,
    ".fits": FitsProduct,
    ".tar.gz": TarProduct,
    ".pdf": DataProduct,
    ".jpg": ThumbnailProduct,
    ".jpeg": ThumbnailProduct,
}

#: Upstream ``ocs_archive`` class paths accepted in FILETYPE_MAPPING_OVERRIDES, so an operator's
#: existing setting (e.g. the LCO tar class for ``.tar.gz``) keeps working unchanged.
UPSTREAM_CLASS_PATHS: Mapping[str, type[DataProduct]] = {
    "ocs_archive.input.file.DataFile": DataProduct,
    "ocs_archive.input.fitsfile.FitsFile": FitsProduct,
    "ocs_archive.input.lcofitsfile.LcoFitsFile": LcoFitsProduct,
    "ocs_archive.input.tarwithfitsfile.TarWithFitsFile": TarProduct,
    "ocs_archive.input.lcotarwithfitsfile.LcoTarWithFitsFile": LcoTarProduct,
    "ocs_archive.input.thumbnailfile.ThumbnailFile": ThumbnailProduct,
}

_UNNAMED = "<unnamed stream>"


def _import_class(path: str) -> type[DataProduct]:
    if path in UPSTREAM_CLASS_PATHS:
        return UPSTREAM_CLASS_PATHS[path]
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ProductConfigurationError(
            None, f"class path {path!r} must be a dotted path such as package.module.Class"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProductConfigurationError(
            None,
            f"module {module_name} was not found. Please ensure the class path is correct",
        ) from exc
    found = getattr(module, class_name, None)
    if found is None:
        raise ProductConfigurationError(
            None,
            f"class {class_name} does not exist within module {module_name}. "
            "Please ensure the class path is correct",
        )
    if not (isinstance(found, type) and issubclass(found, DataProduct)):
        raise ProductConfigurationError(
            None,
            f"class {class_name} must be a subclass of the obsarchive.products.DataProduct class",
        )
    return found


def product_class(
    extension: str, overrides: Mapping[str, str] | None = None, *, filename: str | None = None
) -> type[DataProduct]:
    """The product class for an extension (upstream ``FileFactory``).

    Parameters
    ----------
    extension : str
        The extension as :func:`~obsarchive.products.names.split_name` gives it (``.fits.fz``).
    overrides : Mapping[str, str], optional
        FILETYPE_MAPPING_OVERRIDES: extension → dotted class path; extends or replaces the
        default map. Upstream ``ocs_archive.input.…`` class paths map to their equivalents.
    filename : str, optional
        Named in error messages.

    Raises
    ------
    UnsupportedProductError
        The extension is not mapped.
    ProductConfigurationError
        An override names a module or class that does not exist or is not a product class.
    """
    if overrides and extension in overrides:
        try:
            return _import_class(overrides[extension])
        except ProductConfigurationError as exc:
            raise ProductConfigurationError(
                filename, f"FILETYPE_MAPPING_OVERRIDES[{extension!r}]: {exc.problem}"
            ) from exc
    found = DEFAULT_PRODUCT_CLASSES.get(extension)
    if found is None:
        raise UnsupportedProductError(
            filename, f"file extension {extension or 'none'} is not a currently supported file type"
        )
    return found


def _clean_metadata(metadata: Mapping[str, Any] | None, filename: str) -> dict[str, Any]:
    """A JSON-safe copy of the caller's metadata (which is never modified)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidHeaderError(filename, "metadata must be a mapping of header names to values")
    cleaned: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise InvalidHeaderError(filename, f"metadata key {key!r} is not a string")
        cleaned[key] = json_safe(value)
    return cleaned


def open_product(
    source: str | os.PathLike[str] | IO[bytes],
    name: str | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    settings: ProductSettings | None = None,
    required_headers: Sequence[str] | None = None,
    blacklist_headers: Sequence[str] | None = None,
    proposal_tags: ProposalTagsLookup | None = None,
) -> DataProduct:
    """Open, validate and normalise one data product.

    Headers are read without loading pixel data and the file is never read whole into memory.

    Parameters
    ----------
    source : path or binary file object
        The product. A file object is read from byte 0 (whatever its position) and stays open;
        it must stay usable for as long as the product is (``DataProduct.open`` reads it).
    name : str, optional
        The product's file name; by default the path, or the file object's ``name``. Only its
        last component is used (``../x.fits`` names ``x.fits``).
    metadata : Mapping, optional
        Header values supplied by the caller: they override FITS header values, and describe
        non-FITS products (PDF, thumbnails) entirely. Never modified.
    settings : ProductSettings, optional
        Header keys, lists and policies; the OCS defaults when omitted.
    required_headers : sequence of str, optional
        Keys that must be present; the settings' REQUIRED_HEADERS by default
        (REQUIRED_THUMBNAIL_METADATA for thumbnails).
    blacklist_headers : sequence of str, optional
        Keys dropped from FITS headers; the settings' HEADER_BLACKLIST by default.
    proposal_tags : callable, optional
        ``proposal_id -> tags or None``, e.g. an :class:`ObservationPortal`. By default the
        portal the settings configure (if any) is asked, at most once per product.

    Returns
    -------
    DataProduct
        The product; see :meth:`DataProduct.record` and :attr:`DataProduct.storage_key`.

    Raises
    ------
    ProductError
        One of its subclasses for anything wrong with the product (name, bytes, headers) or
        the product settings; the message names the file.
    ProposalLookupUnavailableError
        The Observation Portal could not be reached (transient: retry later).
    OSError
        The file itself cannot be read (missing, permissions, I/O error).
    """
    settings = settings or ProductSettings()
    given: str | None
    if isinstance(source, str | os.PathLike):
        product_source = ProductSource.from_path(source)
        given = name if name is not None else os.fspath(source)
    else:
        product_source = ProductSource.from_stream(source)
        given = name if name is not None else name_of(source)
    portal: ObservationPortal | None = None
    try:
        if given is None:
            raise InvalidNameError(_UNNAMED, "the product has no file name; pass name=")
        basename, extension = product_name(given)
        cls = product_class(extension, settings.filetype_mapping_overrides, filename=given)
        if proposal_tags is None:
            portal = ObservationPortal.from_policy(settings.public_date)
        request = ReadRequest(
            source=product_source,
            filename=given,
            basename=basename,
            extension=extension,
            metadata=_clean_metadata(metadata, given),
            settings=settings,
            required_headers=tuple(
                cls.default_required_headers(settings)
                if required_headers is None
                else required_headers
            ),
            blacklist_headers=tuple(
                settings.header_blacklist if blacklist_headers is None else blacklist_headers
            ),
            proposal_tags=proposal_tags if proposal_tags is not None else portal,
        )
        return cls.read(request)
    except BaseException:
        product_source.close()
        raise
    finally:
        if portal is not None:
            portal.close()
