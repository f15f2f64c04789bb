"""Configuration of downloads, parsed once from the environment (``settings.OBSARCHIVE_DOWNLOADS``).

Upstream variable names are kept where upstream has one (``ZIP_DOWNLOAD_FILENAME_BASE``,
``ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES``); the rest are obsarchive's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from obsarchive.config import ConfigurationError, EnvReader

__all__ = ["ZIP_MODES", "DownloadSettings", "current_download_settings", "load_download_settings"]

#: ``stream``: the archive streams the zip itself; ``nginx``: it answers with an nginx mod_zip
#: manifest, as upstream, and nginx assembles the zip.
ZIP_MODES = ("stream", "nginx")


@dataclass(frozen=True)
class DownloadSettings:
    """How files are handed out.

    Attributes
    ----------
    url_expiry
        Validity of download URLs in API rows and download scripts (S3 presigned or archive
        signed): ``DOWNLOAD_URL_EXPIRY_SECONDS``, 48 h as upstream.
    zip_mode
        ``ZIP_MODE``: ``stream`` (default) or ``nginx``.
    zip_filename_base
        ``ZIP_DOWNLOAD_FILENAME_BASE``: zip names are ``<base>-<YYYYMMDD>-<N>.zip``.
    zip_max_uncompressed_files
        ``ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES``: cap on ``uncompress`` zips; 0 (default) is no
        cap. Upstream's 10 protected a server that decompressed every file twice into memory;
        obsarchive decompresses once, streaming, in constant memory.
    zip_max_files
        ``ZIP_MAX_FILES``: cap on the ids of one zip request; 0 (default) is no cap.
    zip_manifest_url_expiry
        Validity of the URLs written into an nginx manifest (24 h as upstream).
    script_max_frames
        ``DOWNLOAD_SCRIPT_MAX_FRAMES``: most files one download script may list.
    """

    url_expiry: timedelta = timedelta(hours=48)
    zip_mode: str = "stream"
    zip_filename_base: str = "ocs_archive_data"
    zip_max_uncompressed_files: int = 0
    zip_max_files: int = 0
    zip_manifest_url_expiry: timedelta = timedelta(hours=24)
    script_max_frames: int = 10000


def load_download_settings(environ: Mapping[str, str]) -> DownloadSettings:
    """Read :class:`DownloadSettings` from an environment mapping.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    env = EnvReader(environ)
    defaults = DownloadSettings()
    mode = env.choice(
        "ZIP_MODE", defaults.zip_mode, ZIP_MODES, ignore_case=True, empty_is_default=True
    )
    base = env.stripped("ZIP_DOWNLOAD_FILENAME_BASE", defaults.zip_filename_base)
    if not base or any(ch in base for ch in '/\\"\r\n;'):
        raise ConfigurationError(
            "ZIP_DOWNLOAD_FILENAME_BASE", f"must be a plain file name prefix, got {base!r}"
        )
    return DownloadSettings(
        url_expiry=timedelta(seconds=env.integer("DOWNLOAD_URL_EXPIRY_SECONDS", 48 * 3600, 60)),
        zip_mode=mode,
        zip_filename_base=base,
        zip_max_uncompressed_files=env.integer("ZIP_DOWNLOAD_MAX_UNCOMPRESSED_FILES", 0, 0),
        zip_max_files=env.integer("ZIP_MAX_FILES", 0, 0),
        script_max_frames=env.integer("DOWNLOAD_SCRIPT_MAX_FRAMES", 10000, 1),
    )


def current_download_settings() -> DownloadSettings:
    """The settings in force: ``settings.OBSARCHIVE_DOWNLOADS``, else the defaults."""
    from django.conf import settings

    configured = getattr(settings, "OBSARCHIVE_DOWNLOADS", None)
    if isinstance(configured, DownloadSettings):
        return configured
    return DownloadSettings()
