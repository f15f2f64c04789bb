"""``obsarchive requeue [--all | ID...]``: send dead letters back to the queue after a fix."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="message ids (see obsarchive ledger)")
    parser.add_argument("--all", action="store_true", help="every dead letter")


def run(args: argparse.Namespace) -> int:
    from obsarchive.ingester.flow.runtime import run_guarded

    return run_guarded("requeue", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_FAILURE, EXIT_OK, EXIT_TEMPORARY, EXIT_USAGE
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.errors import QueueUnavailableError
    from obsarchive.ingester.flow.ledger import Status
    from obsarchive.ingester.flow.runtime import open_ledger, open_queue_from

    if bool(args.all) == bool(args.ids):
        print("obsarchive requeue: give message ids or --all (not both)", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    queue = open_queue_from(settings)
    with open_ledger(settings) as ledger:
        try:
            requeued = queue.requeue(None if args.all else args.ids)
            # A dead message that is no longer in the dead-letter queue (purged by an operator,
            # or dead-lettered by another queue) is published again from the ledger's copy.
            missing = [] if args.all else [i for i in args.ids if i not in set(requeued)]
            republished, unknown = [], []
            for message_id in missing:
                entry = ledger.get(message_id)
                if entry is None or entry.status is not Status.DEAD:
                    unknown.append(message_id)
                    continue
                queue.publish(entry.body.encode(), message_id=message_id)
                republished.append(message_id)
        except QueueUnavailableError as exc:
            print(f"obsarchive requeue: queue unavailable: {exc}", file=sys.stderr)
            return EXIT_TEMPORARY
        finally:
            queue.close()
        ledger.mark_requeued([*requeued, *republished])
    for message_id in [*requeued, *republished]:
        print(message_id)
    print(f"obsarchive requeue: {len(requeued) + len(republished)} requeued", file=sys.stderr)
    for message_id in unknown:
        print(f"obsarchive requeue: {message_id}: not a dead letter", file=sys.stderr)
    return EXIT_FAILURE if unknown else EXIT_OK
