"""Starting Django from the ``obsarchive`` command line."""

from __future__ import annotations

import os

from obsarchive.config import ConfigurationError

__all__ = ["migrate_database", "setup_django"]

SETTINGS_MODULE = "obsarchive.server.settings"


def setup_django() -> None:
    """Configure Django with obsarchive's settings (unless ``DJANGO_SETTINGS_MODULE`` says else).

    Raises
    ------
    ConfigurationError
        The settings cannot be loaded (bad ``DATABASE_URL`` and the like).
    """
    import django
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise ConfigurationError("DJANGO_SETTINGS_MODULE", str(exc)) from exc
    except ValueError as exc:  # dj-database-url: unknown scheme in DATABASE_URL
        raise ConfigurationError("DATABASE_URL", str(exc)) from exc


def migrate_database(verbosity: int = 0) -> None:
    """Bring the configured database schema up to date (idempotent).

    Raises
    ------
    ConfigurationError
        The database cannot be reached; the message names ``DATABASE_URL``.
    """
    from django.core.management import call_command
    from django.db import DatabaseError, connections

    try:
        call_command("migrate", interactive=False, verbosity=verbosity)
    except DatabaseError as exc:
        raise ConfigurationError("DATABASE_URL", f"cannot migrate the database: {exc}") from exc
    finally:
        connections.close_all()
