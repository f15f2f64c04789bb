"""``obsarchive proposals add|remove|list``: who may see a proposal's proprietary frames."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``obsarchive proposals`` and of ``manage.py proposals`` alike."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add users to a proposal (creating the proposal)")
    add.add_argument("proposal_id", metavar="PROPOSAL_ID")
    add.add_argument("usernames", metavar="USERNAME", nargs="*")
    add.add_argument(
        "--create-users", action="store_true", help="create users that do not exist yet"
    )
    remove = actions.add_parser(
        "remove", help="remove users from a proposal (no USERNAME: delete the proposal)"
    )
    remove.add_argument("proposal_id", metavar="PROPOSAL_ID")
    remove.add_argument("usernames", metavar="USERNAME", nargs="*")
    listing = actions.add_parser("list", help="list proposals and their members")
    listing.add_argument("proposal_id", metavar="PROPOSAL_ID", nargs="?")


def run(args: argparse.Namespace) -> int:
    from obsarchive.server.ops.bootstrap import migrate_database, setup_django

    setup_django()
    migrate_database()

    from obsarchive.server.accounts.management.commands.proposals import run_proposals
    from obsarchive.server.accounts.services import AccountError

    try:
        run_proposals(
            args.action,
            args.proposal_id,
            getattr(args, "usernames", None) or [],
            create_users=getattr(args, "create_users", False),
            out=sys.stdout,
        )
    except AccountError as exc:
        print(f"obsarchive proposals: {exc}", file=sys.stderr)
        return 1
    return 0
