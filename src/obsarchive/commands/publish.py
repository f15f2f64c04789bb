"""``obsarchive publish PATH...``: queue products for ``obsarchive worker``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]


def _metadata(value: str) -> dict[str, Any]:
    """A JSON object, inline or ``@file.json``."""
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"not a JSON object or @file: {exc}") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("metadata must be a JSON object")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="product files to ingest")
    parser.add_argument(
        "--path",
        dest="archive_name",
        metavar="NAME",
        help="archive the (single) file under this name instead of its own",
    )
    parser.add_argument(
        "--metadata",
        type=_metadata,
        metavar="JSON",
        help="header values for non-FITS products, as a JSON object or @file.json",
    )
    parser.add_argument(
        "--thumbnail", metavar="SIZE", help="ingest as a thumbnail of this size (e.g. small)"
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not require the files to exist here (the worker sees another file system)",
    )


def run(args: argparse.Namespace) -> int:
    from obsarchive.ingester.flow.runtime import run_guarded

    return run_guarded("publish", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from obsarchive.cli import EXIT_FAILURE, EXIT_OK, EXIT_TEMPORARY, EXIT_USAGE
    from obsarchive.config import load_settings
    from obsarchive.ingester.flow.errors import MessageError, QueueUnavailableError
    from obsarchive.ingester.flow.publish import Publisher

    if args.archive_name and len(args.paths) > 1:
        print("obsarchive publish: --path needs exactly one PATH", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    status = EXIT_OK
    with Publisher.from_settings(settings.flow) as publisher:
        for path in args.paths:
            try:
                message_id = publisher.publish(
                    path,
                    path=args.archive_name,
                    file_metadata=args.metadata,
                    is_thumbnail=args.thumbnail is not None,
                    thumbnail_size=args.thumbnail,
                    must_exist=not args.no_check,
                )
            except MessageError as exc:
                print(f"obsarchive publish: {exc}", file=sys.stderr)
                status = EXIT_FAILURE
                continue
            except QueueUnavailableError as exc:
                print(f"obsarchive publish: queue unavailable: {exc}", file=sys.stderr)
                return EXIT_TEMPORARY
            print(f"{message_id}  {path}")
    return status
