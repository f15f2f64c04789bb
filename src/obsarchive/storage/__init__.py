"""Object stores behind one interface: filesystem, S3 and memory; checksums and signed URLs.

``import obsarchive.storage`` stays light: the backends (and boto3) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from obsarchive.storage.base import (
    InvalidKeyError,
    ObjectNotFoundError,
    ObjectStore,
    StoreConfigurationError,
    StoredObject,
    StoreError,
    StoreUnavailableError,
    attachment_disposition,
    validate_key,
)
from obsarchive.storage.checksums import HashingReader, copy_with_md5, md5_of
from obsarchive.storage.factory import open_store
from obsarchive.storage.keys import object_key
from obsarchive.storage.signing import sign_download, signed_download_url, verify_download

if TYPE_CHECKING:
    from obsarchive.storage.filesystem import FilesystemStore
    from obsarchive.storage.memory import MemoryStore
    from obsarchive.storage.s3 import S3Store, storage_class_for

__all__ = [
    "FilesystemStore",
    "HashingReader",
    "InvalidKeyError",
    "MemoryStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "S3Store",
    "StoreConfigurationError",
    "StoreError",
    "StoreUnavailableError",
    "StoredObject",
    "attachment_disposition",
    "copy_with_md5",
    "md5_of",
    "object_key",
    "open_store",
    "sign_download",
    "signed_download_url",
    "storage_class_for",
    "validate_key",
    "verify_download",
]

_LAZY = {
    "FilesystemStore": "obsarchive.storage.filesystem",
    "MemoryStore": "obsarchive.storage.memory",
    "S3Store": "obsarchive.storage.s3",
    "storage_class_for": "obsarchive.storage.s3",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
