"""``obsarchive ledger``: list the ingestion ledger (what happened to every message)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]

_STATUSES = ("queued", "ingesting", "retrying", "ingested", "already_archived", "dead")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=_STATUSES, help="only messages in this status")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="at most N rows (newest first)"
    )


def run(args: argparse.Namespace) -> int:
    from obsarchive.ingester.flow.runtime import run_guarded

    return run_guarded("ledger", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_OK
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.ledger import dumps_entries
    from obsarchive.ingester.flow.runtime import open_ledger

    settings = load_settings()
    with open_ledger(settings) as ledger:
        entries = ledger.entries(args.status, limit=args.limit)
        if args.json:
            print(dumps_entries(entries))
            return EXIT_OK
        counts = ledger.counts()

    from rich.console import Console
    from rich.table import Table

    # Piped output (less, grep, a file) gets a wide table rather than folded message ids.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"ingestion ledger ({settings.flow.ledger_url})", title_justify="left")
    table.add_column("message", no_wrap=True)  # copied into `obsarchive requeue ID`
    for column in ("status", "tries", "file", "frame", "updated", "last error"):
        table.add_column(column, overflow="fold")
    styles = {"dead": "red", "retrying": "yellow", "ingested": "green"}
    for e in entries:
        table.add_row(
            e.message_id,
            f"[{styles.get(e.status.value, 'default')}]{e.status.value}[/]",
            str(e.attempts),
            e.basename or e.filepath,
            "" if e.frame_id is None else str(e.frame_id),
            e.updated_at.strftime("%Y-%m-%d %H:%M:%S") if e.updated_at else "",
            (e.last_error or "")[:120],
        )
    console.print(table)
    console.print(", ".join(f"{status.value} {n}" for status, n in counts.items()))
    return EXIT_OK
