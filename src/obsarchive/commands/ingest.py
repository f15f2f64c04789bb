"""``obsarchive ingest PATH...``: ingest products directly (no queue), in parallel.

PATH may be a file, a directory (searched recursively for product files) or a glob pattern
(``'data/**/*.fits.fz'``; quote it so the shell leaves it alone). The upstream command
``ocs_ingest_frame PATH`` is ``obsarchive ingest PATH``; see docs/ingester.md.

Exit status: 0 when every file was ingested or already archived (with ``--check-only``: is
archived); 75 when any file failed temporarily (archive or store unavailable: run the same
command again later, archived files are skipped); else 1 when any file failed for good.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obsarchive.cli import EXIT_FAILURE, EXIT_OK, EXIT_TEMPORARY, EXIT_USAGE

__all__ = ["Outcome", "add_arguments", "expand_paths", "run"]

# status -> (label in the summary, exit code it implies)
STATUSES: dict[str, tuple[str, int]] = {
    "ingested": ("ingested", EXIT_OK),
    "already_archived": ("already archived", EXIT_OK),
    "valid": ("valid (dry run)", EXIT_OK),
    "archived": ("archived", EXIT_OK),
    "not_archived": ("not archived", EXIT_FAILURE),
    "failed": ("failed", EXIT_FAILURE),
    "retry_later": ("retry later", EXIT_TEMPORARY),
}
_STYLES = {EXIT_OK: "green", EXIT_FAILURE: "red", EXIT_TEMPORARY: "yellow"}
# Beyond this many files the summary lists only the files that need attention.
_LIST_ALL_UP_TO = 50


@dataclass
class Outcome:
    """What happened to one file."""

    path: str
    status: str
    detail: str = ""
    frame_id: Any = None
    url: str | None = None
    md5: str | None = None
    storage_key: str | None = None
    error_type: str | None = None
    record: dict[str, Any] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "status": self.status}
        for name in ("detail", "frame_id", "url", "md5", "storage_key", "error_type", "record"):
            value = getattr(self, name)
            if value not in (None, ""):
                data[name] = value
        return data


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "exit status: 0 all ingested or already archived; 1 a file failed for good;\n"
        "75 a file failed temporarily (archive or store unavailable): run again later.\n"
        "configuration: API_ROOT, AUTH_TOKEN (or $OBSARCHIVE_HOME/token), FILESTORE_TYPE,\n"
        "BUCKET, S3_ENDPOINT_URL, ... (see docs/ingester.md)"
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="product files, directories or glob patterns"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check-only",
        action="store_true",
        help="only report whether each file is already archived (exit 1 if any is not)",
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="validate each file and print its archive record; upload and record nothing",
    )
    parser.add_argument(
        "--workers", type=_workers, default=2, help="files ingested in parallel (default 2)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--api-root", help="science archive API root (default: API_ROOT)")
    parser.add_argument("--auth-token", help="archive API token (default: AUTH_TOKEN)")
    parser.add_argument("--bucket", help="S3 bucket to upload to (default: BUCKET)")
    parser.add_argument(
        "--metadata",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a header value for every file (repeatable); needed for PDF and thumbnails",
    )
    parser.add_argument(
        "--metadata-file",
        type=Path,
        metavar="JSON",
        help="a JSON object of header values for every file (--metadata wins)",
    )
    parser.add_argument(
        "--thumbnail",
        metavar="SIZE",
        help="ingest the files as thumbnails of this size (small, medium, large)",
    )


# ---------------------------------------------------------------------------------------------
# Finding the files


def _is_product_name(name: str, extensions: frozenset[str]) -> bool:
    from obsarchive.products.names import split_name

    if name.startswith("."):
        return False
    extension = split_name(name)[1]
    return extension in extensions


def _walk(directory: Path, extensions: frozenset[str]) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        # Hidden folders hold tool state (a filesystem store's .obsarchive/, .git/), not data.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            str(Path(root) / name) for name in sorted(files) if _is_product_name(name, extensions)
        )
    return found


def expand_paths(
    arguments: Sequence[str], extensions: Iterable[str]
) -> tuple[list[str], list[Outcome]]:
    """Files to ingest, in order and without duplicates, plus outcomes for unusable arguments.

    Files named explicitly are always attempted; directories and glob patterns contribute
    only files with a product extension (``extensions``), skipping hidden names.
    """
    known = frozenset(extensions)
    files: list[str] = []
    problems: list[Outcome] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files.extend(_walk(path, known))
        elif path.exists():
            files.append(argument)
        elif glob.has_magic(argument):
            # glob.glob, not Path.glob: patterns may be absolute ("/data/**/*.fits.fz").
            matches = sorted(glob.glob(argument, recursive=True))  # noqa: PTH207
            for match in matches:
                if Path(match).is_dir():
                    files.extend(_walk(Path(match), known))
                elif _is_product_name(Path(match).name, known):
                    files.append(match)
            if not matches:
                problems.append(Outcome(argument, "failed", "no file matches this pattern"))
        else:
            problems.append(Outcome(argument, "failed", "no such file or directory"))
    seen: set[str] = set()
    unique = [f for f in files if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]
    return unique, problems


# ---------------------------------------------------------------------------------------------
# Doing the work


@dataclass(frozen=True)
class _Options:
    check_only: bool
    dry_run: bool
    metadata: dict[str, Any] | None
    thumbnail: str | None


def _process(pipeline: Any, path: str, options: _Options) -> Outcome:
    from obsarchive.ingester.exceptions import (
        BackoffRetryError,
        DoNotRetryError,
        NonFatalDoNotRetryError,
        RetryError,
    )

    thumbnail = {"is_thumbnail": options.thumbnail is not None, "thumbnail_size": options.thumbnail}
    try:
        if options.check_only:
            archived = pipeline.exists(path)
            return Outcome(path, "archived" if archived else "not_archived")
        if options.dry_run:
            plan = pipeline.plan(path, None, options.metadata, **thumbnail)
            return Outcome(
                path,
                "valid",
                md5=plan.md5,
                storage_key=plan.storage_key,
                record=plan.record,
            )
        result = pipeline.ingest(path, None, options.metadata, **thumbnail)
        frame_id = result.frame_id
        if frame_id is None:
            frame_id = result.response.get("thumbnail_id")
        return Outcome(
            path,
            "ingested",
            frame_id=frame_id,
            url=result.url,
            md5=result.md5,
            storage_key=result.stored.key,
        )
    except NonFatalDoNotRetryError as exc:
        return Outcome(path, "already_archived", str(exc))
    except BackoffRetryError as exc:
        return Outcome(path, "retry_later", str(exc), error_type=type(exc).__name__)
    except (DoNotRetryError, RetryError) as exc:
        return Outcome(path, "failed", str(exc), error_type=type(exc).__name__)


def _run_all(
    work: Callable[[str], Outcome],
    files: Sequence[str],
    workers: int,
    on_done: Callable[[Outcome], None],
) -> list[Outcome]:
    """Process files on ``workers`` threads; results in input order."""
    results: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        pending: dict[Future[Outcome], str] = {}
        queue = iter(files)
        try:
            # Submit lazily (a window of 2 per worker) so Ctrl-C stops promptly on huge batches.
            for path in queue:
                pending[pool.submit(work, path)] = path
                if len(pending) >= 2 * workers:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    results[pending.pop(future)] = outcome
                    on_done(outcome)
                    next_path = next(queue, None)
                    if next_path is not None:
                        pending[pool.submit(work, next_path)] = next_path
        except KeyboardInterrupt:
            for future in pending:
                future.cancel()
            raise
    return [results[f] for f in files]


# ---------------------------------------------------------------------------------------------
# Reporting


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """75 if any file can be retried, else 1 if any failed for good, else 0."""
    codes = {STATUSES[o.status][1] for o in outcomes}
    if EXIT_TEMPORARY in codes:
        return EXIT_TEMPORARY
    return EXIT_FAILURE if EXIT_FAILURE in codes else EXIT_OK


def _detail(outcome: Outcome) -> str:
    prefix = f"{outcome.path}: "
    if outcome.detail.startswith(prefix):  # product errors name the file; the row already does
        return outcome.detail[len(prefix) :]
    if outcome.status == "ingested":
        return " ".join(
            part
            for part in (f"frame {outcome.frame_id}" if outcome.frame_id else "", outcome.url or "")
            if part
        )
    if outcome.status == "valid":
        return f"{outcome.storage_key}  md5 {outcome.md5}"
    return outcome.detail


def _print_summary(outcomes: Sequence[Outcome], console: Any) -> None:
    from rich.table import Table

    counts = Counter(o.status for o in outcomes)
    shown = [
        o for o in outcomes if len(outcomes) <= _LIST_ALL_UP_TO or STATUSES[o.status][1] != EXIT_OK
    ]
    if shown:
        table = Table(expand=False)
        table.add_column("file", overflow="fold")
        table.add_column("result", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for outcome in shown:
            label, code = STATUSES[outcome.status]
            table.add_row(
                outcome.path, f"[{_STYLES[code]}]{label}[/]", _detail(outcome), style=None
            )
        console.print(table)
    totals = ", ".join(f"{counts[s]} {STATUSES[s][0]}" for s in STATUSES if counts[s])
    console.print(f"{len(outcomes)} file(s): {totals or 'nothing to do'}", highlight=False)


def _print_records(outcomes: Sequence[Outcome], console: Any) -> None:
    for outcome in outcomes:
        if outcome.record is None:
            continue
        headers = outcome.record.get("headers") or {}
        lines = [f"{outcome.path} → {outcome.storage_key} (md5 {outcome.md5})"]
        lines += [
            f"  {key}: {json.dumps(value)}"
            for key, value in outcome.record.items()
            if key != "headers"
        ]
        lines.append(f"  headers: {len(headers)} cards (--json shows them)")
        console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)


def _load_metadata(args: argparse.Namespace) -> dict[str, Any] | None:
    metadata: dict[str, Any] = {}
    if args.metadata_file is not None:
        try:
            loaded = json.loads(args.metadata_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--metadata-file {args.metadata_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"--metadata-file {args.metadata_file}: not a JSON object")
        metadata.update(loaded)
    metadata.update(dict(args.metadata))
    return metadata or None


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from obsarchive.config import load_settings
    from obsarchive.ingester.exceptions import INGEST_ERRORS
    from obsarchive.ingester.pipeline import IngestPipeline
    from obsarchive.products.factory import DEFAULT_PRODUCT_CLASSES

    # Piped output gets wide tables rather than paths folded over several lines.
    out = Console() if sys.stdout.isatty() else Console(width=200)
    err = Console(stderr=True)
    try:
        metadata = _load_metadata(args)
    except ValueError as exc:
        print(f"obsarchive ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE

    settings = load_settings()
    extensions = set(DEFAULT_PRODUCT_CLASSES) | set(settings.products.filetype_mapping_overrides)
    files, problems = expand_paths(args.paths, extensions)
    try:
        pipeline = IngestPipeline.from_settings(
            settings, api_root=args.api_root, auth_token=args.auth_token, bucket=args.bucket
        )
    except INGEST_ERRORS as exc:
        print(f"obsarchive ingest: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    options = _Options(args.check_only, args.dry_run, metadata, args.thumbnail)

    show_progress = args.progress if args.progress is not None else err.is_terminal
    if show_progress and files:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=err,
            transient=False,
        ) as progress:
            task = progress.add_task("", total=len(files))

            def advance(outcome: Outcome) -> None:
                progress.update(task, advance=1, description=Path(outcome.path).name)

            outcomes = _run_all(
                lambda p: _process(pipeline, p, options), files, args.workers, advance
            )
    else:
        outcomes = _run_all(
            lambda p: _process(pipeline, p, options), files, args.workers, lambda _o: None
        )
    outcomes = problems + outcomes
    code = exit_code(outcomes)

    if args.json:
        counts = Counter(o.status for o in outcomes)
        document = {
            "results": [o.to_json() for o in outcomes],
            "summary": {status: counts[status] for status in STATUSES if counts[status]},
            "exit_code": code,
        }
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        if args.dry_run:
            _print_records(outcomes, out)
        _print_summary(outcomes, out)
    return code
