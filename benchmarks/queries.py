"""Queries benchmark: latency percentiles and throughput of the standard archive requests.

::

    # against any OCS-compatible archive (a staff token avoids throttling):
    python -m benchmarks.queries --api-root https://archive.example.org/ --token TOKEN
    # serve a seeded database locally (obsarchive serve) and measure it:
    python -m benchmarks.queries --database-url postgresql://postgres@127.0.0.1:5432/bench
    # seed a tiny SQLite archive, serve it and measure (seconds):
    python -m benchmarks.queries --tiny

Parameters are drawn from the archive itself through the API first (ids, basenames, request
numbers, proposals and footprints of frames found in random windows of its time range), so
the same workload runs against any archive. Each query kind is measured with one client
(``--requests`` sequential requests: p50/p95/p99, requests/s) and then with
``--concurrency`` clients for ``--seconds`` seconds (throughput and latency under load).

The client is deliberately cheap (``http.client`` on threads, bodies read but not parsed)
and its CPU use is reported, because on a small machine it shares the cores with the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from benchmarks._common import (
    LoadMonitor,
    add_common_arguments,
    latency_summary,
    machine_info,
    print_table,
    utc_now,
    write_results,
)
from benchmarks._services import (
    ArchiveServer,
    BenchmarkError,
    database_vendor,
    process_cpu_seconds,
)

__all__ = ["QUERY_KINDS", "HttpClient", "Samples", "main", "sample_archive"]

TIMEOUT = 120.0
CONE_VERTICES = 32
MIN_REQUESTS = 10


# -- the HTTP client -------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float


class HttpClient:
    """A minimal HTTP/1.1 client for one thread: one connection, reopened when closed.

    ``requests`` costs the client about a millisecond of CPU per call; on a two-core machine
    that is CPU the server under test does not get.
    """

    def __init__(self, api_root: str, token: str | None) -> None:
        parts = urlsplit(api_root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BenchmarkError(f"--api-root must be an http(s) URL, got {api_root!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path if parts.path.endswith("/") else parts.path + "/"
        self.headers = {"Accept": "application/json", "User-Agent": "obsarchive-benchmark"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = cls(self.host, self.port, timeout=TIMEOUT)
        return self._connection

    def path(self, relative: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.prefix}{relative.lstrip('/')}{query}"

    def get(self, target: str) -> Response:
        """GET ``target`` (a path from :meth:`path`, or an absolute URL on the same server)."""
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in range(2):
            connection = self._connect()
            start = time.perf_counter()
            try:
                connection.request("GET", target, headers=self.headers)
                response = connection.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError):
                # A server that closes idle keep-alive connections: reconnect once.
                self.close()
                if attempt:
                    raise
                continue
            seconds = time.perf_counter() - start
            if response.will_close:
                self.close()
            return Response(response.status, body, seconds)
        raise AssertionError("unreachable")

    def get_json(self, target: str) -> Any:
        response = self.get(target)
        if response.status != 200:
            raise BenchmarkError(
                f"GET {target} answered {response.status}: {response.body[:300]!r}"
            )
        return json.loads(response.body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# -- sampling the archive --------------------------------------------------------------------


@dataclass
class Samples:
    """Values found in the archive, from which each request's parameters are drawn."""

    newest: datetime
    oldest: datetime
    count_estimate: int
    ids: list[int] = field(default_factory=list)
    basenames: list[str] = field(default_factory=list)
    request_ids: list[int] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)
    centres: list[tuple[float, float]] = field(default_factory=list)
    cursor_links: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "newest": self.newest.isoformat(),
            "oldest": self.oldest.isoformat(),
            "count_estimate": self.count_estimate,
            "ids": len(self.ids),
            "basenames": len(self.basenames),
            "request_ids": len(self.request_ids),
            "proposals": len(self.proposals),
            "footprint_centres": len(self.centres),
            "cursor_links": len(self.cursor_links),
        }


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _centre(area: dict[str, Any]) -> tuple[float, float] | None:
    """Mean of a footprint's corners as a unit vector, back to (ra, dec): inside small boxes."""
    try:
        ring = area["coordinates"][0][:-1]
    except (KeyError, IndexError, TypeError):
        return None
    if not ring:
        return None
    x = y = z = 0.0
    for ra, dec in ring:
        a, d = math.radians(ra), math.radians(dec)
        x += math.cos(d) * math.cos(a)
        y += math.cos(d) * math.sin(a)
        z += math.sin(d)
    norm = math.sqrt(x * x + y * y + z * z)
    if norm == 0:
        return None
    return (math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.asin(z / norm)))


