"""The one error family for bad data products.

Every problem with a product — its name, its bytes, its headers — surfaces as a subclass of
:class:`ProductError` whose message names the file and the problem. Third-party exceptions
(astropy, tarfile, dateutil, ...) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "FileSpecificationException",
    "InvalidHeaderError",
    "InvalidNameError",
    "InvalidProductError",
    "MissingHeadersError",
    "ProductConfigurationError",
    "ProductError",
    "UnsupportedProductError",
]


class ProductError(Exception):
    """A data product cannot be archived as it is. Retrying will not help."""

    def __init__(self, filename: str | None, problem: str) -> None:
        self.filename = filename
        self.problem = problem
        super().__init__(f"{filename}: {problem}" if filename else problem)


class InvalidNameError(ProductError):
    """The file name is missing or hostile (``../``, absolute path, NUL byte, ...)."""


class UnsupportedProductError(ProductError):
    """The extension is not one obsarchive knows how to read."""


class InvalidProductError(ProductError):
    """The bytes are not what the name says: corrupt, truncated or not FITS at all."""


class MissingHeadersError(ProductError):
    """Required header keywords (or caller metadata) are missing."""


class InvalidHeaderError(ProductError):
    """A header value has the wrong type or cannot be parsed (dates, RLEVEL, RA/DEC, ...)."""


class ProductConfigurationError(ProductError):
    """The product settings are wrong (for example a file-type override naming no class)."""


# The upstream name, so code written against ocs_archive keeps catching the right thing.
FileSpecificationException = ProductError
