"""Build the configured object store from :class:`~obsarchive.config.StoreSettings`."""

from __future__ import annotations

import logging

from obsarchive.config import StoreSettings
from obsarchive.storage.base import ObjectStore, StoreConfigurationError

__all__ = ["open_store"]

logger = logging.getLogger(__name__)


def open_store(settings: StoreSettings, *, signing_key: bytes | None = None) -> ObjectStore:
    """The object store ``FILESTORE_TYPE`` names, configured from ``settings``.

    ``local`` and ``dummy`` give a :class:`~obsarchive.storage.filesystem.FilesystemStore`
    (upstream's ``dummy`` silently discarded every file; obsarchive never does), ``s3`` an
    :class:`~obsarchive.storage.s3.S3Store`, ``memory`` a
    :class:`~obsarchive.storage.memory.MemoryStore`. Nothing is touched on disk or network;
    call ``check()`` on the result to validate the configuration.

    Parameters
    ----------
    settings
        The parsed store settings.
    signing_key
        Secret for the download URLs of the filesystem and memory stores (the archive server
        passes one derived from its secret key); S3 presigns with its own credentials.

    Raises
    ------
    StoreConfigurationError
        Unknown ``filestore_type``.
    """
    kind = settings.filestore_type
    if kind in {"local", "dummy"}:
        from obsarchive.storage.filesystem import FilesystemStore

        if kind == "dummy":
            logger.warning(
                "FILESTORE_TYPE=dummy: storing files in the filesystem store at %s "
                "(obsarchive never discards data)",
                settings.root_dir,
            )
        return FilesystemStore(
            settings.root_dir, base_url=settings.base_url, signing_key=signing_key
        )
    if kind == "s3":
        # Imported here so processes using a local store never import boto3.
        from obsarchive.storage.s3 import S3Store

        return S3Store(
            settings.bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.aws_region,
            addressing_style=settings.s3_addressing_style,
            signature_version=settings.s3_signature_version,
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            max_attempts=settings.s3_max_attempts,
            multipart_threshold=settings.s3_multipart_threshold,
        )
    if kind == "memory":
        from obsarchive.storage.memory import MemoryStore

        return MemoryStore(base_url=settings.base_url, signing_key=signing_key)
    raise StoreConfigurationError(
        f"FILESTORE_TYPE: invalid store type {kind!r} (expected local, s3, memory or dummy)"
    )
