"""``obsarchive manage ...``: Django's management commands with obsarchive's settings.

For example ``obsarchive manage migrate``, ``obsarchive manage createsuperuser``,
``obsarchive manage deleteframes --days-old 30`` or ``obsarchive manage cacheaggregates``.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "arguments", nargs=argparse.REMAINDER, metavar="ARGS", help="a Django management command"
    )


def run(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    from obsarchive.server.ops.bootstrap import setup_django

    setup_django()
    arguments = list(args.arguments) or ["help"]
    try:
        execute_from_command_line(["obsarchive manage", *arguments])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
