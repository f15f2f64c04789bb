"""The ingester: validate a data product, store its bytes, record it in the science archive.

The upstream ``ocs_ingester.ingester`` API under the same names::

    from obsarchive.ingester import upload_file_and_ingest_to_archive

    with open("coj1m011-kb05-20150219-0125-e90.fits.fz", "rb") as f:
        response = upload_file_and_ingest_to_archive(f)

Every failure is one of the four classes of :mod:`obsarchive.ingester.exceptions`. The
pipeline (and so astropy) is imported on first use, so ``import obsarchive.ingester.exceptions``
stays cheap for code that only needs to catch them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from obsarchive.ingester.exceptions import (
    INGEST_ERRORS,
    BackoffRetryError,
    DoNotRetryError,
    NonFatalDoNotRetryError,
    RetryError,
)

if TYPE_CHECKING:
    from obsarchive.ingester.archive import ArchiveService, obs_end_time_from_dict
    from obsarchive.ingester.flow.publish import publish
    from obsarchive.ingester.pipeline import (
        IngestPipeline,
        IngestPlan,
        IngestResult,
        frame_exists,
        ingest_archive_record,
        upload_file_and_ingest_to_archive,
        upload_file_to_file_store,
        validate_fits_and_create_archive_record,
    )

__all__ = [
    "INGEST_ERRORS",
    "ArchiveService",
    "BackoffRetryError",
    "DoNotRetryError",
    "IngestPipeline",
    "IngestPlan",
    "IngestResult",
    "NonFatalDoNotRetryError",
    "RetryError",
    "frame_exists",
    "ingest_archive_record",
    "obs_end_time_from_dict",
    "publish",
    "upload_file_and_ingest_to_archive",
    "upload_file_to_file_store",
    "validate_fits_and_create_archive_record",
]

_LAZY = {
    "ArchiveService": "obsarchive.ingester.archive",
    "obs_end_time_from_dict": "obsarchive.ingester.archive",
    "IngestPipeline": "obsarchive.ingester.pipeline",
    "IngestPlan": "obsarchive.ingester.pipeline",
    "IngestResult": "obsarchive.ingester.pipeline",
    "frame_exists": "obsarchive.ingester.pipeline",
    "ingest_archive_record": "obsarchive.ingester.pipeline",
    "upload_file_and_ingest_to_archive": "obsarchive.ingester.pipeline",
    "upload_file_to_file_store": "obsarchive.ingester.pipeline",
    "validate_fits_and_create_archive_record": "obsarchive.ingester.pipeline",
    # Queue a product for `obsarchive worker` (the durable flow) instead of ingesting now.
    "publish": "obsarchive.ingester.flow.publish",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
