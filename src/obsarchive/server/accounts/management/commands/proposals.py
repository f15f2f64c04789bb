"""``manage.py proposals add|remove|list``: proposal memberships (also ``obsarchive proposals``).

Both commands parse the same arguments (:func:`obsarchive.commands.proposals.add_arguments`,
kept free of Django so that building the ``obsarchive`` parser never imports it) and carry
them out with :func:`run_proposals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from django.core.management.base import BaseCommand, CommandError, CommandParser

from obsarchive.commands.proposals import add_arguments as add_proposal_arguments

if TYPE_CHECKING:
    from obsarchive.server.accounts.services import MembershipChange


class _Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


# What add/remove report: (for a changed member, for an unchanged one, with no USERNAME).
_REPORTS = {
    "add": (
        "added {name} to {proposal}",
        "{name} already in {proposal}",
        "proposal {proposal} exists",
    ),
    "remove": (
        "removed {name} from {proposal}",
        "{name} was not in {proposal}",
        "deleted proposal {proposal}",
    ),
}


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
        assert proposal_id is not None  # the parser requires it
        if create_users:
            for name in usernames:
                services.ensure_user(name)
        _report(action, services.add_members(proposal_id, usernames), usernames, out)
    elif action == "remove":
        assert proposal_id is not None
        _report(action, services.remove_members(proposal_id, usernames), usernames, out)
    else:
        memberships = services.list_memberships(proposal_id)
        if proposal_id and not memberships:
            raise services.AccountError(f"no proposal {proposal_id!r}")
        for pid, members in memberships.items():
            out.write(f"{pid}\t{' '.join(members)}".rstrip() + "\n")


def _report(action: str, change: MembershipChange, usernames: Sequence[str], out: _Writer) -> None:
    changed, unchanged, whole = _REPORTS[action]
    for template, names in ((changed, change.changed), (unchanged, change.unchanged)):
        for name in names:
            out.write(template.format(name=name, proposal=change.proposal_id) + "\n")
    if not usernames:
        out.write(whole.format(proposal=change.proposal_id) + "\n")


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
