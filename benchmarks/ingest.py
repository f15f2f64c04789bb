"""Ingest benchmark: files/s and MB/s from ``publish`` to archived, beside the machine bound.

::

    python -m benchmarks.ingest                      # the full matrix (about 10 minutes)
    python -m benchmarks.ingest --tiny               # a handful of files, seconds
    python -m benchmarks.ingest --databases postgresql --stores s3 --sizes small --workers 1 2

For every archive database (SQLite, PostgreSQL) and object store (filesystem, S3 protocol over
HTTP: moto's server in a subprocess), a fresh archive is served (``obsarchive serve``); for
every worker count, ``obsarchive worker`` processes consume the embedded durable queue; for
every size class (small ~100 KB ``.fits.fz``, medium ~3 MB ``.fits``, large ~1 GB ``.fits``)
a set of new synthetic products is published through the flow's ``Publisher`` and the clock
runs until the ingestion ledger shows every message finished.

Each run is reported beside the machine's bound for the same bytes -- the time one process
takes to read them, md5 them and copy them to a file on the same disk -- as
``bound_ratio = bound_seconds / elapsed_seconds`` (1.0 would mean ingest costs no more than
moving the bytes once). Worker memory is sampled (RSS every 50 ms); ``peak_growth_mb`` is the
largest rise of one worker over its RSS after a warm-up ingest.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import (
    LoadMonitor,
    RssSampler,
    add_common_arguments,
    machine_info,
    print_table,
    utc_now,
    write_results,
)
from benchmarks._services import (
    ArchiveServer,
    BenchmarkError,
    MotoServer,
    archive_env,
    obsarchive_command,
    stop_process,
    temporary_postgres_database,
)

__all__ = ["SIZE_CLASSES", "SizeClass", "machine_bound", "main", "make_products"]

CHUNK = 1024 * 1024
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
RUN_TIMEOUT = 900.0


@dataclass(frozen=True)
class SizeClass:
    name: str
    count: int
    tiny_count: int
    description: str


SIZE_CLASSES: dict[str, SizeClass] = {
    "small": SizeClass("small", 150, 5, "~100 KB fpacked image (.fits.fz)"),
    "medium": SizeClass("medium", 30, 2, "~3 MB image (.fits)"),
    "large": SizeClass("large", 2, 1, "~1 GB image (.fits; 20 MB in --tiny)"),
}


# -- products --------------------------------------------------------------------------------


def _fill_data(path: Path, header_bytes: int, seed: int) -> None:
    """Overwrite a sparse data unit with real bytes, so reading it costs what real data does."""
    import numpy as np

    block = np.random.default_rng(seed).integers(0, 255, size=16 * CHUNK, dtype=np.uint8)
    size = path.stat().st_size
    with open(path, "r+b") as stream:
        stream.seek(header_bytes)
        position = header_bytes
        while position < size:
            piece = block[: min(len(block), size - position)].tobytes()
            stream.write(piece)
            position += len(piece)


def make_products(
    folder: Path, size: str, count: int, set_number: int, large_bytes: int
) -> list[Path]:
    """``count`` new synthetic products of one size class (unique names and md5s)."""
    from obsarchive.products import synthetic

    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    # Each set observes on its own night, so names and bytes never repeat between sets.
    night = dt.datetime(2025, 1, 1, 3, 0, tzinfo=dt.UTC) + dt.timedelta(days=set_number)
    for index in range(count):
        frame: dict[str, Any] = {
            "date_obs": night + dt.timedelta(seconds=37 * index),
            "frame_number": index + 1,
            "site_id": "cpt",
            "telescope_id": "1m0a",
            "instrument_id": "fa14",
            "proposal_id": "LCO2025A-001",
            "ra_deg": (set_number * 7.3 + index * 0.11) % 360.0,
            "dec_deg": -30.0 + (index % 50),
            "exptime": 30.0,
        }
        if size == "small":
            path = synthetic.write_fits(
                folder,
                shape=(320, 320),
                compressed=True,
                seed=set_number * 10_000 + index,
                **frame,
            )
        elif size == "medium":
            path = synthetic.write_fits(
                folder,
                shape=(1250, 1250),
                compressed=False,
                seed=set_number * 10_000 + index,
                **frame,
            )
        else:
            path = synthetic.write_large_fits(folder, data_bytes=large_bytes, **frame)
            _fill_data(path, 2880 * 20, set_number * 10_000 + index)
        assert path is not None
        paths.append(path)
    return paths


def _s3_client(store_env: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=store_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=store_env["AWS_SECRET_ACCESS_KEY"],
        region_name=store_env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=store_env["S3_ENDPOINT_URL"])


def s3_store_bound(paths: Sequence[Path], store_env: dict[str, str]) -> float:
    """Seconds boto3 alone needs to upload ``paths`` to the S3 server (then they are deleted).

    The S3 server of the benchmark is moto, a Python process on the same two cores; this is
    what the store itself can take, whatever the archive does.
    """
    client = _s3_client(store_env)
    bucket = store_env["BUCKET"]
    start = time.perf_counter()
    for path in paths:
        client.upload_file(str(path), bucket, f"store-bound/{path.name}")
    elapsed = time.perf_counter() - start
    for path in paths:
        versions = client.list_object_versions(Bucket=bucket, Prefix=f"store-bound/{path.name}")
        for version in versions.get("Versions", []):
            client.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    return elapsed


def machine_bound(paths: Sequence[Path], scratch: Path) -> float:
    """Seconds one process needs to read, md5 and copy ``paths`` (1 MiB chunks)."""
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in paths:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as source, open(scratch / path.name, "wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        digest.hexdigest()
    elapsed = time.perf_counter() - start
    shutil.rmtree(scratch, ignore_errors=True)
    return elapsed


# -- workers ---------------------------------------------------------------------------------


@dataclass
class WorkerPool:
    """``count`` ``obsarchive worker`` processes on one queue, started and stopped together."""

    env: dict[str, str]
    count: int
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __enter__(self) -> WorkerPool:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            for number in range(self.count):
                log = self.logs / f"worker-{number}.log"
                with open(log, "wb") as sink:
                    self.processes.append(
                        subprocess.Popen(
                            [*obsarchive_command(), "worker"],
                            env=self.env,
                            stdout=sink,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            start_new_session=True,
                        )
                    )
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        pending = set(range(self.count))
        while pending and time.monotonic() < deadline:
            for number in list(pending):
                log = self.logs / f"worker-{number}.log"
                if "consuming" in log.read_text(errors="replace"):
                    pending.discard(number)
                elif self.processes[number].poll() is not None:
                    raise BenchmarkError(f"worker {number} exited:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        if pending:
            raise BenchmarkError(f"workers {sorted(pending)} did not start within 120 s")

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            stop_process(process, timeout=30)
        self.processes = []


def _wait_for_ledger(ledger_url: str, expected: int, timeout: float) -> dict[str, int]:
    """Poll the ledger until ``expected`` messages are finished; return the status counts."""
    from obsarchive.ingester.flow.ledger import Ledger, Status

    finished = (Status.INGESTED, Status.ALREADY_ARCHIVED, Status.DEAD)
    deadline = time.monotonic() + timeout
    with Ledger(ledger_url) as ledger:
        while True:
            counts = ledger.counts()
            if sum(counts[s] for s in finished) >= expected:
                return {status.value: count for status, count in counts.items()}
            if time.monotonic() > deadline:
                raise BenchmarkError(f"ingest did not finish in {timeout:.0f} s: {counts}")
            time.sleep(0.02)


def _dead_reasons(ledger_url: str) -> list[str]:
    from obsarchive.ingester.flow.ledger import Ledger, Status

    with Ledger(ledger_url) as ledger:
        return [f"{e.basename}: {e.last_error}" for e in ledger.entries(Status.DEAD, limit=3)]


# -- one archive -----------------------------------------------------------------------------


@dataclass
class Archive:
    """A served archive (database + store) and the environment its clients need."""

    database: str
    store: str
    server: ArchiveServer
    token: str
    store_env: dict[str, str]
    home: Path


@contextlib.contextmanager
def served_archive(database: str, store: str, home: Path, postgres: str) -> Iterator[Archive]:
    """A fresh archive on ``database`` with a fresh ``store``, served on an ephemeral port."""
    home.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if store == "s3":
            moto = stack.enter_context(MotoServer())
            store_env = moto.env(moto.create_bucket())
        else:
            root = home / "store"
            root.mkdir(parents=True, exist_ok=True)
            store_env = {"FILESTORE_TYPE": "local", "FILESYSTEM_STORAGE_ROOT_DIR": str(root)}
        if database == "postgresql":
            url = stack.enter_context(temporary_postgres_database(postgres, "obsarchive_ingest"))
        else:
            url = f"sqlite:///{home / 'archive.sqlite3'}"
        server = ArchiveServer(url, home / "server", workers=2, extra_env=store_env)
        token = server.token("ingester", superuser=True, staff=True)
        stack.enter_context(server)
        yield Archive(database, store, server, token, store_env, home)


def run_sizes(
    archive: Archive,
    workers: int,
    product_sets: dict[str, list[Path]],
    bounds: dict[str, float],
    run_home: Path,
    previews: bool,
) -> list[dict[str, Any]]:
    """Start ``workers`` workers on a new queue; ingest every size class; report each."""
    from obsarchive.ingester.flow.publish import Publisher
    from obsarchive.ingester.flow.queues import open_queue

    queue_url = f"sqlite:///{run_home / 'queue.sqlite3'}"
    env = archive_env(
        database_url="sqlite:///unused.sqlite3",
        home=run_home,
        extra={
            **archive.store_env,
            "API_ROOT": archive.server.api_root,
            "AUTH_TOKEN": archive.token,
            "QUEUE_URL": queue_url,
            "LEDGER_URL": queue_url,
            "MAKE_PREVIEWS": "true" if previews else "false",
        },
    )
    env.pop("DATABASE_URL")
    env.pop("DJANGO_SETTINGS_MODULE")
    from obsarchive.ingester.flow.ledger import Ledger

    results = []
    with (
        WorkerPool(env, workers, run_home / "logs") as pool,
        Publisher(open_queue(queue_url, "ingest"), Ledger(queue_url)) as publisher,
    ):
        published = 0
        # Warm-up: each worker imports the FITS reader and opens its connections on a first
        # product; baselines are taken after it, so growth is the cost of the work measured.
        warmups = product_sets["warmup"][:workers]
        for path in warmups:
            publisher.publish(path)
        published += len(warmups)
        _wait_for_ledger(queue_url, published, RUN_TIMEOUT)
        for size, paths in product_sets.items():
            if size == "warmup":
                continue
            total_bytes = sum(p.stat().st_size for p in paths)
            sampler = RssSampler(pool.pids)
            sampler.mark_baseline()
            with sampler:
                start = time.perf_counter()
                for path in paths:
                    publisher.publish(path)
                published += len(paths)
                counts = _wait_for_ledger(queue_url, published, RUN_TIMEOUT)
                elapsed = time.perf_counter() - start
            errors = counts.get("dead", 0) + counts.get("already_archived", 0)
            entry: dict[str, Any] = {
                "database": archive.database,
                "store": archive.store,
                "workers": workers,
                "previews": previews,
                "size": size,
                "files": len(paths),
                "bytes": total_bytes,
                "mean_file_mb": round(total_bytes / len(paths) / 1e6, 3),
                "elapsed_seconds": round(elapsed, 3),
                "files_per_second": round(len(paths) / elapsed, 2),
                "mb_per_second": round(total_bytes / elapsed / 1e6, 2),
                "bound_seconds": round(bounds[size], 3),
                "bound_ratio": round(bounds[size] / elapsed, 3),
                "not_ingested": errors,
                **sampler.summary(),
            }
            if archive.store == "s3":
                store_seconds = s3_store_bound(paths, archive.store_env)
                entry["store_bound_seconds"] = round(store_seconds, 3)
                entry["store_bound_ratio"] = round(store_seconds / elapsed, 3)
            if errors:
                entry["errors"] = _dead_reasons(queue_url)
            results.append(entry)
            print(
                f"ingest: {archive.database}/{archive.store} x{workers} {size}: "
                f"{entry['files_per_second']} files/s",
                file=sys.stderr,
                flush=True,
            )
    return results


def _remove_stored(archive: Archive) -> None:
    """Free the store between runs (large products would fill moto's memory or the disk)."""
    if archive.store == "s3":
        env = archive.store_env
        client = _s3_client(env)
        bucket = env["BUCKET"]
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed: list[Any] = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                client.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        return
    root = Path(archive.store_env.get("FILESYSTEM_STORAGE_ROOT_DIR", ""))
    if root.is_dir():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)