def sample_archive(client: HttpClient, rng: random.Random, windows: int) -> Samples:
    """Learn the archive's time range and collect parameters from ``windows`` random days.

    Raises
    ------
    BenchmarkError
        The archive shows no frames to this token.
    """
    newest_page = client.get_json(client.path("frames/", {"limit": 1}))
    if not newest_page.get("results"):
        raise BenchmarkError("the archive shows no frames to this token: seed it first")
    oldest_page = client.get_json(
        client.path("frames/", {"limit": 1, "ordering": "observation_date"})
    )
    samples = Samples(
        newest=_parse_time(newest_page["results"][0]["observation_date"]),
        oldest=_parse_time(oldest_page["results"][0]["observation_date"]),
        count_estimate=int(newest_page.get("count") or 0),
    )
    span = (samples.newest - samples.oldest).total_seconds()
    seen_proposals: set[str] = set()

    def pages() -> Any:
        # Random three-day windows over the whole time range (cheap on any archive size)...
        for attempt in range(windows * 4):
            if attempt >= windows and samples.request_ids and samples.centres:
                break
            start = samples.oldest + timedelta(seconds=rng.uniform(0, max(span, 1.0)))
            yield {
                "start": _api_time(start),
                "end": _api_time(start + timedelta(days=3)),
                "limit": 50,
                "include_related_frames": "false",
            }
        # ...and, for small archives whose windows are mostly empty, a few random pages.
        if len(samples.ids) < 200:
            for _ in range(5):
                offset = rng.randrange(max(1, min(samples.count_estimate, 10_000)))
                yield {"offset": offset, "limit": 50, "include_related_frames": "false"}

    for params in pages():
        page = client.get_json(client.path("frames/", params))
        for row in page.get("results", []):
            samples.ids.append(int(row["id"]))
            samples.basenames.append(row["basename"])
            if row.get("request_id") is not None:
                samples.request_ids.append(int(row["request_id"]))
            proposal = row.get("proposal_id")
            if proposal and proposal not in seen_proposals:
                seen_proposals.add(proposal)
                samples.proposals.append(proposal)
            centre = _centre(row["area"]) if row.get("area") else None
            if centre is not None:
                samples.centres.append(centre)
    if not samples.ids:
        samples.ids.append(int(newest_page["results"][0]["id"]))
        samples.basenames.append(newest_page["results"][0]["basename"])
    for _ in range(max(3, windows // 3)):
        moment = samples.oldest + timedelta(seconds=rng.uniform(0, max(span, 1.0)))
        page = client.get_json(
            client.path(
                "frames/",
                {"pagination_style": "cursor", "limit": 100, "end": _api_time(moment)},
            )
        )
        if page.get("next"):
            samples.cursor_links.append(page["next"])
    return samples


# -- the queries -----------------------------------------------------------------------------


def _cone_polygon(ra: float, dec: float, radius: float, vertices: int = CONE_VERTICES) -> str:
    """A WKT polygon approximating a cone (as astroquery.lco sends cones to ``intersects``)."""
    lat1, lon1, distance = math.radians(dec), math.radians(ra), math.radians(radius)
    points = []
    for index in range(vertices):
        bearing = 2 * math.pi * index / vertices
        lat2 = math.asin(
            math.sin(lat1) * math.cos(distance)
            + math.cos(lat1) * math.sin(distance) * math.cos(bearing)
        )
        lon2 = lon1 + math.atan2(
            math.sin(bearing) * math.sin(distance) * math.cos(lat1),
            math.cos(distance) - math.sin(lat1) * math.sin(lat2),
        )
        points.append((math.degrees(lon2) % 360.0, math.degrees(lat2)))
    points.append(points[0])
    return "POLYGON((" + ", ".join(f"{a:.6f} {d:.6f}" for a, d in points) + "))"


def _box_polygon(ra: float, dec: float, width: float, height: float) -> str:
    half_w = width / 2 / max(math.cos(math.radians(dec)), 0.05)
    half_h = height / 2
    corners = [
        (ra - half_w, dec - half_h),
        (ra + half_w, dec - half_h),
        (ra + half_w, dec + half_h),
        (ra - half_w, dec + half_h),
    ]
    corners = [(a % 360.0, max(-89.9, min(89.9, d))) for a, d in corners]
    corners.append(corners[0])
    return "POLYGON((" + ", ".join(f"{a:.6f} {d:.6f}" for a, d in corners) + "))"


QueryBuilder = Callable[[HttpClient, Samples, random.Random], str]


@dataclass(frozen=True)
class QueryKind:
    name: str
    description: str
    build: QueryBuilder
    #: The target this kind is compared with (p50, ms, one client, PostgreSQL, 10^6 frames).
    target_p50_ms: float | None


def _random_window(samples: Samples, rng: random.Random, days: float) -> tuple[datetime, datetime]:
    span = max((samples.newest - samples.oldest).total_seconds() - days * 86400, 1.0)
    start = samples.oldest + timedelta(seconds=rng.uniform(0, span))
    return start, start + timedelta(days=days)


def _deep_offset(samples: Samples) -> int:
    # Half-way into the (estimated) result set, at most 100 000 rows deep.
    return max(0, min(100_000, samples.count_estimate // 2))


def _q_default(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/")


def _q_default_1000(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"limit": 1000})


def _q_week(c: HttpClient, s: Samples, r: random.Random) -> str:
    start, end = _random_window(s, r, 7)
    return c.path("frames/", {"start": _api_time(start), "end": _api_time(end)})


def _q_propid(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"PROPID": r.choice(s.proposals)})


def _q_reqnum(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"REQNUM": r.choice(s.request_ids)})


def _q_basename(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"basename_exact": r.choice(s.basenames)})


def _q_covers(c: HttpClient, s: Samples, r: random.Random) -> str:
    ra, dec = r.choice(s.centres)
    return c.path("frames/", {"covers": f"POINT({ra:.6f} {dec:.6f})"})


def _q_cone(c: HttpClient, s: Samples, r: random.Random) -> str:
    ra, dec = r.choice(s.centres)
    return c.path("frames/", {"intersects": _cone_polygon(ra, dec, 1.0)})


def _q_intersects(c: HttpClient, s: Samples, r: random.Random) -> str:
    ra, dec = r.choice(s.centres)
    box = _box_polygon(ra + r.uniform(-0.2, 0.2), dec + r.uniform(-0.2, 0.2), 0.5, 0.3)
    return c.path("frames/", {"intersects": box})


def _q_exposure_order(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"ordering": "-exposure_time"})


