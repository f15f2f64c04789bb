"""Seed benchmark: fill an archive with N synthetic frames by bulk loading, then ANALYZE.

::

    python -m benchmarks.seed --count 1000000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/obsarchive_bench
    python -m benchmarks.seed --database-url sqlite:///var/bench/archive.sqlite3 --count 100000
    python -m benchmarks.seed --tiny

The frames come from :func:`benchmarks.observatory.generate_frames` (ten years of an LCO-like
network). :class:`RowBuilder` turns each ingest payload into exactly the rows the server's
ingest (``obsarchive.server.frames.services.ingest_frame``) writes -- frame, sky cells,
headers, versions, placeholder frames and symmetric related-frame links, with the same ids --
using the frames app's own models for the column lists; ``tests/test_benchmarks.py`` checks
the claim by ingesting the same payloads through the server and comparing the tables.

Loading: the database is migrated, then the secondary indexes, unique constraints and foreign
keys of the five frame tables are dropped, the rows streamed in (PostgreSQL: one ``COPY ...
FREEZE`` per table, the five running side by side; SQLite: ``executemany`` in transactions of
a few thousand frames), the indexes and constraints recreated from their saved definitions,
id sequences advanced, and the tables analysed (PostgreSQL: ``VACUUM (ANALYZE)``). The archive
must have no frames yet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks._common import (
    LoadMonitor,
    add_common_arguments,
    machine_info,
    print_table,
    utc_now,
    write_results,
)
from benchmarks._services import (
    BenchmarkError,
    create_postgres_database,
    database_vendor,
    libpq_url,
    sqlite_path,
)

__all__ = ["RowBuilder", "SeedReport", "TableSpec", "main", "seed_database", "setup_django_for"]

TINY_COUNT = 300
DEFAULT_DATABASE_URL = "sqlite:///var/bench/archive.sqlite3"
TABLE_KEYS = ("frame", "skycell", "headers", "version", "related")
SQLITE_BATCH_FRAMES = 5000


# -- Django ----------------------------------------------------------------------------------


def setup_django_for(database_url: str, home: Path | None = None) -> None:
    """Configure Django (obsarchive's settings) on ``database_url`` and migrate it.

    Settings read the environment once, so this sets ``DATABASE_URL`` for this process; it is
    the process edge of the benchmark.
    """
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "obsarchive.server.settings"
    os.environ.setdefault("SECRET_KEY", "benchmark-seed-not-a-secret")
    os.environ.setdefault(
        "OBSARCHIVE_HOME", str(home or Path(tempfile.mkdtemp(prefix="obsarchive-seed-")))
    )
    from obsarchive.server.ops.bootstrap import migrate_database, setup_django

    setup_django()
    migrate_database()


# -- tables and rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """A table as the frames app's model defines it: name, columns, defaults."""

    table: str
    columns: tuple[str, ...]
    attnames: tuple[str, ...]
    defaults: dict[str, Any]
    json_columns: frozenset[str]

    @classmethod
    def of(cls, model: Any) -> TableSpec:
        from django.db import models

        fields = list(model._meta.concrete_fields)
        defaults: dict[str, Any] = {}
        for f in fields:
            if f.has_default():
                defaults[f.attname] = f.get_default()
            elif f.null:
                defaults[f.attname] = None
        return cls(
            table=model._meta.db_table,
            columns=tuple(f.column for f in fields),
            attnames=tuple(f.attname for f in fields),
            defaults=defaults,
            json_columns=frozenset(f.attname for f in fields if isinstance(f, models.JSONField)),
        )

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The values in column order; a column not given takes the model's default.

        Raises
        ------
        BenchmarkError
            A column has no value and no default (the model gained a field the seed does not
            know how to fill).
        """
        out = []
        for name in self.attnames:
            if name in values:
                value = values[name]
            elif name in self.defaults:
                value = self.defaults[name]
            else:
                raise BenchmarkError(f"{self.table}.{name} has no value and no default")
            if name in self.json_columns and value is not None:
                value = json.dumps(value)  # Django's JSONField encoding
            out.append(value)
        return tuple(out)


def table_specs() -> dict[str, TableSpec]:
    from obsarchive.server.frames.models import Frame, Headers, SkyCell, Version

    return {
        "frame": TableSpec.of(Frame),
        "skycell": TableSpec.of(SkyCell),
        "headers": TableSpec.of(Headers),
        "version": TableSpec.of(Version),
        "related": TableSpec.of(Frame.related_frames.through),
    }


@dataclass
class RowBuilder:
    """Turns frame plans into table rows, as ``services.ingest_frame`` would write them.

    Ids continue from ``next_ids``; ``names`` remembers every frame (real or placeholder) so
    related-frame links resolve to ids the way the server's ``basename__in`` lookup does.
    """

    specs: dict[str, TableSpec]
    next_ids: dict[str, int] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    placeholders: int = 0

    def __post_init__(self) -> None:
        # The two narrow tables hold most rows: build their tuples directly when their
        # columns are the expected ones (else fall back to the generic, default-aware path).
        self._fast_cells = self.specs["skycell"].attnames == ("id", "frame_id", "uniq")
        self._fast_links = self.specs["related"].attnames == ("id", "from_frame_id", "to_frame_id")

    def _id(self, key: str) -> int:
        value = self.next_ids.get(key, 1)
        self.next_ids[key] = value + 1
        self.counts[key] = self.counts.get(key, 0) + 1
        return value

    def rows(self, plan: Any) -> dict[str, list[tuple[Any, ...]]]:
        """Rows per table (keys of :data:`TABLE_KEYS`) for one ingest of ``plan``.

        Raises
        ------
        BenchmarkError
            The plan names a frame that already exists (the generator never re-ingests).
        """
        specs = self.specs
        out: dict[str, list[tuple[Any, ...]]] = {key: [] for key in TABLE_KEYS}
        if plan.basename in self.names:
            raise BenchmarkError(f"{plan.basename} would be ingested twice")
        frame_id = self._id("frame")
        self.names[plan.basename] = frame_id
        footprint = plan.footprint
        moment = plan.ingested_at
        values = {
            **plan.fields,
            "id": frame_id,
            "basename": plan.basename,
            "area": None if footprint is None else footprint.geojson,
            "footprint": None if footprint is None else footprint.packed,
            "submitter": plan.submitter,
            "created": moment,
            "modified": moment,
        }
        out["frame"].append(specs["frame"].row(values))
        if footprint is not None:
            cells = out["skycell"]
            for uniq in footprint.cells:
                cell_id = self._id("skycell")
                if self._fast_cells:
                    cells.append((cell_id, frame_id, uniq))
                else:
                    cells.append(
                        specs["skycell"].row({"id": cell_id, "frame_id": frame_id, "uniq": uniq})
                    )
        out["headers"].append(
            specs["headers"].row(
                {"id": self._id("headers"), "frame_id": frame_id, "data": plan.headers}
            )
        )
        for version in plan.versions:
            out["version"].append(
                specs["version"].row(
                    {
                        "id": self._id("version"),
                        "frame_id": frame_id,
                        "key": version.key,
                        "md5": version.md5,
                        "extension": version.extension,
                        "object_key": version.object_key,
                        "size": version.size,
                        "created": version.created,
                    }
                )
            )
        wanted = sorted({name for name in plan.related if name and name != plan.basename})
        if wanted:
            for name in wanted:
                if name not in self.names:
                    # A bare placeholder, as the server's bulk_create(Frame(basename=name)).
                    placeholder = self._id("frame")
                    self.names[name] = placeholder
                    self.placeholders += 1
                    out["frame"].append(
                        specs["frame"].row(
                            {
                                "id": placeholder,
                                "basename": name,
                                "created": moment,
                                "modified": moment,
                            }
                        )
                    )
            for name in wanted:
                other = self.names[name]
                # Symmetrical many-to-many: both directions. The frame is new (see above), so
                # none of its pairs can exist yet and none needs checking.
                for pair in ((frame_id, other), (other, frame_id)):
                    link_id = self._id("related")
                    if self._fast_links:
                        out["related"].append((link_id, *pair))
                    else:
                        out["related"].append(
                            specs["related"].row(
                                {"id": link_id, "from_frame_id": pair[0], "to_frame_id": pair[1]}
                            )
                        )
        return out


# -- loaders ---------------------------------------------------------------------------------


@dataclass
class SeedReport:
    """What a seed run did and how long each phase took."""

    vendor: str
    count: int
    rows: dict[str, int]
    placeholders: int
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 3)


class _Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def _table_names(specs: dict[str, TableSpec]) -> list[str]:
    return [specs[key].table for key in TABLE_KEYS]


class PostgresLoader:
    """COPY into the five tables at once, with indexes, unique constraints and FKs dropped."""

    def __init__(self, url: str) -> None:
        self.url = libpq_url(url)

    def _connect(self, autocommit: bool = False) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=autocommit)

    def is_empty(self, specs: dict[str, TableSpec]) -> bool:
        with self._connect() as connection:
            row = connection.execute(
                f"SELECT EXISTS (SELECT 1 FROM {specs['frame'].table})"
            ).fetchone()
        return not (row and row[0])

    def _definitions(self, connection: Any, tables: list[str]) -> tuple[list, list]:
        """(constraints, indexes) to drop and recreate: unique/foreign keys and plain indexes."""
        constraints = connection.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE (c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('u', 'f'))
               OR (c.confrelid::regclass::text = ANY(%s) AND c.contype = 'f')
            ORDER BY c.contype, c.conname
            """,
            (tables, tables),
        ).fetchall()
        indexes = connection.execute(
            """
            SELECT i.tablename, i.indexname, i.indexdef
            FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            ORDER BY i.tablename, i.indexname
            """,
            (tables,),
        ).fetchall()
        return constraints, indexes

    def load(
        self,
        specs: dict[str, TableSpec],
        batches: Iterator[dict[str, list[tuple[Any, ...]]]],
        phases: _Phases,
    ) -> None:
        from psycopg import sql

        tables = _table_names(specs)
        with self._connect(autocommit=True) as admin:
            constraints, indexes = self._definitions(admin, tables)
            with phases.phase("drop_indexes"):
                # Foreign keys first (they depend on the unique constraints they reference).
                for table, name, _, _ in constraints:
                    admin.execute(
                        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                            sql.Identifier(table), sql.Identifier(name)
                        )
                    )
                for _, name, _ in indexes:
                    admin.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            try:
                with phases.phase("generate_and_copy"):
                    self._copy(specs, batches)
            finally:
                with phases.phase("build_indexes"):
                    admin.execute("SET maintenance_work_mem = '512MB'")
                    for table, name, definition, _ in sorted(
                        constraints, key=lambda c: c[3] == "f"
                    ):
                        # Unique constraints before the foreign keys that may rely on them.
                        admin.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                                sql.Identifier(table), sql.Identifier(name)
                            )
                            + sql.SQL(definition)
                        )
                    for _, _, definition in indexes:
                        admin.execute(definition)
            with phases.phase("analyze"):
                for table in tables:
                    admin.execute(
                        sql.SQL(
                            "SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                            "COALESCE((SELECT max(id) FROM {i}), 0) + 1, false)"
                        ).format(t=sql.Literal(table), i=sql.Identifier(table))
                    )
                # VACUUM as autovacuum would after a bulk insert (visibility map for
                # index-only scans), and fresh planner statistics.
                admin.execute(
                    sql.SQL("VACUUM (ANALYZE) {}").format(
                        sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                    )
                )

    def _copy(
        self, specs: dict[str, TableSpec], batches: Iterator[dict[str, list[tuple[Any, ...]]]]
    ) -> None:
        from psycopg import sql

        with contextlib.ExitStack() as stack:
            copies: dict[str, Any] = {}
            for key in TABLE_KEYS:
                spec = specs[key]
                connection = stack.enter_context(self._connect())
                cursor = stack.enter_context(connection.cursor())
                # TRUNCATE in the same transaction lets COPY FREEZE write frozen, all-visible
                # pages: no later VACUUM has to rewrite them. The table is known to be empty.
                cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(spec.table)))
                statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(
                    sql.Identifier(spec.table),
                    sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns),
                )
                copies[key] = stack.enter_context(cursor.copy(statement))
            for batch in batches:
                for key, rows in batch.items():
                    write = copies[key].write_row
                    for row in rows:
                        write(row)
            # Leaving the stack finishes each COPY and commits its connection (psycopg
            # connections commit on a clean exit and roll back on an exception).


