"""``manage.py proposals``: the same arguments and reports as ``obsarchive proposals``.

The ``obsarchive proposals`` subprocess tests (test_ops_cli.py) cover the CLI; these run the
Django management command in process, so both entry points are exercised.
"""

from __future__ import annotations

import argparse
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from obsarchive.commands.proposals import add_arguments
from obsarchive.server.accounts.management.commands.proposals import Command
from obsarchive.server.accounts.models import Membership, Proposal

pytestmark = pytest.mark.django_db
User = get_user_model()


def _run(*argv: str) -> list[str]:
    out = io.StringIO()
    call_command("proposals", *argv, stdout=out)
    return out.getvalue().splitlines()


def test_add_list_remove_through_the_management_command() -> None:
    User.objects.create_user("alice")
    User.objects.create_user("bob")
    assert _run("add", "P1", "alice", "bob") == ["added alice to P1", "added bob to P1"]
    assert _run("add", "P1", "alice") == ["alice already in P1"]
    assert _run("add", "P2") == ["proposal P2 exists"]
    assert _run("add", "P3", "carol", "--create-users") == ["added carol to P3"]
    assert _run("list") == ["P1\talice bob", "P2", "P3\tcarol"]
    assert _run("remove", "P1", "bob") == ["removed bob from P1"]
    assert _run("remove", "P1", "bob") == ["bob was not in P1"]
    assert _run("list", "P1") == ["P1\talice"]
    assert _run("remove", "P3") == ["removed carol from P3", "deleted proposal P3"]
    assert not Proposal.objects.filter(proposal_id="P3").exists()
    assert set(Membership.objects.values_list("user__username", flat=True)) == {"alice"}


def test_errors_become_command_errors() -> None:
    with pytest.raises(CommandError, match="no such user: nobody"):
        _run("add", "P1", "nobody")
    assert not Proposal.objects.exists()  # nothing changed
    with pytest.raises(CommandError, match="no proposal 'P9'"):
        _run("list", "P9")


@pytest.mark.parametrize(
    "argv",
    [["add", "P1", "alice", "--create-users"], ["remove", "P1"], ["list"], ["list", "P1"]],
)
def test_both_commands_parse_alike(argv: list[str]) -> None:
    cli = argparse.ArgumentParser(prog="obsarchive proposals")
    add_arguments(cli)
    django = Command().create_parser("manage.py", "proposals")
    # Django adds its own options (verbosity, settings, ...); ours must all parse the same.
    assert vars(cli.parse_args(argv)).items() <= vars(django.parse_args(argv)).items()
