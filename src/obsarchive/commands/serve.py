"""``obsarchive serve``: bring the database up to date, then serve the archive with gunicorn.

Static files (admin, browsable API) are collected into ``OBSARCHIVE_HOME/static`` and served by
WhiteNoise, so no web server is needed in front for a small installation.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_arguments", "run"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port to bind (default %(default)s)"
    )
    parser.add_argument(
        "--workers", type=_positive, default=2, help="worker processes (default %(default)s)"
    )
    parser.add_argument("--timeout", type=_positive, default=120, help="worker timeout in seconds")
    parser.add_argument(
        "--no-migrate", action="store_true", help="do not apply database migrations first"
    )


def _gunicorn_application(options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication

    class ArchiveApplication(BaseApplication):
        """gunicorn running obsarchive's WSGI application with options from the command line."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Imported in each worker after the fork: no database connection crosses a fork.
            from obsarchive.server.wsgi import application

            return application

    return ArchiveApplication()


def _gunicorn_settings() -> set[str]:
    from gunicorn.config import Config

    return set(Config().settings)


def run(args: argparse.Namespace) -> int:
    from obsarchive.server.ops.bootstrap import migrate_database, setup_django

    setup_django()
    if not args.no_migrate:
        migrate_database()

    from django.conf import settings
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    bind = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    print(
        f"obsarchive: serving {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} "
        f"archive on http://{bind}/ with {args.workers} worker(s)",
        file=sys.stderr,
        flush=True,
    )
    options = {
        "bind": [bind],
        "workers": args.workers,
        "timeout": args.timeout,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "obsarchive",
        "forwarded_allow_ips": "127.0.0.1",
    }
    if "control_socket_disable" in _gunicorn_settings():
        # gunicorn >= 24 opens a control socket in ~/.gunicorn shared by every server of the
        # user; two archives on one machine would fight over it, and we do not use it.
        options["control_socket_disable"] = True
    _gunicorn_application(options).run()
    return 0
