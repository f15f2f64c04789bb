"""The ingester's four exception classes: each one tells the caller what to do next.

The names and their independence (none derives from another) are those of upstream
``ocs_ingester.exceptions``, so code written against the OCS ingester keeps catching the right
thing. Unlike upstream, every failure of an ingester entry point is one of these four — nothing
escapes raw (decision D1 of the reference; the mapping table is in docs/ingester.md):

=========================  ===================================================================
``BackoffRetryError``      temporary: the archive or the object store is unreachable, slow,
                           overloaded (5xx, 429) or returned garbage; a checksum mismatch.
                           Retry later with exponential backoff.
``DoNotRetryError``        permanent: a bad product, a refused record (4xx), bad configuration.
                           Retrying the same input gives the same answer.
``NonFatalDoNotRetryError``  not a failure: the product's md5 is already archived.
``RetryError``             retry at once; kept for compatibility, never raised.
=========================  ===================================================================

Every instance carries the product's file name in ``.filename`` (``None`` when unknown) and the
underlying exception, if any, in ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "INGEST_ERRORS",
    "BackoffRetryError",
    "DoNotRetryError",
    "NonFatalDoNotRetryError",
    "RetryError",
]


class _FileContext:
    """Shared constructor: a message plus the name of the product it concerns.

    A mixin rather than a common base class, so the four public classes stay independent
    ``Exception`` subclasses exactly as upstream (catching one never catches another).
    """

    filename: str | None

    def __init__(self, message: object = "", *, filename: str | None = None) -> None:
        super().__init__(message)  # type: ignore[call-arg]  # next in the MRO is Exception
        self.filename = filename


class DoNotRetryError(_FileContext, Exception):
    """The ingest failed for good: a bad product, a refused record or bad configuration."""


class RetryError(_FileContext, Exception):
    """Retry straight away. Kept for upstream compatibility; obsarchive never raises it."""


class BackoffRetryError(_FileContext, Exception):
    """A temporary failure (network, store, overloaded archive): retry with backoff.

    ``retry_after`` is the delay in seconds the archive asked for (HTTP ``Retry-After`` on a
    429 or 503), or ``None``.
    """

    def __init__(
        self,
        message: object = "",
        *,
        filename: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, filename=filename)
        self.retry_after = retry_after


class NonFatalDoNotRetryError(_FileContext, Exception):
    """Not a failure: a version with this md5 is already archived; nothing was uploaded."""


INGEST_ERRORS: tuple[type[Exception], ...] = (
    DoNotRetryError,
    RetryError,
    BackoffRetryError,
    NonFatalDoNotRetryError,
)
"""The four classes, for ``except INGEST_ERRORS``."""
