"""The benchmarks run (tiny mode) and produce sane results; the seed writes what ingest writes.

No wall-clock threshold is asserted anywhere: timings depend on the machine and its load.
What is asserted: the result files have the documented keys with finite, non-negative numbers,
row counts that follow from the generator, and -- the seed's central claim -- that bulk-loaded
rows equal, column for column, the rows the server's own ingest writes for the same payloads.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service

REPO = Path(__file__).resolve().parents[1]
END = date(2026, 1, 1)
SEED = 7
COUNT = 150
POSTGRES = ("127.0.0.1", 5432)


def run_benchmark(name: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    """Run ``python -m benchmarks.<name> ARGS``; return the JSON results it wrote."""
    results = Path(args[args.index("--results-dir") + 1]) if "--results-dir" in args else None
    assert results is not None, "tests always pass --results-dir"
    before = set(results.glob(f"{name}-*.json")) if results.exists() else set()
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**_clean_env()},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    written = sorted(set(results.glob(f"{name}-*.json")) - before)
    assert len(written) == 1, f"expected one new results file, got {written}"
    document = json.loads(written[0].read_text())
    assert document["benchmark"] == name
    return document


def _clean_env() -> dict[str, str]:
    import os

    # The benchmark configures Django itself; the test settings must not leak into it.
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "OBSARCHIVE_HOME"}
        and not k.startswith("PYTEST_")
    }


def assert_sane_numbers(value: Any, path: str = "") -> None:
    """Every number in the document is finite and not negative."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        assert math.isfinite(value), f"{path} = {value}"
        assert value >= 0, f"{path} = {value}"
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_sane_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_sane_numbers(item, f"{path}[{index}]")


def assert_common_keys(document: dict[str, Any]) -> None:
    for key in (
        "format",
        "started_at",
        "finished_at",
        "tiny",
        "parameters",
        "machine",
        "load_average",
        "results",
    ):
        assert key in document, key
    assert document["tiny"] is True
    machine = document["machine"]
    for key in ("nproc", "cpu_model", "memory_bytes", "python", "sqlite", "versions"):
        assert key in machine, key
    assert machine["nproc"] >= 1


# -- seed ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A tiny archive seeded once for the module: its file and the seed's results document."""
    folder = tmp_path_factory.mktemp("tiny-sqlite")
    database = folder / "archive.sqlite3"
    document = run_benchmark(
        "seed",
        "--tiny",
        "--database-url",
        f"sqlite:///{database}",
        "--count",
        str(COUNT),
        "--seed",
        str(SEED),
        "--end-date",
        END.isoformat(),
        "--results-dir",
        str(folder),
    )
    return database, document


def test_seed_tiny_sqlite(tiny_sqlite: tuple[Path, dict[str, Any]]) -> None:
    database, document = tiny_sqlite
    assert_common_keys(document)
    assert_sane_numbers(document["results"])
    results = document["results"]
    assert results["frames"] == COUNT
    for phase in ("migrate", "generate_and_copy", "build_indexes", "analyze"):
        assert phase in results["seconds"]
    rows = results["rows"]
    with sqlite3.connect(database) as connection:
        for table, expected in rows.items():
            (found,) = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            assert found == expected, table
        (ingested,) = connection.execute(
            "SELECT COUNT(*) FROM frames_frame WHERE observation_date IS NOT NULL"
        ).fetchone()
        assert ingested == COUNT
        # Every ingested frame has headers and a version; the indexes were rebuilt.
        (orphans,) = connection.execute(
            "SELECT COUNT(*) FROM frames_frame f WHERE f.observation_date IS NOT NULL AND "
            "NOT EXISTS (SELECT 1 FROM frames_version v WHERE v.frame_id = f.id)"
        ).fetchone()
        assert orphans == 0
        indexes = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert {"frames_frame_obsdate_id", "frames_skycell_uniq"} <= indexes
        (sequence,) = connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'frames_frame'"
        ).fetchone()
        assert sequence == rows["frames_frame"]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_seed_tiny_postgresql(tmp_path: Path) -> None:
    require_service("PostgreSQL", *POSTGRES)
    from benchmarks._services import temporary_postgres_database

    with temporary_postgres_database(
        "postgresql://postgres@127.0.0.1:5432/postgres", "obsarchive_seedtest"
    ) as url:
        document = run_benchmark(
            "seed",
            "--tiny",
            "--database-url",
            url,
            "--count",
            str(COUNT),
            "--seed",
            str(SEED),
            "--end-date",
            END.isoformat(),
            "--results-dir",
            str(tmp_path),
        )
        import psycopg

        with psycopg.connect(url) as connection:
            for table, expected in document["results"]["rows"].items():
                (found,) = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
                assert found == expected, table
            constraints = {
                name
                for (name,) in connection.execute(
                    "SELECT conname FROM pg_constraint WHERE conrelid = 'frames_skycell'::regclass"
                )
            }
            assert "frames_skycell_unique" in constraints
            # The next ingest gets a fresh id: the sequence was advanced past the loaded rows.
            (next_id,) = connection.execute(
                "SELECT nextval(pg_get_serial_sequence('frames_frame', 'id'))"
            ).fetchone()
            assert next_id == document["results"]["rows"]["frames_frame"] + 1
    assert_sane_numbers(document["results"])