def _sqlite_value(value: Any) -> Any:
    """Values as Django's SQLite backend stores them (naive UTC text datetimes, ISO dates)."""
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, date):
        return value.isoformat()
    return value


class SqliteLoader:
    """``executemany`` in transactions of a few thousand frames, indexes dropped meanwhile."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)

    def _connect(self) -> Any:
        import sqlite3

        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def is_empty(self, specs: dict[str, TableSpec]) -> bool:
        connection = self._connect()
        try:
            row = connection.execute(
                f"SELECT EXISTS (SELECT 1 FROM {specs['frame'].table})"
            ).fetchone()
        finally:
            connection.close()
        return not (row and row[0])

    def load(
        self,
        specs: dict[str, TableSpec],
        batches: Iterator[dict[str, list[tuple[Any, ...]]]],
        phases: _Phases,
    ) -> None:
        tables = _table_names(specs)
        connection = self._connect()
        try:
            # A crash during the load loses the load, not the database: the journal stays.
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA cache_size=-262144")  # 256 MiB
            connection.execute("PRAGMA temp_store=MEMORY")
            marks = ",".join("?" * len(tables))
            indexes = connection.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND sql IS NOT NULL AND tbl_name IN ({marks})",
                tables,
            ).fetchall()
            with phases.phase("drop_indexes"):
                for name, _ in indexes:
                    connection.execute(f'DROP INDEX "{name}"')
            try:
                with phases.phase("generate_and_copy"):
                    self._insert(connection, specs, batches)
            finally:
                with phases.phase("build_indexes"):
                    for _, definition in indexes:
                        connection.execute(definition)
            with phases.phase("analyze"):
                for table in tables:
                    top = connection.execute(
                        f'SELECT COALESCE(MAX(id), 0) FROM "{table}"'
                    ).fetchone()[0]
                    updated = connection.execute(
                        "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (top, table)
                    ).rowcount
                    if not updated and top:
                        connection.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, top)
                        )
                connection.execute("ANALYZE")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def _insert(
        self,
        connection: Any,
        specs: dict[str, TableSpec],
        batches: Iterator[dict[str, list[tuple[Any, ...]]]],
    ) -> None:
        statements = {
            key: (
                f'INSERT INTO "{spec.table}" ({", ".join(chr(34) + c + chr(34) for c in spec.columns)}) '  # noqa: E501
                f"VALUES ({', '.join('?' * len(spec.columns))})"
            )
            for key, spec in specs.items()
        }
        pending: dict[str, list[tuple[Any, ...]]] = {key: [] for key in TABLE_KEYS}

        def flush() -> None:
            connection.execute("BEGIN")
            for key in TABLE_KEYS:
                if pending[key]:
                    connection.executemany(statements[key], pending[key])
                    pending[key] = []
            connection.execute("COMMIT")

        for frames, batch in enumerate(batches, start=1):
            for key, rows in batch.items():
                if key in ("frame", "version"):  # the only tables with dates
                    pending[key].extend(tuple(_sqlite_value(v) for v in row) for row in rows)
                else:
                    pending[key].extend(rows)
            if frames % SQLITE_BATCH_FRAMES == 0:
                flush()
        flush()


# -- the seed --------------------------------------------------------------------------------


def seed_database(
    database_url: str,
    count: int,
    *,
    seed: int = 1,
    end: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Bulk-load ``count`` synthetic frames into the (migrated, frame-less) archive database.

    Django must already be set up on ``database_url`` (:func:`setup_django_for`).

    Raises
    ------
    BenchmarkError
        The archive already holds frames, or the database is not supported.
    """
    from benchmarks.observatory import generate_frames

    vendor = database_vendor(database_url)
    loader: PostgresLoader | SqliteLoader = (
        PostgresLoader(database_url) if vendor == "postgresql" else SqliteLoader(database_url)
    )
    specs = table_specs()
    if not loader.is_empty(specs):
        raise BenchmarkError(
            "the archive already has frames: seed a fresh database (or drop this one)"
        )
    builder = RowBuilder(specs)
    phases = _Phases()

    def batches() -> Iterator[dict[str, list[tuple[Any, ...]]]]:
        for number, plan in enumerate(generate_frames(count, seed=seed, end=end), start=1):
            yield builder.rows(plan)
            if progress is not None and number % 50_000 == 0:
                progress(number)

    loader.load(specs, batches(), phases)
    rows = {specs[key].table: builder.counts.get(key, 0) for key in TABLE_KEYS}
    return SeedReport(vendor, count, rows, builder.placeholders, phases.seconds)


