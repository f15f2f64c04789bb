"""``manage.py proposals add|remove|list``: proposal memberships (also ``obsarchive proposals``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from django.core.management.base import BaseCommand, CommandError, CommandParser


class _Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


def add_proposal_arguments(parser: Any) -> None:
    """Arguments shared by the management command and ``obsarchive proposals``."""
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


def run_proposals(
    action: str,
    proposal_id: str | None,
    usernames: Sequence[str],
    *,
    create_users: bool,
    out: _Writer,
) -> None:
    """Carry out one membership action, reporting on ``out``.

    Raises
    ------
    obsarchive.server.accounts.services.AccountError
        Unknown users, empty proposal id, or a missing proposal for ``list``.
    """
    from obsarchive.server.accounts import services

    if action == "add":
        assert proposal_id is not None
        if create_users:
            for name in usernames:
                services.ensure_user(name)
        change = services.add_members(proposal_id, usernames)
        for name in change.changed:
            out.write(f"added {name} to {change.proposal_id}\n")
        for name in change.unchanged:
            out.write(f"{name} already in {change.proposal_id}\n")
        if not usernames:
            out.write(f"proposal {change.proposal_id} exists\n")
    elif action == "remove":
        assert proposal_id is not None
        change = services.remove_members(proposal_id, usernames)
        for name in change.changed:
            out.write(f"removed {name} from {change.proposal_id}\n")
        for name in change.unchanged:
            out.write(f"{name} was not in {change.proposal_id}\n")
        if not usernames:
            out.write(f"deleted proposal {change.proposal_id}\n")
    else:
        memberships = services.list_memberships(proposal_id)
        if proposal_id and not memberships:
            raise services.AccountError(f"no proposal {proposal_id!r}")
        for pid, members in memberships.items():
            out.write(f"{pid}\t{' '.join(members)}".rstrip() + "\n")


class Command(BaseCommand):
    help = "Add, remove or list the members of proposals (who sees proprietary frames)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_proposal_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from obsarchive.server.accounts.services import AccountError

        try:
            run_proposals(
                options["action"],
                options.get("proposal_id"),
                options.get("usernames") or [],
                create_users=options.get("create_users", False),
                out=self.stdout,
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
