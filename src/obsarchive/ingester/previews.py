"""Preview images made at ingest: after a frame is recorded, its JPEG previews follow it.

For an image product (``.fits``, ``.fits.fz``) the pipeline calls :func:`ingest_previews`
once the frame POST has succeeded. The previews (``small``, ``medium``, ``large``: see
:data:`obsarchive.products.previews.PREVIEW_SIZES`) are rendered from the product's bytes in
bounded memory, stored next to it under ``.../thumbnails/<basename>-<size>.jpg`` and recorded
with ``POST thumbnails/``, exactly as upstream's thumbnail ingest records a preview.

Previews are a convenience: a failure to make, store or record one is logged and never fails,
delays for retry or undoes the frame's ingest. ``MAKE_PREVIEWS=false`` turns them off.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from obsarchive.ingester.exceptions import INGEST_ERRORS, DoNotRetryError
from obsarchive.products.errors import ProductError
from obsarchive.products.previews import PREVIEW_SIZES, NoImageError, render_previews
from obsarchive.storage.base import StoreError

if TYPE_CHECKING:
    from obsarchive.ingester.pipeline import IngestPipeline
    from obsarchive.products.product import DataProduct

__all__ = ["IMAGE_EXTENSIONS", "ingest_previews"]

logger = logging.getLogger(__name__)

#: Products that may hold an image worth a preview.
IMAGE_EXTENSIONS = (".fits", ".fits.fz")
PREVIEW_EXTENSION = ".jpg"
# What storing or recording one preview may raise; each is logged and the next size tried.
_PREVIEW_FAILURES: tuple[type[Exception], ...] = (
    *INGEST_ERRORS,
    StoreError,
    ProductError,
    OSError,
    ValueError,
)


def ingest_previews(
    pipeline: IngestPipeline,
    product: DataProduct,
    sizes: Sequence[str] = tuple(PREVIEW_SIZES),
) -> list[dict[str, Any]]:
    """Make, store and record the previews of a product whose frame was just recorded.

    Parameters
    ----------
    pipeline : IngestPipeline
        The pipeline that ingested the frame (its store and archive client are reused).
        Nothing is done when its ``make_previews`` is false.
    product : DataProduct
        The frame's product, still open.
    sizes : sequence of str
        Preview sizes to make.

    Returns
    -------
    list of dict
        The archive's answers to the thumbnail POSTs that succeeded (empty when the product
        has no image, previews are off, or every preview failed).

    Notes
    -----
    Never raises for a preview problem: everything is logged with the product's name.
    """
    if not getattr(pipeline, "make_previews", True):
        return []
    if product.is_thumbnail or product.extension not in IMAGE_EXTENSIONS:
        return []
    try:
        with product.open() as stream:
            images = render_previews(stream, sizes, filename=product.filename)
    except NoImageError:
        logger.debug("%s: no image, no preview", product.filename)
        return []
    except (ProductError, OSError, ValueError, MemoryError) as exc:
        logger.warning("%s: no previews: %s", product.filename, exc)
        return []
    recorded: list[dict[str, Any]] = []
    for size, jpeg in images.items():
        try:
            recorded.append(_ingest_preview(pipeline, product, str(size), jpeg))
        except _PREVIEW_FAILURES as exc:
            logger.warning("%s: %s preview not ingested: %s", product.filename, size, exc)
    if recorded:
        logger.info("%s: %d preview(s) ingested", product.filename, len(recorded))
    return recorded


def _metadata(pipeline: IngestPipeline, product: DataProduct) -> dict[str, Any]:
    """The preview's metadata: the frame's normalised headers plus the frame it belongs to.

    Reusing the frame's headers gives the preview the frame's site, instrument and night (its
    storage key) and its public date, so the thumbnail is exactly as visible as the frame.
    """
    keys = pipeline.product_settings.keys
    metadata: dict[str, Any] = dict(product.headers)
    metadata[keys.thumbnail_frame_basename] = product.basename
    return metadata


def _ingest_preview(
    pipeline: IngestPipeline, product: DataProduct, size: str, jpeg: bytes
) -> dict[str, Any]:
    name = f"{product.basename}-{size}{PREVIEW_EXTENSION}"
    preview = pipeline.validate(
        io.BytesIO(jpeg),
        name,
        _metadata(pipeline, product),
        is_thumbnail=True,
        thumbnail_size=size,
    )
    with preview:
        # No duplicate check: previews are not versions, and re-rendering the same frame
        # replaces its thumbnail rows (they are upserted by basename).
        stored = pipeline.upload(preview)
        try:
            response: Mapping[str, Any] = pipeline.record(
                preview, stored, stored.md5, is_thumbnail=True
            )
        except DoNotRetryError:
            # Refused (4xx): nothing was recorded, so the stored preview would be an orphan.
            # After a timeout the row may exist: keep the object then (reconcile finds orphans).
            _forget(pipeline, stored.key, stored.version_id)
            raise
    return dict(response)


def _forget(pipeline: IngestPipeline, key: str, version_id: str) -> None:
    """Remove a stored preview no thumbnail row will point to."""
    try:
        pipeline.store.delete(key, version_id)
    except StoreError as exc:
        logger.warning("could not remove unrecorded preview %s (%s): %s", key, version_id, exc)
