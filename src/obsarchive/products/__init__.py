"""Reading data products: FITS, fpacked FITS, tar bundles, and PDF/JPEG with caller metadata.

>>> from obsarchive.products import open_product
>>> product = open_product("coj1m011-kb05-20150219-0125-e90.fits.fz")  # doctest: +SKIP
>>> product.storage_key  # doctest: +SKIP
'coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e90.fits.fz'
>>> product.record().to_payload()["reduction_level"]  # doctest: +SKIP
90

The names below are loaded on first use: importing ``obsarchive.products.errors`` or
``obsarchive.products.record`` (as the server and the ingester's retry logic do) does not pull
in astropy, which takes about half a second to import. The pure functions live in their
modules: :func:`obsarchive.products.public_date.public_date`,
:func:`obsarchive.products.footprint.footprint`, :mod:`obsarchive.products.headers`,
:mod:`obsarchive.products.lco`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obsarchive.products.errors import (
        FileSpecificationException,
        InvalidHeaderError,
        InvalidNameError,
        InvalidProductError,
        MissingHeadersError,
        ProductConfigurationError,
        ProductError,
        UnsupportedProductError,
    )
    from obsarchive.products.factory import open_product, product_class
    from obsarchive.products.names import split_name
    from obsarchive.products.product import (
        DataProduct,
        FitsProduct,
        LcoFitsProduct,
        LcoTarProduct,
        TarProduct,
        ThumbnailProduct,
    )
    from obsarchive.products.public_date import (
        ObservationPortal,
        ProposalLookupUnavailableError,
    )
    from obsarchive.products.record import FrameRecord, Version

_EXPORTS = {
    "FileSpecificationException": "errors",
    "InvalidHeaderError": "errors",
    "InvalidNameError": "errors",
    "InvalidProductError": "errors",
    "MissingHeadersError": "errors",
    "ProductConfigurationError": "errors",
    "ProductError": "errors",
    "UnsupportedProductError": "errors",
    "open_product": "factory",
    "product_class": "factory",
    "split_name": "names",
    "DataProduct": "product",
    "FitsProduct": "product",
    "LcoFitsProduct": "product",
    "LcoTarProduct": "product",
    "TarProduct": "product",
    "ThumbnailProduct": "product",
    "ObservationPortal": "public_date",
    "ProposalLookupUnavailableError": "public_date",
    "FrameRecord": "record",
    "Version": "record",
}

__all__ = [
    "DataProduct",
    "FileSpecificationException",
    "FitsProduct",
    "FrameRecord",
    "InvalidHeaderError",
    "InvalidNameError",
    "InvalidProductError",
    "LcoFitsProduct",
    "LcoTarProduct",
    "MissingHeadersError",
    "ObservationPortal",
    "ProductConfigurationError",
    "ProductError",
    "ProposalLookupUnavailableError",
    "TarProduct",
    "ThumbnailProduct",
    "UnsupportedProductError",
    "Version",
    "open_product",
    "product_class",
    "split_name",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