def _expected_tables(plans: list[Any]) -> dict[str, Any]:
    """What the seed's row builder writes for ``plans``, keyed by basename (ids translated)."""
    from benchmarks.seed import RowBuilder, table_specs

    specs = table_specs()
    builder = RowBuilder(specs)
    frames: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"cells": set(), "headers": {}, "versions": set(), "links": set()}
    rows_by_table: dict[str, list[dict[str, Any]]] = {key: [] for key in specs}
    for plan in plans:
        for key, rows in builder.rows(plan).items():
            spec = specs[key]
            for row in rows:
                values = dict(zip(spec.attnames, row, strict=True))
                for name in spec.json_columns:
                    if values[name] is not None:
                        values[name] = json.loads(values[name])
                rows_by_table[key].append(values)
    for values in rows_by_table["frame"]:
        frames[values["id"]] = values
    name = {frame_id: values["basename"] for frame_id, values in frames.items()}
    out["frames"] = {
        values["basename"]: {
            k: v for k, v in values.items() if k not in {"id", "created", "modified"}
        }
        for values in frames.values()
    }
    out["cells"] = {(name[v["frame_id"]], v["uniq"]) for v in rows_by_table["skycell"]}
    out["headers"] = {name[v["frame_id"]]: v["data"] for v in rows_by_table["headers"]}
    out["versions"] = {
        (name[v["frame_id"]], v["key"], v["md5"], v["extension"], v["object_key"], v["size"])
        for v in rows_by_table["version"]
    }
    out["links"] = {
        (name[v["from_frame_id"]], name[v["to_frame_id"]]) for v in rows_by_table["related"]
    }
    out["counts"] = {key: len(rows) for key, rows in rows_by_table.items()}
    return out


def _ingested_tables() -> dict[str, Any]:
    from obsarchive.server.frames.models import Frame, Headers, SkyCell, Version

    fields = [f.attname for f in Frame._meta.concrete_fields]
    frames = {}
    for values in Frame.objects.values(*fields):
        if values["footprint"] is not None:
            values["footprint"] = bytes(values["footprint"])
        frames[values["basename"]] = {
            k: v for k, v in values.items() if k not in {"id", "created", "modified"}
        }
    through = Frame.related_frames.through
    return {
        "frames": frames,
        "cells": set(SkyCell.objects.values_list("frame__basename", "uniq")),
        "headers": dict(Headers.objects.values_list("frame__basename", "data")),
        "versions": set(
            Version.objects.values_list(
                "frame__basename", "key", "md5", "extension", "object_key", "size"
            )
        ),
        "links": set(through.objects.values_list("from_frame__basename", "to_frame__basename")),
        "counts": {
            "frame": Frame.objects.count(),
            "skycell": SkyCell.objects.count(),
            "headers": Headers.objects.count(),
            "version": Version.objects.count(),
            "related": through.objects.count(),
        },
    }