def _q_deep_offset(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path("frames/", {"offset": _deep_offset(s) + r.randrange(100), "limit": 100})


def _q_cursor(c: HttpClient, s: Samples, r: random.Random) -> str:
    return r.choice(s.cursor_links)


def _q_detail(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path(f"frames/{r.choice(s.ids)}/")


def _q_headers(c: HttpClient, s: Samples, r: random.Random) -> str:
    return c.path(f"frames/{r.choice(s.ids)}/headers/")


def _q_aggregate(c: HttpClient, s: Samples, r: random.Random) -> str:
    # A random minute each time: the server's per-parameter cache never answers.
    start, end = _random_window(s, r, 30)
    start = start.replace(second=0, microsecond=0)
    end = end.replace(second=0, microsecond=0)
    return c.path(
        "frames/aggregate/", {"start": _api_time(start), "end": _api_time(end), "public": "true"}
    )


QUERY_KINDS: tuple[QueryKind, ...] = (
    QueryKind("default_list", "GET /frames/ (100 rows, newest first)", _q_default, 30),
    QueryKind("default_list_1000", "GET /frames/?limit=1000", _q_default_1000, 250),
    QueryKind("one_week", "start/end one week apart", _q_week, 30),
    QueryKind("propid", "PROPID=<proposal>", _q_propid, 30),
    QueryKind("reqnum", "REQNUM=<request>", _q_reqnum, 10),
    QueryKind("basename_exact", "basename_exact=<name>", _q_basename, 10),
    QueryKind("covers_point", "covers=POINT(ra dec)", _q_covers, 40),
    QueryKind("cone_1deg", "intersects=<32-gon, 1 deg radius>", _q_cone, 40),
    QueryKind("intersects_polygon", "intersects=<0.5 x 0.3 deg box>", _q_intersects, 40),
    QueryKind("order_exposure_time", "ordering=-exposure_time", _q_exposure_order, 30),
    QueryKind("deep_offset", "offset=<half the table, max 100k>", _q_deep_offset, None),
    QueryKind("cursor_page", "next page of pagination_style=cursor", _q_cursor, 30),
    QueryKind("detail", "GET /frames/<id>/", _q_detail, 10),
    QueryKind("headers", "GET /frames/<id>/headers/", _q_headers, 10),
    QueryKind("aggregate", "aggregate, random 30-day window, uncached", _q_aggregate, 50),
)


def _available(kind: QueryKind, samples: Samples) -> bool:
    needs = {
        "propid": samples.proposals,
        "reqnum": samples.request_ids,
        "covers_point": samples.centres,
        "cone_1deg": samples.centres,
        "intersects_polygon": samples.centres,
        "cursor_page": samples.cursor_links,
    }
    return bool(needs.get(kind.name, True))


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    first_error: str | None = None
    rows: int | None = None
    wall_seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    def add(self, response: Response) -> None:
        self.latencies.append(response.seconds)
        self.bytes += len(response.body)
        if response.status != 200:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{response.status}: {response.body[:200]!r}"

    def fail(self, reason: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = reason

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = latency_summary(self.latencies)
        completed = len(self.latencies)
        out.update(
            {
                "requests": completed,
                "errors": self.errors,
                "requests_per_second": round(completed / self.wall_seconds, 2)
                if self.wall_seconds
                else 0.0,
                "mean_bytes": round(self.bytes / completed) if completed else 0,
                "client_cpu_fraction": round(self.client_cpu_seconds / self.wall_seconds, 3)
                if self.wall_seconds
                else 0.0,
            }
        )
        if self.rows is not None:
            out["rows"] = self.rows
        if self.first_error:
            out["first_error"] = self.first_error
        return out


def _rows_of(body: bytes) -> int | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        return len(document["results"])
    return 1 if isinstance(document, dict) else None


def measure_sequential(
    client: HttpClient,
    kind: QueryKind,
    samples: Samples,
    rng: random.Random,
    requests: int,
    budget: float = math.inf,
) -> Outcome:
    """One client, ``requests`` requests after two warm-up ones (fewer, but at least
    :data:`MIN_REQUESTS`, when they take more than ``budget`` seconds)."""
    outcome = Outcome()
    for _ in range(2):
        warm = client.get(kind.build(client, samples, rng))
        if outcome.rows is None and warm.status == 200:
            outcome.rows = _rows_of(warm.body)
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(requests):
        if number >= MIN_REQUESTS and time.perf_counter() - wall > budget:
            break  # a slow query: enough samples for its percentiles within the budget
        outcome.add(client.get(kind.build(client, samples, rng)))
    outcome.wall_seconds = time.perf_counter() - wall
    outcome.client_cpu_seconds = time.process_time() - cpu
    return outcome


def measure_concurrent(
    api_root: str,
    token: str | None,
    kind: QueryKind,
    samples: Samples,
    seed: int,
    clients: int,
    seconds: float,
) -> Outcome:
    """``clients`` threads, each issuing requests back to back for ``seconds`` seconds."""
    outcome = Outcome()
    lock = threading.Lock()
    clock: dict[str, float] = {}

    def start_clock() -> None:
        # Runs once, when every client has connected and warmed up: the measured period
        # starts here, not while the warm-up requests were queueing.
        clock["wall"] = time.perf_counter()
        clock["cpu"] = time.process_time()
        clock["deadline"] = clock["wall"] + seconds

    ready = threading.Barrier(clients, action=start_clock)

    def run(number: int) -> None:
        client = HttpClient(api_root, token)
        rng = random.Random(seed * 1000 + number)
        try:
            try:
                client.get(kind.build(client, samples, rng))  # connect and warm up
            except BaseException:
                ready.abort()  # release the other clients: this run cannot be measured
                raise
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                return
            # Each client finishes the request it started before the deadline.
            while time.perf_counter() < clock["deadline"]:
                try:
                    response = client.get(kind.build(client, samples, rng))
                except (http.client.HTTPException, OSError) as exc:
                    with lock:
                        outcome.fail(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    outcome.add(response)
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = clock.get("wall", time.perf_counter()), clock.get("cpu", time.process_time())
    outcome.wall_seconds = time.perf_counter() - wall
    outcome.client_cpu_seconds = time.process_time() - cpu
    return outcome


# -- the benchmark ---------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.queries", description=__doc__.split("\n\n")[0]
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--api-root", help="an OCS-compatible archive, e.g. http://host/")
    target.add_argument(
        "--database-url",
        help="serve this seeded obsarchive database locally (obsarchive serve) and measure it",
    )
    parser.add_argument("--token", help="API token (with --api-root); staff avoids throttling")
    parser.add_argument(
        "--server-workers", type=int, default=4, help="gunicorn workers with --database-url"
    )
    parser.add_argument(
        "--store",
        choices=("s3", "filesystem"),
        default="s3",
        help="object store the local server signs download URLs for: s3 (presigned URLs, as "
        "production; signing is local, no S3 server is contacted) or filesystem (each URL "
        "checks the version on disk; seeded frames have no bytes there)",
    )
    parser.add_argument("--requests", type=int, default=None, help="requests per query kind")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="clients in the load phase (default 8)"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="seconds of load per query kind"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds after which a slow query kind stops its one-client phase early "
        f"(after at least {MIN_REQUESTS} requests; default %(default)s)",
    )
    parser.add_argument("--only", nargs="+", metavar="KIND", help="measure only these query kinds")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the parameters")
    parser.add_argument("--label", help="a name for this run in reports, e.g. 'PostgreSQL 10^6'")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.api_root and not args.token:
        parser.error("--api-root needs --token")
    if args.requests is None:
        args.requests = 3 if args.tiny else 60
    if args.seconds is None:
        args.seconds = 0.5 if args.tiny else 8.0
    if args.concurrency is None:
        args.concurrency = 4 if args.tiny else 8
    if args.requests < 1 or args.concurrency < 1 or args.seconds <= 0:
        parser.error("--requests, --concurrency and --seconds must be positive")
    known = {kind.name for kind in QUERY_KINDS}
    for name in args.only or ():
        if name not in known:
            parser.error(f"unknown query kind {name!r}; known: {', '.join(sorted(known))}")
    return args


def _store_env(store: str, home: Path) -> dict[str, str]:
    if store == "filesystem":
        return {"FILESTORE_TYPE": "local", "FILESYSTEM_STORAGE_ROOT_DIR": str(home / "store")}
    # Presigning is local computation: the endpoint is never contacted (port 9 is "discard").
    return {
        "FILESTORE_TYPE": "s3",
        "BUCKET": "obsarchive-benchmark",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_ADDRESSING_STYLE": "path",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "benchmark",
        "AWS_SECRET_ACCESS_KEY": "benchmark-secret",
    }


def _serve_tiny(home: Path) -> str:
    """Seed a tiny SQLite archive in ``home`` (a subprocess) and return its URL."""
    import subprocess

    url = f"sqlite:///{home / 'archive.sqlite3'}"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.seed",
            "--tiny",
            "--database-url",
            url,
            "--results-dir",
            str(home / "seed-results"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"seeding the tiny archive failed:\n{completed.stderr[-3000:]}")
    return url


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    server: ArchiveServer | None = None
    home = Path(tempfile.mkdtemp(prefix="obsarchive-queries-"))
    database_url = args.database_url
    if args.tiny and not args.api_root and not database_url:
        database_url = _serve_tiny(home)
    if database_url:
        database_vendor(database_url)  # refuse unsupported URLs early
        server = ArchiveServer(
            database_url, home, workers=args.server_workers, extra_env=_store_env(args.store, home)
        )
        token = server.token("benchmark", staff=True)
        server.__enter__()
        api_root = server.api_root
    else:
        api_root, token = args.api_root, args.token
        if api_root is None:
            raise BenchmarkError("give --api-root and --token, --database-url, or --tiny")
    try:
        return _measure(args, api_root, token, rng, server, database_url)
    finally:
        if server is not None:
            server.__exit__()


def _server_cpu(server: ArchiveServer | None) -> float | None:
    if server is None:
        return None
    total = 0.0
    for pid in server.worker_pids():
        value = process_cpu_seconds(pid)
        if value is not None:
            total += value
    return total


def _measure(
    args: argparse.Namespace,
    api_root: str,
    token: str | None,
    rng: random.Random,
    server: ArchiveServer | None,
    database_url: str | None,
) -> dict[str, Any]:
    client = HttpClient(api_root, token)
    started_at = utc_now()
    with LoadMonitor() as load:
        samples = sample_archive(client, rng, windows=8 if args.tiny else 40)
        kinds = [k for k in QUERY_KINDS if not args.only or k.name in args.only]
        measured = []
        for kind in kinds:
            if not _available(kind, samples):
                measured.append(
                    {
                        "name": kind.name,
                        "description": kind.description,
                        "skipped": "no sample values for it",
                    }
                )
                continue
            print(f"queries: {kind.name}", file=sys.stderr, flush=True)
            server_cpu = _server_cpu(server)
            single = measure_sequential(client, kind, samples, rng, args.requests, args.budget)
            single_server_cpu = _server_cpu(server)
            loaded = measure_concurrent(
                api_root, token, kind, samples, args.seed, args.concurrency, args.seconds
            )
            loaded_server_cpu = _server_cpu(server)
            entry: dict[str, Any] = {
                "name": kind.name,
                "description": kind.description,
                "target_p50_ms": kind.target_p50_ms,
                "single_client": single.report(),
                "concurrent": {"clients": args.concurrency, **loaded.report()},
            }
            if server_cpu is not None and single_server_cpu is not None:
                entry["single_client"]["server_cpu_per_request_ms"] = round(
                    1000 * (single_server_cpu - server_cpu) / max(1, len(single.latencies)), 3
                )
            if single_server_cpu is not None and loaded_server_cpu is not None:
                entry["concurrent"]["server_cpu_fraction"] = round(
                    (loaded_server_cpu - single_server_cpu) / loaded.wall_seconds, 3
                )
            measured.append(entry)
    client.close()
    return {
        "started_at": started_at.isoformat(),
        "finished_at": utc_now().isoformat(),
        "tiny": args.tiny,
        "parameters": {
            "api_root": api_root,
            "served_locally": server is not None,
            "database_vendor": database_vendor(database_url) if database_url else None,
            "database_url": _safe_url(database_url) if database_url else None,
            "server_workers": args.server_workers if server is not None else None,
            "store": args.store if server is not None else None,
            "requests_per_kind": args.requests,
            "concurrency": args.concurrency,
            "seconds_per_kind": args.seconds,
            "budget_seconds": args.budget,
            "seed": args.seed,
            "label": args.label,
        },
        "machine": machine_info(database_url),
        "load_average": load.summary(),
        "results": {"archive": samples.summary(), "queries": measured},
    }


def _safe_url(url: str) -> str:
    from benchmarks.seed import _safe_url as safe

    return safe(url)


def _print(document: dict[str, Any]) -> None:
    rows: list[tuple[Any, ...]] = []
    for entry in document["results"]["queries"]:
        if "skipped" in entry:
            rows.append((entry["name"], "skipped", None, None, None, None, None, None))
            continue
        single, loaded = entry["single_client"], entry["concurrent"]
        rows.append(
            (
                entry["name"],
                single.get("rows"),
                single.get("p50_ms"),
                single.get("p95_ms"),
                single.get("p99_ms"),
                entry.get("target_p50_ms"),
                loaded.get("requests_per_second"),
                loaded.get("p50_ms"),
                single.get("errors", 0) + loaded.get("errors", 0),
            )
        )
    parameters = document["parameters"]
    print_table(
        f"queries ({parameters['database_vendor'] or parameters['api_root']}, "
        f"~{document['results']['archive']['count_estimate']:,} frames)",
        [
            "query",
            "rows",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "target",
            f"req/s x{parameters['concurrency']}",
            "p50 ms loaded",
            "errors",
        ],
        rows,
        caption=f"load average {document['load_average']['mean']} "
        f"(max {document['load_average']['max']})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        document = run(args)
    except BenchmarkError as exc:
        print(f"benchmarks.queries: {exc}", file=sys.stderr)
        return 1
    path = write_results("queries", document, args.results_dir)
    _print(document)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
