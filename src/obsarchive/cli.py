"""The ``obsarchive`` command: one entry point, one subcommand per process or task.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so the telescope
side never imports Django.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from obsarchive.config import ConfigurationError

# name -> (module, one-line help). Keep sorted by area, then name.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("obsarchive.commands.serve", "run the science archive web server (gunicorn)"),
    "token": ("obsarchive.commands.token", "print a user's API token, creating the user if needed"),
    "proposals": ("obsarchive.commands.proposals", "add, remove or list proposal members"),
    "events": ("obsarchive.commands.events", "publish pending post-ingest events to the broker"),
    "manage": ("obsarchive.commands.manage", "run a Django management command of the archive"),
    "ingest": ("obsarchive.commands.ingest", "ingest products now: validate, upload, record"),
    "reconcile": (
        "obsarchive.commands.reconcile",
        "find (and with --delete remove) stored objects no archive record points to",
    ),
    "publish": ("obsarchive.commands.publish", "queue products for ingestion by the worker"),
    "worker": ("obsarchive.commands.worker", "ingest queued products until stopped"),
    "watch": ("obsarchive.commands.watch", "publish new products in a folder once fully written"),
    "ledger": ("obsarchive.commands.ledger", "list the ingestion ledger"),
    "requeue": ("obsarchive.commands.requeue", "send dead-lettered messages back to the queue"),
    "simulate": ("obsarchive.commands.simulate", "write a night of synthetic products to a folder"),
    "up": ("obsarchive.commands.up", "run archive, worker and watcher together on local defaults"),
}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TEMPORARY = 75  # EX_TEMPFAIL: try again later


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obsarchive",
        description="Archive observatory data products and serve them (OCS-compatible).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        # Parsers are built lazily by importing the module; import errors for missing extras
        # become a clear message rather than a traceback.
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            sub_parser.set_defaults(_import_error=exc)
            continue
        module.add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    import_error = getattr(args, "_import_error", None)
    if import_error is not None:
        print(
            f"obsarchive {args.command}: needs an optional dependency that is not installed "
            f"({import_error}). Install it with: pip install 'obsarchive[all]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args))
    except ConfigurationError as exc:
        print(f"obsarchive {args.command}: configuration error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