def database_size(database_url: str) -> int | None:
    """Bytes the archive database occupies on disk (PostgreSQL: pg_database_size)."""
    if database_vendor(database_url) == "sqlite":
        path = sqlite_path(database_url)
        return path.stat().st_size if path.exists() else None
    try:
        import psycopg

        with psycopg.connect(libpq_url(database_url)) as connection:
            row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    except Exception:  # informative only
        return None
    return None if row is None else int(row[0])


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.seed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"archive database (default {DEFAULT_DATABASE_URL}; PostgreSQL databases are "
        "created when missing)",
    )
    parser.add_argument("--count", type=int, default=None, help="frames to ingest")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=None,
        help="the day after the last night (default today): ten years of nights before it",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="delete an existing SQLite file first (PostgreSQL: use a fresh database name)",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.count is None:
        args.count = TINY_COUNT if args.tiny else 100_000
    if args.count < 1:
        parser.error("--count must be at least 1")
    if args.database_url is None:
        if args.tiny:
            folder = Path(tempfile.mkdtemp(prefix="obsarchive-seed-"))
            args.database_url = f"sqlite:///{folder / 'archive.sqlite3'}"
        else:
            args.database_url = DEFAULT_DATABASE_URL
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        vendor = database_vendor(args.database_url)
        if vendor == "postgresql":
            create_postgres_database(args.database_url)
        else:
            path = sqlite_path(args.database_url)
            if args.replace:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
        started_at = utc_now()
        cpu_start = time.process_time()
        with LoadMonitor() as load:
            start = time.perf_counter()
            setup_django_for(args.database_url)
            migrate_seconds = round(time.perf_counter() - start, 3)

            def progress(number: int) -> None:
                print(f"seed: {number:,} frames", file=sys.stderr, flush=True)

            report = seed_database(
                args.database_url,
                args.count,
                seed=args.seed,
                end=args.end_date,
                progress=progress,
            )
    except BenchmarkError as exc:
        print(f"benchmarks.seed: {exc}", file=sys.stderr)
        return 1
    seconds = {"migrate": migrate_seconds, **report.seconds}
    total = round(sum(seconds.values()), 3)
    frames_per_second = round(args.count / seconds["generate_and_copy"], 1)
    result = {
        "started_at": started_at.isoformat(),
        "finished_at": utc_now().isoformat(),
        "tiny": args.tiny,
        "parameters": {
            "database_url": _safe_url(args.database_url),
            "vendor": vendor,
            "count": args.count,
            "seed": args.seed,
            "end_date": (args.end_date or utc_now().date()).isoformat(),
        },
        "machine": machine_info(args.database_url),
        "load_average": load.summary(),
        "results": {
            "frames": args.count,
            "placeholders": report.placeholders,
            "rows": report.rows,
            "seconds": seconds,
            "total_seconds": total,
            # The generator's own CPU (Python): on a shared machine wall time also counts the
            # time other processes held the cores.
            "seed_process_cpu_seconds": round(time.process_time() - cpu_start, 3),
            "frames_per_second": frames_per_second,
            "database_bytes": database_size(args.database_url),
        },
    }
    path = write_results("seed", result, args.results_dir)
    print_table(
        f"seed: {args.count:,} frames into {vendor}",
        ["phase", "seconds"],
        [*seconds.items(), ("total", total)],
        caption=f"{frames_per_second:,} frames/s while loading; load average "
        f"{load.summary()['mean']} (max {load.summary()['max']})",
    )
    print_table("rows", ["table", "rows"], report.rows.items())
    print(f"results: {path}")
    return 0


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


if __name__ == "__main__":
    sys.exit(main())
