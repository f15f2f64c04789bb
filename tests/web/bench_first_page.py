"""How long the search page takes to render its first page of results, on a large archive.

Not a test (pytest does not collect it): a measurement, run by hand against a database filled
by ``python -m benchmarks.seed``. It only reads: the views are called in-process (no network,
no server, no session written), as an anonymous visitor and as a superuser.

::

    python -m tests.web.bench_first_page \\
        --database-url postgresql://postgres@127.0.0.1:5432/obsbench_1e6 --repeat 20

The facet values are computed first, as ``obsarchive manage cacheaggregates`` does in
production (the page reads them from the cache). The count is timed on its own, as the page
loads it after the rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence

PAGES = (
    ("first page, default query", "/ui/"),
    ("site + instrument", "/ui/?site_id=lsc&instrument_id=fa04"),
    ("one month", "/ui/?start=2024-03-01&end=2024-04-01"),
    ("target name contains", "/ui/?target_name=NGC 1034"),
    ("cone of 0.5 deg", "/ui/?ra=62.2&dec=-45.4&radius=0.5"),
    ("sorted by exposure, page 3", "/ui/?ordering=-exposure_time&offset=200"),
    ("count, default query", "/ui/count/"),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("OBSARCHIVE_HOME", tempfile.mkdtemp(prefix="ui-bench-"))
    os.environ.setdefault("SECRET_KEY", "ui-benchmark")
    os.environ["DJANGO_SETTINGS_MODULE"] = "obsarchive.server.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.urls import resolve

    from obsarchive.server.frames import services

    started = time.perf_counter()
    services.compute_aggregates()
    print(f"facets precomputed in {time.perf_counter() - started:.1f} s")

    # Never saved: the benchmark must not write to the database it measures.
    superuser = get_user_model()(username="bench", is_superuser=True, is_active=True)
    visitors = [("anonymous", AnonymousUser()), ("superuser", superuser)]
    factory = RequestFactory()

    def get(path: str, user: object) -> int:
        request = factory.get(path, HTTP_ACCEPT="text/html")
        request.user = user
        match = resolve(request.path_info)
        response = match.func(request, *match.args, **match.kwargs)
        return int(response.status_code)

    print(f"{'page':34} {'visitor':10} {'median ms':>9} {'p90 ms':>7} {'queries':>7}")
    for label, path in PAGES:
        for who, user in visitors:
            get(path, user)  # warm: connection, templates
            timings = []
            for _ in range(args.repeat):
                begin = time.perf_counter()
                status = get(path, user)
                timings.append((time.perf_counter() - begin) * 1000)
                assert status == 200, (path, status)
            with CaptureQueriesContext(connection) as queries:
                get(path, user)
            timings.sort()
            p90 = timings[int(0.9 * (len(timings) - 1))]
            print(
                f"{label:34} {who:10} {statistics.median(timings):9.0f} {p90:7.0f} "
                f"{len(queries.captured_queries):7d}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