# -- the benchmark ---------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=("sqlite", "postgresql"),
        default=None,
        help="archive databases (default: both; --tiny: sqlite)",
    )
    parser.add_argument(
        "--stores",
        nargs="+",
        choices=("filesystem", "s3"),
        default=None,
        help="object stores (default: both)",
    )
    parser.add_argument(
        "--sizes", nargs="+", choices=tuple(SIZE_CLASSES), default=list(SIZE_CLASSES)
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=None,
        help="worker counts (default 1 2; --tiny: 2)",
    )
    parser.add_argument("--large-mb", type=int, default=None, help="size of a large product")
    parser.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="SIZE=N",
        help="files per size class, e.g. --count small=300",
    )
    parser.add_argument(
        "--postgres", default=POSTGRES_SERVER, help="PostgreSQL server for fresh databases"
    )
    parser.add_argument(
        "--previews",
        choices=("on", "off"),
        default="on",
        help="MAKE_PREVIEWS for the workers: on (the shipped default: three JPEG thumbnails "
        "per image) or off (what the upstream ingester does)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="scratch folder (kept, with the logs)"
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.databases is None:
        args.databases = ["sqlite"] if args.tiny else ["sqlite", "postgresql"]
    if args.stores is None:
        args.stores = ["filesystem", "s3"]
    if args.workers is None:
        args.workers = [2] if args.tiny else [1, 2]
    if args.large_mb is None:
        args.large_mb = 20 if args.tiny else 1024
    counts = {name: (c.tiny_count if args.tiny else c.count) for name, c in SIZE_CLASSES.items()}
    for item in args.count:
        name, _, value = item.partition("=")
        if name not in SIZE_CLASSES or not value.isdigit() or int(value) < 1:
            parser.error(f"--count {item!r}: expected SIZE=N with SIZE in {list(SIZE_CLASSES)}")
        counts[name] = int(value)
    args.counts = counts
    if any(n < 1 for n in args.workers):
        parser.error("--workers must be at least 1")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = utc_now()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="obsarchive-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    product_info: dict[str, Any] = {}
    try:
        with LoadMonitor() as load:
            # One product set per (worker count, size); each archive gets them all, since
            # every archive is new (no md5 is already archived).
            sets: dict[int, dict[str, list[Path]]] = {}
            bounds: dict[int, dict[str, float]] = {}
            for set_number, workers in enumerate(args.workers):
                folder = work / f"products-{workers}"
                sets[workers] = {
                    "warmup": make_products(
                        folder / "warmup", "small", workers, 900 + set_number, 0
                    )
                }
                bounds[workers] = {}
                for size in args.sizes:
                    paths = make_products(
                        folder / size,
                        size,
                        args.counts[size],
                        set_number * 10 + 1 + list(SIZE_CLASSES).index(size),
                        args.large_mb * 1024 * 1024,
                    )
                    sets[workers][size] = paths
                    bounds[workers][size] = machine_bound(paths, work / "bound-scratch")
                    product_info.setdefault(
                        size,
                        {
                            "files": len(paths),
                            "mean_bytes": round(sum(p.stat().st_size for p in paths) / len(paths)),
                            "description": SIZE_CLASSES[size].description,
                        },
                    )
            for database in args.databases:
                for store in args.stores:
                    kind = "s3" if store == "s3" else "local"
                    home = work / f"archive-{database}-{store}"
                    with served_archive(database, kind, home, args.postgres) as archive:
                        for workers in args.workers:
                            results.extend(
                                run_sizes(
                                    archive,
                                    workers,
                                    sets[workers],
                                    bounds[workers],
                                    home / f"run-{workers}",
                                    args.previews == "on",
                                )
                            )
                            _remove_stored(archive)
                    if args.work_dir is None:
                        shutil.rmtree(home, ignore_errors=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "started_at": started_at.isoformat(),
        "finished_at": utc_now().isoformat(),
        "tiny": args.tiny,
        "parameters": {
            "databases": args.databases,
            "stores": args.stores,
            "sizes": args.sizes,
            "workers": args.workers,
            "counts": {size: args.counts[size] for size in args.sizes},
            "large_mb": args.large_mb,
            "previews": args.previews,
            "queue": "embedded SQLite table queue (QUEUE_URL=sqlite:///...)",
            "server_workers": 2,
        },
        "machine": machine_info(),
        "load_average": load.summary(),
        "results": {"products": product_info, "runs": results},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        document = run(args)
    except BenchmarkError as exc:
        print(f"benchmarks.ingest: {exc}", file=sys.stderr)
        return 1
    path = write_results("ingest", document, args.results_dir)
    rows = [
        (
            f"{r['database']}/{r['store']}",
            r["workers"],
            r["size"],
            r["files"],
            r["files_per_second"],
            r["mb_per_second"],
            round(100 * r["bound_ratio"], 1),
            r["peak_growth_mb"],
            r["not_ingested"],
        )
        for r in document["results"]["runs"]
    ]
    print_table(
        "ingest: publish -> archived",
        [
            "archive",
            "workers",
            "size",
            "files",
            "files/s",
            "MB/s",
            "% of bound",
            "peak growth MB",
            "failed",
        ],
        rows,
        caption=f"load average {document['load_average']['mean']} "
        f"(max {document['load_average']['max']})",
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
