"""``obsarchive token NAME``: print a user's API token, creating the user if needed.

The ingester's ``AUTH_TOKEN`` is typically ``obsarchive token ingester --superuser``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="username (created if it does not exist)")
    parser.add_argument(
        "--superuser",
        action="store_true",
        help="make the user a superuser (needed to ingest: POST /frames/, /thumbnails/)",
    )
    parser.add_argument(
        "--staff", action="store_true", help="make the user staff (unthrottled, /versions/)"
    )
    parser.add_argument(
        "--rotate", action="store_true", help="replace the user's token with a new one"
    )


def run(args: argparse.Namespace) -> int:
    from obsarchive.server.ops.bootstrap import migrate_database, setup_django

    name = args.name.strip()
    if not name:
        print("obsarchive token: NAME must not be empty", file=sys.stderr)
        return 2
    setup_django()
    migrate_database()

    from obsarchive.server.accounts.services import ensure_user, rotate_token, token_for

    user, created = ensure_user(name, superuser=args.superuser, staff=args.staff)
    token = rotate_token(user) if args.rotate else token_for(user)
    if created:
        kind = "superuser" if user.is_superuser else "staff user" if user.is_staff else "user"
        print(f"created {kind} {name!r}", file=sys.stderr)
    print(token.key)
    return 0