@pytest.mark.django_db
def test_seed_rows_equal_the_rows_ingest_writes() -> None:
    """Ingest the generator's payloads through the server; the seed's rows must be the same."""
    from benchmarks.observatory import generate_frames

    from obsarchive.server.frames import services
    from obsarchive.server.frames.serializers import FrameIngestSerializer
    from obsarchive.server.frames.storage import frame_object_key

    plans = list(generate_frames(COUNT, seed=SEED, end=END))
    assert len(plans) == COUNT
    expected = _expected_tables(plans)
    for plan in plans:
        serializer = FrameIngestSerializer(data=plan.payload())
        assert serializer.is_valid(), (plan.basename, serializer.errors)
        services.ingest_frame(serializer.validated_data)
        for version in plan.versions:
            # The generator's cached object keys are the server's keys.
            assert version.object_key == frame_object_key(
                basename=plan.basename,
                extension=version.extension,
                site_id=plan.fields["site_id"],
                instrument_id=plan.fields["instrument_id"],
                observation_day=plan.fields["observation_day"],
                reduction_level=plan.fields["reduction_level"],
                configuration_type=plan.fields["configuration_type"],
                headers=plan.headers,
            )
    ingested = _ingested_tables()
    assert ingested["counts"] == expected["counts"]
    assert ingested["frames"].keys() == expected["frames"].keys()
    for basename, values in expected["frames"].items():
        assert ingested["frames"][basename] == values, basename
    assert ingested["cells"] == expected["cells"]
    assert ingested["headers"] == expected["headers"]
    assert ingested["versions"] == expected["versions"]
    assert ingested["links"] == expected["links"]
    # The sample is varied enough to mean something.
    kinds = {p.fields["configuration_type"] for p in plans}
    assert {"EXPOSE", "CATALOG"} <= kinds
    assert any(len(p.versions) == 2 for p in plans) or COUNT < 100
    assert expected["counts"]["frame"] > COUNT  # some placeholders
    assert expected["links"] and expected["cells"]


@pytest.mark.django_db
def test_generator_is_deterministic_and_varied() -> None:
    from benchmarks.observatory import generate_frames, plan_statistics

    first = list(generate_frames(400, seed=3, end=END))
    second = list(generate_frames(400, seed=3, end=END))
    assert [p.payload() for p in first] == [p.payload() for p in second]
    other = list(generate_frames(400, seed=4, end=END))
    assert [p.basename for p in other] != [p.basename for p in first]
    stats = plan_statistics(first)
    assert stats["frames"] == 400
    assert len({p.fields["site_id"] for p in first}) >= 3
    days = sorted(p.fields["observation_day"] for p in first)
    assert (days[-1] - days[0]).days > 5 * 365  # spread over the ten years
    assert days[-1] < END
    names = [p.basename for p in first]
    assert len(names) == len(set(names))


@pytest.mark.django_db
def test_sqlite_values_are_encoded_as_django_encodes_them() -> None:
    from datetime import UTC, datetime

    from benchmarks.seed import _sqlite_value
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("checks the SQLite encoding against Django's SQLite backend")
    for moment in (
        datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2020, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
    ):
        assert _sqlite_value(moment) == connection.ops.adapt_datetimefield_value(moment)
    day = date(2019, 12, 31)
    assert _sqlite_value(day) == connection.ops.adapt_datefield_value(day)


