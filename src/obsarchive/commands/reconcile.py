"""``obsarchive reconcile``: find stored objects no archive record points to; ``--delete`` them.

A dry run by default: it lists what it would remove. The token must belong to a staff user
(``GET versions/``); use the ingest superuser's token so that every thumbnail is visible too.
Objects younger than ``--min-age`` are left alone, since an ingest may be about to record them.

Exit status: 0 done; 1 a permanent problem (bad token, bad configuration, a deletion refused);
75 the archive or the store is unavailable (try again later).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from obsarchive.cli import EXIT_FAILURE, EXIT_OK, EXIT_TEMPORARY

__all__ = ["add_arguments", "run"]

# Refuse to delete more than this share of the stored versions without --force: an empty or
# wrong archive (API_ROOT pointing elsewhere) would otherwise make everything look orphaned.
_SANITY_SHARE = 0.5


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default="", help="only keys under this prefix (e.g. coj/)")
    parser.add_argument(
        "--delete", action="store_true", help="remove the orphans (default: only list them)"
    )
    parser.add_argument(
        "--min-age",
        type=_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="leave objects younger than this alone (default 3600)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"delete even when more than {_SANITY_SHARE:.0%} of the stored versions look orphaned",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--api-root", help="science archive API root (default: API_ROOT)")
    parser.add_argument("--auth-token", help="a staff user's API token (default: AUTH_TOKEN)")
    parser.add_argument("--bucket", help="S3 bucket (default: BUCKET)")


def _describe(version: Any) -> dict[str, Any]:
    return {
        "key": version.key,
        "version_id": version.version_id,
        "size": version.size,
        "last_modified": version.last_modified.isoformat() if version.last_modified else None,
    }


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from obsarchive.config import load_settings
    from obsarchive.ingester.exceptions import BackoffRetryError, DoNotRetryError
    from obsarchive.ingester.pipeline import IngestPipeline
    from obsarchive.ingester.reconcile import find_orphans, remove_orphans

    try:
        pipeline = IngestPipeline.from_settings(
            load_settings(), api_root=args.api_root, auth_token=args.auth_token, bucket=args.bucket
        )
        report = find_orphans(
            pipeline.store,
            pipeline.archive,
            prefix=args.prefix,
            min_age=timedelta(seconds=args.min_age),
        )
    except BackoffRetryError as exc:
        print(f"obsarchive reconcile: try again later: {exc}", file=sys.stderr)
        return EXIT_TEMPORARY
    except DoNotRetryError as exc:
        print(f"obsarchive reconcile: {exc}", file=sys.stderr)
        return EXIT_FAILURE

    status = EXIT_OK
    refused = ""
    if args.delete and report.orphans:
        share = len(report.orphans) / max(report.stored_versions, 1)
        if share > _SANITY_SHARE and not args.force:
            refused = (
                f"refusing to delete {len(report.orphans)} of {report.stored_versions} stored "
                "versions: check API_ROOT and BUCKET point at the same archive, or pass --force"
            )
            status = EXIT_FAILURE
        else:
            report = remove_orphans(pipeline.store, report)
            if report.failed:
                status = EXIT_FAILURE

    if args.json:
        document = {
            "stored_versions": report.stored_versions,
            "archived_keys": report.archived_keys,
            "orphans": [_describe(o) for o in report.orphans],
            "too_recent": [_describe(o) for o in report.too_recent],
            "removed": [_describe(o) for o in report.removed],
            "failed": [{**_describe(o), "error": why} for o, why in report.failed],
            "deleted": bool(args.delete and not refused),
            "error": refused or None,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        out = Console() if sys.stdout.isatty() else Console(width=200)
        if report.orphans:
            removed = {(o.key, o.version_id) for o in report.removed}
            table = Table(title="unreferenced object versions", title_justify="left")
            table.add_column("key", overflow="fold")
            table.add_column("version", overflow="fold")
            table.add_column("bytes", justify="right")
            table.add_column("stored")
            table.add_column("action")
            for orphan in report.orphans:
                action = "removed" if (orphan.key, orphan.version_id) in removed else "would remove"
                if args.delete and action != "removed":
                    action = "kept"
                stored = orphan.last_modified.isoformat() if orphan.last_modified else "?"
                table.add_row(orphan.key, orphan.version_id, str(orphan.size), stored, action)
            out.print(table)
        out.print(
            f"{report.stored_versions} stored version(s), {report.archived_keys} archived key(s), "
            f"{len(report.orphans)} orphan(s) ({report.orphan_bytes} bytes), "
            f"{len(report.too_recent)} too recent to judge, {len(report.removed)} removed",
            highlight=False,
        )
        if report.orphans and not args.delete:
            out.print("dry run: pass --delete to remove them", highlight=False)
        for orphan, why in report.failed:
            print(f"could not remove {orphan.key} {orphan.version_id}: {why}", file=sys.stderr)
    if refused:
        print(f"obsarchive reconcile: {refused}", file=sys.stderr)
    return status
