"""Why is a request slow? Print the SQL each archive request runs, with its query plan.

::

    python -m benchmarks.explain --database-url postgresql://postgres@127.0.0.1:5432/bench \\
        "/frames/" "/frames/?PROPID=LCO2020A-005" "/frames/123/"

Each path is requested twice in-process (Django's test client, as a staff user who is not a
superuser, so the visibility rules apply): the first warms caches, the second is captured.
Every SQL statement is printed with its time and, for SELECTs, ``EXPLAIN (ANALYZE, BUFFERS)``
on PostgreSQL or ``EXPLAIN QUERY PLAN`` on SQLite. A diagnostic tool, not a benchmark: it
writes no results file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.explain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--database-url", required=True, help="a seeded archive database")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="request paths, e.g. /frames/")
    parser.add_argument(
        "--no-analyze", action="store_true", help="plans only; do not run the statements again"
    )
    args = parser.parse_args(argv)

    from benchmarks.queries import _store_env
    from benchmarks.seed import setup_django_for

    home = tempfile.mkdtemp(prefix="obsarchive-explain-")
    os.environ.update(_store_env("s3", Path(home)))
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    setup_django_for(args.database_url)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from obsarchive.server.accounts.services import ensure_user, token_for

    user, _ = ensure_user("benchmark-explain", superuser=False, staff=True)
    client = Client(
        HTTP_AUTHORIZATION=f"Token {token_for(user).key}", HTTP_ACCEPT="application/json"
    )
    for path in args.paths:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - start
        print(
            f"\n=== GET {path} -> {response.status_code} in {elapsed * 1000:.1f} ms, "
            f"{len(captured.captured_queries)} statements"
        )
        for query in captured.captured_queries:
            sql = query["sql"]
            print(f"--- {float(query['time']) * 1000:.1f} ms: {sql}")
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            if connection.vendor == "postgresql":
                prefix = "EXPLAIN " if args.no_analyze else "EXPLAIN (ANALYZE, BUFFERS) "
            else:
                prefix = "EXPLAIN QUERY PLAN "
            with connection.cursor() as cursor:
                cursor.execute(prefix + sql)
                for row in cursor.fetchall():
                    print("    " + " ".join(str(value) for value in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
