"""Where the ingester's archive address and token come from, resolved when an ingest runs.

Precedence: an explicit argument (function keyword or CLI option), then the OCS environment
variables read by :func:`obsarchive.config.load_settings` (``API_ROOT``, ``AUTH_TOKEN``), then the
token file ``$OBSARCHIVE_HOME/token`` that ``obsarchive up`` writes for a local archive.
"""

from __future__ import annotations

import logging
from pathlib import Path

from obsarchive.config import Settings

__all__ = ["TOKEN_FILENAME", "resolve_api_root", "resolve_auth_token", "token_path"]

logger = logging.getLogger(__name__)

TOKEN_FILENAME = "token"  # noqa: S105 - a file name, not a secret


def token_path(settings: Settings) -> Path:
    """The token file of a local archive: ``$OBSARCHIVE_HOME/token``."""
    return settings.home / TOKEN_FILENAME


def resolve_auth_token(settings: Settings, explicit: str | None = None) -> str:
    """The archive API token to use.

    Parameters
    ----------
    settings : Settings
        Parsed configuration (``AUTH_TOKEN`` is ``settings.ingester.auth_token``).
    explicit : str, optional
        A token given on the command line or as a function argument; wins when not None.

    Returns
    -------
    str
        ``explicit``, else ``AUTH_TOKEN``, else the first line of ``$OBSARCHIVE_HOME/token`` when
        that file exists, else ``''`` (the archive will then answer 401, reported as a
        configuration problem).
    """
    if explicit is not None:
        return explicit.strip()
    if settings.ingester.auth_token:
        return settings.ingester.auth_token.strip()
    path = token_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        # An unreadable token file is worth a warning, not a crash: the 401 that follows
        # tells the user what to fix.
        logger.warning("cannot read the archive token file %s: %s", path, exc)
        return ""
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def resolve_api_root(settings: Settings, explicit: str | None = None) -> str:
    """``explicit`` (when given) else ``API_ROOT``, always ending in ``/``."""
    api_root = settings.ingester.api_root if explicit is None else explicit.strip()
    return api_root if api_root.endswith("/") else api_root + "/"