# -- queries ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_queries_tiny(tmp_path: Path) -> None:
    """Seeds a tiny archive, serves it, and measures every standard query without an error."""
    from benchmarks.queries import QUERY_KINDS

    document = run_benchmark("queries", "--tiny", "--results-dir", str(tmp_path))
    assert_common_keys(document)
    results = document["results"]
    assert_sane_numbers(results)
    assert results["archive"]["ids"] > 0
    measured = {entry["name"]: entry for entry in results["queries"]}
    assert set(measured) == {kind.name for kind in QUERY_KINDS}
    for must in ("default_list", "detail", "headers", "basename_exact", "aggregate"):
        assert "skipped" not in measured[must], must
    for name, entry in measured.items():
        if "skipped" in entry:
            continue
        single, loaded = entry["single_client"], entry["concurrent"]
        # Every request of the workload is valid: an error is a server bug, not noise.
        assert single["errors"] == 0, (name, single.get("first_error"))
        assert loaded["errors"] == 0, (name, loaded.get("first_error"))
        for key in ("p50_ms", "p95_ms", "p99_ms", "requests_per_second", "client_cpu_fraction"):
            assert key in single, (name, key)
        assert single["p50_ms"] <= single["p95_ms"] <= single["p99_ms"] <= single["max_ms"]
        assert 1 <= single["requests"] <= document["parameters"]["requests_per_kind"]
        assert loaded["requests"] >= 1
        assert loaded["clients"] == document["parameters"]["concurrency"]
    assert measured["detail"]["single_client"]["rows"] == 1


def test_percentiles_and_cone_helpers() -> None:
    from benchmarks._common import latency_summary, percentile
    from benchmarks.queries import _centre, _cone_polygon

    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
    summary = latency_summary([0.001, 0.002, 0.003])
    assert summary["p50_ms"] == 2.0 and summary["n"] == 3
    polygon = _cone_polygon(359.9, -10.0, 1.0)
    assert polygon.startswith("POLYGON((") and polygon.count(",") == 32
    ra, dec = _centre(
        {"coordinates": [[[359.9, 0.0], [0.1, 0.0], [0.1, 0.2], [359.9, 0.2], [359.9, 0.0]]]}
    )
    assert min(ra, 360 - ra) < 0.01 and abs(dec - 0.1) < 0.01


# -- ingest ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_ingest_tiny(tmp_path: Path) -> None:
    """Every product of every run is archived; the numbers are there and sane."""
    document = run_benchmark("ingest", "--tiny", "--results-dir", str(tmp_path), timeout=600)
    assert_common_keys(document)
    results = document["results"]
    assert_sane_numbers(results)
    parameters = document["parameters"]
    runs = results["runs"]
    expected = (
        len(parameters["databases"])
        * len(parameters["stores"])
        * len(parameters["workers"])
        * len(parameters["sizes"])
    )
    assert len(runs) == expected
    assert {r["store"] for r in runs} == {"local", "s3"}
    for run in runs:
        assert run["not_ingested"] == 0, run.get("errors")
        assert run["files"] == parameters["counts"][run["size"]]
        assert run["files_per_second"] > 0 and run["bound_seconds"] > 0
        assert run["peak_rss_mb"] >= run["baseline_rss_mb"] > 0
        for key in ("mb_per_second", "bound_ratio", "peak_growth_mb", "elapsed_seconds"):
            assert key in run
        if run["store"] == "s3":
            assert run["store_bound_seconds"] > 0 and "store_bound_ratio" in run
    large = [r for r in runs if r["size"] == "large"]
    assert large and all(r["mean_file_mb"] >= 20 for r in large)


def test_machine_bound_reads_and_copies(tmp_path: Path) -> None:
    from benchmarks.ingest import machine_bound

    files = []
    for index in range(3):
        path = tmp_path / f"f{index}.bin"
        path.write_bytes(bytes([index]) * (3 * 1024 * 1024 + 5))
        files.append(path)
    seconds = machine_bound(files, tmp_path / "scratch")
    assert seconds > 0
    assert not (tmp_path / "scratch").exists()  # copies are cleaned up


def test_explain_prints_plans(tiny_sqlite: tuple[Path, dict[str, Any]]) -> None:
    database, _ = tiny_sqlite
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.explain",
            "--database-url",
            f"sqlite:///{database}",
            "/frames/",
            "/frames/?REQNUM=1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_clean_env(),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "=== GET /frames/ -> 200" in completed.stdout
    assert "SEARCH" in completed.stdout or "SCAN" in completed.stdout  # SQLite query plans
